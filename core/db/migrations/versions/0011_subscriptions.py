"""subscription contracts, their generated rounds, and reservations' planned shipping days

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01

Issue 12: a subscription (定期・頒布会) is a contract on a Recurring Charge Permission; each
generation is its own order, recorded once per (contract, round) by a unique index, so a run
killed and run again never generates (nor authorizes) a round twice. New tables only: the
orders table and its triggers are untouched.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("order_number", sa.String(64), nullable=False, unique=True),
        sa.Column("charge_permission_id", sa.String(64), sa.ForeignKey("charge_permissions.id"), nullable=False),
        sa.Column("every", sa.String(8), nullable=False),
        sa.Column("anchor", sa.Date(), nullable=False),
        sa.Column("anchor_round", sa.Integer(), nullable=False),
        sa.Column("rounds_done", sa.Integer(), nullable=False),
        sa.Column("rounds_total", sa.Integer(), nullable=True),
        sa.Column("item_amount", sa.Integer(), nullable=False),
        sa.Column("shipping_fee", sa.Integer(), nullable=False),
        sa.Column("next_date", sa.Date(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_subscriptions_charge_permission_id", "subscriptions", ["charge_permission_id"])
    op.create_index("ix_subscriptions_next_date", "subscriptions", ["next_date"])
    op.create_index("ix_subscriptions_state", "subscriptions", ["state"])
    op.create_table(
        "subscription_rounds",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("subscription_id", sa.Integer(), sa.ForeignKey("subscriptions.id"), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("order_number", sa.String(64), nullable=False, unique=True),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("hold_kind", sa.String(16), nullable=True),
        sa.Column("hold_reason", sa.Text(), nullable=True),
        sa.Column("retry_from", sa.Date(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("intent_id", sa.Integer(), nullable=True),
        sa.Column("generated_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_subscription_rounds_subscription_id", "subscription_rounds", ["subscription_id"])
    op.create_index("ix_subscription_rounds_state", "subscription_rounds", ["state"])
    op.create_index(
        "ux_subscription_rounds_round", "subscription_rounds", ["subscription_id", "round"], unique=True
    )
    op.create_table(
        "reservation_plans",
        sa.Column("order_number", sa.String(64), primary_key=True),
        sa.Column("planned_ship", sa.Date(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reservation_plans")
    op.drop_index("ux_subscription_rounds_round", table_name="subscription_rounds")
    op.drop_index("ix_subscription_rounds_state", table_name="subscription_rounds")
    op.drop_index("ix_subscription_rounds_subscription_id", table_name="subscription_rounds")
    op.drop_table("subscription_rounds")
    op.drop_index("ix_subscriptions_state", table_name="subscriptions")
    op.drop_index("ix_subscriptions_next_date", table_name="subscriptions")
    op.drop_index("ix_subscriptions_charge_permission_id", table_name="subscriptions")
    op.drop_table("subscriptions")
