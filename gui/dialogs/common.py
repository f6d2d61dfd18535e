"""Building blocks shared by the operation dialogs.

* :class:`YenField` – a line edit that reads yen the way operators type them (``１，２００円``)
  through ``core.money.parse_yen`` on every keystroke.
* :class:`LivePreview` – asks core for a preview on the ``read`` lane; at most one request in
  flight plus the newest waiting, and results that are no longer wanted are dropped (the
  dialog never blocks and never shows a stale answer).
* :class:`InlineMessage` – the one line under a form that says what is wrong (red) or what
  will happen (neutral / attention), tinted like the badges.
* :class:`IrreversibleConfirm` – lists every consequence that cannot be undone, verbatim, with
  a 「上記を理解しました」 box that must be ticked (R35).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.domain import Tone
from core.errors import BadInput
from core.money import parse_yen
from gui.errors import error_message, is_user_error
from gui.labels import badge_colors
from gui.tasks import READ, TaskRunner

log = logging.getLogger(__name__)

UNDERSTOOD = "上記を理解しました"
CHECKING = "確認しています…"
MAX_QUANTITY = 9_999
_QUANTITY_RE = re.compile(r"[0-9]+", re.ASCII)


def parse_quantity(text: str, *, field: str = "数量") -> int:
    """A quantity typed like an amount: full-width digits, an optional 個/点 behind.

    Raises:
        BadInput: blank, not a whole number, zero, or implausibly large.
    """
    normalized = unicodedata.normalize("NFKC", text or "").strip().removesuffix("個").removesuffix("点").strip()
    if not normalized:
        raise BadInput(f"{field}を入力してください。")
    if not _QUANTITY_RE.fullmatch(normalized):
        raise BadInput(f"{field}は1以上の整数で入力してください(例: 2)。")
    value = int(normalized)
    if value < 1:
        raise BadInput(f"{field}は1以上にしてください。")
    if value > MAX_QUANTITY:
        raise BadInput(f"{field}は{MAX_QUANTITY:,}以下で入力してください。")
    return value


IRREVERSIBLE_TITLE = "取り消せない操作が含まれます"
CONFIRM_TITLE = "確認が必要な変更です"


class YenField(QLineEdit):
    """An amount of yen, re-read on every change; invalid input is outlined in red.

    Signals:
        edited(): the text changed (the value or the error may have changed).
    """

    edited = Signal()

    def __init__(
        self, field: str, value: int | None = None, *, allow_zero: bool = True, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.field = field
        self.allow_zero = allow_zero
        self.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.setPlaceholderText("例: 1,200")
        self.setToolTip("全角数字・カンマ・「円」「¥」付きでも入力できます(例: １，２００円)。")
        if value is not None:
            self.setText(f"{value:,}")
        self.textChanged.connect(self._on_text_changed)
        self.editingFinished.connect(self._on_editing_finished)

    def value(self) -> int:
        """The amount typed. Raises BadInput with a Japanese message naming the field."""
        return parse_yen(self.text(), field=self.field, allow_zero=self.allow_zero)

    def error(self) -> str | None:
        try:
            self.value()
        except BadInput as exc:
            return exc.message
        return None

    def _on_text_changed(self, _text: str) -> None:
        mark_invalid(self, self.error() is not None)
        self.edited.emit()

    def _on_editing_finished(self) -> None:
        """Show what was understood: 「７，０００円」 reads back as 「7,000」."""
        try:
            value = self.value()
        except BadInput:
            return
        if self.text() != f"{value:,}":
            # The same amount, only written the usual way: no ``edited`` (issue 16 item 5: an
            # acknowledgement ticked at the same moment must not be reset by a re-check).
            self.blockSignals(True)
            self.setText(f"{value:,}")
            self.blockSignals(False)


def mark_invalid(widget: QWidget, invalid: bool) -> None:
    """Outline ``widget`` in the failure colour while what it holds cannot be read."""
    if invalid:
        color = badge_colors(Tone.FAILURE, widget.palette()).border.name()
        widget.setStyleSheet(f"border: 2px solid {color}; border-radius: 3px; padding: 1px 3px;")
    else:
        widget.setStyleSheet("")
    widget.setProperty("invalid", invalid)


class InlineMessage(QLabel):
    """One message under the form, tinted by tone; empty text hides it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.tone = Tone.NEUTRAL
        self.hide()

    def show_message(self, text: str, tone: Tone = Tone.NEUTRAL) -> None:
        self.tone = tone
        if not text:
            self.clear()
            self.hide()
            return
        colors = badge_colors(tone, self.palette())
        self.setStyleSheet(
            f"QLabel {{ background: {colors.background.name()}; border: 1px solid {colors.border.name()};"
            f" border-radius: 5px; color: {colors.text.name()}; padding: 6px 8px; }}"
        )
        self.setText(text)
        self.show()


