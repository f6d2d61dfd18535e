"""shipments, order costs, cancellation requests, resales and item SKUs (issue 15)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01

Issue 15: shipping (R24) and the cancellation desk (R44–R50). New tables only, plus
``order_items.sku`` by a plain ``ADD COLUMN`` (no table rebuild, the search and change-feed
triggers of ``orders`` stay as they are). Every write to these tables also touches its order's
row, so the change feed (0009) tells other windows.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("order_items", sa.Column("sku", sa.String(length=64), nullable=False, server_default=""))
    op.create_table(
        "shipments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("order_id", sa.Integer(), sa.ForeignKey("orders.id"), nullable=False, unique=True),
        sa.Column("carrier", sa.String(length=16), nullable=False),
        sa.Column("tracking_number", sa.String(length=64), nullable=False),
        sa.Column("shipped_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("operator", sa.String(length=64), nullable=False, server_default=""),
    )
    op.create_table(
        "order_costs",
        sa.Column("order_id", sa.Integer(), sa.ForeignKey("orders.id"), primary_key=True),
        sa.Column("shipping_cost", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("payment_fee", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("resale_estimate", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "cancellation_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("order_id", sa.Integer(), sa.ForeignKey("orders.id"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("option", sa.String(length=16), nullable=True),
        sa.Column("refund_amount", sa.Integer(), nullable=True),
        sa.Column("refunded", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("step", sa.String(length=16), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_cancellation_requests_order_id", "cancellation_requests", ["order_id"])
    op.create_index("ix_cancellation_requests_state", "cancellation_requests", ["state"])
    op.create_table(
        "resales",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("order_id", sa.Integer(), sa.ForeignKey("orders.id"), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("operator", sa.String(length=64), nullable=False, server_default=""),
    )
    op.create_index("ix_resales_order_id", "resales", ["order_id"])


def downgrade() -> None:
    op.drop_index("ix_resales_order_id", table_name="resales")
    op.drop_table("resales")
    op.drop_index("ix_cancellation_requests_state", table_name="cancellation_requests")
    op.drop_index("ix_cancellation_requests_order_id", table_name="cancellation_requests")
    op.drop_table("cancellation_requests")
    op.drop_table("order_costs")
    op.drop_table("shipments")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE order_items DROP COLUMN sku")
        return
    op.drop_column("order_items", "sku")
