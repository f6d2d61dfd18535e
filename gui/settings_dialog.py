"""Settings: the shop, Amazon Pay credentials, automatic sync (R11) and background sync.

The private key stays in its file: only its path is stored (core.settings). Errors in what
was typed are shown inline, in Japanese, and nothing is saved until they are fixed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.environment import LIVE, connection_environment
from core.errors import STALE_EDIT_MESSAGE, UserError
from core.gateway import read_private_key
from core.operator import normalize_operator_name
from core.settings import (
    CONNECTION_FIELDS,
    MAX_SYNC_MINUTES,
    AppSettings,
    connection_problem,
    normalize_domain,
    normalize_seller_token,
)

__all__ = ["CONNECTION_FIELDS", "MAX_SYNC_MINUTES", "SettingsDialog", "connection_changed", "connection_name"]


class SettingsDialog(QDialog):
    """``reload`` reads the settings as saved now: when another operator saved since this dialog
    opened, 保存 says so with their values and shows them instead (issue 14 item 2); the store
    refuses a stale save anyway (``version``), this only says it before the dialog closes."""

    def __init__(
        self,
        settings: AppSettings,
        parent: QWidget | None = None,
        *,
        reload: Callable[[], AppSettings] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("設定")
        self.setMinimumWidth(520)
        self._original = settings
        self._reload = reload

        shop = QGroupBox("ショップ")
        form = QFormLayout(shop)
        self.shop_name = QLineEdit(settings.shop_name)
        self.shop_domain = QLineEdit(settings.shop_domain)
        self.shop_domain.setPlaceholderText("例: shop.example.jp(注文履歴ページのURLに使います, R43)")
        self.operator_name = QLineEdit(settings.operator_name)
        self.operator_name.setPlaceholderText("この端末の担当者(操作の記録とメッセージの署名。ペンネーム可, R50)")
        self.operator_name.setToolTip("この端末だけの設定です。同じデータを使う他の端末には影響しません。")
        self.seller_token = QLineEdit(settings.seller_token)
        self.seller_token.setPlaceholderText("ストアプロフィールのURLに使います(R44)")
        form.addRow("ショップ名", self.shop_name)
        form.addRow("ドメイン", self.shop_domain)
        form.addRow("担当者名", self.operator_name)
        form.addRow("出品者トークン", self.seller_token)

        amazon = QGroupBox("Amazon Pay")
        form = QFormLayout(amazon)
        self.merchant_id = QLineEdit(settings.amazon_merchant_id)
        self.public_key_id = QLineEdit(settings.amazon_public_key_id)
        self.private_key_path = QLineEdit(settings.amazon_private_key_path)
        self.private_key_path.setPlaceholderText("秘密鍵ファイル(.pem)の場所。鍵そのものは保存しません")
        browse = QPushButton("参照…")
        browse.clicked.connect(self._browse_key)
        key_row = QHBoxLayout()
        key_row.addWidget(self.private_key_path, 1)
        key_row.addWidget(browse)
        self.environment = QComboBox()
        self.environment.addItem("サンドボックス(テスト用)", "sandbox")
        self.environment.addItem("本番(live)", "live")
        self.environment.setCurrentIndex(0 if settings.amazon_environment != "live" else 1)
        note = QLabel("公開鍵IDと秘密鍵ファイルが未設定のときは、内蔵のサンドボックスで動作します。")
        note.setWordWrap(True)
        form.addRow("出品者ID(Merchant ID)", self.merchant_id)
        form.addRow("公開鍵ID(Public Key ID)", self.public_key_id)
        form.addRow("秘密鍵ファイル", key_row)
        form.addRow("接続先", self.environment)
        form.addRow(note)

        sync = QGroupBox("同期")
        form = QFormLayout(sync)
        self.auto_sync = QCheckBox("自動連携: 入金処理や再与信をAmazon Payへ送信する(R11)")
        self.auto_sync.setChecked(settings.auto_sync)
        self.auto_sync.setToolTip("オフにすると何も送信せず記録だけ行います。Seller Centralでの操作が必要です。")
        self.sync_interval = QSpinBox()
        self.sync_interval.setRange(1, MAX_SYNC_MINUTES)
        self.sync_interval.setValue(max(1, min(settings.sync_interval_minutes, MAX_SYNC_MINUTES)))
        self.sync_interval.setSuffix(" 分ごと")
        form.addRow(self.auto_sync)
        form.addRow("バックグラウンド同期", self.sync_interval)

        self.error = QLabel()
        self.error.setObjectName("settingsError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b3261e;")
        self.error.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setText("保存")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("キャンセル")
        self.buttons.accepted.connect(self._on_save)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(shop)
        layout.addWidget(amazon)
        layout.addWidget(sync)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.result_settings: AppSettings | None = None

    @classmethod
    def ask(
        cls,
        settings: AppSettings,
        parent: QWidget | None = None,
        *,
        reload: Callable[[], AppSettings] | None = None,
    ) -> AppSettings | None:
        """Show the dialog; the edited settings, or None when cancelled (tests monkeypatch this)."""
        dialog = cls(settings, parent, reload=reload)
        return dialog.result_settings if dialog.exec() == QDialog.DialogCode.Accepted else None

    def show_settings(self, settings: AppSettings) -> None:
        """Put ``settings`` in the fields (a reload after another operator's save)."""
        self._original = settings
        self.shop_name.setText(settings.shop_name)
        self.shop_domain.setText(settings.shop_domain)
        self.operator_name.setText(settings.operator_name)
        self.seller_token.setText(settings.seller_token)
        self.merchant_id.setText(settings.amazon_merchant_id)
        self.public_key_id.setText(settings.amazon_public_key_id)
        self.private_key_path.setText(settings.amazon_private_key_path)
        self.environment.setCurrentIndex(0 if settings.amazon_environment != "live" else 1)
        self.auto_sync.setChecked(settings.auto_sync)
        self.sync_interval.setValue(max(1, min(settings.sync_interval_minutes, MAX_SYNC_MINUTES)))

    def values(self) -> dict[str, Any]:
        try:
            domain = normalize_domain(self.shop_domain.text())
        except UserError:
            domain = self.shop_domain.text().strip()  # kept as typed; validate() says what is wrong
        try:
            token = normalize_seller_token(self.seller_token.text())
        except UserError:
            token = self.seller_token.text().strip()
        return {
            "shop_name": self.shop_name.text().strip(),
            "shop_domain": domain,
            "operator_name": self.operator_name.text().strip(),
            "seller_token": token,
            "amazon_merchant_id": self.merchant_id.text().strip(),
            "amazon_public_key_id": self.public_key_id.text().strip(),
            "amazon_private_key_path": self.private_key_path.text().strip(),
            "amazon_environment": self.environment.currentData(),
            "auto_sync": self.auto_sync.isChecked(),
            "sync_interval_minutes": self.sync_interval.value(),
        }

    def validate(self) -> str | None:
        """The Japanese problem with what was typed, or None."""
        values = self.values()
        key_path = values["amazon_private_key_path"]
        if key_path and not Path(key_path).expanduser().is_file():
            return f"秘密鍵ファイルが見つかりません: {key_path}"
        if key_path:
            try:
                read_private_key(key_path)  # the file must hold a key now, not at the first capture
            except UserError as exc:
                return exc.message
        if bool(values["amazon_public_key_id"]) != bool(key_path):
            return "公開鍵IDと秘密鍵ファイルは両方とも入力してください(両方空ならサンドボックスで動作します)。"
        # The same check as `kanjo settings set` and opening the connection (issue 10 item 3): live
        # without keys would be answered by the built-in sandbox, and a LIVE-/SANDBOX- key decides
        # alone where requests go, whatever the environment says.
        problem = connection_problem(replace(self._original, **values), saving=True)
        if problem is not None:
            return problem
        if values["operator_name"] != self._original.operator_name:  # kept per PC, never blank (issue 14)
            try:
                normalize_operator_name(self.operator_name.text())
            except UserError as exc:
                return exc.message
        try:
            normalize_domain(self.shop_domain.text())
            normalize_seller_token(self.seller_token.text())
        except UserError as exc:
            return exc.message
        return None

    def _on_save(self) -> None:
        problem = self.validate()
        if problem:
            self.error.setText(problem)
            self.error.show()
            return
        if self._reload is not None:
            latest = self._reload()
            if latest.version != self._original.version:
                changed = [
                    f"{name} = {getattr(latest, name)}"
                    for name in self.values()
                    if getattr(latest, name) != getattr(self._original, name)
                ]
                self.show_settings(latest)
                self.error.setText(
                    f"{STALE_EDIT_MESSAGE}。現在の内容を読み込みました"
                    f"({'、'.join(changed) or '表示中の項目に変更はありません'})。確かめてからもう一度保存してください。"
                )
                self.error.show()
                return
        self.result_settings = replace(self._original, **self.values())
        self.accept()

    def _browse_key(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(self, "秘密鍵ファイルを選択", "", "PEMファイル (*.pem);;すべて (*)")
        if path:
            self.private_key_path.setText(path)


def connection_changed(before: AppSettings, after: AppSettings) -> bool:
    """Whether the Amazon Pay connection changed (the gateway must be reopened)."""
    return any(getattr(before, name) != getattr(after, name) for name in CONNECTION_FIELDS)


def connection_name(settings: AppSettings) -> str:
    """Where the gateway connects with these settings, as the operator reads it."""
    if not settings.has_amazon_credentials:
        return "内蔵のサンドボックス"
    return "Amazon Payの本番環境" if settings.amazon_environment == "live" else "Amazon Payのサンドボックス環境"


def going_live(before: AppSettings, after: AppSettings) -> bool:
    """The saved settings switch the connection to 本番 (issue 11 item 8)."""
    return connection_environment(after) == LIVE and connection_environment(before) != LIVE


SANDBOX_REMOVAL_QUESTION = "サンドボックスの受注{count}件を一覧から削除しますか?(記録は残ります)"


def ask_sandbox_removal(parent: QWidget, count: int, answered: Callable[[bool], None]) -> QMessageBox:
    """Going live: offer to remove the sandbox's orders in one step (issue 11 item 8).

    Window-modal and not blocking (``open``): the answer arrives through ``answered`` (True:
    削除する). Returned so that a caller or a test can find and answer it.
    """
    box = QMessageBox(parent)
    box.setObjectName("sandboxRemovalQuestion")
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("本番に切り替えました")
    box.setText(SANDBOX_REMOVAL_QUESTION.format(count=count))
    box.setInformativeText(
        "サンドボックス(内蔵を含む)で作った受注は、本番のAmazon Payには送信されず、操作もできません。"
        "削除しても操作の記録(履歴)は残ります。残した場合も、あとで kanjo orders remove-sandbox --yes で削除できます。"
    )
    remove = box.addButton("削除する", QMessageBox.ButtonRole.AcceptRole)
    keep = box.addButton("残す", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(keep)
    box.setEscapeButton(keep)

    def finished(_result: int) -> None:
        chosen = box.clickedButton() is remove
        box.deleteLater()
        answered(chosen)

    box.finished.connect(finished)
    box.open()
    return box
