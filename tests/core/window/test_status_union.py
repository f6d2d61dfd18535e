"""A status filter that R9's clock split turns into an OR (承認完了: stored, or 承認済 past its
expiry; 承認済: stored and not yet expired) read as ordered halves merged (core.order_pages
``_status_branches``, PostgreSQL's path) gives the very rows of the plain OR, at every position,
by keyset both ways and from the far end. Forced on SQLite in the everyday suite; PostgreSQL's
own run is in the slow suite (issue 14: the list keeps its speed)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from core.app import Kanjo
from core.clock import FixedClock
from core.domain import PaymentStatus
from core.order_pages import OrderFilter, OrderPages, OrderQuery, SortKey
from tests.helpers import place_order

FILTERS = (
    frozenset({PaymentStatus.AUTH_LAPSED}),
    frozenset({PaymentStatus.AUTHORIZED}),
    frozenset({PaymentStatus.AUTH_LAPSED, PaymentStatus.CAPTURE_COMPLETED}),
    frozenset({PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURE_COMPLETED, PaymentStatus.AUTH_FAILED}),
)


@pytest.fixture
def store_url(any_store_url: str) -> str:
    return any_store_url


def numbers(pages: OrderPages, query: OrderQuery, now: datetime, size: int) -> list[str]:
    """The whole list by position, checked against keyset reads forward and backward and a read
    from the far end."""
    by_offset: list[str] = []
    while True:
        rows = pages.page(query, len(by_offset), size, now).rows
        by_offset += [row.number for row in rows]
        if len(rows) < size:
            break
    forward: list[str] = []
    after = None
    while True:
        rows = pages.page(query, len(forward), size, now, after=after).rows
        forward += [row.number for row in rows]
        if len(rows) < size:
            break
        after = rows[-1].sort_key
    assert forward == by_offset
    total = len(by_offset)
    if total > size:
        last = pages.page(query, total - size, size, now, total=total).rows
        assert [row.number for row in last] == by_offset[-size:]
        before = last[0].sort_key
        above = pages.page(query, total - 2 * size, size, now, before=before).rows
        assert [row.number for row in above] == by_offset[max(total - 2 * size, 0) : total - size]
    return by_offset


def test_merged_halves_read_the_rows_of_the_or(app: Kanjo, clock: FixedClock) -> None:
    now = clock.now()
    for index in range(24):
        place_order(
            app,
            f"S{index:03d}",
            total=1_000 + (index * 389) % 3_000,
            ordered_at=now - timedelta(hours=(index * 7) % 24),
        )
    statuses = (
        PaymentStatus.AUTHORIZED,
        PaymentStatus.AUTH_LAPSED,
        PaymentStatus.CAPTURE_COMPLETED,
        PaymentStatus.AUTH_FAILED,
    )
    with app.engine.begin() as connection:
        for index in range(24):
            status = statuses[index % 4]
            # Half the stored 承認済 have lapsed by the clock (R9): they read 承認完了.
            expires = now + timedelta(days=1 if index % 8 == 0 else -1) if status is PaymentStatus.AUTHORIZED else None
            connection.execute(
                text("UPDATE orders SET payment_status = :status, auth_expires_at = :expires WHERE number = :number"),
                {
                    "status": status.value,
                    "expires": expires.replace(tzinfo=None) if expires else None,
                    "number": f"S{index:03d}",
                },
            )
    merged = OrderPages(app.engine)
    merged._status_union = True
    plain = OrderPages(app.engine)
    plain._status_union = False
    for statuses_shown in FILTERS:
        for sort in (SortKey.ORDERED_AT, SortKey.TOTAL, SortKey.NUMBER, SortKey.KIND, SortKey.ORDER_STATUS):
            for descending in (True, False):
                query = OrderQuery(
                    filter=OrderFilter(payment_statuses=statuses_shown), sort=sort, descending=descending
                )
                expected = numbers(plain, query, now, 3)
                assert numbers(merged, query, now, 3) == expected, (statuses_shown, sort, descending)
                assert merged.count(query, now) == len(expected)
    # The split did split: a lapsed 承認済 is among the 承認完了 rows, and at least two halves were read.
    lapsed = OrderQuery(filter=OrderFilter(payment_statuses=frozenset({PaymentStatus.AUTH_LAPSED})))
    assert "S004" in numbers(merged, lapsed, now, 3) and "S001" in numbers(merged, lapsed, now, 3)
    assert merged._status_branches(lapsed, now) is not None
    assert plain._status_branches(lapsed, now) is None
    with_text = OrderQuery(filter=OrderFilter(payment_statuses=lapsed.filter.payment_statuses, text="S0"))
    assert merged._status_branches(with_text, now) is None  # a status filter alone only
