"""Sorting by 与信期限 (issue 16 item 5): soonest first ascending, orders without one last."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.app import Kanjo
from core.clock import FixedClock
from core.order_pages import OrderPages, OrderQuery, SortKey
from tests.helpers import place_order


@pytest.fixture
def store_url(any_store_url: str) -> str:
    return any_store_url  # SQLite and PostgreSQL order NULLs differently: both are checked


def orders(app: Kanjo, clock: FixedClock) -> None:
    # E1..E3 authorized 20, 10 and 25 days ago (expire in 10, 20 and 5 days, R9); P1, P2 captured
    # (no authorization left to expire).
    for number, days in (("E1", 20), ("E2", 10), ("E3", 25), ("P1", 3), ("P2", 2)):
        place_order(app, number, 1_000, ordered_at=clock.now() - timedelta(days=days))
    app.payments.capture("P1")
    app.payments.capture("P2")


def test_expiry_ascending_soonest_first_undated_last_at_every_offset(app: Kanjo, clock: FixedClock) -> None:
    orders(app, clock)
    pages = OrderPages(app.engine)
    now = clock.now()
    up = OrderQuery(sort=SortKey.AUTH_EXPIRY, descending=False)
    shown = [r.number for r in pages.page(up, 0, 100, now).rows]
    assert shown[:3] == ["E3", "E1", "E2"] and sorted(shown[3:]) == ["P1", "P2"]
    down = OrderQuery(sort=SortKey.AUTH_EXPIRY, descending=True)
    shown_down = [r.number for r in pages.page(down, 0, 100, now).rows]
    assert shown_down[:3] == ["E2", "E1", "E3"] and sorted(shown_down[3:]) == ["P1", "P2"]
    for query, whole in ((up, shown), (down, shown_down)):
        for offset in range(6):  # a page starting anywhere, across the dated/undated seam
            for limit in (1, 2, 4):
                page = [r.number for r in pages.page(query, offset, limit, now).rows]
                assert page == whole[offset : offset + limit], (query.descending, offset, limit)
        assert pages.numbers_in(query, 2, 3, now) == whole[2:5]
    assert pages.next_needing_action(up, -1, now) == 0  # E3 lapses within 7 days
