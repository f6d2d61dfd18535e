"""Issue 14 item 4: the change feed, on a SQLite file and on PostgreSQL.

Two Kanjo apps on one store, as two PCs (or two windows) would have: a capture, refund or edit
made through one is reported by the other's feed within 5 s, by order number.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from core.app import Kanjo, open_app
from core.changes import ALL, ChangedOrders, ChangeFeed, PostgresChangeFeed, SqliteChangeFeed
from core.clock import FixedClock
from tests.helpers import place_order

WITHIN = 5.0  # the "within a few seconds"


BOTH = ["sqlite", "postgresql"]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def store_url(request: pytest.FixtureRequest, home: Path) -> str:
    """A SQLite file, and PostgreSQL: in the everyday suite for the issue's own check (marked
    ``parametrize(..., BOTH)``), in the slow suite for the rest (each adds about a second)."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    return f"sqlite:///{home / 'kanjo.sqlite3'}"


@pytest.fixture
def other(home: Path, clock: FixedClock, store_url: str, app: Kanjo) -> Iterator[Kanjo]:
    """A second app on the same store (another operator's PC)."""
    kanjo = open_app(store_url, clock=clock, environ={"KANJO_HOME": str(home)}, daily_backup=False)
    try:
        yield kanjo
    finally:
        kanjo.close()


class Collected:
    """What a feed reported, waited for from the test's thread."""

    def __init__(self) -> None:
        self.reports: list[ChangedOrders] = []
        self.threads: set[str] = set()
        self._changed = threading.Condition()

    def __call__(self, changed: ChangedOrders) -> None:
        with self._changed:
            self.reports.append(changed)
            self.threads.add(threading.current_thread().name)
            self._changed.notify_all()

    def numbers(self) -> set[str]:
        return {n for report in self.reports if report != ALL for n in report}

    def wait_for(self, done: Callable[[], bool], timeout: float = WITHIN) -> float:
        started = time.monotonic()
        with self._changed:
            assert self._changed.wait_for(done, timeout), f"not reported within {timeout} s: {self.reports}"
        return time.monotonic() - started


def started(app: Kanjo, interval: float = 0.2) -> tuple[ChangeFeed, Collected]:
    collected = Collected()
    feed = app.change_feed(interval=interval)
    feed.start(collected)
    return feed, collected


@pytest.mark.parametrize("store_url", BOTH, indirect=True)
def test_a_capture_in_one_app_is_reported_by_the_other_within_5_s(app: Kanjo, other: Kanjo) -> None:
    place_order(app, "L1", 5_000)
    place_order(app, "L2", 3_000)
    feed, seen = started(other)
    assert isinstance(feed, PostgresChangeFeed if other.engine.dialect.name == "postgresql" else SqliteChangeFeed)
    assert app.payments.capture("L1").ok
    took = seen.wait_for(lambda: "L1" in seen.numbers())
    assert took < WITHIN
    assert "L2" not in seen.numbers()  # only the order that changed
    assert seen.threads == {"kanjo-change-feed"}  # never the caller's thread: the window hops itself
    assert other.orders.detail("L1").captured == 5_000  # the change is committed when it is reported


def test_a_refund_and_an_amount_edit_are_reported_too(app: Kanjo, other: Kanjo) -> None:
    place_order(app, "L3", 5_000)
    place_order(app, "L4", 5_000)
    assert app.payments.capture("L3").ok
    _feed, seen = started(other)
    app.payments.refund("L3", 1_000, "返品")
    seen.wait_for(lambda: "L3" in seen.numbers())
    app.payments.change_amount("L4", total=4_000)  # an edit that is not a money call
    seen.wait_for(lambda: "L4" in seen.numbers())


def test_changes_made_before_start_are_not_reported(app: Kanjo, other: Kanjo) -> None:
    place_order(app, "L5", 5_000)
    _feed, seen = started(other)
    place_order(app, "L6", 5_000)  # a new order is a change too
    seen.wait_for(lambda: "L6" in seen.numbers())
    assert "L5" not in seen.numbers()


def test_many_orders_at_once_are_reported_as_all(app: Kanjo, other: Kanjo) -> None:
    for number in ("M1", "M2", "M3"):
        place_order(app, number, 1_000)
    feed = other.change_feed(interval=0.2)
    feed.max_numbers = 2
    seen = Collected()
    feed.start(seen)
    with app.engine.begin() as connection:  # three orders changed in one transaction (a bulk edit)
        connection.execute(text("UPDATE orders SET shop_memo = 'x' WHERE number IN ('M1', 'M2', 'M3')"))
    seen.wait_for(lambda: ALL in seen.reports)


def test_stop_ends_the_thread_and_close_stops_every_feed(app: Kanjo, other: Kanjo) -> None:
    feed, seen = started(other)
    feed.stop()
    assert not feed.running
    place_order(app, "L7", 5_000)
    time.sleep(0.6)
    assert seen.reports == []
    second, _ = started(other)
    other.close()
    assert not second.running


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_a_lost_postgresql_connection_is_listened_again_and_reports_all(
    app: Kanjo, other: Kanjo, store_url: str
) -> None:
    _feed, seen = started(other)
    with app.engine.begin() as connection:  # the server drops the feed's connection
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE query ILIKE 'LISTEN%' AND pid <> pg_backend_pid()"
            )
        )
    seen.wait_for(lambda: ALL in seen.reports)  # what changed meanwhile is unknown
    place_order(app, "L8", 5_000)
    seen.wait_for(lambda: "L8" in seen.numbers())


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_sqlite_log_stays_bounded_and_a_reader_left_behind_is_told_all(
    app: Kanjo, other: Kanjo, store_url: str
) -> None:
    place_order(app, "P1", 1_000)
    _feed, seen = started(other)
    with app.engine.begin() as connection:  # 25,000 changes in one go: more than the log keeps
        connection.execute(
            text(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 25000) "
                "INSERT INTO order_changes (order_number) SELECT 'P1' FROM n"
            )
        )
        kept = connection.execute(text("SELECT COUNT(*) FROM order_changes")).scalar_one()
    assert 10_000 <= kept <= 20_000
    seen.wait_for(lambda: ALL in seen.reports)
