"""The message composer (issue 5 §4): pick a template, edit, preview, copy or send.

Opened from an order. Its data (the order's values, the templates, what fits the order now,
whether SMTP is set) is read once on the read lane; templates are then filled here at once
(:meth:`ComposeContext.render`, pure and sandboxed). Sending runs on the work lane: the
window never waits for the mail server. Every outcome is a Japanese line in the dialog; a
failed send keeps the text in the dialog and in the order's history (送信失敗, with why).

Without SMTP settings the send button becomes 「コピーして手動送信として記録」: the text goes
to the clipboard and is kept with the order as 手動送信.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.domain import Tone
from core.errors import UserError
from core.messages.suggest import SITUATIONS
from core.queries import MessageView
from core.services.messages import ComposeContext, Draft, MessageService, SendFailed
from gui.composer.common import ERROR_STYLE
from gui.composer.smtp_dialog import SmtpSettingsDialog
from gui.composer.template_editor import TemplateEditorDialog
from gui.errors import show_error
from gui.tasks import READ, TaskRunner

SUGGESTED_MARK = "★ "


def record_summary(record: MessageView) -> tuple[str, Tone]:
    """The window's banner line for a stored message."""
    if record.status == "sent":
        return f"受注番号 {record.order_number}: {record.recipient} へメッセージを送信しました。", Tone.SUCCESS
    if record.status == "manual":
        return (
            f"受注番号 {record.order_number}: メッセージをコピーし、手動送信として記録しました。"
            "お使いのメールソフトから送ってください。",
            Tone.PROGRESS,
        )
    return f"受注番号 {record.order_number}: メッセージを送信できませんでした。{record.error or ''}", Tone.FAILURE


def message_text(draft_to: str, subject: str, body: str) -> str:
    """What goes to the clipboard: the subject line, a blank line, the body."""
    return f"件名: {subject}\n宛先: {draft_to}\n\n{body}"


