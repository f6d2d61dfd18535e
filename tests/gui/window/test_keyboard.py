"""Keyboard first (issue 16 item 1): Tab leaves the list, shortcuts, the menu bar, Enter, F8."""

from __future__ import annotations

from datetime import timedelta

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QMenu, QWidget
from pytestqt.qtbot import QtBot

from core.app import Kanjo
from core.clock import FixedClock
from gui.dialogs.operation_bar import Operation
from gui.main_window import MainWindow
from gui.menus import MENU_TITLES, Keys, Menu
from tests.gui.conftest import MakeWindow
from tests.gui.helpers import captures_sent, control, payment_text, select
from tests.helpers import place_order


def focused() -> QWidget | None:
    return QApplication.focusWidget()


def tab_through(qtbot: QtBot, start: QWidget, presses: int, *, back: bool = False) -> list[QWidget]:
    start.setFocus(Qt.FocusReason.OtherFocusReason)
    seen: list[QWidget] = []
    for _ in range(presses):
        widget = focused()
        assert widget is not None
        qtbot.keyClick(widget, Qt.Key.Key_Backtab if back else Qt.Key.Key_Tab)
        after = focused()
        assert after is not None
        seen.append(after)
    return seen


def shown_window(make_window: MakeWindow, qtbot: QtBot) -> MainWindow:
    window = make_window(demo_orders=0)  # no demo orders: only what the test placed
    window.activateWindow()
    qtbot.waitUntil(lambda: window.isActiveWindow(), timeout=2000)
    return window


def test_tab_leaves_the_list_and_reaches_each_action_button_in_order(
    app: Kanjo, make_window: MakeWindow, qtbot: QtBot
) -> None:
    for index in range(30):
        place_order(app, f"T{index:02d}", 1_000 + index)
    window = shown_window(make_window, qtbot)
    select(window, "T05")
    qtbot.waitUntil(lambda: window.detail.operation_bar.button(Operation.AMOUNT).isEnabled(), timeout=3000)
    seen = tab_through(qtbot, window.table, 12)
    panel = window.detail
    enabled = [b for b in panel.action_buttons() if b.isEnabled() and b.isVisibleTo(panel)]
    assert panel.capture_button in enabled and panel.operation_bar.button(Operation.REFUND) not in enabled
    # One Tab leaves the list (no walk through 30 × 9 cells); then each button that can act, in order.
    assert seen[: len(enabled)] == enabled
    assert seen[len(enabled)] in (panel.items, panel.timeline)


def test_shift_tab_passes_through_the_history_table(app: Kanjo, make_window: MakeWindow, qtbot: QtBot) -> None:
    place_order(app, "H1", 2_000)
    window = shown_window(make_window, qtbot)
    select(window, "H1")
    panel = window.detail
    panel.timeline.setCurrentCell(0, 0)
    seen = tab_through(qtbot, panel.memo, 4, back=True)
    assert seen[0] is panel.timeline
    assert panel.timeline not in seen[1:]  # not stuck walking its cells
    assert panel.items in seen[1:]


def test_enter_on_a_row_focuses_its_detail(app: Kanjo, make_window: MakeWindow, qtbot: QtBot) -> None:
    place_order(app, "E1", 3_000)
    window = shown_window(make_window, qtbot)
    select(window, "E1")
    window.table.setFocus()
    qtbot.keyClick(window.table, Qt.Key.Key_Return)
    assert focused() is window.detail.capture_button
    qtbot.keyClick(focused(), Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)  # back to the list
    assert focused() is window.table


def menu_of(window: MainWindow, which: Menu) -> QMenu:
    found = window.menuBar().findChild(QMenu, which.value)
    assert found is not None
    return found