class IrreversibleConfirm(QFrame):
    """Every consequence that cannot be undone, word for word, and the box that acknowledges them.

    With no consequences the frame is hidden and :attr:`satisfied` is True. When the list
    changes, the box is cleared again: a new consequence must be read and acknowledged anew.

    Signals:
        changed(): the consequences or the box changed.
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("irreversible")
        self.title = QLabel(IRREVERSIBLE_TITLE)
        self.title.setObjectName("irreversibleTitle")
        self.list = QLabel()
        self.list.setObjectName("irreversibleList")
        self.list.setWordWrap(True)
        self.list.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.checkbox = QCheckBox(UNDERSTOOD)
        self.checkbox.setObjectName("understood")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(6)
        layout.addWidget(self.title)
        layout.addWidget(self.list)
        layout.addWidget(self.checkbox)
        self._consequences: tuple[str, ...] = ()
        self.checkbox.toggled.connect(lambda _checked: self.changed.emit())
        self._apply_colors()
        self.hide()

    def _apply_colors(self) -> None:
        colors = badge_colors(Tone.FAILURE, self.palette())
        self.setStyleSheet(
            f"QFrame#irreversible {{ background: {colors.background.name()}; border: 1px solid {colors.border.name()};"
            f" border-radius: 6px; }} QFrame#irreversible QLabel {{ color: {colors.text.name()}; background: transparent; }}"
            " QLabel#irreversibleTitle { font-weight: bold; }"
        )
        # The box keeps the platform's own indicator (a style sheet on it would hide the tick box).
        palette = self.checkbox.palette()
        palette.setColor(palette.ColorRole.WindowText, colors.text)
        self.checkbox.setPalette(palette)
        font = self.checkbox.font()
        font.setBold(True)
        self.checkbox.setFont(font)

    @property
    def consequences(self) -> tuple[str, ...]:
        return self._consequences

    @property
    def satisfied(self) -> bool:
        return not self._consequences or self.checkbox.isChecked()

    def set_consequences(self, consequences: Sequence[str], *, irreversible: bool = True) -> None:
        """Name what the operation does; ``irreversible=False`` for a step that needs the
        acknowledgement but can be undone (a total of 0 while Amazon keeps the authorization)."""
        self.title.setText(IRREVERSIBLE_TITLE if irreversible else CONFIRM_TITLE)
        new = tuple(consequences)
        if new == self._consequences:
            return
        self._consequences = new
        self.checkbox.blockSignals(True)
        self.checkbox.setChecked(False)
        self.checkbox.blockSignals(False)
        self.list.setText("<br>".join(f"・{html(text)}" for text in new))
        self.setVisible(bool(new))
        self.changed.emit()


class LivePreview(QObject):
    """Runs core previews on the read lane for a dialog that validates as the operator types."""

    def __init__(self, runner: TaskRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._generation = 0
        self._in_flight = False
        self._waiting: tuple[int, Callable[[], Any], Callable[[Any], None], Callable[[BaseException], None]] | None
        self._waiting = None

    @property
    def pending(self) -> bool:
        """A preview was asked for and its answer has not been shown yet."""
        return self._in_flight or self._waiting is not None

    def request(
        self, fn: Callable[[], Any], on_result: Callable[[Any], None], on_error: Callable[[BaseException], None]
    ) -> None:
        """Preview with ``fn`` on the worker; only the newest request's answer is delivered."""
        self._generation += 1
        job = (self._generation, fn, on_result, on_error)
        if self._in_flight:
            self._waiting = job  # an older one runs: this one replaces whatever waited
            return
        self._start(job)

    def drop(self) -> None:
        """Forget every request (the dialog is closing)."""
        self._generation += 1
        self._waiting = None

    def _start(
        self, job: tuple[int, Callable[[], Any], Callable[[Any], None], Callable[[BaseException], None]]
    ) -> None:
        generation, fn, on_result, on_error = job
        self._in_flight = True

        def finish(callback: Callable[[Any], None], value: Any) -> None:
            self._in_flight = False
            waiting, self._waiting = self._waiting, None
            if waiting is not None:
                self._start(waiting)
            elif generation == self._generation:
                callback(value)

        if not run_read(self._runner, fn, lambda result: finish(on_result, result), lambda exc: finish(on_error, exc)):
            self._in_flight = False


