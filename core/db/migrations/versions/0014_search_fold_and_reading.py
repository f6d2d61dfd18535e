"""order list search: one fold for index and query, the customer's reading, phone digits

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01

Issue 16 item 6. The search folded the query (NFKC) but the index held the raw text, so ①, ㈱
or ＡＢＣ in a name were never found, katakana did not find hiragana, and a phone number was
not searched at all. Now both sides go through ``core.search_text``:

* ``customers.name_reading``: the customer's reading (フリガナ) where the shop's file carries
  one (EC-CUBE's お名前(セイ)/(メイ)); '' otherwise.
* SQLite: the two FTS tables are rebuilt with every column folded by ``kanjo_fold`` (the
  Python fold, registered on each connection by core/db/engine.py), the reading beside the
  name (trigram and character pairs) and the phone's digits (``kanjo_digits``); the triggers
  are recreated with the new columns (the insert trigger stays pausable, 0007).
* PostgreSQL: ``kanjo_fold``/``kanjo_digits`` in SQL (core.search_text.PG_FUNCTIONS, checked
  against the Python fold by a test) and the two customer indexes over the folded name,
  reading, e-mail and phone digits.

Rebuilding reads every order once (about a minute at 1,000,000 orders on SQLite).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.db.search_index import MAX_NAME_CHARS, index_rows_sql, insert_trigger_sql
from core.search_text import PG_FUNCTIONS as FOLD_FUNCTIONS

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

PG_SEARCH_FUNCTIONS = (
    "CREATE FUNCTION kanjo_search_text(name text, email text, reading text, phone text) RETURNS text "
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS "
    "$$ SELECT kanjo_fold(name) || chr(10) || replace(replace(kanjo_fold(name), ' ', ''), '　', '') "
    "|| chr(10) || replace(replace(kanjo_fold(reading), ' ', ''), '　', '') || chr(10) || kanjo_fold(email) "
    "|| chr(10) || kanjo_digits(phone) $$",
    "CREATE FUNCTION kanjo_name_grams(name text, reading text) RETURNS text[] "
    "LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$ "
    "DECLARE grams text[] := '{}'; c text; "
    "BEGIN FOREACH c IN ARRAY ARRAY[kanjo_fold(name), kanjo_fold(reading)] LOOP "
    "c := lower(replace(replace(c, ' ', ''), '　', '')); "
    f"FOR i IN 1 .. least(char_length(c), {MAX_NAME_CHARS}) LOOP "
    "grams := grams || substr(c, i, 1) || substr(c, i, 2); END LOOP; END LOOP; RETURN grams; END $$",
)
SEARCH_INDEX = (
    "CREATE INDEX ix_customers_search_trgm ON customers USING gin "
    "(kanjo_search_text(name, email, name_reading, phone) gin_trgm_ops)"
)
GRAMS_INDEX = "CREATE INDEX ix_customers_name_grams ON customers USING gin (kanjo_name_grams(name, name_reading))"


def _sqlite_rebuild(version: int) -> None:
    for trigger in ("order_search_ai", "order_search_ad", "order_search_au", "order_search_customer_au"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS order_search_bigram")
    op.execute("DROP TABLE IF EXISTS order_search")
    columns = "number, name, name_compact, email, reading, phone" if version >= 2 else "number, name, name_compact, email"
    op.execute(f"CREATE VIRTUAL TABLE order_search USING fts5({columns}, tokenize='trigram')")
    op.execute("CREATE VIRTUAL TABLE order_search_bigram USING fts5(pairs, tokenize='unicode61', prefix='1')")

    def rows(where: str) -> str:
        return "; ".join(index_rows_sql(where, version=version))

    unindex = "DELETE FROM order_search WHERE rowid = {id}; DELETE FROM order_search_bigram WHERE rowid = {id}; "
    customer_columns = "name, email, name_reading, phone" if version >= 2 else "name, email"
    op.execute(insert_trigger_sql(pausable=True, version=version))
    op.execute("CREATE TRIGGER order_search_ad AFTER DELETE ON orders BEGIN " + unindex.format(id="old.id") + "END")
    op.execute(
        "CREATE TRIGGER order_search_au AFTER UPDATE OF number, customer_id ON orders BEGIN "
        + unindex.format(id="new.id")
        + rows("o.id = new.id")
        + "; END"
    )
    op.execute(
        f"CREATE TRIGGER order_search_customer_au AFTER UPDATE OF {customer_columns} ON customers BEGIN "
        "DELETE FROM order_search WHERE rowid IN (SELECT id FROM orders WHERE customer_id = new.id); "
        "DELETE FROM order_search_bigram WHERE rowid IN (SELECT id FROM orders WHERE customer_id = new.id); "
        + rows("o.customer_id = new.id")
        + "; END"
    )
    for statement in index_rows_sql("1", version=version):  # the orders already in the store
        op.execute(statement)


def upgrade() -> None:
    # Plain ALTER TABLE (no batch): a batch would recreate the table and drop its triggers.
    op.add_column("customers", sa.Column("name_reading", sa.String(200), nullable=False, server_default=""))
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite_rebuild(2)
    elif dialect == "postgresql":
        for statement in FOLD_FUNCTIONS:
            op.execute(statement)
        op.execute("DROP INDEX IF EXISTS ix_customers_search_trgm")
        op.execute("DROP INDEX IF EXISTS ix_customers_name_grams")
        for statement in PG_SEARCH_FUNCTIONS:
            op.execute(statement)
        op.execute(SEARCH_INDEX)
        op.execute(GRAMS_INDEX)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite_rebuild(1)
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_customers_search_trgm")
        op.execute("DROP INDEX IF EXISTS ix_customers_name_grams")
        op.execute("DROP FUNCTION IF EXISTS kanjo_name_grams(text, text)")
        op.execute("DROP FUNCTION IF EXISTS kanjo_search_text(text, text, text, text)")
        op.execute(
            "CREATE INDEX ix_customers_search_trgm ON customers USING gin "
            "(kanjo_search_text(name, email) gin_trgm_ops)"
        )
        op.execute("CREATE INDEX ix_customers_name_grams ON customers USING gin (kanjo_name_grams(name))")
        op.execute("DROP FUNCTION IF EXISTS kanjo_digits(text)")
        op.execute("DROP FUNCTION IF EXISTS kanjo_fold(text)")
    op.drop_column("customers", "name_reading")  # SQLite 3.35+: after the triggers no longer name it
