"""order list: substring search over order number, customer name and e-mail

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

The window's order list (issue 3) filters, sorts and searches in SQL and must stay fast at
1,000,000 orders (see bench/orders_bench.py).

Search. ``LIKE '%…%'`` reads every row, so SQLite keeps two full-text indexes, maintained by
triggers so that no service has to remember them. Rows are keyed by ``orders.id`` (the FTS
rowid):

* ``order_search`` (trigram tokenizer) over the order number, the customer's name (as
  written and with its spaces removed, so 佐藤花子 finds 佐藤 花子) and e-mail: answers any
  substring of 3 or more characters, case-insensitively.
* ``order_search_bigram`` (unicode61 over the space-separated character pairs of the name
  without spaces, plus an end mark): answers 1- and 2-character searches, which matter in
  Japanese because most family names have two characters (田中, 佐藤) and some one (林, 森).
  A 2-character search is one token; a 1-character search is a prefix query over the pairs
  (hence the end mark, so the name's last character also starts a pair).

PostgreSQL (issue 14) gets the same two answers from ``pg_trgm`` and GIN indexes, which the
database keeps current itself:

* ``ix_orders_number_trgm`` (the order number) and ``ix_customers_search_trgm`` (over
  ``kanjo_search_text(name, email)``: the name as written, without spaces, and the e-mail,
  one per line) serve ``ILIKE '%…%'`` of 3 or more characters. pg_trgm takes Japanese letters
  into trigrams only when the database's ``LC_CTYPE`` is a UTF-8 locale (``C.UTF-8``,
  ``ja_JP.UTF-8`` …, the default of a cluster made on a UTF-8 system); under ``C`` the search
  still answers right, but reads every customer.
* ``ix_customers_name_grams`` over ``kanjo_name_grams(name)``, the 1- and 2-character
  pieces of the lower-cased name without spaces (first 40 characters): a 1- or 2-character
  search is ``kanjo_name_grams(name) @> ARRAY[term]``.

``pg_trgm`` is a trusted extension (PostgreSQL 13+): the database's owner may create it. The
FTS tables and the PostgreSQL search indexes are not ORM objects; the schema tests leave them
out of their comparison.
"""

from __future__ import annotations

from alembic import op

from core.db.search_index import MAX_NAME_CHARS, index_rows_sql, insert_trigger_sql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

# The SQL that fills the two FTS tables is core.db.search_index's, shared with 0007's pausable
# trigger and the import's per-chunk fill, so the three never index a name differently.
def _index_rows(where: str) -> list[str]:
    return index_rows_sql(where, version=1)  # 0014 folds the text (issue 16): this is the index before it


# The expressions of the PostgreSQL indexes; core.order_pages searches with exactly these.
PG_FUNCTIONS = (
    "CREATE FUNCTION kanjo_search_text(name text, email text) RETURNS text "
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS "
    "$$ SELECT name || chr(10) || replace(replace(name, ' ', ''), '　', '') || chr(10) || email $$",
    # plpgsql: a loop is about 12× faster here than the same in one SQL query (generate_series).
    "CREATE FUNCTION kanjo_name_grams(name text) RETURNS text[] "
    "LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$ "
    "DECLARE c text := lower(replace(replace(name, ' ', ''), '　', '')); grams text[] := '{}'; "
    f"BEGIN FOR i IN 1 .. least(char_length(c), {MAX_NAME_CHARS}) LOOP "
    "grams := grams || substr(c, i, 1) || substr(c, i, 2); END LOOP; RETURN grams; END $$",
)


def _postgresql_upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for statement in PG_FUNCTIONS:
        op.execute(statement)
    op.execute("CREATE INDEX ix_orders_number_trgm ON orders USING gin (number gin_trgm_ops)")
    op.execute(
        "CREATE INDEX ix_customers_search_trgm ON customers USING gin (kanjo_search_text(name, email) gin_trgm_ops)"
    )
    op.execute("CREATE INDEX ix_customers_name_grams ON customers USING gin (kanjo_name_grams(name))")


def _postgresql_downgrade() -> None:
    for index in ("ix_customers_name_grams", "ix_customers_search_trgm", "ix_orders_number_trgm"):
        op.execute(f"DROP INDEX IF EXISTS {index}")
    op.execute("DROP FUNCTION IF EXISTS kanjo_name_grams(text)")
    op.execute("DROP FUNCTION IF EXISTS kanjo_search_text(text, text)")


def upgrade() -> None:
    # Plain CREATE INDEX: batch mode would recreate the tables and drop the triggers below.
    op.create_index("ix_orders_status_expiry", "orders", ["payment_status", "auth_expires_at", "ordered_at"])
    op.create_index("ix_customers_name", "customers", ["name"])
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_upgrade()
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("CREATE VIRTUAL TABLE order_search USING fts5(number, name, name_compact, email, tokenize='trigram')")
    op.execute("CREATE VIRTUAL TABLE order_search_bigram USING fts5(pairs, tokenize='unicode61', prefix='1')")
    unindex = "DELETE FROM order_search WHERE rowid = {id}; DELETE FROM order_search_bigram WHERE rowid = {id}; "
    op.execute(insert_trigger_sql(pausable=False, version=1))
    op.execute("CREATE TRIGGER order_search_ad AFTER DELETE ON orders BEGIN " + unindex.format(id="old.id") + "END")
    op.execute(
        "CREATE TRIGGER order_search_au AFTER UPDATE OF number, customer_id ON orders BEGIN "
        + unindex.format(id="new.id") + "; ".join(_index_rows("o.id = new.id")) + "; END"
    )
    op.execute(
        "CREATE TRIGGER order_search_customer_au AFTER UPDATE OF name, email ON customers BEGIN "
        "DELETE FROM order_search WHERE rowid IN (SELECT id FROM orders WHERE customer_id = new.id); "
        "DELETE FROM order_search_bigram WHERE rowid IN (SELECT id FROM orders WHERE customer_id = new.id); "
        + "; ".join(_index_rows("o.customer_id = new.id")) + "; END"
    )
    for statement in _index_rows("1"):  # orders already in the store
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_downgrade()
    op.drop_index("ix_customers_name", "customers")
    op.drop_index("ix_orders_status_expiry", "orders")
    if op.get_bind().dialect.name != "sqlite":
        return
    for trigger in ("order_search_ai", "order_search_ad", "order_search_au", "order_search_customer_au"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS order_search_bigram")
    op.execute("DROP TABLE IF EXISTS order_search")
