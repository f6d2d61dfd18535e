"""core.order_pages: the order list's SQL reads (filters, effective status, search, keyset paging)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from bench.store import NOW as BENCH_NOW
from bench.store import build_store
from core.app import Kanjo
from core.clock import FixedClock
from core.domain import OrderKind, OrderStatus, PaymentStatus
from core.order_pages import OrderFilter, OrderPages, OrderQuery, ReadOverBudget, SortKey, search_terms
from tests.helpers import place_order


@pytest.fixture
def store_url(any_store_url: str) -> str:
    """Every test here runs on a SQLite file and on PostgreSQL (issue 14)."""
    return any_store_url


def numbers(pages: OrderPages, query: OrderQuery, clock: FixedClock) -> list[str]:
    return [row.number for row in pages.page(query, 0, 1_000, clock.now()).rows]


def rename(app: Kanjo, number: str, name: str, email: str | None = None) -> None:
    with app.engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE customers SET name = :name, email = coalesce(:email, email) "
                "WHERE id = (SELECT customer_id FROM orders WHERE number = :number)"
            ),
            {"name": name, "email": email, "number": number},
        )


@pytest.fixture
def pages(app: Kanjo) -> OrderPages:
    return OrderPages(app.engine)


def test_effective_status_filter_follows_the_clock_r9(app: Kanjo, pages: OrderPages, clock: FixedClock) -> None:
    place_order(app, "A", ordered_at=clock.now() - timedelta(days=29))
    place_order(app, "B", ordered_at=clock.now() - timedelta(days=1))
    authorized = OrderQuery(OrderFilter(payment_statuses=frozenset({PaymentStatus.AUTHORIZED})))
    lapsed = OrderQuery(OrderFilter(payment_statuses=frozenset({PaymentStatus.AUTH_LAPSED})))
    assert numbers(pages, authorized, clock) == ["B", "A"]
    clock.advance(timedelta(days=2))  # A's 30 days pass; nothing was written
    assert numbers(pages, authorized, clock) == ["B"]
    assert numbers(pages, lapsed, clock) == ["A"]
    assert pages.page(lapsed, 0, 10, clock.now()).rows[0].payment_status is PaymentStatus.AUTH_LAPSED
    assert pages.count(lapsed, clock.now()) == 1
    both = OrderQuery(OrderFilter(payment_statuses=frozenset({PaymentStatus.AUTHORIZED, PaymentStatus.AUTH_LAPSED})))
    assert pages.count(both, clock.now()) == 2


def test_needs_action_expiring_failed_on_hold_and_sync_failed(app: Kanjo, pages: OrderPages, clock: FixedClock) -> None:
    place_order(app, "OK", ordered_at=clock.now())
    place_order(app, "SOON", ordered_at=clock.now() - timedelta(days=26))  # lapses in 4 days
    place_order(app, "LAPSED", ordered_at=clock.now() - timedelta(days=31))
    place_order(app, "DONE", ordered_at=clock.now())
    app.payments.capture("DONE")
    place_order(app, "HOLD", ordered_at=clock.now())
    with app.engine.begin() as connection:
        connection.execute(text("UPDATE orders SET order_status = 'on_hold' WHERE number = 'HOLD'"))  # R18
    place_order(app, "UNREACHABLE", ordered_at=clock.now())
    app.gateway().control.add_fault("503", count=20)  # type: ignore[union-attr]
    assert not app.sync.sync_order("UNREACHABLE").ok
    query = OrderQuery(OrderFilter(needs_action=True, action_days=7))
    assert sorted(numbers(pages, query, clock)) == ["HOLD", "LAPSED", "SOON", "UNREACHABLE"]
    assert sorted(numbers(pages, OrderQuery(OrderFilter(needs_action=True, action_days=3)), clock)) == [
        "HOLD",
        "LAPSED",
        "UNREACHABLE",
    ]


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("林", ["N1", "N3"]),  # one character, anywhere in the name
        ("太", ["N1"]),
        ("郎", ["N1"]),  # the last character too (end mark)
        ("田中", ["N2"]),  # two characters
        ("田中花子", ["N2"]),  # written without the space
        ("田中 花子", ["N2"]),
        ("HAYASHI", ["N1"]),  # e-mail, case-insensitive
        ("ample.j", ["N1", "N2", "N3"]),
        ("N2", ["N2"]),  # start of an order number
        ("N", ["N1", "N2", "N3"]),
        ("ＮＯ", []),  # full-width is folded (NFKC) then matched
        ("zzz", []),
        ('"', []),  # FTS syntax characters are quoted, not errors
        ("*", []),
    ],
)
def test_substring_search_over_number_name_and_email(
    app: Kanjo, pages: OrderPages, clock: FixedClock, search: str, expected: list[str]
) -> None:
    for i, (name, email) in enumerate(
        [("林 太郎", "hayashi@example.jp"), ("田中 花子", "tanaka@example.jp"), ("小林 優", "k@example.jp")], 1
    ):
        place_order(app, f"N{i}", ordered_at=clock.now() - timedelta(minutes=i))
        rename(app, f"N{i}", name, email)
    query = OrderQuery(OrderFilter(text=search), sort=SortKey.NUMBER, descending=False)
    assert numbers(pages, query, clock) == expected
    assert pages.count(query, clock.now()) == len(expected)


def test_search_index_follows_new_orders_and_deleted_ones(app: Kanjo, pages: OrderPages, clock: FixedClock) -> None:
    place_order(app, "D1")
    rename(app, "D1", "森 一郎")
    assert numbers(pages, OrderQuery(OrderFilter(text="森")), clock) == ["D1"]
    with app.engine.begin() as connection:
        connection.execute(text("DELETE FROM order_items"))
        connection.execute(text("DELETE FROM charges"))
        connection.execute(text("DELETE FROM orders WHERE number = 'D1'"))
    assert numbers(pages, OrderQuery(OrderFilter(text="森")), clock) == []


def test_kind_status_and_japan_dates(app: Kanjo, pages: OrderPages, clock: FixedClock) -> None:
    # 2026-11-20 15:00 UTC is 2026-11-21 00:00 in Tokyo.
    from datetime import UTC, datetime

    place_order(app, "J1", ordered_at=datetime(2026, 11, 20, 14, 59, tzinfo=UTC), kind=OrderKind.RESERVATION)
    place_order(app, "J2", ordered_at=datetime(2026, 11, 20, 15, 0, tzinfo=UTC))
    on_21 = OrderQuery(OrderFilter(date_from=date(2026, 11, 21), date_to=date(2026, 11, 21)))
    assert numbers(pages, on_21, clock) == ["J2"]
    on_20 = OrderQuery(OrderFilter(date_to=date(2026, 11, 20)))
    assert numbers(pages, on_20, clock) == ["J1"]
    assert numbers(pages, OrderQuery(OrderFilter(kinds=frozenset({OrderKind.RESERVATION}))), clock) == ["J1"]
    reserved = OrderQuery(OrderFilter(order_statuses=frozenset({OrderStatus.RESERVED})))
    assert numbers(pages, reserved, clock) == ["J1"]


@pytest.mark.parametrize("sort", list(SortKey))
@pytest.mark.parametrize("descending", [True, False])
def test_keyset_pages_equal_offset_pages_for_every_sort(
    app: Kanjo, pages: OrderPages, clock: FixedClock, sort: SortKey, descending: bool
) -> None:
    for i in range(9):
        place_order(app, f"P{i}", 1_000 * (i % 3 + 1), ordered_at=clock.now() - timedelta(hours=i % 4))
    app.payments.capture("P4")
    query = OrderQuery(sort=sort, descending=descending)
    everything = pages.page(query, 0, 100, clock.now()).rows
    assert len(everything) == 9
    walked = []
    after = None
    for offset in range(0, 9, 2):
        page = pages.page(query, offset, 2, clock.now(), after=after)
        walked.extend(page.rows)
        after = page.rows[-1].sort_key
    assert [r.number for r in walked] == [r.number for r in everything]
    assert pages.numbers_in(query, 3, 4, clock.now()) == [r.number for r in everything[3:7]]
    # Knowing the count, a far page is read from the other end: the same rows, in order.
    for offset in range(9):
        for limit in (1, 2, 4, 20):
            page = pages.page(query, offset, limit, clock.now(), total=9)
            assert [r.number for r in page.rows] == [r.number for r in everything[offset : offset + limit]]


def test_rows_by_number_and_search_terms(app: Kanjo, pages: OrderPages, clock: FixedClock) -> None:
    place_order(app, "R1", 4_000)
    rows = pages.rows_by_number(["R1", "missing"], clock.now())
    assert list(rows) == ["R1"] and rows["R1"].total == 4_000 and rows["R1"].auth_expiry == "残り30日"
    assert search_terms("  ＡＢＣ１２３ ") == "ABC123"
    assert OrderFilter().is_empty and not OrderFilter(text="x").is_empty


@pytest.mark.parametrize("descending", [True, False])
def test_pages_read_backwards_from_a_known_first_row(
    app: Kanjo, pages: OrderPages, clock: FixedClock, descending: bool
) -> None:
    for i in range(7):
        place_order(app, f"U{i}", 1_000 * (i % 2 + 1), ordered_at=clock.now() - timedelta(hours=i % 3))
    query = OrderQuery(sort=SortKey.TOTAL, descending=descending)
    everything = pages.page(query, 0, 100, clock.now()).rows
    page = pages.page(query, 2, 3, clock.now(), before=everything[5].sort_key)
    assert [r.number for r in page.rows] == [r.number for r in everything[2:5]]


def test_needs_action_includes_a_total_raised_above_the_authorization_r28_r40(
    app: Kanjo, pages: OrderPages, clock: FixedClock
) -> None:
    place_order(app, "UP", 3_000, ordered_at=clock.now())
    place_order(app, "SAME", 3_000, ordered_at=clock.now())
    with app.engine.begin() as connection:  # as an amount change before capture leaves it (R26, R28)
        connection.execute(text("UPDATE orders SET total = 3500 WHERE number = 'UP'"))
    assert numbers(pages, OrderQuery(OrderFilter(needs_action=True)), clock) == ["UP"]


def test_a_budgeted_read_is_stopped_by_sqlite_and_the_connection_stays_usable(tmp_path: Path) -> None:
    engine = build_store(tmp_path / "orders.sqlite3", 3_000, log=False)
    pages = OrderPages(engine)
    assert pages.bounded_reads
    far = OrderQuery(sort=SortKey.CUSTOMER)  # a join by name, 2,000 rows skipped: thousands of SQLite steps
    with pytest.raises(ReadOverBudget):
        pages.page(far, 2_000, 100, BENCH_NOW, budget_ms=0.0)
    assert pages.page_within(far, 2_000, 100, BENCH_NOW, budget_ms=0.0) is None
    # The pooled connection is reused; its progress handler is gone, so unbudgeted reads finish.
    full = pages.page(far, 2_000, 100, BENCH_NOW)
    assert len(full.rows) == 100
    assert pages.page_within(far, 2_000, 100, BENCH_NOW, budget_ms=60_000.0) == full
    assert pages.count(OrderQuery(), BENCH_NOW) == 3_000
    # A search is left to the worker however large the budget: an FTS5 match is one SQLite step.
    assert pages.page_within(OrderQuery(filter=OrderFilter(text="田中")), 0, 10, BENCH_NOW, budget_ms=60_000.0) is None
    engine.dispose()


def test_a_failing_store_leaves_the_bounded_read_to_the_worker(tmp_path: Path) -> None:
    engine = build_store(tmp_path / "orders.sqlite3", 10, log=False)
    pages = OrderPages(engine)
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE orders RENAME TO orders_gone"))
    assert pages.page_within(OrderQuery(), 0, 10, BENCH_NOW, budget_ms=60_000.0) is None  # no exception here
    with pytest.raises(OperationalError):
        pages.page(OrderQuery(), 0, 10, BENCH_NOW)  # the worker's read raises and is reported
    engine.dispose()
