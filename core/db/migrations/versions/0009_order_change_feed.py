"""order change feed: which orders changed, for live updates between windows

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

Issue 14 item 4. Another operator's capture, refund or edit must show in every open window
within seconds (core/changes/). Writers say which order changed in the same transaction as the
change, through triggers, so no code path (the CLI, an import, a sync, a later service) can
forget it:

* SQLite: the triggers append the order's number to ``order_changes``, whose ``seq`` (the
  rowid) follows commit order (SQLite writers are serialised). A window polls ``PRAGMA
  data_version`` (it moves when another connection committed) and then reads the numbers past
  the last ``seq`` it saw: one range read on the rowid. Appending costs about 4 µs a row (an
  upsert keyed by order number cost ten times that: 4.8 s per 100,000 imported orders). The
  log keeps the last 10,000 to 20,000 changes: every 10,000th row removes the 10,000 before
  it; a reader left further behind is told "all" (core/changes/feed.py).
* PostgreSQL: the triggers call ``pg_notify('kanjo_orders', <order number>)``; notifications are
  sent at commit (never for a rolled-back change) and one per order per transaction. The table
  exists there too (the schema is the same on both stores) but stays empty.

Changes counted: an order inserted, updated or deleted; a charge, refund or message inserted or
updated; a journal entry of an order (intent, outcome, event). Plain ``op.execute`` for the
triggers, and no batch mode on existing tables (it would drop the search triggers of 0002).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

CHANNEL = "kanjo_orders"  # core/changes/feed.py listens on it
KEEP = 10_000  # changes kept on SQLite at the least
# (table, events, how the order's number is found) for the SQLite triggers
_SQLITE_TRIGGERS = (
    ("orders", "INSERT", "SELECT NEW.number AS number WHERE true"),
    ("orders", "UPDATE", "SELECT NEW.number AS number WHERE true"),
    ("orders", "DELETE", "SELECT OLD.number AS number WHERE true"),
    ("charges", "INSERT", "SELECT number FROM orders WHERE id = NEW.order_id"),
    ("charges", "UPDATE", "SELECT number FROM orders WHERE id = NEW.order_id"),
    ("refunds", "INSERT", "SELECT number FROM orders WHERE id = NEW.order_id"),
    ("refunds", "UPDATE", "SELECT number FROM orders WHERE id = NEW.order_id"),
    ("messages", "INSERT", "SELECT number FROM orders WHERE id = NEW.order_id"),
    ("messages", "UPDATE", "SELECT number FROM orders WHERE id = NEW.order_id"),
    ("journal", "INSERT", "SELECT NEW.order_number AS number WHERE NEW.order_number IS NOT NULL"),
)
_PG_TRIGGERS = (
    ("orders", "INSERT OR UPDATE OR DELETE"),
    ("charges", "INSERT OR UPDATE"),
    ("refunds", "INSERT OR UPDATE"),
    ("messages", "INSERT OR UPDATE"),
    ("journal", "INSERT"),
)


def _sqlite_trigger_name(table: str, event: str) -> str:
    return f"{table}_changed_{event.lower()}"


def upgrade() -> None:
    op.create_table(
        "order_changes",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("order_number", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table, event, number in _SQLITE_TRIGGERS:
            op.execute(
                f"CREATE TRIGGER {_sqlite_trigger_name(table, event)} AFTER {event} ON {table} BEGIN "
                f"INSERT INTO order_changes (order_number) SELECT changed.number FROM ({number}) AS changed "
                "WHERE changed.number IS NOT NULL; END"
            )
        op.execute(
            f"CREATE TRIGGER order_changes_prune AFTER INSERT ON order_changes WHEN NEW.seq % {KEEP} = 0 "
            f"BEGIN DELETE FROM order_changes WHERE seq <= NEW.seq - {KEEP}; END"
        )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION kanjo_order_changed() RETURNS trigger AS $$ "
            "DECLARE changed text; "
            "BEGIN "
            "IF TG_TABLE_NAME = 'orders' THEN "
            "  IF TG_OP = 'DELETE' THEN changed := OLD.number; ELSE changed := NEW.number; END IF; "
            "ELSIF TG_TABLE_NAME = 'journal' THEN changed := NEW.order_number; "
            "ELSE SELECT o.number INTO changed FROM orders o WHERE o.id = NEW.order_id; "
            "END IF; "
            f"IF changed IS NOT NULL THEN PERFORM pg_notify('{CHANNEL}', changed); END IF; "
            "RETURN NULL; "
            "END; $$ LANGUAGE plpgsql"
        )
        for table, events in _PG_TRIGGERS:
            op.execute(
                f"CREATE TRIGGER {table}_changed AFTER {events} ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION kanjo_order_changed()"
            )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table, event, _number in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {_sqlite_trigger_name(table, event)}")
        op.execute("DROP TRIGGER IF EXISTS order_changes_prune")
    elif dialect == "postgresql":
        for table, _events in _PG_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_changed ON {table}")
        op.execute("DROP FUNCTION IF EXISTS kanjo_order_changed()")
    op.drop_table("order_changes")
