"""journal.operator and messages.operator: who did what (issue 14 item 3)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

Every journal entry and every message records the name of the operator at the PC that wrote
it (a per-PC name, core.operator). ``journal.actor`` keeps the role (operator, sync, buyer,
seller_central). Existing rows get '' (not known).

The settings get a version row (``_version``, issue 14 item 2): a save based on an older
version is refused (core.settings). The operator's name that older versions kept in the shared
``settings`` table stays there; it is read only as the first start's suggestion and as the
name of a PC that has not chosen one yet.

Plain ``op.add_column`` (an ``ALTER TABLE … ADD COLUMN`` on both databases): batch mode would
rebuild ``journal`` on SQLite and drop its append-only triggers. Adding a column fires no row
trigger on either database.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("journal", sa.Column("operator", sa.String(length=64), nullable=False, server_default=""))
    op.add_column("messages", sa.Column("operator", sa.String(length=64), nullable=False, server_default=""))
    connection = op.get_bind()
    exists = connection.execute(sa.text("SELECT 1 FROM settings WHERE key = '_version'")).scalar()
    if not exists:
        op.execute("INSERT INTO settings (key, value) VALUES ('_version', '0')")


def downgrade() -> None:
    op.execute("DELETE FROM settings WHERE key = '_version'")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite 3.35+ drops a column in place (no rebuild, the triggers stay).
        op.execute("ALTER TABLE messages DROP COLUMN operator")
        op.execute("ALTER TABLE journal DROP COLUMN operator")
        return
    op.drop_column("messages", "operator")
    op.drop_column("journal", "operator")
