"""PostgreSQL: the customer's folded search text stored, so a search compares it, not recomputes it

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02

Issue 14 (the list keeps its speed on PostgreSQL) with issue 16's fold. Migration 0014 indexed
``kanjo_search_text(name, email, name_reading, phone)`` by expression. A trigram index only
narrows the candidates, so PostgreSQL rechecks each candidate row, and with an expression index
that recheck computes the fold again (NFKC, kana, digits: about 46 µs a row; 「佐々木」 at
1,000,000 orders rechecked 9,950 rows in 460 ms). ``customers.search_text`` is now a stored
generated column of the same expression, kept by PostgreSQL on every insert and update, and
the trigram index is on the column: a recheck reads the stored text.

SQLite: nothing (its FTS5 tables hold the folded text already).
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

EXPRESSION = "kanjo_search_text(name, email, name_reading, phone)"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE customers ADD COLUMN search_text text GENERATED ALWAYS AS ({EXPRESSION}) STORED")
    op.execute("DROP INDEX IF EXISTS ix_customers_search_trgm")
    op.execute("CREATE INDEX ix_customers_search_trgm ON customers USING gin (search_text gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_customers_search_trgm")
    op.execute("ALTER TABLE customers DROP COLUMN search_text")
    op.execute(f"CREATE INDEX ix_customers_search_trgm ON customers USING gin ({EXPRESSION} gin_trgm_ops)")
