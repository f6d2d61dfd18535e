"""Small pieces the shipping views share: a status line and a runner call that reports."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QLabel, QWidget

from core.domain import Tone
from gui.errors import error_message, is_user_error, show_error
from gui.tasks import TaskRunner

TONE_COLORS = {Tone.SUCCESS: "#1b6e2a", Tone.FAILURE: "#a11d1d", Tone.ATTENTION: "#8a5a00", Tone.NEUTRAL: "#333"}


class StatusLine(QLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setObjectName("statusLine")

    def show_text(self, text: str, tone: Tone = Tone.NEUTRAL) -> None:
        self.setText(text)
        self.setStyleSheet(f"color: {TONE_COLORS.get(tone, '#333')};")


def run_task(
    runner: TaskRunner,
    owner: QWidget,
    status: StatusLine,
    fn: Callable[[], Any],
    done: Callable[[Any], None],
    *,
    busy: str = "処理しています…",
) -> None:
    """Run ``fn`` on the work lane; a refusal is one line in ``status``, a bug the error box."""
    status.show_text(busy)
    owner.setEnabled(False)

    def ok(result: Any) -> None:
        owner.setEnabled(True)
        done(result)

    def failed(exc: BaseException) -> None:
        owner.setEnabled(True)
        if is_user_error(exc):
            status.show_text(error_message(exc), Tone.FAILURE)
        else:
            status.show_text("予期しないエラーが起きました。", Tone.FAILURE)
            show_error(owner, exc, title="予期しないエラー")

    runner.run(fn, ok, failed)
