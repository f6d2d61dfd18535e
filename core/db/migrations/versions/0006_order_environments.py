"""orders.environment tells Amazon's sandbox from the built-in local sandbox

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

Issue 11 item 8. An order's Charge Permission lives in one Amazon Pay: production ('live'),
Amazon's own sandbox reached with the shop's sandbox keys ('sandbox'), or the built-in local
sandbox used when no keys are set ('builtin'). 0005 wrote 'sandbox' for both sandboxes; this
tells them apart so that no order is ever sent to another environment.

* Orders placed in the sandbox (source 'sandbox' or 'demo') were made on the built-in sandbox:
  ``sandbox place-order`` and the demo need its buyer role, which Amazon's sandbox does not have.
* Every other 'sandbox' order (imported or added by Charge Permission under 0005) was read over
  the connection of the stored settings: Amazon's sandbox when keys were stored, else the
  built-in one. 'live' orders stay 'live' (they were only ever made with keys).

The column's database default stays 'sandbox' (changing it would rebuild ``orders`` and drop
its search triggers of 0002); the application always writes the environment explicitly.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _stored(connection: sa.Connection, key: str) -> str:
    value = connection.execute(sa.text("SELECT value FROM settings WHERE key = :key"), {"key": key}).scalar()
    return (value or "").strip()


def upgrade() -> None:
    connection = op.get_bind()
    with_keys = bool(_stored(connection, "amazon_public_key_id") and _stored(connection, "amazon_private_key_path"))
    op.execute(
        "UPDATE orders SET environment = 'builtin' WHERE environment = 'sandbox' AND source IN ('sandbox', 'demo')"
    )
    if not with_keys:
        op.execute("UPDATE orders SET environment = 'builtin' WHERE environment = 'sandbox'")


def downgrade() -> None:
    op.execute("UPDATE orders SET environment = 'sandbox' WHERE environment = 'builtin'")