class ComposerDialog(QDialog):
    """Compose one message for one order.

    Signals:
        message_recorded(object): a MessageView was stored (sent, failed or manual).
        settings_changed(): the SMTP settings were saved from here.
    """

    message_recorded = Signal(object)
    settings_changed = Signal()

    def __init__(
        self,
        messages: MessageService,
        runner: TaskRunner,
        number: str,
        *,
        situation: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("composer")
        self.messages = messages
        self.runner = runner
        self.number = number
        self.situation = situation or None
        self.context: ComposeContext | None = None
        self.draft: Draft | None = None
        self.last_record: MessageView | None = None
        self.sending = False
        self.confirm: Callable[[str], bool] = self._confirm  # tests replace it
        self.setWindowTitle(f"メッセージ作成 — 受注番号 {number}")
        self.resize(820, 720)

        self.recipient = QLabel("読み込み中…")
        self.recipient.setObjectName("composerRecipient")
        self.recipient.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.picker = QComboBox()
        self.picker.setObjectName("templatePicker")
        self.picker.setMinimumWidth(420)
        self.edit_templates_button = QPushButton("テンプレートを編集…")
        picker_row = QHBoxLayout()
        picker_row.addWidget(self.picker, 1)
        picker_row.addWidget(self.edit_templates_button)
        self.reason = QLabel()
        self.reason.setObjectName("suggestionReason")
        self.reason.setWordWrap(True)

        self.subject = QLineEdit()
        self.subject.setObjectName("composerSubject")
        self.body = QPlainTextEdit()
        self.body.setObjectName("composerBody")
        self.preview = QPlainTextEdit()
        self.preview.setObjectName("composerPreview")
        self.preview.setReadOnly(True)
        edit_page = QWidget()
        edit_form = QFormLayout(edit_page)
        edit_form.addRow("件名", self.subject)
        edit_form.addRow("本文", self.body)
        self.tabs = QTabWidget()
        self.tabs.addTab(edit_page, "編集")
        self.tabs.addTab(self.preview, "プレビュー")

        self.error = QLabel()
        self.error.setObjectName("composerError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.hide()
        self.status = QLabel()
        self.status.setObjectName("composerStatus")
        self.status.setWordWrap(True)
        self.smtp_label = QLabel()
        self.smtp_label.setObjectName("smtpSummary")
        self.smtp_label.setWordWrap(True)

        self.copy_button = QPushButton("コピー")
        self.copy_button.setToolTip("件名と本文をクリップボードにコピーします(記録はしません)。")
        self.send_button = QPushButton("送信")
        self.send_button.setObjectName("sendButton")
        self.send_button.setDefault(True)
        self.smtp_button = QPushButton("送信設定…")
        self.close_button = QPushButton("閉じる")
        buttons = QHBoxLayout()
        buttons.addWidget(self.smtp_button)
        buttons.addStretch(1)
        buttons.addWidget(self.copy_button)
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.close_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.recipient)
        layout.addLayout(picker_row)
        layout.addWidget(self.reason)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.error)
        layout.addWidget(self.status)
        layout.addWidget(self.smtp_label)
        layout.addLayout(buttons)

        self.picker.currentIndexChanged.connect(self._on_picker_current_index_changed)
        self.subject.textChanged.connect(self._update_preview)
        self.body.textChanged.connect(self._update_preview)
        self.tabs.currentChanged.connect(lambda _index: self._update_preview())
        self.copy_button.clicked.connect(self.copy_to_clipboard)
        self.send_button.clicked.connect(self.send)
        self.smtp_button.clicked.connect(self.open_smtp_settings)
        self.edit_templates_button.clicked.connect(self.open_template_editor)
        self.close_button.clicked.connect(self.reject)
        self._update_buttons()
        self.load()

    # --- loading -------------------------------------------------------------------------

    def load(self, select: str | None = None) -> None:
        """Read the order's values, templates and suggestions (read lane), then fill the picker."""
        number, situation = self.number, self.situation

        def loaded(context: ComposeContext) -> None:
            self._set_context(context, select)

        def failed(exc: BaseException) -> None:
            if isinstance(exc, UserError):
                self.show_error(exc.message)
            else:
                show_error(self, exc, title="予期しないエラー")

        self.runner.run(lambda: self.messages.compose(number, situation), loaded, failed, lane=READ)

    def _set_context(self, context: ComposeContext, select: str | None) -> None:
        self.context = context
        self.recipient.setText(f"受注番号 {context.order_number} ・ 宛先: {context.to_name} 様 <{context.to_email}>")
        situation = SITUATIONS.get(context.situation or "")
        if situation:
            self.setWindowTitle(f"メッセージ作成({situation}) — 受注番号 {context.order_number}")
        self._show_smtp_status()
        self.picker.blockSignals(True)
        self.picker.clear()
        suggested = [s.template_id for s in context.suggestions]
        for suggestion in context.suggestions:
            info = context.template(suggestion.template_id)
            self.picker.addItem(SUGGESTED_MARK + info.label, info.id)
        if suggested:
            self.picker.insertSeparator(self.picker.count())
        for info in context.templates:
            if info.id not in suggested:
                self.picker.addItem(info.label, info.id)
        self.picker.blockSignals(False)
        wanted = select or (suggested[0] if suggested else None)
        index = self.picker.findData(wanted) if wanted else -1
        self.picker.setCurrentIndex(max(index, 0))
        self._on_picker_current_index_changed(self.picker.currentIndex())

    def _show_smtp_status(self) -> None:
        smtp = self.context.smtp if self.context else None
        if smtp is None:
            return
        if not smtp.configured:
            self.smtp_label.setText(smtp.summary)
            self.send_button.setText("コピーして手動送信として記録")
            self.send_button.setToolTip("SMTPサーバーが未設定のため、コピーしてお使いのメールソフトから送ります。")
        elif smtp.problem:
            self.smtp_label.setText(f"送信設定に不足があります: {smtp.problem}")
            self.send_button.setText("送信")
        else:
            self.smtp_label.setText(f"送信: {smtp.summary}")
            self.send_button.setText("送信")
            self.send_button.setToolTip("SMTPサーバーから送信し、受注の履歴に残します。")
        self._update_buttons()

    # --- choosing and editing ------------------------------------------------------------

    @property
    def template_id(self) -> str | None:
        data = self.picker.currentData()
        return data if isinstance(data, str) else None

    def select_template(self, template_id: str) -> None:
        index = self.picker.findData(template_id)
        if index < 0:
            raise KeyError(template_id)
        self.picker.setCurrentIndex(index)

    def _on_picker_current_index_changed(self, _index: int) -> None:
        context, template_id = self.context, self.template_id
        if context is None or template_id is None:
            return
        reason = next((s.reason for s in context.suggestions if s.template_id == template_id), "")
        self.reason.setText(f"おすすめ: {reason}" if reason else "")
        self.clear_error()
        self.status.setText("")
        try:
            self.draft = context.render(template_id)
        except UserError as exc:
            self.draft = None
            self.subject.clear()
            self.body.clear()
            self.show_error(exc.message)
        else:
            self.subject.setText(self.draft.subject)
            self.body.setPlainText(self.draft.body)
        self._update_buttons()
        self._update_preview()

    def _update_preview(self) -> None:
        context = self.context
        if context is None:
            return
        smtp = context.smtp
        sender = (
            smtp.summary if smtp.configured and not smtp.problem else "(手動送信: お使いのメールソフトから送ります)"
        )
        self.preview.setPlainText(
            f"差出人: {sender}\n宛先: {context.to_name} 様 <{context.to_email}>\n件名: {self.subject.text()}\n"
            + "─" * 30
            + f"\n{self.body.toPlainText()}"
        )
        self._update_buttons()

    def _update_buttons(self) -> None:
        ready = self.context is not None and bool(self.subject.text().strip()) and bool(self.body.toPlainText().strip())
        self.copy_button.setEnabled(ready)
        self.send_button.setEnabled(ready and not self.sending)
        self.picker.setEnabled(not self.sending)
        self.smtp_button.setEnabled(not self.sending)

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()

    def clear_error(self) -> None:
        self.error.clear()
        self.error.hide()

    # --- copy and send ---------------------------------------------------------------------

    def _fields(self) -> dict[str, object]:
        template_id = self.template_id or ""
        version = self.draft.template_version if self.draft and self.draft.template_id == template_id else None
        return {
            "template_id": template_id,
            "template_version": version,
            "subject": self.subject.text(),
            "body": self.body.toPlainText(),
        }

    def clipboard_text(self) -> str:
        context = self.context
        to = f"{context.to_name} 様 <{context.to_email}>" if context else ""
        return message_text(to, self.subject.text().strip(), self.body.toPlainText())

    def copy_to_clipboard(self) -> None:
        QGuiApplication.clipboard().setText(self.clipboard_text())
        self.status.setText("件名と本文をクリップボードにコピーしました(まだ記録していません)。")

    def send(self) -> None:
        """By SMTP when it is set, else copy and record as 手動送信."""
        context = self.context
        if context is None or not self.send_button.isEnabled():
            return
        self.clear_error()
        if not context.smtp.configured:
            self.copy_to_clipboard()
            self._run_store(lambda fields: self.messages.record_manual(self.number, **fields))  # type: ignore[arg-type]
            return
        if context.smtp.problem:
            self.show_error(context.smtp.problem)
            return
        if not self.confirm(f"{context.to_name} 様 <{context.to_email}> へ送信します。よろしいですか?"):
            return
        self.status.setText("送信しています…")
        self._run_store(lambda fields: self.messages.send(self.number, **fields))  # type: ignore[arg-type]

    def _run_store(self, call: Callable[[dict[str, object]], MessageView]) -> None:
        fields = self._fields()
        self.sending = True
        self._update_buttons()

        def done(record: MessageView) -> None:
            self.sending = False
            self.last_record = record
            self.message_recorded.emit(record)
            self.status.setText(record_summary(record)[0])
            self._update_buttons()
            self.accept()

        def failed(exc: BaseException) -> None:
            self.sending = False
            self._update_buttons()
            self.status.setText("")
            if isinstance(exc, SendFailed):
                self.last_record = exc.record
                self.message_recorded.emit(exc.record)  # kept as 送信失敗 with the reason
            if isinstance(exc, UserError):
                self.show_error(exc.message)  # the text stays in the dialog
            else:
                show_error(self, exc, title="予期しないエラー")

        self.runner.run(lambda: call(fields), done, failed)

    # --- settings and templates ----------------------------------------------------------

    def open_smtp_settings(self) -> None:
        dialog = SmtpSettingsDialog(self.messages, self.runner, self)
        dialog.saved.connect(self._on_smtp_saved)
        self.smtp_dialog = dialog
        dialog.open()

    def _on_smtp_saved(self) -> None:
        self.settings_changed.emit()
        self.load(select=self.template_id)

    def open_template_editor(self) -> TemplateEditorDialog:
        context = self.context
        editor = TemplateEditorDialog(
            self.messages,
            variables=context.variables if context else None,
            order_number=self.number,
            select=self.template_id,
            parent=self,
        )
        editor.templates_changed.connect(lambda: self.load(select=self.template_id))
        self.template_editor = editor
        editor.open()
        return editor

    def _confirm(self, text: str) -> bool:
        return QMessageBox.question(self, "送信の確認", text) == QMessageBox.StandardButton.Yes

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if self.sending:
            event.ignore()  # the outcome must reach the order's history first
            return
        super().closeEvent(event)

    def reject(self) -> None:
        if self.sending:
            return
        super().reject()
