"""``tokyo_day_start``: a Tokyo day's first moment in UTC, the same on SQLite and PostgreSQL
(the 要対応 filter compares a reservation's planned shipping day with its authorization's expiry)."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import Date, DateTime, literal, select

from core.app import Kanjo
from core.db.tokyo_day import tokyo_day_start


@pytest.fixture
def store_url(any_store_url: str) -> str:
    return any_store_url


@pytest.mark.parametrize(
    ("moment", "before"),
    [
        (datetime(2026, 12, 9, 14, 59, 59), True),  # 23:59:59 on the 9th in Tokyo
        (datetime(2026, 12, 9, 15, 0, 0), False),  # 00:00 on the 10th in Tokyo
        (datetime(2026, 12, 9, 15, 0, 0, 1), False),
        (datetime(2026, 12, 10, 0, 0), False),
    ],
)
def test_a_moment_is_before_the_tokyo_day_when_it_is_earlier_than_its_midnight_in_japan(
    app: Kanjo, moment: datetime, before: bool
) -> None:
    day = literal(date(2026, 12, 10), Date())  # as a Date column reads (a CAST in SQLite would make it a number)
    with app.engine.connect() as connection:
        assert connection.scalar(select(literal(moment, DateTime()) < tokyo_day_start(day))) == before
