"""orders without a Charge Permission live in no Amazon Pay environment

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

Issue 11 item 8, found by an outside review: 0006 gave every order an environment, so a shop's
real orders paid otherwise (cash on delivery, bank transfer), its marketplace orders and its
未連携 Amazon Pay orders imported before the keys were set were recorded as ``builtin``. Going
live then greyed them as the built-in sandbox's and `orders remove-sandbox` deleted them. An
order without a Charge Permission has nothing in any Amazon Pay: its environment is empty
(core.environment.NO_ENVIRONMENT) until it is linked, which records the connection's.
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE orders SET environment = '' WHERE charge_permission_id IS NULL")


def downgrade() -> None:
    op.execute("UPDATE orders SET environment = 'builtin' WHERE environment = ''")
