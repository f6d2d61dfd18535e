"""order list search: a bulk writer may pause the per-row index trigger; a permission's balance

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

Issue 11 (the import benchmark): 0002's ``order_search_ai`` indexes each new order on its own,
about 0.3 ms a row, 30 s of a 100,000-order import. The trigger now skips while
``search_index_paused`` holds a row; the import writes that row, adds a chunk of orders, indexes
them with one statement per index and removes the row, all in one transaction
(``core/db/search_index.py``). No other connection ever sees the row. PostgreSQL has the table
too (one schema on both), but no trigger: its GIN indexes are kept by the database.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.db.search_index import insert_trigger_sql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_index_paused",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.CheckConstraint("id = 1", name="ck_search_index_paused_one_row"),
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS order_search_ai")
        op.execute(insert_trigger_sql(pausable=True, version=1))
    # Issue 11: limits.amountBalance tells whether a one-time permission already has a charge
    # although the shop's file gave no Charge ID (core.payment_rules.has_unknown_charges).
    op.add_column("charge_permissions", sa.Column("amount_balance", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("charge_permissions") as batch:
        batch.drop_column("amount_balance")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS order_search_ai")
        op.execute(insert_trigger_sql(pausable=False, version=1))
    op.drop_table("search_index_paused")
