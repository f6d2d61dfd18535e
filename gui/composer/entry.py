"""Where the composer is opened from: the order's 「メッセージ」 button and its menu."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QPushButton, QWidget

from core.messages.suggest import SITUATIONS


class MessageButton(QPushButton):
    """「メッセージ」 with a menu: compose freely, or for a situation the order cannot show by itself.

    Signals:
        requested(str): the situation ('' for none, 'cancel_request', 'payment_failure').
    """

    requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("メッセージ", parent)
        self.setObjectName("messageButton")
        self.setToolTip("この受注のお客様へのメッセージを作成します(テンプレートから)。")
        menu = QMenu(self)
        self.compose_action = QAction("メッセージを作成…", self)
        self.compose_action.triggered.connect(lambda: self.requested.emit(""))
        menu.addAction(self.compose_action)
        self.situation_actions: dict[str, QAction] = {}
        for situation, label in SITUATIONS.items():
            action = QAction(f"{label}…", self)
            action.triggered.connect(lambda _checked=False, s=situation: self.requested.emit(s))
            menu.addAction(action)
            self.situation_actions[situation] = action
        self.setMenu(menu)
