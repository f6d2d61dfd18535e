"""How errors reach the operator: one Japanese sentence, never a traceback.

A ``core.errors.UserError`` is something the operator can act on: its ``message`` is shown as
is. Anything else is a bug: the traceback goes to the log (and into the dialog's hidden
"details" for a support request), and the operator reads a Japanese sentence saying nothing
was lost. This module is the only place error dialogs are built (style.md).
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from types import TracebackType

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from core.errors import UserError

log = logging.getLogger("kanjo.gui")

BUG_MESSAGE = (
    "予期しないエラーが発生しました。処理は中断されました。"
    "決済の記録は失われていません。もう一度お試しいただき、繰り返す場合は「詳細」をサポートにお送りください。"
)


def is_user_error(exc: BaseException) -> bool:
    return isinstance(exc, UserError)


def error_message(exc: BaseException) -> str:
    """The Japanese sentence for ``exc``."""
    if isinstance(exc, UserError):
        return exc.message
    return BUG_MESSAGE


def error_details(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def show_error(parent: QWidget | None, exc: BaseException, *, title: str = "エラー") -> QMessageBox:
    """A window-modal, non-blocking message box for ``exc`` (returned so tests can read it)."""
    box = QMessageBox(parent)
    box.setWindowTitle(title)
    box.setText(error_message(exc))
    if isinstance(exc, UserError):
        box.setIcon(QMessageBox.Icon.Warning)
    else:
        log.error("unexpected error", exc_info=exc)
        box.setIcon(QMessageBox.Icon.Critical)
        box.setDetailedText(error_details(exc))
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setWindowModality(Qt.WindowModality.WindowModal)
    box.open()
    return box


class _BugRelay(QObject):
    """Carries exceptions from any thread to the GUI thread."""

    raised = Signal(object)


_relay: _BugRelay | None = None


def install_excepthooks(parent: QWidget | None = None) -> None:
    """Uncaught exceptions (GUI thread or workers) become the Japanese bug dialog (napari style)."""
    global _relay
    _relay = _BugRelay()
    _relay.raised.connect(lambda exc: show_error(parent, exc, title="予期しないエラー"))

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, exc, tb)
            return
        exc.__traceback__ = tb
        assert _relay is not None
        _relay.raised.emit(exc)

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            hook(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = hook
    threading.excepthook = thread_hook
