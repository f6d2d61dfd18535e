"""Issue 13 item 6: the month by Japan day, and the orders behind each bar (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from core.settlements.month import Movement, month_days


def test_days_are_japan_days_and_bars_know_their_orders() -> None:
    moves = [
        Movement(datetime(2026, 11, 30, 15, 30, tzinfo=UTC), "captured", "X-1", 9_000),  # 12/1 in Tokyo
        Movement(datetime(2026, 11, 1, 1, 0, tzinfo=UTC), "captured", "A-1", 10_000),
        Movement(datetime(2026, 11, 1, 2, 0, tzinfo=UTC), "captured", "A-2", 3_000),
        Movement(datetime(2026, 11, 1, 3, 0, tzinfo=UTC), "refunded", "A-1", 1_000),
        Movement(datetime(2026, 11, 1, 4, 0, tzinfo=UTC), "fees", "A-1", 400),
        Movement(datetime(2026, 10, 31, 15, 0, tzinfo=UTC), "fees", "A-2", 120),  # 11/1 00:00 in Tokyo
    ]
    days = month_days(2026, 11, moves)
    assert len(days) == 30
    first = days[0]
    assert (first.captured, first.refunded, first.fees, first.net) == (13_000, 1_000, 520, 11_480)
    assert first.orders_behind("captured") == [("A-1", 10_000), ("A-2", 3_000)]
    assert first.orders_behind("refunded") == [("A-1", 1_000)]
    assert first.orders_behind("net") == [("A-1", 8_600), ("A-2", 2_880)]
    assert sum(day.captured for day in days) == 13_000  # X-1 belongs to December
