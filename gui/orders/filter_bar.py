"""The filter bar above the order list: status, kind, dates, "needs action" and free-text search.

Emits a ``core.order_pages.OrderFilter``; the list filters in SQL. Typing in the search box
waits ``SEARCH_DELAY_MS`` for a pause (Enter applies at once), so every keystroke does not
start a query.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from datetime import date
from typing import Generic, TypeVar

from PySide6.QtCore import QDate, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
    QWidgetAction,
)

from core.domain import OrderKind, OrderStatus, PaymentStatus
from core.order_pages import MAX_ACTION_DAYS, OrderFilter

SEARCH_DELAY_MS = 300
K = TypeVar("K", bound=Hashable)


class MultiSelectButton(QToolButton, Generic[K]):
    """A drop-down of check boxes; the button shows how many are chosen.

    Signals:
        changed(): the choice changed.
    """

    changed = Signal()

    def __init__(self, title: str, choices: Sequence[tuple[K, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._title = title
        self._keys: list[K] = [key for key, _ in choices]
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.list = QListWidget()
        for _key, label in choices:
            item = QListWidgetItem(label)
            # Not user-checkable: a click anywhere on the line toggles it (see _on_item_clicked),
            # not only a click on the small box.
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.list.addItem(item)
        self.list.setMinimumWidth(self.list.sizeHintForColumn(0) + 40)
        self.list.setFixedHeight(self.list.sizeHintForRow(0) * len(choices) + 2 * self.list.frameWidth() + 4)
        menu = QMenu(self)
        holder = QWidget()
        layout = QVBoxLayout(holder)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list)
        clear = QPushButton("すべて解除")
        clear.clicked.connect(lambda: self.set_selected(set()))
        layout.addWidget(clear)
        action = QWidgetAction(menu)
        action.setDefaultWidget(holder)
        menu.addAction(action)
        self.setMenu(menu)
        self.list.itemChanged.connect(self._on_item_changed)
        self.list.itemClicked.connect(self._on_item_clicked)
        self._update_text()

    def selected(self) -> set[K]:
        return {key for row, key in enumerate(self._keys) if self.list.item(row).checkState() == Qt.CheckState.Checked}

    def set_selected(self, keys: set[K]) -> None:
        self.list.blockSignals(True)
        for row, key in enumerate(self._keys):
            self.list.item(row).setCheckState(Qt.CheckState.Checked if key in keys else Qt.CheckState.Unchecked)
        self.list.blockSignals(False)
        self._update_text()
        self.changed.emit()

    def _on_item_clicked(self, item: QListWidgetItem) -> None:
        checked = item.checkState() == Qt.CheckState.Checked
        item.setCheckState(Qt.CheckState.Unchecked if checked else Qt.CheckState.Checked)

    def _on_item_changed(self, _item: QListWidgetItem) -> None:
        self._update_text()
        self.changed.emit()

    def _update_text(self) -> None:
        count = len(self.selected())
        self.setText(f"{self._title}({count})" if count else self._title)


class FilterBar(QWidget):
    """Signals:
    changed(object): the new OrderFilter.
    """

    changed = Signal(object)

    def __init__(self, today: date | None = None, parent: QWidget | None = None) -> None:
        """``today``: the Japan calendar date the date range starts from (the app clock's)."""
        super().__init__(parent)
        self.search = QLineEdit()
        self.search.setObjectName("search")
        self.search.setPlaceholderText(
            "受注番号・顧客名・フリガナ・メール・電話番号で検索(かなはひらがな・カタカナどちらでも)"
        )
        self.search.setClearButtonEnabled(True)
        self.payment = MultiSelectButton[PaymentStatus](
            "与信ステータス", [(status, status.value) for status in PaymentStatus]
        )
        self.order_status = MultiSelectButton[OrderStatus](
            "受注ステータス", [(status, status.label) for status in OrderStatus]
        )
        self.kind = QComboBox()
        self.kind.addItem("すべての種別", None)
        for kind in OrderKind:
            self.kind.addItem(kind.label, kind)
        self.use_dates = QCheckBox("受注日")
        start = QDate(today) if today is not None else QDate.currentDate()
        self.date_from = QDateEdit(start.addMonths(-1))
        self.date_to = QDateEdit(start)
        for edit in (self.date_from, self.date_to):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy/MM/dd")
            edit.setEnabled(False)
        self.needs_action = QCheckBox("要対応のみ")
        self.needs_action.setObjectName("needsAction")
        self.needs_action.setToolTip(
            "与信期限が近い・再与信が必要(承認完了)・承認失敗・請求却下・返金却下・保留・同期失敗の受注"
        )
        self.action_days = QSpinBox()
        self.action_days.setRange(1, MAX_ACTION_DAYS)
        self.action_days.setValue(7)
        self.action_days.setPrefix("与信期限 ")
        self.action_days.setSuffix(" 日以内")
        self.clear_button = QPushButton("条件をクリア")

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.search, 1)
        top.addWidget(self.needs_action)
        top.addWidget(self.action_days)
        top.addWidget(self.clear_button)
        bottom = QHBoxLayout()
        bottom.setContentsMargins(0, 0, 0, 0)
        bottom.addWidget(self.payment)
        bottom.addWidget(self.order_status)
        bottom.addWidget(self.kind)
        bottom.addSpacing(12)
        bottom.addWidget(self.use_dates)
        bottom.addWidget(self.date_from)
        bottom.addWidget(QLabel("〜"))
        bottom.addWidget(self.date_to)
        bottom.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(6)
        layout.addLayout(top)
        layout.addLayout(bottom)

        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self._emit)
        self.search.textChanged.connect(lambda _text: self._search_timer.start())
        self.search.returnPressed.connect(self.apply_now)
        self.payment.changed.connect(self._emit)
        self.order_status.changed.connect(self._emit)
        self.kind.currentIndexChanged.connect(lambda _i: self._emit())
        self.use_dates.toggled.connect(self._on_dates_toggled)
        self.date_to.setMinimumDate(self.date_from.date())
        self.date_from.dateChanged.connect(self._on_date_from_changed)
        self.date_to.dateChanged.connect(lambda _d: self._emit_if_dates())
        self.needs_action.toggled.connect(lambda _on: self._emit())
        self.action_days.valueChanged.connect(lambda _v: self._emit_if_needs_action())
        self.clear_button.clicked.connect(self.clear)
        self._last: OrderFilter | None = None

    def current(self) -> OrderFilter:
        kind = self.kind.currentData()  # Qt hands the StrEnum back as plain str
        return OrderFilter(
            payment_statuses=frozenset(self.payment.selected()),
            order_statuses=frozenset(self.order_status.selected()),
            kinds=frozenset({OrderKind(kind)}) if kind else frozenset(),
            date_from=_to_date(self.date_from.date()) if self.use_dates.isChecked() else None,
            date_to=_to_date(self.date_to.date()) if self.use_dates.isChecked() else None,
            needs_action=self.needs_action.isChecked(),
            action_days=self.action_days.value(),
            text=self.search.text(),
        )

    def apply_now(self) -> None:
        """Apply the search text without waiting for a pause."""
        self._search_timer.stop()
        self._emit()

    def clear(self) -> None:
        for widget in (self.payment, self.order_status, self.kind, self.use_dates, self.needs_action, self.search):
            widget.blockSignals(True)
        self.payment.set_selected(set())
        self.order_status.set_selected(set())
        self.kind.setCurrentIndex(0)
        self.use_dates.setChecked(False)
        self._on_dates_toggled(False, emit=False)
        self.needs_action.setChecked(False)
        self.search.clear()
        for widget in (self.payment, self.order_status, self.kind, self.use_dates, self.needs_action, self.search):
            widget.blockSignals(False)
        self._search_timer.stop()
        self._emit()

    def _on_dates_toggled(self, on: bool, *, emit: bool = True) -> None:
        self.date_from.setEnabled(on)
        self.date_to.setEnabled(on)
        if emit:
            self._emit()

    def _on_date_from_changed(self, day: QDate) -> None:
        # The end never comes before the start (a start after it moves it along): one change, one query.
        self.date_to.blockSignals(True)
        self.date_to.setMinimumDate(day)
        self.date_to.blockSignals(False)
        self._emit_if_dates()

    def _emit_if_dates(self) -> None:
        if self.use_dates.isChecked():
            self._emit()

    def _emit_if_needs_action(self) -> None:
        if self.needs_action.isChecked():
            self._emit()

    def _emit(self) -> None:
        current = self.current()
        if current != self._last:
            self._last = current
            self.changed.emit(current)


def _to_date(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())
