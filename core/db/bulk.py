"""Many rows into one table, fast, inside the caller's transaction (the import's bulk path).

On SQLite the rows go to the driver as multi-row ``INSERT … VALUES (…), (…), …`` statements,
each value passed through its column type's own bind processor (the conversion SQLAlchemy
itself applies, e.g. UTC times), without compiling and processing parameters row by row.

Why multi-row rather than ``executemany``: a table with triggers (the change feed and the
search index on ``orders``, the append-only guard on ``journal``) makes SQLite open a statement
journal for every statement it runs, copying each page the statement touches first. One
statement per row copies the same index pages again for every row (about half of an order's
insert time); one statement per few hundred rows copies them once.
Elsewhere (PostgreSQL) it is SQLAlchemy's executemany (insertmanyvalues batches it there).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from operator import itemgetter
from typing import Any

from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session

ROWS_PER_STATEMENT = 500
_DEFAULT_VARIABLE_LIMIT = 32766  # SQLite's since 3.32; 999 before


class RowShape:
    """How SQLAlchemy's insert would bind a row of ``table`` given the columns ``given``: the
    columns in order (the given ones, then those with a scalar default), and each value passed
    through its column type's own bind processor (e.g. UTC times to SQLite's text)."""

    def __init__(self, table: Table, dialect: Any, given: list[str], defaults: dict[str, Any]) -> None:
        self.given = list(given)
        self.names = self.given + list(defaults)
        processors = [table.c[name].type._cached_bind_processor(dialect) for name in self.names]
        self._converted = [(index, process) for index, process in enumerate(processors) if process is not None]
        self._pick = itemgetter(*self.given)
        self._tail = list(defaults.values())

    @classmethod
    def of(cls, table: Table, dialect: Any, given: list[str]) -> RowShape | None:
        """None when a column left out has a callable default (SQLAlchemy must call it)."""
        defaults: dict[str, Any] = {}
        for column in table.c:  # what SQLAlchemy's insert would fill in for a column left out
            if column.name in given or column.default is None:
                continue
            default = column.default
            if not getattr(default, "is_scalar", False):
                return None
            defaults[column.name] = default.arg  # type: ignore[attr-defined]
        return cls(table, dialect, given, defaults)

    def values(self, row: dict[str, Any]) -> list[Any]:
        """The row's bound values, in :attr:`names` order."""
        value = (list(self._pick(row)) if len(self.given) > 1 else [self._pick(row)]) + self._tail
        for index, process in self._converted:
            if value[index] is not None:
                value[index] = process(value[index])
        return value


def bulk_insert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` in the session's transaction."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    shape = RowShape.of(table, dialect, list(rows[0])) if dialect.name == "sqlite" else None
    if shape is None:
        session.execute(insert(table), rows)
        return
    values: list[Any] = []  # flat, row after row
    for row in rows:
        values.extend(shape.values(row))
    quote = dialect.identifier_preparer.quote
    names = shape.names
    head = f"INSERT INTO {quote(table.name)} ({', '.join(quote(name) for name in names)}) VALUES "
    per = max(1, min(ROWS_PER_STATEMENT, _variable_limit(connection) // len(names)))
    for statement, part in multi_row_statements(head, len(names), values, per):
        connection.exec_driver_sql(statement, tuple(part))


def multi_row_statements(head: str, width: int, values: list[Any], per: int) -> Iterator[tuple[str, list[Any]]]:
    """SQLite statements ``head (?, …), (?, …) …`` over ``values`` (``width`` a row, row after row),
    ``per`` rows each (the last may hold fewer), with the values each one takes."""
    one = "(" + ", ".join("?" * width) + ")"
    step = per * width
    full = head + ", ".join([one] * per)
    for start in range(0, len(values), step):
        part = values[start : start + step]
        yield (full if len(part) == step else head + ", ".join([one] * (len(part) // width))), part


def insert_returning_ids(session: Session, table: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` into the mapped class ``table`` and return their ids, in order.

    On SQLite the caller holds the database's write lock (the import's chunk does, from its
    first statement), so the next ids are known: max(id) + 1 … (what SQLite itself would
    choose). ``RETURNING`` in parameter order would make SQLAlchemy send one statement per row
    there. Elsewhere it is used.
    """
    if session.get_bind().dialect.name != "sqlite":
        statement = insert(table).returning(table.id, sort_by_parameter_order=True)
        return list(session.scalars(statement, rows).all())
    start = (session.scalar(select(func.max(table.id))) or 0) + 1
    ids = list(range(start, start + len(rows)))
    # The table itself, not the mapped class: plain statements without the ORM's bulk layer.
    bulk_insert(session, table.__table__, [{**row, "id": i} for row, i in zip(rows, ids, strict=True)])
    return ids


def _variable_limit(connection: Any) -> int:
    driver = connection.connection.driver_connection
    getlimit = getattr(driver, "getlimit", None)
    if getlimit is None:  # Python before 3.11
        return _DEFAULT_VARIABLE_LIMIT if sqlite3.sqlite_version_info >= (3, 32) else 999
    return int(getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
