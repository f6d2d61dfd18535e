"""バージョン情報: the version, and the licenses of the bundled components (Qt LGPL notice included)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase, QPixmap
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from core import __version__
from core.resources import resource_path


def notices_text() -> str:
    path = resource_path("licenses", "THIRD_PARTY_NOTICES.txt")
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return f"ライセンス情報のファイルが見つかりません: {path}"


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("勘定 Kanjo について")
        self.resize(640, 520)
        header = QHBoxLayout()
        icon = QLabel()
        icon.setPixmap(QPixmap(str(resource_path("icons", "kanjo-64.png"))))
        header.addWidget(icon)
        self.version_label = QLabel(
            f"<b>勘定 Kanjo</b> バージョン {__version__}<br>Amazon Payの受注・決済を一つの画面で扱う受注デスクです。"
        )
        self.version_label.setTextFormat(Qt.TextFormat.RichText)
        header.addWidget(self.version_label, 1)
        self.notices = QPlainTextEdit(notices_text())
        self.notices.setReadOnly(True)
        self.notices.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(QLabel("同梱しているソフトウェアとライセンス:"))
        layout.addWidget(self.notices, 1)
        layout.addWidget(buttons)

    @classmethod
    def ask(cls, parent: QWidget | None = None) -> None:
        cls(parent).exec()
