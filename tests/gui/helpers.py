"""Helpers for driving the window in tests."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

from core.app import Kanjo
from core.sandbox.control import SandboxControl
from gui.main_window import MainWindow
from gui.orders.table_model import Column


def control(app: Kanjo) -> SandboxControl:
    ctl = app.gateway().control
    assert ctl is not None
    return ctl


def payment_text(window: MainWindow, number: str) -> str | None:
    row = window.model.row_of(number)
    if row is None:
        return None
    return window.model.index(row, Column.PAYMENT_STATUS).data()


def numbers_shown(window: MainWindow) -> list[str]:
    model = window.model
    return [model.index(row, Column.NUMBER).data() for row in range(model.rowCount())]


def select(window: MainWindow, number: str) -> None:
    assert window.select_number(number), f"{number} is not in the list"
    assert window.detail.number_shown == number


def captures_sent(app: Kanjo) -> int:
    return sum(1 for call in control(app).calls() if call["path"].endswith("/capture"))


def sandbox_indicator_shown(window: MainWindow) -> bool:
    """Whether the サンドボックス indicator shows, after the tool bar has laid itself out again
    (as it does on every resize: it re-shows widgets whose action is visible)."""
    window.resize(window.width() + 1, window.height())
    QApplication.processEvents()
    window.resize(window.width() - 1, window.height())
    QApplication.processEvents()
    return window.sandbox_action.isVisible() and window.sandbox_badge.isVisibleTo(window)
