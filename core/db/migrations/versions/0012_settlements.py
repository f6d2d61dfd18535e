"""settlement reports, settlements, their rows and problems (issue 13)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01

Kanjo keeps a zlib-compressed copy (in parts) of every settlement report it read (Amazon keeps them 90 days, R60),
each settlement with its sums and deposit, each row keyed by settlement and transaction (so a
report read twice adds nothing) with the order, charge or refund it matched, and the problems
the matching found. Plain tables and indexes: the same DDL on SQLite and PostgreSQL.

Written on 0010; chained after 0013 (shipping) when main was merged into the settle branch.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "settlement_reports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("report_id", sa.String(128), nullable=True, unique=True),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("seller_id", sa.String(64), nullable=False),
        sa.Column("start_at", sa.DateTime(), nullable=True),
        sa.Column("end_at", sa.DateTime(), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("read_at", sa.DateTime(), nullable=False),
        sa.Column("header", sa.Text(), nullable=False),
    )
    op.create_table(
        "settlement_report_parts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("report_id", sa.Integer(), sa.ForeignKey("settlement_reports.id"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_settlement_report_parts_report_id", "settlement_report_parts", ["report_id"])
    op.create_table(
        "settlements",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("start_at", sa.DateTime(), nullable=True),
        sa.Column("end_at", sa.DateTime(), nullable=True),
        sa.Column("captured", sa.Integer(), nullable=False),
        sa.Column("refunded", sa.Integer(), nullable=False),
        sa.Column("fees", sa.Integer(), nullable=False),
        sa.Column("chargebacks", sa.Integer(), nullable=False),
        sa.Column("other", sa.Integer(), nullable=False),
        sa.Column("deposit", sa.Integer(), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("disbursement_reference", sa.String(128), nullable=True),
        sa.Column("disbursed_at", sa.DateTime(), nullable=True),
        sa.Column("disbursement_status", sa.String(32), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "settlement_rows",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("settlement_id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("transaction_type", sa.String(32), nullable=False),
        sa.Column("transaction_id", sa.String(128), nullable=False),
        sa.Column("posted_at", sa.DateTime(), nullable=True),
        sa.Column("charge_permission_id", sa.String(128), nullable=False),
        sa.Column("seller_reference_id", sa.String(128), nullable=False),
        sa.Column("order_number", sa.String(64), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("fee", sa.Integer(), nullable=False),
        sa.Column("net", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("charge_id", sa.String(64), nullable=True),
        sa.Column("refund_id", sa.String(64), nullable=True),
        sa.Column("extra", sa.Text(), nullable=False),
    )
    op.create_index("ux_settlement_rows_key", "settlement_rows", ["settlement_id", "key"], unique=True)
    op.create_index("ix_settlement_rows_transaction_id", "settlement_rows", ["transaction_id"])
    op.create_index("ix_settlement_rows_order_id", "settlement_rows", ["order_id"])
    op.create_table(
        "settlement_problems",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("settlement_id", sa.String(64), nullable=False),
        sa.Column("row_key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("order_number", sa.String(64), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
    )
    op.create_index("ix_settlement_problems_settlement_id", "settlement_problems", ["settlement_id"])
    op.create_index("ix_settlement_problems_order_id", "settlement_problems", ["order_id"])
    op.create_index(
        "ux_settlement_problems_key", "settlement_problems", ["settlement_id", "row_key"], unique=True
    )


def downgrade() -> None:
    op.drop_table("settlement_problems")
    op.drop_table("settlement_rows")
    op.drop_table("settlements")
    op.drop_table("settlement_report_parts")
    op.drop_table("settlement_reports")
