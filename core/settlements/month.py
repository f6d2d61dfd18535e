"""This month's money by day (issue 13 item 6): pure grouping of dated movements.

A movement is (moment, series, order number, yen). Series: ``captured`` (売上), ``refunded``
(返金), ``fees`` (Amazon手数料, from the settlement reports) and ``net`` (what is left:
captured − refunded − fees, per day). Days are Japan days.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from core.clock import to_jst

SERIES = ("captured", "refunded", "fees", "net")
SERIES_LABELS = {"captured": "売上", "refunded": "返金", "fees": "手数料", "net": "差引"}


@dataclass(frozen=True)
class Movement:
    at: datetime
    series: str  # captured | refunded | fees
    order_number: str
    amount: int


@dataclass
class DayMoney:
    day: date
    captured: int = 0
    refunded: int = 0
    fees: int = 0
    orders: dict[str, dict[str, int]] = field(default_factory=dict)  # series → {order number: yen}

    @property
    def net(self) -> int:
        return self.captured - self.refunded - self.fees

    def value(self, series: str) -> int:
        return int(getattr(self, series))

    def orders_behind(self, series: str) -> list[tuple[str, int]]:
        """The orders a bar stands for, largest first (net: every order that moved that day)."""
        if series == "net":
            totals: dict[str, int] = {}
            for name, sign in (("captured", 1), ("refunded", -1), ("fees", -1)):
                for number, amount in self.orders.get(name, {}).items():
                    totals[number] = totals.get(number, 0) + sign * amount
            chosen = totals
        else:
            chosen = self.orders.get(series, {})
        return sorted(chosen.items(), key=lambda item: (-abs(item[1]), item[0]))


def month_days(year: int, month: int, movements: Iterable[Movement]) -> list[DayMoney]:
    """One ``DayMoney`` per day of the month, movements outside it ignored."""
    days = [DayMoney(date(year, month, d)) for d in range(1, calendar.monthrange(year, month)[1] + 1)]
    for movement in movements:
        local = to_jst(movement.at).date()
        if local.year != year or local.month != month:
            continue
        day = days[local.day - 1]
        setattr(day, movement.series, day.value(movement.series) + movement.amount)
        bucket = day.orders.setdefault(movement.series, {})
        bucket[movement.order_number] = bucket.get(movement.order_number, 0) + movement.amount
    return days
