"""Issue 14 item 4, the issue's two-window test: two Kanjo apps (two PCs) on one store, each with
its window. What one operator does shows in the other window within 5 s, and the other operator's
selection, current order and scroll position stay where they were. On PostgreSQL (LISTEN/NOTIFY)
and on a SQLite file (the change check)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from pytestqt.qtbot import QtBot

from core.app import Kanjo, open_app
from core.clock import FixedClock
from gui.main_window import MainWindow
from gui.orders.table_model import Column
from gui.settings_store import WindowSettings
from gui.tasks import TaskRunner
from tests.gui.helpers import payment_text, select
from tests.helpers import place_order

WITHIN_MS = 5_000


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
    """The second operator's app on the same store."""
    kanjo = open_app(
        store_url,
        clock=clock,
        environ={"KANJO_HOME": str(home)},
        gateway_options={"timeout": 2.0, "retry_delays": (0.0, 0.0, 0.0)},
        daily_backup=False,
    )
    try:
        yield kanjo
    finally:
        kanjo.close()


def open_window(qtbot: QtBot, app: Kanjo, settings_dir: Path) -> MainWindow:
    runner = TaskRunner.immediate()
    window = MainWindow(app, runner, WindowSettings.in_dir(settings_dir), demo_orders=0)
    qtbot.addWidget(window)
    window.confirm = lambda _text: True
    window.live_interval = 0.25  # the product checks every second; the test need not wait that long
    window.show()
    window.start()
    return window


def selected_numbers(window: MainWindow) -> list[str]:
    rows = sorted({index.row() for index in window.table.selectionModel().selectedRows()})
    return [window.model.number_at(row) or "?" for row in rows]


@pytest.mark.parametrize("store_url", BOTH, indirect=True)
def test_a_capture_in_window_a_shows_in_window_b_within_5_s_with_b_selection_kept(
    qtbot: QtBot, app: Kanjo, other: Kanjo, clock: FixedClock, tmp_path: Path
) -> None:
    for day, number in enumerate(["T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8"]):
        place_order(app, number, 3_000 + day, ordered_at=clock.now() - timedelta(days=8 - day))
    window_a = open_window(qtbot, app, tmp_path / "qa")
    window_b = open_window(qtbot, other, tmp_path / "qb")
    assert window_b.change_feed is not None and window_b.change_feed.running
    # B works on T3 and a few rows below it, with the list scrolled down a little.
    window_b.resize(window_b.width(), 260)
    qtbot.wait(10)
    select(window_b, "T3")
    row_t2 = window_b.model.row_of("T2")
    assert row_t2 is not None
    window_b.table.selectionModel().select(
        window_b.model.index(row_t2, 0),
        QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
    )
    bar = window_b.table.verticalScrollBar()
    assert bar.maximum() > 0, "the list must scroll for this test"
    bar.setValue(bar.maximum())
    scrolled = bar.value()
    assert selected_numbers(window_b) == ["T3", "T2"]
    resets: list[int] = []
    window_b.model.modelReset.connect(lambda: resets.append(1))

    select(window_a, "T7")  # A captures T7 (its badge then reads 請求完了 after A's status read)
    window_a.detail.capture_button.click()
    window_a.detail.sync_button.click()
    assert payment_text(window_a, "T7") == "請求完了"
    started = time.monotonic()
    qtbot.waitUntil(lambda: payment_text(window_b, "T7") == "請求完了", timeout=WITHIN_MS)
    assert time.monotonic() - started < WITHIN_MS / 1000
    assert window_b.live_label.text() == "他の担当者が受注 T7を更新しました"
    qtbot.wait(int(window_b.live_refresh_timer.interval() * 2))  # and after the list's re-read
    assert payment_text(window_b, "T7") == "請求完了"
    assert selected_numbers(window_b) == ["T3", "T2"]  # B's selection, current order, place: kept
    assert window_b.model.number_at(window_b.table.currentIndex().row()) == "T3"
    assert window_b.detail.number_shown == "T3"
    assert bar.value() == scrolled, (bar.value(), scrolled, bar.maximum())
    assert resets == []  # no row moved: the list was not reset, only T7's row repainted
    assert window_a.live_label.text() == ""  # A's own capture is not "another operator"

    place_order(app, "T9", 9_000, ordered_at=clock.now())  # a new order arrives at the top of B's list
    qtbot.waitUntil(lambda: window_b.model.rowCount() == 9, timeout=WITHIN_MS)
    assert window_b.model.row_of("T9") == 0 and resets == [1]
    assert selected_numbers(window_b) == ["T3", "T2"]  # the rows moved down one: the selection followed
    assert window_b.detail.number_shown == "T3"
    assert bar.value() == scrolled


def test_moved_rows_keep_b_selection_and_place_and_b_detail_reloads(
    qtbot: QtBot, app: Kanjo, other: Kanjo, clock: FixedClock, tmp_path: Path
) -> None:
    for day, number in enumerate(["U1", "U2", "U3", "U4", "U5", "U6", "U7", "U8"]):
        place_order(app, number, 3_000 + 100 * day, ordered_at=clock.now() - timedelta(days=8 - day))
    window_a = open_window(qtbot, app, tmp_path / "qa")
    window_b = open_window(qtbot, other, tmp_path / "qb")
    window_b.resize(window_b.width(), 260)
    window_b.table.sortByColumn(Column.TOTAL, Qt.SortOrder.AscendingOrder)  # U1 … U8
    qtbot.waitUntil(lambda: window_b.model.query.sort.value == "total")
    select(window_b, "U2")  # B works on U2, then scrolls down the list, away from it
    bar = window_b.table.verticalScrollBar()
    assert bar.maximum() > 0, "the list must scroll for this test"
    bar.setValue(bar.maximum())
    scrolled = bar.value()
    resets: list[int] = []
    window_b.model.modelReset.connect(lambda: resets.append(1))

    window_a.app.payments.change_amount("U1", total=9_000)  # A raises U1: it moves in B's list
    last = window_b.model.rowCount() - 1
    qtbot.waitUntil(lambda: window_b.model.index(last, Column.NUMBER).data() == "U1", timeout=WITHIN_MS)
    assert resets == [1]  # rows moved: the list was re-read once …
    assert window_b.model.row_of("U2") == 0  # … U2 moved up a row …
    assert selected_numbers(window_b) == ["U2"]  # … and B's selection and current order followed it
    assert window_b.model.number_at(window_b.table.currentIndex().row()) == "U2"
    assert window_b.detail.number_shown == "U2"
    assert bar.value() == scrolled  # the list did not jump back to the current order

    assert window_b.detail.amount_labels["captured"].text() == "0円"
    select(window_a, "U2")  # A captures the order B is reading: B's detail panel follows
    window_a.detail.capture_button.click()
    qtbot.waitUntil(lambda: window_b.detail.amount_labels["captured"].text() == "3,100円", timeout=WITHIN_MS)
    assert window_b.detail.number_shown == "U2"
    assert bar.value() == scrolled
