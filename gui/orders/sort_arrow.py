"""The list's sort arrow points the way the rows run (issue 16 item 5).

QHeaderView hands the style ``SortDown`` for an ascending sort (a convention from old Windows),
and Fusion draws it as ▼; with 与信期限 ascending (the soonest expiry first) the arrow then
pointed down, and newest-first 受注日時 pointed up. This proxy style swaps the two for the
header only: ▲ ascending (small to large, top to bottom), ▼ descending, as desktop file lists
and spreadsheets show it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QProxyStyle, QStyle, QStyleOption, QStyleOptionHeader, QWidget

SortIndicator = QStyleOptionHeader.SortIndicator


def arrow_for(order: Qt.SortOrder) -> SortIndicator:
    """The arrow shown for a sort order: up for ascending, down for descending."""
    return SortIndicator.SortUp if order == Qt.SortOrder.AscendingOrder else SortIndicator.SortDown


def _order_qt_meant(indicator: SortIndicator) -> Qt.SortOrder:
    # QHeaderView: ascending → SortDown, descending → SortUp.
    return Qt.SortOrder.AscendingOrder if indicator == SortIndicator.SortDown else Qt.SortOrder.DescendingOrder


class SortArrowStyle(QProxyStyle):
    def drawPrimitive(  # noqa: N802 - Qt override
        self,
        element: QStyle.PrimitiveElement,
        option: QStyleOption,
        painter: QPainter,
        widget: QWidget | None = None,
    ) -> None:
        if (
            element == QStyle.PrimitiveElement.PE_IndicatorHeaderArrow
            and isinstance(option, QStyleOptionHeader)
            and option.sortIndicator != SortIndicator.None_
        ):
            flipped = QStyleOptionHeader(option)
            flipped.sortIndicator = arrow_for(_order_qt_meant(option.sortIndicator))
            super().drawPrimitive(element, flipped, painter, widget)
            return
        super().drawPrimitive(element, option, painter, widget)
