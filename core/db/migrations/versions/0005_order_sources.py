"""orders: source, environment, shop total mismatch; imports and saved column mappings

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

Issue 11. Orders now come from a shop's order export, from a Charge Permission ID typed by the
operator, or (as before) from the sandbox. Every existing order was placed in the sandbox
(``sandbox place-order`` or the demo), so existing rows get source 'sandbox' and environment
'sandbox'. Columns are added with plain ``op.add_column`` (no batch mode: recreating the
orders table is not needed and the journal triggers of 0001/0004 stay untouched).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("source", sa.String(64), nullable=False, server_default="sandbox"))
    op.add_column("orders", sa.Column("environment", sa.String(16), nullable=False, server_default="sandbox"))
    op.add_column("orders", sa.Column("shop_total_mismatch", sa.Integer(), nullable=True))
    op.add_column("orders", sa.Column("payment_label", sa.String(64), nullable=True))
    op.create_table(
        "imports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("file_name", sa.String(400), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("format", sa.String(64), nullable=False),
        sa.Column("encoding", sa.String(16), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("operator", sa.String(64), nullable=False),
        sa.Column("completed", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_imports_at", "imports", ["at"])
    op.create_index("ix_imports_sha256", "imports", ["sha256"])
    op.create_table(
        "import_mappings",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("columns_json", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("import_mappings")
    op.drop_index("ix_imports_sha256", "imports")
    op.drop_index("ix_imports_at", "imports")
    op.drop_table("imports")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("payment_label")
        batch.drop_column("shop_total_mismatch")
        batch.drop_column("environment")
        batch.drop_column("source")
