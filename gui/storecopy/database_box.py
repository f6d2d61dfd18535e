"""設定 → データベース: このPC(SQLite) or 共有(PostgreSQL), used from the next start (issue 14 item 1).

The choice is this PC's (``database.json`` in the data directory, core.db_choice), never in a
database: which database to open cannot be read from one. The password field is never filled:
a typed password goes to the OS keyring only and is forgotten. 「共有データベースへ移行…」
opens the copy (gui/storecopy/migrate_dialog.py).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QWidget,
)

from core.app import data_dir
from core.db.engine import sqlite_path
from core.db_choice import DEFAULT_PORT, POSTGRESQL, SQLITE, DatabaseChoice, load_choice, save_choice, save_password
from core.errors import UserError


def store_url_of(widget: QWidget | None) -> str | None:
    """The URL of the store the window runs on (a MainWindow parent has ``app``), else None."""
    app = getattr(widget, "app", None)
    url = getattr(app, "db_url", None)
    return url if isinstance(url, str) else None


class DatabaseBox(QGroupBox):
    """The connection setting. Signals: migrated(str): a copy finished, to the URL given."""

    migrated = Signal(str)

    def __init__(
        self, store_url: str | None = None, parent: QWidget | None = None, *, directory: Path | None = None
    ) -> None:
        super().__init__("データベース", parent)
        self.setObjectName("databaseBox")
        self.directory = directory if directory is not None else data_dir()
        self.store_url = store_url
        try:
            self._loaded = load_choice(self.directory)
        except UserError:  # a damaged file: the window could not have opened on it; start over
            self._loaded = DatabaseChoice()
        form = QFormLayout(self)
        self.kind = QComboBox()
        self.kind.setObjectName("databaseKind")
        self.kind.addItem("このPC(SQLite)", SQLITE)
        self.kind.addItem("共有(PostgreSQL)", POSTGRESQL)
        self.host = QLineEdit(self._loaded.host)
        self.host.setPlaceholderText("例: 192.168.1.10 または db.shop.lan")
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(self._loaded.port or DEFAULT_PORT)
        self.database = QLineEdit(self._loaded.database)
        self.database.setPlaceholderText("例: kanjo")
        self.user = QLineEdit(self._loaded.user)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("変更するときだけ入力(OSのキーチェーンにだけ保存)")
        self.note = QLabel("次回の起動から使われます(このPCだけの設定)。")
        self.note.setWordWrap(True)
        self.migrate_button = QPushButton("共有データベースへ移行…")
        self.migrate_button.setObjectName("migrateButton")
        self.migrate_button.clicked.connect(self.open_migration)
        source = self.source_path()
        self.migrate_button.setEnabled(source is not None)
        if source is None:
            self.migrate_button.setToolTip("すでに共有データベースで作業しています。")
        row = QHBoxLayout()
        row.addWidget(self.kind, 1)
        row.addWidget(self.migrate_button)
        form.addRow("使うデータベース", row)
        form.addRow("ホスト", self.host)
        form.addRow("ポート", self.port)
        form.addRow("データベース名", self.database)
        form.addRow("ユーザー名", self.user)
        form.addRow("パスワード", self.password)
        form.addRow(self.note)
        self.kind.currentIndexChanged.connect(self._update_fields)
        self.kind.setCurrentIndex(1 if self._loaded.shared else 0)
        self._update_fields()
        self.migration_dialog: QWidget | None = None
        self.notice: QMessageBox | None = None

    def source_path(self) -> Path | None:
        """The SQLite file the window runs on (the copy's source), None on a shared store."""
        if self.store_url is None:
            return data_dir() / "kanjo.sqlite3"
        try:
            return sqlite_path(self.store_url)
        except Exception:
            return None

    def _update_fields(self) -> None:
        shared = self.kind.currentData() == POSTGRESQL
        for field in (self.host, self.port, self.database, self.user, self.password):
            field.setEnabled(shared)

    def choice(self) -> DatabaseChoice:
        if self.kind.currentData() != POSTGRESQL:
            return DatabaseChoice()
        return DatabaseChoice(
            POSTGRESQL,
            self.host.text().strip(),
            self.port.value(),
            self.database.text().strip(),
            self.user.text().strip(),
        )

    def problem(self) -> str | None:
        return self.choice().problem()

    def changed(self) -> bool:
        return self.choice() != self._loaded or bool(self.password.text())

    def save(self) -> str | None:
        """Keep the choice (and a typed password in the keyring). Returns what the operator
        should know (a restart is needed), None when nothing changed. Raises ``UserError``."""
        if not self.changed():
            return None
        choice = self.choice()
        if self.password.text() and choice.shared:
            save_password(choice.account, self.password.text())
        self.password.clear()
        if choice == self._loaded:
            return self._tell("データベースのパスワードを保存しました。次回の起動から使われます。")
        save_choice(self.directory, choice)
        self._loaded = choice
        where = (
            f"共有データベース({choice.host}:{choice.port}/{choice.database})"
            if choice.shared
            else "このPCのデータベース"
        )
        return self._tell(f"次回の起動から{where}を使います。Kanjoを再起動してください。")

    def _tell(self, text: str) -> str:
        """Say it in a non-blocking box on the main window (the settings dialog is closing)."""
        dialog = self.window()
        owner = dialog.parentWidget() if dialog is not None else None
        box = QMessageBox(owner)
        box.setObjectName("databaseNotice")
        box.setIcon(QMessageBox.Icon.Information)
        box.setWindowTitle("データベース")
        box.setText(text)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.notice = box
        return text

    def open_migration(self) -> None:
        from gui.storecopy.migrate_dialog import MigrateDialog

        source = self.source_path()
        if source is None:
            return
        dialog = MigrateDialog(source, self.choice() if self.choice().shared else None, self)
        dialog.copied.connect(self._on_copied)
        self.migration_dialog = dialog
        dialog.open()

    def _on_copied(self, choice: object, password: str) -> None:
        """After a copy: the fields show the shared store copied to, ready to be saved."""
        if not isinstance(choice, DatabaseChoice):
            return
        self.kind.setCurrentIndex(1)
        self.host.setText(choice.host)
        self.port.setValue(choice.port)
        self.database.setText(choice.database)
        self.user.setText(choice.user)
        if password:
            self.password.setText(password)
        self.migrated.emit(choice.url() or "")