def run_read(
    runner: TaskRunner,
    fn: Callable[[], Any],
    on_result: Callable[[Any], None],
    on_error: Callable[[BaseException], None],
) -> bool:
    """Run ``fn`` on the read lane; False when the runner is already shut down (the window is
    closing and a late detail load still arrived), in which case nothing is asked or shown."""
    try:
        runner.run(fn, on_result, on_error, lane=READ)
    except RuntimeError:  # concurrent.futures: cannot schedule new futures after shutdown
        log.debug("runner shut down; preview dropped")
        return False
    return True


def preview_error_text(exc: BaseException) -> str:
    """A rule's refusal as shown inline: the Japanese reason and its rule number."""
    if not is_user_error(exc):
        log.error("preview failed", exc_info=exc)
        return error_message(exc)
    message = error_message(exc)
    code = getattr(exc, "code", "")
    return with_rule(message, code)


def with_rule(message: str, rule: str | None) -> str:
    """``message`` with its rule number, e.g. 「…までです(R29)。」 (unless it already names it)."""
    if not rule or not re.fullmatch(r"R\d+", rule) or rule in message:
        return message
    body, stop = (message[:-1], "。") if message.endswith("。") else (message, "")
    if body.endswith(")"):  # 「…(注文時の金額の900%…)」 → 「…(注文時の金額の900%…, R29)」
        return f"{body[:-1]}, {rule}){stop}"
    return f"{body}({rule}){stop}"


def html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br>")


class OperationDialog(QDialog):
    """Common frame: a title line, the form, an inline message and OK / キャンセル.

    Subclasses put their widgets in :attr:`body`, call :meth:`set_ok` whenever what they know
    changes, and build their result in ``accept``.
    """

    def __init__(self, title: str, ok_text: str, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(560)
        self.preview = LivePreview(runner, self)
        self.heading = QLabel()
        self.heading.setObjectName("dialogHeading")
        self.heading.setWordWrap(True)
        self.body = QVBoxLayout()
        self.body.setSpacing(10)
        self.message = InlineMessage()
        self.message.setObjectName("dialogMessage")
        self.confirm = IrreversibleConfirm()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button: QPushButton = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(ok_text)
        self.ok_button.setDefault(False)
        self.ok_button.setAutoDefault(False)  # Enter in a field must not send money
        cancel = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        cancel.setText("閉じる")
        cancel.setAutoDefault(False)
        self.buttons.accepted.connect(self._on_ok)
        self.buttons.rejected.connect(self.reject)
        self.confirm.changed.connect(self.update_state)
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        layout.addWidget(self.heading)
        layout.addLayout(self.body)
        layout.addWidget(self.message)
        layout.addWidget(self.confirm)
        layout.addStretch(1)
        layout.addWidget(self.buttons)

    def update_state(self) -> None:
        """Recompute the message and whether OK is enabled (subclasses)."""

    def set_ok(self, enabled: bool, why_not: str = "") -> None:
        self.ok_button.setEnabled(enabled)
        self.ok_button.setToolTip("" if enabled else why_not)

    def _on_ok(self) -> None:
        if self.ok_button.isEnabled():
            self.accept()

    def done(self, result: int) -> None:
        self.preview.drop()  # an answer arriving after close is not shown
        super().done(result)


def run_modal(dialog: QDialog) -> bool:
    """Show ``dialog`` modally, schedule its deletion, and say whether it was accepted.

    The dialogs' ``ask`` classmethods go through here (and tests monkeypatch ``ask``).
    """
    accepted = dialog.exec() == QDialog.DialogCode.Accepted
    dialog.deleteLater()
    return accepted
