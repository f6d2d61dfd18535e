"""送信設定: the SMTP server messages are sent through, and its password in the OS keyring.

The password field is never filled from anywhere: it is only typed, handed to the keyring on
the work lane (a keyring may block while it asks to be unlocked) and forgotten. When the
machine has no keyring the dialog says so and the password is stored nowhere.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.errors import UserError
from core.services.messages import MessageService, SmtpStatus
from gui.errors import show_error
from gui.tasks import READ, TaskRunner


class SmtpSettingsDialog(QDialog):
    """Signals:
    saved(): the settings were saved (and the password, if one was typed).
    """

    saved = Signal()

    def __init__(self, messages: MessageService, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("smtpSettings")
        self.setWindowTitle("送信設定(SMTP)")
        self.setMinimumWidth(480)
        self.messages = messages
        self.runner = runner
        settings = messages.settings_snapshot()
        self.host = QLineEdit(settings.smtp_host)
        self.host.setPlaceholderText("例: smtp.example.jp(空のときはコピーして手動で送信します)")
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(settings.smtp_port)
        self.security = QComboBox()
        self.security.addItem("STARTTLS(通常はポート587)", "starttls")
        self.security.addItem("SSL/TLS(通常はポート465)", "ssl")
        self.security.setCurrentIndex(max(self.security.findData(settings.smtp_security), 0))
        self.user = QLineEdit(settings.smtp_user)
        self.sender_field = QLineEdit(settings.smtp_from)
        self.sender_field.setPlaceholderText("空のときはユーザー名(メールアドレスの場合)")
        self.password = QLineEdit()
        self.password.setObjectName("smtpPassword")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("変更するときだけ入力")
        note = QLabel("パスワードはOSのキーチェーン(資格情報ストア)に保存し、データベースやログには保存しません。")
        note.setWordWrap(True)
        self.password_state = QLabel()
        self.password_state.setObjectName("passwordState")
        self.error = QLabel()
        self.error.setObjectName("smtpError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b3261e;")
        self.error.hide()
        form = QFormLayout()
        form.addRow("SMTPサーバー", self.host)
        form.addRow("ポート", self.port)
        form.addRow("暗号化", self.security)
        form.addRow("ユーザー名", self.user)
        form.addRow("送信元アドレス", self.sender_field)
        form.addRow("パスワード", self.password)
        form.addRow("", self.password_state)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setText("保存")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("キャンセル")
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.security.currentIndexChanged.connect(self._on_security_current_index_changed)
        self._check_password()

    def _on_security_current_index_changed(self, _index: int) -> None:
        # Follow the usual port for the chosen encryption unless a non-standard port was typed.
        if self.port.value() in (465, 587):
            self.port.setValue(465 if self.security.currentData() == "ssl" else 587)

    def _check_password(self) -> None:
        if not self.user.text().strip():
            self.password_state.setText("")
            return

        def known(has: bool) -> None:
            self.password_state.setText("パスワード: 保存済み" if has else "パスワード: 未保存")

        def failed(exc: BaseException) -> None:
            self.password_state.setText(exc.message if isinstance(exc, UserError) else "")

        self.runner.run(self.messages.has_smtp_password, known, failed, lane=READ)

    def save(self) -> None:
        self.error.hide()
        self.buttons.setEnabled(False)
        values: dict[str, Any] = {
            "host": self.host.text(),
            "port": self.port.value(),
            "user": self.user.text(),
            "security": str(self.security.currentData()),
            "sender": self.sender_field.text(),
            "password": self.password.text() or None,
        }
        self.password.clear()  # not kept in the widget either

        def done(_status: SmtpStatus) -> None:
            self.buttons.setEnabled(True)
            self.saved.emit()
            self.accept()

        def failed(exc: BaseException) -> None:
            self.buttons.setEnabled(True)
            if isinstance(exc, UserError):
                self.error.setText(exc.message)
                self.error.show()
                self.saved.emit()  # the server settings may be saved even when the keyring refused
            else:
                show_error(self, exc, title="予期しないエラー")

        self.runner.run(lambda: self.messages.save_smtp_settings(**values), done, failed)
