"""Badges: each R10 label (and order status) painted as a coloured pill with its exact text.

One painting function serves the table delegate and the :class:`BadgeLabel` widget of the
detail panel, so the list and the panel look the same. Geometry is in logical pixels with
antialiasing: QPainter scales it for HiDPI screens. Colours come from ``gui.labels``.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRectF, QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QPainter, QPalette, QPen
from PySide6.QtWidgets import QApplication, QSizePolicy, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from core.domain import Tone
from gui.labels import badge_colors

H_PADDING = 8  # logical pixels left and right of the text inside the pill
V_PADDING = 2
MARGIN = 4  # around the pill inside its cell


def badge_font(base: QFont) -> QFont:
    font = QFont(base)
    font.setWeight(QFont.Weight.DemiBold)
    return font


def badge_size(text: str, font: QFont) -> QSize:
    metrics = QFontMetrics(badge_font(font))
    return QSize(metrics.horizontalAdvance(text) + 2 * H_PADDING, metrics.height() + 2 * V_PADDING)


def paint_badge(painter: QPainter, cell: QRectF, text: str, tone: Tone, palette: QPalette, font: QFont) -> QRectF:
    """Paint the pill for ``text`` left-aligned and vertically centred in ``cell``; return its rect."""
    font = badge_font(font)
    metrics = QFontMetrics(font)
    available = max(0.0, cell.width() - 2 * MARGIN)
    shown = text
    width: float = metrics.horizontalAdvance(text) + 2 * H_PADDING
    if width > available:
        shown = metrics.elidedText(text, Qt.TextElideMode.ElideRight, int(available - 2 * H_PADDING))
        width = available
    height = min(metrics.height() + 2 * V_PADDING, cell.height() - 2)
    pill = QRectF(cell.left() + MARGIN, cell.center().y() - height / 2, width, height)
    colors = badge_colors(tone, palette)
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
    painter.setPen(QPen(colors.border, 1.0))
    painter.setBrush(colors.background)
    radius = height / 2
    painter.drawRoundedRect(pill.adjusted(0.5, 0.5, -0.5, -0.5), radius, radius)
    painter.setFont(font)
    painter.setPen(colors.text)
    painter.drawText(pill, int(Qt.AlignmentFlag.AlignCenter), shown)
    painter.restore()
    return pill


def _tone(value: object) -> Tone | None:
    try:
        return Tone(str(value)) if value else None
    except ValueError:
        return None


class BadgeDelegate(QStyledItemDelegate):
    """Paints ``index.data(text_role)`` as a pill in the colour of ``index.data(tone_role)``.

    Cells without a tone (a page still loading) are painted as plain text.
    """

    def __init__(self, text_role: int, tone_role: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._text_role = text_role
        self._tone_role = tone_role

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        tone = _tone(index.data(self._tone_role))  # Qt hands a StrEnum back as plain str
        text = index.data(self._text_role)
        if tone is None or not text:
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""  # the style paints the cell (selection, focus); the pill paints the text
        style = opt.widget.style() if opt.widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        paint_badge(painter, QRectF(opt.rect), str(text), tone, opt.palette, opt.font)

    def sizeHint(  # noqa: N802 - Qt override
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        text = index.data(self._text_role)
        if not text:
            return super().sizeHint(option, index)
        size = badge_size(str(text), option.font)
        return QSize(size.width() + 2 * MARGIN, size.height() + 2 * MARGIN)


class BadgeLabel(QWidget):
    """A single badge, for the detail panel."""

    def __init__(self, text: str = "", tone: Tone = Tone.NEUTRAL, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._text = text
        self._tone = tone
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    def set_badge(self, text: str, tone: Tone) -> None:
        self._text, self._tone = text, tone
        self.setToolTip(text)
        self.updateGeometry()
        self.update()

    def text(self) -> str:
        return self._text

    def tone(self) -> Tone:
        return self._tone

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        size = badge_size(self._text, self.font())
        return QSize(size.width() + 2 * MARGIN, size.height() + 2 * MARGIN)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return self.sizeHint()

    def paintEvent(self, _event: object) -> None:  # noqa: N802 - Qt override
        if not self._text:
            return
        painter = QPainter(self)
        paint_badge(painter, QRectF(self.rect()), self._text, self._tone, self.palette(), self.font())
        painter.end()
