"""The order list's full-text index on SQLite, and filling it a chunk at a time.

Migration 0002 keeps ``order_search`` (trigram) and ``order_search_bigram`` (name pairs)
current with triggers on ``orders`` and ``customers``, so no service has to remember them. A
trigger runs per row: about 0.3 ms an order, 30 s of a 100,000-order import. Migration 0007
lets a writer that adds many orders in one transaction *pause* the insert trigger (a row in
``search_index_paused``, written and removed inside that same transaction, so no other
connection ever sees it) and index all the transaction's new orders with one statement each
(:func:`index_new_orders`) before it commits.

PostgreSQL keeps its search indexes itself (GIN, see 0002): nothing to pause there.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.search_text import fold, phone_digits

END_MARK: Final = "〆"  # a CJK letter, so unicode61 keeps it inside the pair token
MAX_NAME_CHARS: Final = 40  # pairs beyond this many characters of a name are not indexed
PAUSE_TABLE: Final = "search_index_paused"


def _compact(expr: str) -> str:
    """The name without half- or full-width spaces."""
    return f"replace(replace({expr}, ' ', ''), '　', '')"


def _pairs(expr: str) -> str:
    """SQL for 'ab bc cd d〆' built from a text expression (triggers allow no CTEs)."""
    marked = f"({_compact(expr)} || '{END_MARK}')"
    parts = " || ' ' || ".join(f"substr({marked}, {i}, 2)" for i in range(1, MAX_NAME_CHARS + 1))
    return f"trim({parts})"


SEARCH_INDEX_VERSION: Final = 2
"""1: migration 0002's index (raw text). 2: migration 0014's (issue 16 item 6): every column
folded by ``kanjo_fold`` (core.search_text.fold, registered on each SQLite connection), the
customer's reading beside the name, and the phone number's digits."""


def name_pairs(name: str) -> str:
    """What :func:`_pairs` computes in SQL, in Python: the same text for every name
    (``tests/core/test_search_index_pairs.py``). SQLite's ``substr`` counts characters, as
    Python's slices do; its ``trim`` removes spaces only."""
    marked = compact(name) + END_MARK
    # Pairs past the end are empty in SQL and trimmed away, so they are never built here.
    return " ".join([marked[i : i + 2] for i in range(min(len(marked), MAX_NAME_CHARS))])


def folded_name_pairs(name: str | None, reading: str | None) -> str:
    """Version 2's pairs: those of the folded name, then of its folded reading, for
    ``order_search_bigram``; registered on every SQLite connection as ``kanjo_pairs``
    (core/db/engine.py), so an order costs one call, not one fold per pair."""
    return _pairs_of_folded(fold(name), fold(reading))


def _pairs_of_folded(folded_name: str, folded_reading: str) -> str:
    return name_pairs(folded_name) + " " + name_pairs(folded_reading)


def compact(text: str) -> str:
    """What :func:`_compact` computes in SQL: the text without half- or full-width spaces."""
    return text.replace(" ", "").replace("　", "")


SEARCH_COLUMNS: Final = ("number", "name", "name_compact", "email", "reading", "phone")


def search_row(
    number: str, name: str | None, email: str | None, reading: str | None, phone: str | None
) -> tuple[str, ...]:
    """What :func:`index_rows_sql` (version 2) writes for one order, computed in Python: its
    ``order_search`` :data:`SEARCH_COLUMNS`, then its ``order_search_bigram`` pairs. An import
    stages these while checking the file, so its write pass calls no Python function from SQL
    (``tests/core/imports/test_staging.py`` compares the stored index with the one SQL writes)."""
    folded_name, folded_reading = fold(name), fold(reading)
    return (
        fold(number),
        folded_name,
        compact(folded_name),
        fold(email),
        compact(folded_reading),
        phone_digits(phone),
        _pairs_of_folded(folded_name, folded_reading),
    )


def index_rows_sql(where: str, *, version: int = SEARCH_INDEX_VERSION) -> list[str]:
    """INSERT … SELECT statements indexing the orders matched by ``… WHERE {where}`` (o, c).

    ``version`` 1 (plain SQL) is kept for migrations 0002 and 0007, which ran before 0014;
    version 2 calls the functions core/db/engine.py registers on each connection, among them
    the name pairs in Python (:func:`folded_name_pairs`): a tenth of the SQL expression's time,
    which evaluates the name's compaction again for each of its 40 pairs.
    """
    if version >= 2:
        name, reading = "kanjo_fold(c.name)", "kanjo_fold(c.name_reading)"
        return [
            "INSERT INTO order_search(rowid, number, name, name_compact, email, reading, phone) "
            f"SELECT o.id, kanjo_fold(o.number), {name}, {_compact(name)}, kanjo_fold(c.email), "
            f"{_compact(reading)}, kanjo_digits(c.phone) "
            f"FROM orders o JOIN customers c ON c.id = o.customer_id WHERE {where}",
            "INSERT INTO order_search_bigram(rowid, pairs) "
            "SELECT o.id, kanjo_pairs(c.name, c.name_reading) "
            f"FROM orders o JOIN customers c ON c.id = o.customer_id WHERE {where}",
        ]
    return [
        "INSERT INTO order_search(rowid, number, name, name_compact, email) "
        f"SELECT o.id, o.number, c.name, {_compact('c.name')}, c.email "
        f"FROM orders o JOIN customers c ON c.id = o.customer_id WHERE {where}",
        f"INSERT INTO order_search_bigram(rowid, pairs) SELECT o.id, {_pairs('c.name')} "
        f"FROM orders o JOIN customers c ON c.id = o.customer_id WHERE {where}",
    ]


def insert_trigger_sql(*, pausable: bool, version: int = SEARCH_INDEX_VERSION) -> str:
    """The trigger that indexes each new order (0002's, or 0007's that a writer may pause)."""
    when = f"WHEN NOT EXISTS (SELECT 1 FROM {PAUSE_TABLE}) " if pausable else ""
    return (
        f"CREATE TRIGGER order_search_ai AFTER INSERT ON orders {when}BEGIN "
        + "; ".join(index_rows_sql("o.id = new.id", version=version))
        + "; END"
    )


def pause(session: Session) -> int | None:
    """Pause per-row indexing for the rest of ``session``'s transaction (SQLite only).

    Returns the highest order id before the pause (0 for an empty store), to be handed to
    :func:`index_new_orders` before the commit; None when nothing is paused (another database).
    Call it while holding the write lock (``lock_order`` / the import's chunk lock), so no
    other writer adds orders in between.
    """
    if session.get_bind().dialect.name != "sqlite":
        return None
    session.flush()
    before = session.execute(text("SELECT coalesce(max(id), 0) FROM orders")).scalar_one()
    session.execute(text(f"INSERT INTO {PAUSE_TABLE}(id) VALUES (1)"))
    return int(before)


def resume(session: Session) -> None:
    """Lift :func:`pause` without indexing: the writer indexed its orders itself (same transaction)."""
    session.execute(text(f"DELETE FROM {PAUSE_TABLE}"))


def index_new_orders(session: Session, after_id: int | None) -> None:
    """Index every order added since :func:`pause` and lift the pause (same transaction)."""
    if after_id is None:
        return
    session.flush()
    for statement in index_rows_sql("o.id > :after"):
        session.execute(text(statement), {"after": after_id})
    session.execute(text(f"DELETE FROM {PAUSE_TABLE}"))
