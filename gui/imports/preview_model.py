"""The rows of an import preview (or result): one per order and one per refused row.

A ``QAbstractTableModel`` over a plain list, so 100,000 rows cost one list and nothing per
cell until the view asks for it (a ``QTableWidget`` would build 700,000 items).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QGuiApplication

from core.domain import Tone
from core.imports.model import RefusedRow
from core.imports.service import ImportSummary
from gui.imports.labels import ACTION_LABELS, changes_text, column_label
from gui.labels import badge_colors

_Index = QModelIndex | QPersistentModelIndex


class PreviewColumn(IntEnum):
    LINE = 0
    NUMBER = 1
    ACTION = 2
    CHANGES = 3
    LINK = 4
    COLUMN = 5
    REASON = 6


HEADERS = ("行", "受注番号", "処理", "変更項目", "連携", "列", "理由")


@dataclass(frozen=True)
class PreviewRow:
    line: int
    number: str
    action: str  # "add" | "update" | "unchanged" | "refused"
    changes: str = ""
    linked: bool = False
    column: str = ""
    reason: str = ""


def refused_rows(refused: Iterable[RefusedRow]) -> list[PreviewRow]:
    return [PreviewRow(r.line, "", "refused", column=column_label(r.column), reason=r.reason) for r in refused]


def rows_of(summary: ImportSummary) -> list[PreviewRow]:
    """Refused rows first (they block the import), then the orders in file order."""
    refused = refused_rows(summary.refused)
    orders = [PreviewRow(o.line, o.number, o.action, changes_text(o.fields), o.linked) for o in summary.orders]
    return refused + sorted(orders, key=lambda r: r.line)


class PreviewModel(QAbstractTableModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[PreviewRow] = []

    def set_rows(self, rows: list[PreviewRow]) -> None:
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def row(self, index: int) -> PreviewRow:
        return self._rows[index]

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(  # noqa: N802 - Qt override
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        column = PreviewColumn(index.column())
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return _text(row, column)
        if role == Qt.ItemDataRole.TextAlignmentRole and column is PreviewColumn.LINE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and row.action == "refused":
            return QBrush(badge_colors(Tone.FAILURE, QGuiApplication.palette()).text)
        if role == Qt.ItemDataRole.BackgroundRole and row.action == "refused":
            return QBrush(badge_colors(Tone.FAILURE, QGuiApplication.palette()).background)
        return None


def _text(row: PreviewRow, column: PreviewColumn) -> str:
    if column is PreviewColumn.LINE:
        return f"{row.line:,}"
    if column is PreviewColumn.NUMBER:
        return row.number
    if column is PreviewColumn.ACTION:
        return ACTION_LABELS[row.action]
    if column is PreviewColumn.CHANGES:
        return row.changes
    if column is PreviewColumn.LINK:
        if row.action == "refused":
            return ""
        return "連携" if row.linked else "—"
    if column is PreviewColumn.COLUMN:
        return row.column or ("—" if row.action == "refused" else "")
    return row.reason
