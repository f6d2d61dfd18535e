"""SQL for "the moment a Tokyo calendar day begins", in UTC as the store keeps times.

A ``Date`` column holds a Tokyo day (a reservation's planned shipping day); times are stored as
naive UTC. ``tokyo_day_start(day)`` is that day's 00:00 in Japan (UTC+9, no daylight saving),
written for each database: SQLite's ``datetime()`` gives the same ``YYYY-MM-DD HH:MM:SS`` text the
store's times begin with, so text comparison orders them correctly; PostgreSQL subtracts an
interval from the date's midnight.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement


class tokyo_day_start(FunctionElement[Any]):  # noqa: N801 - reads as the SQL function it stands for
    type = DateTime()
    inherit_cache = True
    name = "tokyo_day_start"

    def __init__(self, day: Any) -> None:  # a Date column or expression
        super().__init__(day)


@compiles(tokyo_day_start, "sqlite")
def _sqlite(element: tokyo_day_start, compiler: Any, **kw: Any) -> str:
    return f"datetime({compiler.process(element.clauses, **kw)}, '-9 hours')"


@compiles(tokyo_day_start, "postgresql")
def _postgresql(element: tokyo_day_start, compiler: Any, **kw: Any) -> str:
    return f"(CAST({compiler.process(element.clauses, **kw)} AS timestamp) - INTERVAL '9 hours')"
