"""PostgreSQL: the list's sort orders as indexes, each ending with the order id.

The order list sorts by one column and then by ``orders.id`` (a stable order for paging). On
SQLite every index already ends with the row id, so ``ix_orders_ordered_at`` serves
``ORDER BY ordered_at DESC, id DESC``; on PostgreSQL it does not, and the planner sorted the
whole table instead (2.3 s to show row 900,000 of 1,000,000, 150 ms for one status). These
indexes give PostgreSQL the same ordered, index-only reads (issue 14). SQLite: nothing to do.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# name → columns; the id last, as SQLite's row id is in each of its indexes.
INDEXES = {
    "ix_orders_pg_ordered_at_id": "ordered_at, id",
    "ix_orders_pg_total_id": "total, id",
    "ix_orders_pg_kind_id": "kind, id",
    "ix_orders_pg_order_status_id": "order_status, id",
    "ix_orders_pg_payment_status_id": "payment_status, id",
    "ix_orders_pg_auth_expires_at_id": "auth_expires_at, id",
    "ix_orders_pg_status_ordered_id": "payment_status, ordered_at, id",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, columns in INDEXES.items():
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON orders ({columns})")
    op.execute("CREATE INDEX IF NOT EXISTS ix_customers_pg_name_id ON customers (name, id)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in [*INDEXES, "ix_customers_pg_name_id"]:
        op.execute(f"DROP INDEX IF EXISTS {name}")
