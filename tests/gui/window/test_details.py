"""Details that mislead (issue 16 item 5)."""

from __future__ import annotations

from datetime import timedelta

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from core.app import Kanjo
from core.clock import FixedClock
from core.order_pages import SortKey
from core.queries import OrderDetail
from gui.dialogs.refund_dialog import RefundDialog
from gui.main_window import MainWindow
from gui.orders.table_model import Column
from gui.tasks import ImmediateExecutor, TaskRunner
from tests.gui.conftest import MakeWindow, ManualExecutor
from tests.gui.helpers import control, numbers_shown
from tests.helpers import place_order

SC_NOTE = "Seller Centralで一部返金済みの売上の残りも含みます"


def detail(app: Kanjo, number: str) -> OrderDetail:
    return app.orders.detail(number)


def test_refund_tick_survives_the_amount_field_reformatting(qtbot: QtBot, app: Kanjo) -> None:
    place_order(app, "RT1", 8_000)
    app.payments.capture("RT1")
    reads = ManualExecutor()  # previews answer when the test says, as a worker thread would
    runner = TaskRunner(ImmediateExecutor(), reads)
    dialog = RefundDialog(detail(app, "RT1"), app.payments, runner)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow, timeout=2000)
    dialog.partial.setChecked(True)
    dialog.amount.setFocus()
    qtbot.keyClicks(dialog.amount, "5000")
    reads.run_all()
    box = dialog.confirm.checkbox
    assert QApplication.focusWidget() is dialog.amount
    # Pressing the tick takes the focus from the field: it reformats 5000 as 5,000 mid-click.
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))
    reads.run_all()  # a re-check asked at the reformat, if any, answers after the click
    QApplication.processEvents()
    assert dialog.amount.text() == "5,000"
    assert box.isChecked()
    assert dialog.ok_button.isEnabled()  # 返金する is on
    dialog.amount.setText("6000")  # a new amount is acknowledged anew
    reads.run_all()
    assert not box.isChecked() and not dialog.ok_button.isEnabled()
    runner.shutdown()


def test_seller_central_note_only_when_seller_central_refunded_part(
    qtbot: QtBot, app: Kanjo, runner: TaskRunner
) -> None:
    # Two captures, nothing refunded in Seller Central: the allocation, no Seller Central note.
    place_order(app, "SC1", 500)
    app.payments.capture("SC1")
    control(app).seller_central("increase", "SC1", 200)
    app.sync.sync_order("SC1")
    dialog = RefundDialog(detail(app, "SC1"), app.payments, runner)
    qtbot.addWidget(dialog)
    assert len(dialog.allocation()) == 2
    assert "2件の売上から" in dialog.message.text() and SC_NOTE not in dialog.message.text()
    # Seller Central refunded part of the first capture: now the note says so.
    control(app).seller_central("refund", "SC1", 100, detail(app, "SC1").charges[0].id)
    app.sync.sync_order("SC1")
    dialog = RefundDialog(detail(app, "SC1"), app.payments, runner)
    qtbot.addWidget(dialog)
    assert SC_NOTE in dialog.message.text()


def test_one_capture_without_seller_central_says_nothing_extra(
    qtbot: QtBot, app: Kanjo, runner: TaskRunner, clock: FixedClock
) -> None:
    place_order(app, "SC2", 3_000, ordered_at=clock.now() - timedelta(days=1))
    app.payments.capture("SC2")
    dialog = RefundDialog(detail(app, "SC2"), app.payments, runner)
    qtbot.addWidget(dialog)
    assert dialog.message.text() == ""


