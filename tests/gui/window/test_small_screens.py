"""Small screens (issue 16 item 2): the first start fits the screen, the list's columns, the panel scrolls."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QApplication, QScrollArea

from core.app import Kanjo
from core.domain import PaymentStatus
from gui.main_window import COMMON_PAYMENT_LABELS
from gui.orders.status_badge import badge_size
from gui.orders.table_model import Column, OrderRole
from tests.gui.conftest import MakeWindow
from tests.gui.helpers import control, select
from tests.helpers import place_order


def test_first_start_at_1024x600_fits_the_available_geometry(make_window: MakeWindow) -> None:
    window = make_window(start=False, demo_orders=0)
    available = QRect(0, 24, 1024, 576)  # 1024×600 less a 24 px panel of the desktop
    window.first_start_layout(available)
    QApplication.processEvents()
    assert available.contains(window.frameGeometry()), (window.frameGeometry(), available)
    bar = window.statusBar()
    assert bar.isVisible()
    assert bar.geometry().bottom() < window.height()  # inside the window, so on screen
    assert window.detail.width() >= 300 and window.table.width() >= 500


def test_first_start_at_1280x800_shows_every_list_column(make_window: MakeWindow) -> None:
    window = make_window(start=False, demo_orders=0)
    window.first_start_layout(QRect(0, 0, 1280, 800))
    QApplication.processEvents()
    header = window.table.horizontalHeader()
    assert header.sectionViewportPosition(Column.AUTH_EXPIRY) + 40 < window.table.viewport().width()


def test_payment_status_column_fits_common_badges_and_shortens_the_long_one(
    app: Kanjo, make_window: MakeWindow
) -> None:
    place_order(app, "U1", 1_000)
    window = make_window(demo_orders=0)  # no demo orders: only what the test placed
    select(window, "U1")
    control(app).add_fault("503", count=20)
    window.detail.sync_button.click()
    header = window.table.horizontalHeader()
    font = window.table.font()
    width = header.sectionSize(Column.PAYMENT_STATUS)
    assert all(badge_size(text, font).width() <= width for text in COMMON_PAYMENT_LABELS)
    long = PaymentStatus.UNREACHABLE.value
    assert badge_size(long, font).width() > width  # shortened in the cell ...
    index = window.model.index(window.model.row_of("U1") or 0, Column.PAYMENT_STATUS)
    assert index.data(OrderRole.BADGE_TEXT) == long
    assert index.data(Qt.ItemDataRole.ToolTipRole) == long  # ... and read in full in its tooltip
    assert width < 160


def test_detail_panel_scrolls_down_never_sideways(app: Kanjo, make_window: MakeWindow) -> None:
    place_order(app, "D1", 1_000)
    window = make_window(demo_orders=0)
    window.first_start_layout(QRect(0, 0, 1024, 600))
    select(window, "D1")
    QApplication.processEvents()
    scroll: QScrollArea = window.detail.scroll_area
    content = scroll.widget()
    assert content is not None
    assert content.width() <= scroll.viewport().width()
    message = window.detail.message_button
    assert message.geometry().right() <= content.width()  # the メッセージ button is not cut
