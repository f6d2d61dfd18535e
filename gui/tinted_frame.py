"""A box tinted in a badge tone (success / in progress / attention / failure), used for the
window's banner and the detail panel's notices.

Its colours come from the application palette and follow it when it changes (the desktop
switching between light and dark while Kanjo runs). Links inside take the text colour of
the tone (subclasses re-render them), so they stay readable on the tint in either palette.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFrame, QWidget

from core.domain import Tone
from gui.labels import BadgeColors, badge_colors


class TintedFrame(QFrame):
    def __init__(self, object_name: str, label_css: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(object_name)
        self.tone = Tone.NEUTRAL
        self._label_css = label_css
        self._restyling = False

    def set_tone(self, tone: Tone) -> None:
        self.tone = tone
        self._restyle()

    def _restyle(self) -> None:
        colors = badge_colors(self.tone, QGuiApplication.palette())
        name = self.objectName()
        self._restyling = True
        try:
            self.setStyleSheet(
                f"QFrame#{name} {{ background: {colors.background.name()}; border: 1px solid {colors.border.name()};"
                f" border-radius: 6px; }} QFrame#{name} QLabel, QFrame#{name} QToolButton"
                f" {{ color: {colors.text.name()}; background: transparent; }} {self._label_css}"
            )
            self.tone_applied(colors)
        finally:
            self._restyling = False

    def tone_applied(self, colors: BadgeColors) -> None:
        """Subclasses re-render what a style sheet cannot colour (links in rich text)."""

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        super().changeEvent(event)
        if not self._restyling and event.type() in (
            QEvent.Type.PaletteChange,
            QEvent.Type.ApplicationPaletteChange,
        ):
            self._restyle()
