"""お金の流れ (issue 13 item 6): the month's bars, a bar opening the orders behind it, the
orders' list following, expiring authorizations and deposits. Real store and sandbox."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from pytestqt.qtbot import QtBot

from core.app import Kanjo
from core.clock import FixedClock
from core.settlements.service import service_for
from gui.settlements.money_view import BarChart, MoneyView
from tests.gui.conftest import MakeWindow
from tests.gui.helpers import numbers_shown
from tests.helpers import place_order


@pytest.fixture(autouse=True)
def _no_demo(app: Kanjo) -> None:
    app.settings.save(demo_seeded=True)


def _bar_point(chart: BarChart, day: int, series_index: int) -> QPoint:
    return chart.bar_rect(day - 1, series_index).center().toPoint()


def test_clicking_a_bar_lists_its_orders_and_opens_one(
    app: Kanjo, clock: FixedClock, make_window: MakeWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    for number, total in (("M-1", 12_000), ("M-2", 3_000)):
        place_order(app, number, total)
        assert app.payments.capture(number).ok
    place_order(app, "M-3", 4_000)  # authorized only: expires within 14 days once 20 pass
    clock.advance(timedelta(days=2))
    assert app.payments.refund("M-1", 2_000, "返品").ok
    app.gateway().control.close_settlement()  # type: ignore[union-attr]
    clock.advance(timedelta(days=18))

    window = make_window()
    view = window.open_money_view()
    assert isinstance(view, MoneyView)
    qtbot.waitUntil(lambda: view.data is not None)
    qtbot.mouseClick(view.fetch_button, Qt.MouseButton.LeftButton)  # the report, read on the work lane
    qtbot.waitUntil(lambda: "件を読み込みました" in view.status.text() or "できません" in view.status.text())
    # The period closed by hand, and the next one, closed by itself 14 days later with nothing in it.
    assert "2件を読み込みました" in view.status.text(), view.status.text()
    assert len(service_for(app).summaries()) == 2
    view.year, view.month = 2026, 11  # the clock moved on to December; the money is November's
    view.start()
    qtbot.waitUntil(lambda: view.data is not None and view.data.month == 11)
    days = view.data.days  # type: ignore[union-attr]
    assert days[20].captured == 15_000 and days[22].refunded == 2_000
    assert days[20].fees == 15_000 * 4 // 100 and days[22].fees == -80  # fees given back with the refund

    qtbot.mouseClick(view.chart, Qt.MouseButton.LeftButton, pos=_bar_point(view.chart, 21, 0))
    assert view.orders_shown() == ["M-1", "M-2"]  # the orders behind 11/21's 売上 bar, largest first
    qtbot.mouseClick(view.chart, Qt.MouseButton.LeftButton, pos=_bar_point(view.chart, 23, 1))
    assert view.orders_shown() == ["M-1"]

    item = view.behind.item(0, 0)
    view.behind.itemDoubleClicked.emit(item)
    qtbot.waitUntil(lambda: numbers_shown(window) == ["M-1"])

    assert view.deposits.rowCount() >= 1 and view.deposits.item(view.deposits.rowCount() - 1, 0).text()
    view.shift(1)  # December: M-3's authorization (30 days from 11/21) expires on 12/21
    qtbot.waitUntil(lambda: view.data is not None and view.data.month == 12)
    assert view.expiring.rowCount() == 1 and view.expiring.item(0, 0).text() == "M-3"
