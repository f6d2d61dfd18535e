"""New orders of an import, staged as the store's own rows, copied in by SQLite itself.

Of a large file's import, the check pass is Python's work: reading, checking, planning every
row. The write pass used to be Python's work again: reading each accepted order back, building
its rows and binding their values, a second time over the file. On a SQLite store the check
pass now also *stages* each new order that needs nothing from Amazon Pay (no Charge
Permission, no Charge: a plain add) as the very rows the store will hold, with their values
bound as SQLAlchemy binds them (``RowShape``), in the import's private scratch file. The write
pass attaches that file to the store's connection and copies a chunk with one
``INSERT … SELECT`` per table: no Python object per order on the write path.

- Ids: the chunk holds the store's write lock, so they continue from each table's highest, as
  ``core.db.bulk.insert_returning_ids`` does. The customer, order and items of staged order
  ``seq`` get consecutive ids by ``seq``.
- Times that belong to the write (``created_at``, ``updated_at``, the journal's ``at``) are
  bound when the chunk is written, not when it was staged.
- The columns come from ``core.imports.rows``, the one place every write path takes them from.
- The order list's search index rows are staged too, folded in Python
  (``core.db.search_index.search_row``): the copy calls no Python function
  from SQL, and its index is the one ``index_rows_sql`` would write (compared row for row in
  ``tests/core/imports/test_staging.py``).

PostgreSQL has no ``ATTACH``: there the write pass writes the accepted orders as before.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Final, cast

from sqlalchemy import Table, text
from sqlalchemy.orm import Session

from core.db import search_index
from core.db.bulk import RowShape
from core.db.schema import Customer, JournalEntry, Order, OrderItem
from core.imports.model import ImportedItem, ImportedOrder
from core.imports.rows import customer_values, imported_event, item_row, item_rows, plain_order_row

SCHEMA: Final = "kanjo_import"  # the scratch file's name while attached to the store's connection
WRITE_TIMES: Final = ("created_at", "updated_at")
_UNSET_TIMES: Final = dict.fromkeys(WRITE_TIMES)
_CUSTOMERS = cast(Table, Customer.__table__)
_ORDERS = cast(Table, Order.__table__)
_ITEMS = cast(Table, OrderItem.__table__)
_JOURNAL = cast(Table, JournalEntry.__table__)


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


class StagedOrders:
    """The staged rows in the scratch connection ``db`` (one import's; SQLite stores only)."""

    def __init__(self, db: sqlite3.Connection, dialect: Any, *, source: str, actor: str, operator: str) -> None:
        self._db = db
        self._dialect = dialect
        self._source = source
        self._actor = actor
        self._operator = operator
        self._shapes: tuple[RowShape, RowShape, RowShape] | None = None

    def _shape(self, order: ImportedOrder, now: datetime) -> tuple[RowShape, RowShape, RowShape]:
        """The three tables' shapes, from the first staged order's rows (every row has the same
        columns), and the scratch tables that hold them."""
        if self._shapes is None:
            customer = RowShape.of(_CUSTOMERS, self._dialect, list(customer_values(order)))
            row = RowShape.of(_ORDERS, self._dialect, list(plain_order_row(order, self._source, now)))
            item = RowShape.of(_ITEMS, self._dialect, list(item_row(0, ImportedItem("", "", 0, 0))))
            if customer is None or row is None or item is None:  # a callable default: not stageable
                raise RuntimeError("an imported order's table has a column default only SQLAlchemy can fill")
            self._shapes = (customer, row, item)
            for statement in (  # execute, not executescript: that would commit the check pass's transaction
                f"CREATE TABLE staged_customers (seq INTEGER PRIMARY KEY, {_quoted(customer.names)})",
                f"CREATE TABLE staged_orders (seq INTEGER PRIMARY KEY, plan_line INTEGER, plan_amazon_pay INTEGER, "
                f"{_quoted(row.names)})",
                f"CREATE TABLE staged_items (seq INTEGER, {_quoted(item.names)}, PRIMARY KEY (seq, position))"
                " WITHOUT ROWID",
                f"CREATE TABLE staged_search (seq INTEGER PRIMARY KEY, {_quoted(search_index.SEARCH_COLUMNS)}, pairs)",
            ):
                self._db.execute(statement)
        return self._shapes

    def add(self, staged: Sequence[tuple[int, ImportedOrder, int, bool]], now: datetime) -> None:
        """Stage ``(seq, order, line, amazon_pay)`` rows: plain adds of the check pass, in file order."""
        if not staged:
            return
        customer, row, item = self._shape(staged[0][1], now)
        customers: list[list[Any]] = []
        orders: list[list[Any]] = []
        items: list[list[Any]] = []
        search: list[tuple[Any, ...]] = []
        for seq, order, line, amazon_pay in staged:
            person = customer_values(order)
            customers.append([seq, *customer.values(person)])
            values = plain_order_row(order, self._source, now)
            search.append(
                (
                    seq,
                    *search_index.search_row(
                        values["number"], person["name"], person["email"], person["name_reading"], person["phone"]
                    ),
                )
            )
            values.update(_UNSET_TIMES)  # bound when the chunk is written (``copy``), not here
            orders.append([seq, line, int(amazon_pay), *row.values(values)])
            items.extend([seq, *item.values(one)] for one in item_rows(order))
        marks = ", ".join("?" * len(customers[0]))
        self._db.executemany(f"INSERT INTO staged_customers VALUES ({marks})", customers)
        self._db.executemany(f"INSERT INTO staged_orders VALUES ({', '.join('?' * len(orders[0]))})", orders)
        if items:
            self._db.executemany(f"INSERT INTO staged_items VALUES ({', '.join('?' * len(items[0]))})", items)
        self._db.executemany(f"INSERT INTO staged_search VALUES ({', '.join('?' * len(search[0]))})", search)

    def covers(self, lo: int, hi: int) -> bool:
        """Every accepted order ``lo`` ≤ seq < ``hi`` is staged."""
        if self._shapes is None:
            return False
        row = self._db.execute("SELECT count(*) FROM staged_orders WHERE seq >= ? AND seq < ?", (lo, hi)).fetchone()
        return bool(row and row[0] == hi - lo)

    def copy(self, session: Session, lo: int, hi: int, now: datetime) -> bool:
        """Write staged orders ``lo`` ≤ seq < ``hi`` into the store, in ``session``'s transaction,
        its first statement (it takes the write lock). False, with nothing added, when one of
        their numbers is in the store by now (another import or desk added it since the check):
        the caller then plans those orders again under the lock."""
        assert self._shapes is not None
        customer, row, item = self._shapes
        span = {"lo": lo, "hi": hi}
        within = "WHERE seq >= :lo AND seq < :hi ORDER BY seq"
        # The write lock first, and in the same statement: does any number exist already?
        taken = session.execute(
            text(
                "UPDATE orders SET updated_at = updated_at WHERE number IN "
                f"(SELECT number FROM {SCHEMA}.staged_orders WHERE seq >= :lo AND seq < :hi)"
            ),
            span,
        )
        if taken.rowcount:  # type: ignore[attr-defined]
            return False
        paused = search_index.pause(session)  # indexed below from the staged rows (0007)
        assert paused is not None  # SQLite
        customer_base = int(session.execute(text("SELECT coalesce(max(id), 0) FROM customers")).scalar_one()) + 1
        order_base = paused + 1
        ids = {**span, "customer_base": customer_base, "order_base": order_base}
        session.execute(
            text(
                f"INSERT INTO customers (id, {_quoted(customer.names)}) "
                f"SELECT :customer_base + seq - :lo, {_quoted(customer.names)} FROM {SCHEMA}.staged_customers {within}"
            ),
            ids,
        )
        bound_now = self._bind(_ORDERS, "created_at", now)
        picked = [(":now" if name in WRITE_TIMES else f'"{name}"') for name in row.names]
        session.execute(
            text(
                f"INSERT INTO orders (id, customer_id, {_quoted(row.names)}) "
                f"SELECT :order_base + seq - :lo, :customer_base + seq - :lo, {', '.join(picked)} "
                f"FROM {SCHEMA}.staged_orders {within}"
            ),
            {**ids, "now": bound_now},
        )
        session.execute(
            text(
                f"INSERT INTO order_items (order_id, {_quoted(item.names)}) "
                f"SELECT :order_base + seq - :lo, {_quoted(item.names)} FROM {SCHEMA}.staged_items "
                "WHERE seq >= :lo AND seq < :hi ORDER BY seq, position"
            ),
            ids,
        )
        self._journal(session, span, now)
        # The search index, as index_rows_sql would fill it, from the rows staged with the order.
        columns = _quoted(search_index.SEARCH_COLUMNS)
        session.execute(
            text(
                f"INSERT INTO order_search (rowid, {columns}) "
                f"SELECT :order_base + seq - :lo, {columns} FROM {SCHEMA}.staged_search {within}"
            ),
            ids,
        )
        session.execute(
            text(
                "INSERT INTO order_search_bigram (rowid, pairs) "
                f"SELECT :order_base + seq - :lo, pairs FROM {SCHEMA}.staged_search {within}"
            ),
            ids,
        )
        search_index.resume(session)
        return True

    def _journal(self, session: Session, span: dict[str, int], now: datetime) -> None:
        """One ``order_imported`` event per copied order, as ``Journal.event`` writes it."""
        template = imported_event("", 0, self._source, now, self._actor, self._operator)
        shape = RowShape.of(_JOURNAL, self._dialect, list(template))
        assert shape is not None
        from_order = {"order_number": '"number"', "amount": '"total"'}
        params: dict[str, Any] = dict(span)
        picked: list[str] = []
        for index, (name, value) in enumerate(zip(shape.names, shape.values(template), strict=True)):
            if name in from_order:
                picked.append(from_order[name])
            else:
                params[f"v{index}"] = value
                picked.append(f":v{index}")
        session.execute(
            text(
                f"INSERT INTO journal ({_quoted(shape.names)}) SELECT {', '.join(picked)} "
                f"FROM {SCHEMA}.staged_orders WHERE seq >= :lo AND seq < :hi ORDER BY seq"
            ),
            params,
        )

    def plans(self, lo: int, hi: int) -> list[tuple[str, int, bool]]:
        """``(number, line, amazon_pay)`` of staged orders ``lo`` ≤ seq < ``hi``, for the summary."""
        return [
            (str(number), int(line), bool(amazon_pay))
            for number, line, amazon_pay in self._db.execute(
                "SELECT number, plan_line, plan_amazon_pay FROM staged_orders WHERE seq >= ? AND seq < ? ORDER BY seq",
                (lo, hi),
            )
        ]

    def amazon_pay_count(self, lo: int, hi: int) -> int:
        row = self._db.execute(
            "SELECT count(*) FROM staged_orders WHERE seq >= ? AND seq < ? AND plan_amazon_pay", (lo, hi)
        ).fetchone()
        return int(row[0]) if row else 0

    def _bind(self, table: Table, column: str, value: Any) -> Any:
        process = table.c[column].type._cached_bind_processor(self._dialect)
        return process(value) if process is not None else value
