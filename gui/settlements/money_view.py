"""お金の流れ (issue 13 item 6): this month's money by day, expiring authorizations, deposits.

The bar chart is drawn with QPainter: QtCharts would add PySide6-Addons (about 100 MB to the
installer) and pyqtgraph numpy (about 40 MB), for four bar series. Clicking a bar lists the
orders behind it under the chart; double-clicking one of them asks the main window to show that
order (``order_chosen``). Everything is read on the worker's read lane, never on the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.clock import format_jst, to_jst
from core.money import format_yen
from core.settlements.month import SERIES, SERIES_LABELS, DayMoney
from gui.tasks import READ, TaskRunner

if TYPE_CHECKING:
    from core.settlements.service import SettlementService, SettlementSummary

COLORS = {
    "captured": QColor("#2e7d32"),
    "refunded": QColor("#c62828"),
    "fees": QColor("#ef6c00"),
    "net": QColor("#1565c0"),
}


@dataclass(frozen=True)
class MonthData:
    year: int
    month: int
    days: list[DayMoney]
    expiring: list[tuple[str, int, datetime]]
    settlements: list[SettlementSummary]
    open_since: datetime | None
    open_amount: int


class BarChart(QWidget):
    """Grouped bars, one group per day, one bar per series; ``bar_clicked(day, series)``."""

    bar_clicked = Signal(object, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.days: list[DayMoney] = []
        self.selected: tuple[date, str] | None = None
        self.setMinimumSize(QSize(640, 260))
        self.setMouseTracking(True)
        self.setToolTip("棒をクリックすると、その日の受注を下に表示します。")

    def set_days(self, days: list[DayMoney]) -> None:
        self.days = days
        self.selected = None
        self.update()

    # --- geometry (shared by painting and clicking) ----------------------------------------

    def _plot(self) -> QRectF:
        return QRectF(72, 28, max(10, self.width() - 84), max(10, self.height() - 60))

    def _scale(self) -> tuple[int, int]:
        values = [d.value(s) for d in self.days for s in SERIES] or [0]
        return max(max(values), 1), min(min(values), 0)

    def bar_rect(self, index: int, series_index: int) -> QRectF:
        plot = self._plot()
        top, bottom = self._scale()
        span = top - bottom
        group = plot.width() / max(len(self.days), 1)
        width = group * 0.8 / len(SERIES)
        x = plot.left() + index * group + group * 0.1 + series_index * width
        zero = plot.top() + plot.height() * top / span
        value = self.days[index].value(SERIES[series_index])
        height = plot.height() * abs(value) / span
        y = zero - height if value >= 0 else zero
        return QRectF(x, y, max(width - 1, 1), max(height, 1 if value else 0))

    def bar_at(self, point: QPointF) -> tuple[date, str] | None:
        for index, day in enumerate(self.days):
            for series_index, series in enumerate(SERIES):
                if day.value(series) and self.bar_rect(index, series_index).adjusted(0, -2, 0, 2).contains(point):
                    return day.day, series
        return None

    # --- Qt ----------------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), self.palette().base())
        plot = self._plot()
        top, bottom = self._scale()
        span = top - bottom
        painter.setPen(QPen(self.palette().mid().color()))
        small = QFont(self.font())
        small.setPointSizeF(max(self.font().pointSizeF() * 0.8, 6))
        painter.setFont(small)
        for step in range(5):
            value = bottom + span * step / 4
            y = plot.top() + plot.height() * (top - value) / span
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            painter.drawText(
                QRectF(0, y - 8, plot.left() - 6, 16),
                int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                format_yen(int(value)),
            )
        group = plot.width() / max(len(self.days), 1)
        for index, day in enumerate(self.days):
            for series_index, series in enumerate(SERIES):
                if not day.value(series):
                    continue
                color = QColor(COLORS[series])
                if self.selected == (day.day, series):
                    painter.setPen(QPen(self.palette().text().color(), 2))
                else:
                    painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(color)
                painter.drawRect(self.bar_rect(index, series_index))
            if index % 2 == 0 or len(self.days) <= 16:
                painter.setPen(QPen(self.palette().text().color()))
                painter.drawText(
                    QRectF(plot.left() + index * group, plot.bottom() + 4, group, 16),
                    int(Qt.AlignmentFlag.AlignHCenter),
                    str(day.day.day),
                )
        x = plot.left()
        for series in SERIES:  # the legend
            painter.setBrush(COLORS[series])
            painter.setPen(Qt.PenStyle.NoPen)
            painter.drawRect(QRectF(x, 8, 12, 12))
            painter.setPen(QPen(self.palette().text().color()))
            painter.drawText(QRectF(x + 16, 4, 80, 20), int(Qt.AlignmentFlag.AlignVCenter), SERIES_LABELS[series])
            x += 90
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        hit = self.bar_at(event.position())
        if hit is not None:
            self.selected = hit
            self.update()
            self.bar_clicked.emit(*hit)
        super().mousePressEvent(event)


class MoneyView(QDialog):
    """The window's money view; ``order_chosen(number)`` when an order behind a bar is opened."""

    order_chosen = Signal(str)
    loaded = Signal()

    def __init__(
        self, service: SettlementService, runner: TaskRunner, today: date, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("moneyView")
        self.setWindowTitle("お金の流れ(今月・入金)")
        self.service = service
        self.runner = runner
        self.year, self.month = today.year, today.month
        self.data: MonthData | None = None
        self.title = QLabel()
        self.title.setObjectName("moneyTitle")
        self.totals = QLabel()
        self.chart = BarChart()
        self.chart.bar_clicked.connect(self.show_bar)
        self.behind_label = QLabel("棒をクリックすると、その内訳の受注を表示します。")
        self.behind = self._table(["受注番号", "金額"])
        self.behind.setObjectName("ordersBehindBar")
        self.behind.itemDoubleClicked.connect(self._open_order)
        self.expiring = self._table(["受注番号", "与信額", "与信の期限", "残り"])
        self.expiring.setObjectName("expiringAuthorizations")
        self.deposits = self._table(["精算ID", "期間", "売上", "返金", "手数料", "入金額", "状態"])
        self.deposits.setObjectName("deposits")
        previous, following = QPushButton("◀ 前月"), QPushButton("翌月 ▶")
        previous.clicked.connect(lambda: self.shift(-1))
        following.clicked.connect(lambda: self.shift(1))
        close = QPushButton("閉じる")
        close.clicked.connect(self.close)
        self.fetch_button = QPushButton("精算レポートを取得")
        self.fetch_button.setObjectName("fetchSettlements")
        self.fetch_button.setToolTip("Amazon Payから、まだ読んでいない精算レポートと入金情報を読み込みます。")
        self.fetch_button.clicked.connect(self.fetch)
        self.status = QLabel()
        self.status.setObjectName("moneyStatus")

        header = QHBoxLayout()
        header.addWidget(previous)
        header.addWidget(self.title, 1, Qt.AlignmentFlag.AlignCenter)
        header.addWidget(following)
        upper = QWidget()
        upper_layout = QVBoxLayout(upper)
        upper_layout.setContentsMargins(0, 0, 0, 0)
        upper_layout.addLayout(header)
        upper_layout.addWidget(self.totals)
        upper_layout.addWidget(self.chart, 1)
        tabs = QTabWidget()
        behind_page = QWidget()
        behind_layout = QVBoxLayout(behind_page)
        behind_layout.addWidget(self.behind_label)
        behind_layout.addWidget(self.behind)
        tabs.addTab(behind_page, "棒の受注")
        tabs.addTab(self.expiring, "14日以内に期限が来る与信")
        tabs.addTab(self.deposits, "入金(精算)")
        self.tabs = tabs
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(upper)
        splitter.addWidget(tabs)
        splitter.setSizes([420, 300])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.fetch_button)
        buttons.addWidget(self.status, 1)
        buttons.addWidget(close)
        layout.addLayout(buttons)
        self.resize(1100, 760)

    @staticmethod
    def _table(headers: list[str]) -> QTableWidget:
        table = QTableWidget(0, len(headers))
        table.setHorizontalHeaderLabels(headers)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.verticalHeader().setVisible(False)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        table.horizontalHeader().setStretchLastSection(True)
        return table

    # --- loading (read lane) -------------------------------------------------------------

    def start(self) -> None:
        self.title.setText(f"{self.year}年{self.month}月 読み込み中…")
        year, month, service = self.year, self.month, self.service

        def read() -> MonthData:
            since, amount = service.open_balance()
            return MonthData(
                year, month, service.month(year, month), service.expiring(14), service.summaries(), since, amount
            )

        self.runner.run(read, self._show, self._failed, lane=READ)

    def fetch(self) -> None:
        """精算レポートを取得: the reports not read yet, on the work lane (HTTP), then the month again."""
        self.fetch_button.setEnabled(False)
        self.status.setText("精算レポートを取得しています…")
        service = self.service

        def done(result: Any) -> None:
            self.fetch_button.setEnabled(True)
            self.status.setText(
                f"精算レポート {len(result.imported)}件を読み込みました(入金情報 {result.disbursements}件)。"
            )
            self.start()

        def failed(exc: BaseException) -> None:
            from gui.errors import error_message

            self.fetch_button.setEnabled(True)
            self.status.setText(f"取得できませんでした: {error_message(exc)}")

        self.runner.run(service.fetch, done, failed)

    def shift(self, months: int) -> None:
        index = self.year * 12 + self.month - 1 + months
        self.year, self.month = index // 12, index % 12 + 1
        self.start()

    def _failed(self, exc: BaseException) -> None:
        from gui.errors import error_message

        self.title.setText(f"{self.year}年{self.month}月: 読み込めませんでした({error_message(exc)})")

    def _show(self, data: MonthData) -> None:
        if (data.year, data.month) != (self.year, self.month):
            return  # an older request finished after the operator moved on
        self.data = data
        self.title.setText(f"{data.year}年{data.month}月")
        sums = {series: sum(day.value(series) for day in data.days) for series in SERIES}
        self.totals.setText(
            "  ".join(f"{SERIES_LABELS[s]} {format_yen(sums[s])}" for s in SERIES)
            + "(手数料は読み込んだ精算レポートの分)"
        )
        self.chart.set_days(data.days)
        self._fill(
            self.expiring,
            [
                (
                    number,
                    format_yen(amount),
                    format_jst(expires),
                    f"{max((to_jst(expires) - to_jst(datetime.now(expires.tzinfo))).days, 0)}日",
                )
                for number, amount, expires in data.expiring
            ],
        )
        rows: list[tuple[Any, ...]] = []
        if data.open_since is not None or data.open_amount:
            rows.append(
                (
                    "(未精算)",
                    f"{format_jst(data.open_since)}〜" if data.open_since else "〜",
                    "",
                    "",
                    "",
                    f"{format_yen(data.open_amount)}(手数料前)",
                    "次の精算待ち",
                )
            )
        for s in reversed(data.settlements):
            state = s.disbursement_status or ("入金済" if s.deposit is not None else "未確定")
            rows.append(
                (
                    s.id,
                    f"{format_jst(s.start)}〜{format_jst(s.end)}",
                    format_yen(s.captured),
                    format_yen(s.refunded),
                    format_yen(s.fees),
                    format_yen(s.deposit) if s.deposit is not None else "未確定",
                    {"Disbursed": "入金済", "Pending": "入金予定"}.get(state, state),
                )
            )
        self._fill(self.deposits, rows)
        self.loaded.emit()

    @staticmethod
    def _fill(table: QTableWidget, rows: list[tuple[Any, ...]]) -> None:
        table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                table.setItem(r, c, QTableWidgetItem(str(value)))

    def show_bar(self, day: date, series: str) -> None:
        """The orders behind the bar of ``series`` on ``day``, in the list under the chart."""
        if self.data is None:
            return
        found = next((d for d in self.data.days if d.day == day), None)
        orders = found.orders_behind(series) if found else []
        self.behind_label.setText(
            f"{day:%Y/%m/%d} の{SERIES_LABELS[series]}: {len(orders)}件(ダブルクリックで受注を表示)"
        )
        self._fill(self.behind, [(number, format_yen(amount)) for number, amount in orders])
        self.tabs.setCurrentIndex(0)

    def orders_shown(self) -> list[str]:
        return [cell.text() for row in range(self.behind.rowCount()) if (cell := self.behind.item(row, 0))]

    def _open_order(self, item: QTableWidgetItem) -> None:
        cell = self.behind.item(item.row(), 0)
        if cell is not None:
            self.order_chosen.emit(cell.text())
