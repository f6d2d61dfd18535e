"""The window's menu bar: four named menus (ファイル, 受注, 表示, ヘルプ) that any capability
fills with one line (issue 16 item 1).

    from gui.menus import Menu, add_to_menu
    add_to_menu(self, Menu.ORDERS, self.settlement_action)   # in the window's small hook

A menu shows each action's shortcut by itself; :func:`add_to_menu` also writes it into the
action's tooltip (the toolbar's buttons show tooltips, not shortcuts), so the operator meets
the key wherever the action is.
"""

from __future__ import annotations

from enum import StrEnum

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QWidget


class Menu(StrEnum):
    """The menus, in the order they stand on the bar (value: the menu's object name)."""

    FILE = "fileMenu"
    ORDERS = "ordersMenu"
    VIEW = "viewMenu"
    HELP = "helpMenu"


MENU_TITLES: dict[Menu, str] = {
    Menu.FILE: "ファイル(&F)",
    Menu.ORDERS: "受注(&O)",
    Menu.VIEW: "表示(&V)",
    Menu.HELP: "ヘルプ(&H)",
}


def menu(window: QMainWindow, which: Menu) -> QMenu:
    """The window's menu ``which``; the four are created together, in their order, on first use."""
    bar = window.menuBar()
    found = bar.findChild(QMenu, which.value)
    if found is not None:
        return found
    for item in Menu:
        if bar.findChild(QMenu, item.value) is None:
            created = bar.addMenu(MENU_TITLES[item])
            created.setObjectName(item.value)
            created.setToolTipsVisible(True)
    result = bar.findChild(QMenu, which.value)
    assert result is not None
    return result


def add_to_menu(window: QMainWindow, which: Menu, action: QAction, *, separator_before: bool = False) -> QAction:
    """Put ``action`` into the menu ``which`` (its shortcut shown in the menu and its tooltip)."""
    target = menu(window, which)
    if separator_before and target.actions():
        target.addSeparator()
    target.addAction(action)
    show_shortcut_in_tooltip(action)
    return action


def shortcut_text(action: QAction) -> str:
    """The action's first shortcut as the operator's keyboard shows it ('Ctrl+Shift+C'), or ''."""
    keys = action.shortcut()
    return keys.toString(QKeySequence.SequenceFormat.NativeText) if not keys.isEmpty() else ""


def with_shortcut(tip: str, keys: str) -> str:
    """``tip`` followed by its key in brackets, once (「…します。(Ctrl+Shift+C)」)."""
    if not keys:
        return tip
    suffix = f"({keys})"
    return tip if tip.endswith(suffix) else f"{tip}{suffix}"


def show_shortcut_in_tooltip(action: QAction) -> None:
    tip = action.toolTip() or action.text().replace("&", "")
    action.setToolTip(with_shortcut(tip, shortcut_text(action)))


def tip_for(widget: QWidget, tip: str, keys: QKeySequence | str) -> None:
    """Set a button's tooltip with its shortcut (the button's own tooltips change with the order)."""
    sequence = QKeySequence(keys)
    widget.setToolTip(with_shortcut(tip, sequence.toString(QKeySequence.SequenceFormat.NativeText)))


class Keys:
    """The window's shortcuts, in one place (menus, tooltips and tests read them here)."""

    CAPTURE = "Ctrl+Shift+C"  # 入金処理
    REAUTHORIZE = "Ctrl+Shift+A"  # 再与信
    REFUND = "Ctrl+Shift+R"  # 返金
    AMOUNT = "Ctrl+Shift+E"  # 金額変更
    MESSAGE = "Ctrl+Shift+M"  # メッセージ
    SYNC_ORDER = "Shift+F5"  # この受注を同期
    SYNC_ALL = "F5"  # すべて同期
    FIND = "Ctrl+F"  # 検索
    NEXT_ACTION = "F8"  # 次の要対応
    PREVIOUS_ACTION = "Shift+F8"  # 前の要対応
    RELOAD = "Ctrl+R"  # 再読み込み
    LIST = "Ctrl+L"  # 一覧へ戻る
    IMPORT = "Ctrl+I"
    ADD_ORDER = "Ctrl+N"
    SETTINGS = "Ctrl+,"
    QUIT = "Ctrl+Q"