def arrow_points_up(window: MainWindow, column: int) -> bool:
    """Whether the header's sort arrow, as painted, is wider at its bottom (▲) than at its top."""
    header = window.table.horizontalHeader()
    image = header.grab().toImage()
    left = header.sectionViewportPosition(column)
    right = left + header.sectionSize(column)
    dark: list[int] = []
    for y in range(image.height()):
        count = 0
        for x in range(max(left, right - 24), right):  # Fusion paints it at the section's right end
            if image.pixelColor(x, y).lightness() < 140:
                count += 1
        dark.append(count)
    rows = [y for y, count in enumerate(dark) if count]
    assert rows, "no arrow painted"
    top, bottom = rows[0], rows[-1]
    return dark[bottom] > dark[top]


def test_expiry_sort_soonest_first_undated_last_and_the_arrow_matches(
    app: Kanjo, make_window: MakeWindow, clock: FixedClock, qtbot: QtBot
) -> None:
    for number, days in (("X1", 20), ("X2", 10), ("X3", 25), ("X4", 2)):
        place_order(app, number, 1_000, ordered_at=clock.now() - timedelta(days=days))
    app.payments.capture("X4")  # nothing left to expire
    window = make_window(demo_orders=0)  # no demo orders: only what the test placed
    window.lay_out(1700, 900)  # every column in view
    QApplication.processEvents()
    header = window.table.horizontalHeader()
    assert not arrow_points_up(window, Column.ORDERED_AT)  # newest first: ▼
    qtbot.mouseClick(
        header.viewport(),
        Qt.MouseButton.LeftButton,
        pos=QPoint(header.sectionViewportPosition(Column.AUTH_EXPIRY) + 10, header.height() // 2),
    )
    assert window.model.query.sort is SortKey.AUTH_EXPIRY and not window.model.query.descending  # soonest first
    assert numbers_shown(window) == ["X3", "X1", "X2", "X4"]
    assert header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder
    assert arrow_points_up(window, Column.AUTH_EXPIRY)  # ▲: small to large, top to bottom
    qtbot.mouseClick(
        header.viewport(),
        Qt.MouseButton.LeftButton,
        pos=QPoint(header.sectionViewportPosition(Column.AUTH_EXPIRY) + 10, header.height() // 2),
    )
    assert numbers_shown(window) == ["X2", "X1", "X3", "X4"]  # latest first, still undated last
    assert not arrow_points_up(window, Column.AUTH_EXPIRY)


def test_several_selected_orders_show_count_total_and_what_the_bulk_actions_do(
    app: Kanjo, make_window: MakeWindow
) -> None:
    for number, total in (("M1", 1_000), ("M2", 2_500), ("M3", 4_000)):
        place_order(app, number, total)
    app.payments.capture("M3")
    window = make_window(demo_orders=0)  # no demo orders: only what the test placed
    window.table.selectAll()
    panel = window.detail
    assert panel.selection_shown
    text = panel.selection_view.text()
    assert "3件の受注を選択中" in text and "7,500円" in text
    assert "承認済の<b>2件</b>" in text and "ほかの1件は処理せず" in text
    assert "受注を選ぶと" not in text
    select_one(window, "M1")
    assert not panel.selection_shown and panel.stack.currentIndex() == 1 and panel.number_shown == "M1"


def select_one(window: MainWindow, number: str) -> None:
    assert window.select_number(number)


def test_a_fully_refunded_order_left_new_says_so(app: Kanjo, make_window: MakeWindow) -> None:
    place_order(app, "FR1", 3_000)
    app.payments.capture("FR1")
    app.sync.sync_order("FR1")
    app.payments.refund("FR1", None, "返品")
    app.sync.sync_order("FR1")
    window = make_window(demo_orders=0)  # no demo orders: only what the test placed
    select_one(window, "FR1")
    panel = window.detail
    assert panel.order_badge.text() == "新規受付"
    assert "全額返金済み" in panel.order_badge.toolTip()
    assert "全額返金済み" in panel.other_notice.body.text() and not panel.other_notice.isHidden()
    place_order(app, "FR2", 3_000)
    window.model.refresh()
    select_one(window, "FR2")
    assert "全額返金済み" not in panel.other_notice.body.text() or panel.other_notice.isHidden()
