"""はじめての設定: one short dialog at the first start (issue 16 item 4).

It asks for what the messages and links need: ショップ名 (the signature, R50), 担当者名 (every
record, issue 14 item 3), ショップのドメイン (the order-history link, R43) and the Seller token
(the store-profile link, R44), and says what comes next: the Amazon Pay connection (設定) and
the first import (取込). Each value goes through the settings service's own checks
(``core.settings.coerce``) and is saved by it in one step; a refusal is shown in the dialog and
nothing is written. It can be skipped (あとで) and reopened from ファイル or ヘルプ.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from core.errors import StaleEdit, UserError
from core.operator import MAX_OPERATOR_CHARS
from core.settings import AppSettings, SettingsStore, coerce

FIELDS: tuple[tuple[str, str, str], ...] = (
    ("shop_name", "ショップ名", "例: 山田商店(メッセージの署名に入ります)"),
    ("operator_name", "担当者名", "この端末で作業する方のお名前(記録に残ります)"),
    ("shop_domain", "ショップのドメイン", "例: shop.example.jp(注文履歴へのリンクに使います)"),
    ("seller_token", "Seller token", "Seller Centralの出品者トークン(例: A1B2C3D4E5F6G7)"),
)
NEXT_STEPS = (
    "このあと、「設定」でAmazon Payへの接続(マーチャントID・公開鍵ID・秘密鍵)を登録し、"
    "「ファイル → 取込」でショップの受注ファイルを取り込みます。"
    "接続するまでは内蔵のサンドボックスで試せます(実際の決済は行われません)。"
)


class FirstDayDialog(QDialog):
    """Asks the four values; saved through ``settings`` (the shop's settings service) on 保存."""

    def __init__(self, settings: SettingsStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("firstDayDialog")
        self.setWindowTitle("はじめての設定")
        self._settings = settings
        self._current: AppSettings = settings.load()
        self.saved: AppSettings | None = None
        intro = QLabel(
            "勘定へようこそ。お客様へのメッセージとリンクに使う項目を入力してください。"
            "どれもあとから「設定」で変更できます。"
        )
        intro.setWordWrap(True)
        form = QFormLayout()
        self.fields: dict[str, QLineEdit] = {}
        for name, label, hint in FIELDS:
            field = QLineEdit(str(getattr(self._current, name)))
            field.setObjectName(name)
            field.setPlaceholderText(hint)
            field.setToolTip(hint)
            if name == "operator_name":
                field.setMaxLength(MAX_OPERATOR_CHARS)
            self.fields[name] = field
            form.addRow(label, field)
        self.next_steps = QLabel(NEXT_STEPS)
        self.next_steps.setObjectName("firstDayNextSteps")
        self.next_steps.setWordWrap(True)
        self.error = QLabel()
        self.error.setObjectName("firstDayError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b3261e;")
        self.error.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("保存して次へ")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("あとで")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.next_steps)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(480)

    def accept(self) -> None:
        changes: dict[str, object] = {}
        try:
            for name, label, _hint in FIELDS:
                text = self.fields[name].text()
                if name == "operator_name" and not text.strip():
                    raise UserError(f"{label}を入力してください(あとで入力するときは「あとで」を押してください)。")
                try:
                    changes[name] = coerce(name, text)
                except UserError as exc:
                    message = exc.message if exc.message.startswith(label) else f"{label}: {exc.message}"
                    raise UserError(message) from exc
            self.saved = self._settings.save(**changes, version=self._current.version)
        except StaleEdit as exc:  # another PC saved meanwhile: show theirs, nothing written
            self._current = self._settings.load()
            self.error.setText(exc.message)
            self.error.show()
            return
        except UserError as exc:
            self.error.setText(exc.message)
            self.error.show()
            return
        super().accept()


def open_first_day(
    settings: SettingsStore, parent: QWidget, saved: Callable[[AppSettings], None], finished: Callable[[], None]
) -> FirstDayDialog:
    """Open the dialog without blocking; ``saved`` gets the new settings, ``finished`` runs either way."""
    dialog = FirstDayDialog(settings, parent)

    def done(result: int) -> None:
        if result == QDialog.DialogCode.Accepted and dialog.saved is not None:
            saved(dialog.saved)
        finished()
        dialog.deleteLater()

    dialog.finished.connect(done)
    dialog.open()
    return dialog