def test_menu_bar_lists_every_action_with_its_shortcut(make_window: MakeWindow) -> None:
    window = make_window(demo_orders=0)  # no demo orders: only what the test placed
    titles = [a.text() for a in window.menuBar().actions()]
    assert titles == [MENU_TITLES[m] for m in Menu]
    assert [t.split("(")[0] for t in titles] == ["ファイル", "受注", "表示", "ヘルプ"]
    in_menus = {a for m in Menu for a in menu_of(window, m).actions() if not a.isSeparator()}
    toolbar = {
        a for a in window.toolbar.actions() if a.text() and not a.isSeparator() and a is not window.sandbox_action
    }
    assert toolbar <= in_menus
    expected = {
        window.capture_action: Keys.CAPTURE,
        window.reauthorize_action: Keys.REAUTHORIZE,
        window.refund_action: Keys.REFUND,
        window.amount_action: Keys.AMOUNT,
        window.message_action: Keys.MESSAGE,
        window.sync_order_action: Keys.SYNC_ORDER,
        window.sync_all_action: Keys.SYNC_ALL,
        window.find_action: Keys.FIND,
        window.next_action: Keys.NEXT_ACTION,
        window.previous_action: Keys.PREVIOUS_ACTION,
    }
    for action, keys in expected.items():
        assert action in in_menus, action.text()
        assert action.shortcut() == QKeySequence(keys), action.text()
        assert action.toolTip().endswith(f"({keys})"), action.toolTip()
    panel = window.detail
    assert panel.capture_button.toolTip().endswith(f"({Keys.CAPTURE})")
    assert panel.message_button.toolTip().endswith(f"({Keys.MESSAGE})")
    assert panel.operation_bar.button(Operation.REFUND).toolTip().endswith(f"({Keys.REFUND})")


def press(qtbot: QtBot, window: MainWindow, keys: str) -> None:
    sequence = QKeySequence(keys)
    combo = sequence[0]
    target = focused() or window
    qtbot.keyClick(target, combo.key(), combo.keyboardModifiers())


def test_each_shortcut_does_its_action(app: Kanjo, make_window: MakeWindow, qtbot: QtBot, clock: FixedClock) -> None:
    place_order(app, "S1", 5_000, ordered_at=clock.now() - timedelta(days=1))
    window = shown_window(make_window, qtbot)
    opened: list[str] = []
    window.payment_dialogs.open = lambda operation: opened.append(operation)  # type: ignore[method-assign]
    window.open_composer = lambda number, situation="": opened.append(f"message:{number}")  # type: ignore[method-assign]
    select(window, "S1")
    window.table.setFocus()
    press(qtbot, window, Keys.FIND)
    assert focused() is window.filter_bar.search
    window.table.setFocus()
    qtbot.waitUntil(lambda: window.detail.operation_bar.button(Operation.AMOUNT).isEnabled(), timeout=3000)
    press(qtbot, window, Keys.AMOUNT)
    press(qtbot, window, Keys.MESSAGE)
    assert opened == [Operation.AMOUNT.value, "message:S1"]
    press(qtbot, window, Keys.REFUND)  # nothing captured yet: the reason, not a dialog
    assert opened == [Operation.AMOUNT.value, "message:S1"]
    assert "返金はできません" in window.banner.text()
    press(qtbot, window, Keys.REAUTHORIZE)
    assert "再与信はできません" in window.banner.text()
    press(qtbot, window, Keys.CAPTURE)
    assert captures_sent(app) == 1 and payment_text(window, "S1") == "請求済"
    press(qtbot, window, Keys.SYNC_ORDER)
    assert payment_text(window, "S1") == "請求完了"
    reads = len(control(app).calls())
    press(qtbot, window, Keys.SYNC_ALL)
    qtbot.waitUntil(lambda: window.operations.sync_all_running is False)
    assert len(control(app).calls()) > reads


def test_f8_moves_to_the_next_order_needing_action(
    app: Kanjo, make_window: MakeWindow, qtbot: QtBot, clock: FixedClock
) -> None:
    # Newest first: N0 … N5. N1 and N4 were authorized 25 days ago: they lapse within the 要対応
    # filter's 7 days (R9), the others were placed today.
    for index in range(6):
        days = 25 if index in (1, 4) else 0
        place_order(app, f"N{index}", 1_000, ordered_at=clock.now() - timedelta(days=days, minutes=index))
    window = shown_window(make_window, qtbot)
    assert [window.model.number_at(r) for r in range(6)] == ["N0", "N2", "N3", "N5", "N1", "N4"]
    select(window, "N0")
    press(qtbot, window, Keys.NEXT_ACTION)
    assert window.detail.number_shown == "N1"
    press(qtbot, window, Keys.NEXT_ACTION)
    assert window.detail.number_shown == "N4"
    press(qtbot, window, Keys.NEXT_ACTION)
    assert window.detail.number_shown == "N4" and "要対応の受注はありません" in window.banner.text()
    press(qtbot, window, Keys.PREVIOUS_ACTION)
    assert window.detail.number_shown == "N1"
    press(qtbot, window, Keys.PREVIOUS_ACTION)
    assert window.detail.number_shown == "N1"
