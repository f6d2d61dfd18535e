"""One tinted line of text in the import dialogs: what was found, or why it cannot go on."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from core.domain import Tone
from gui.tinted_frame import TintedFrame


class MessageFrame(TintedFrame):
    """One tinted line of text: what the dialog found, or why it cannot go on."""

    def __init__(self, object_name: str, parent: QWidget | None = None) -> None:
        super().__init__(object_name, parent=parent)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addWidget(self.label)
        self.hide()

    def show_message(self, text: str, tone: Tone) -> None:
        self.set_tone(tone)
        self.label.setText(text)
        self.show()

    def text(self) -> str:
        return self.label.text() if not self.isHidden() else ""
