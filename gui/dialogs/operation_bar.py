"""The row of operation buttons in the detail panel (金額変更・返金・キャンセル・決済方法の変更・入金日取消).

Whether an operation makes sense is asked of core itself (its previews, on the read lane), so a
disabled button's tooltip is the rule's own Japanese reason, never a second opinion kept here.
The bar only emits requests; :class:`gui.dialogs.controller.PaymentDialogs` opens the dialogs
and runs the operations.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtWidgets import QLabel, QLayout, QLayoutItem, QPushButton, QWidget

from core.errors import UserError
from core.queries import OrderDetail
from core.services.payments import PaymentService
from gui.dialogs.common import CHECKING, with_rule
from gui.menus import Keys, with_shortcut


class Operation(StrEnum):
    AMOUNT = "amount_change"
    REFUND = "refund"
    CANCEL = "cancel"
    CHANGE_METHOD = "change_method"
    CLEAR_PAYMENT_DATE = "clear_payment_date"

    @property
    def label(self) -> str:
        return OPERATION_LABELS[self]


OPERATION_LABELS: dict[Operation, str] = {
    Operation.AMOUNT: "金額変更",
    Operation.REFUND: "返金",
    Operation.CANCEL: "キャンセル",
    Operation.CHANGE_METHOD: "決済方法の変更",
    Operation.CLEAR_PAYMENT_DATE: "入金日取消",
}
OPERATION_TIPS: dict[Operation, str] = {
    Operation.AMOUNT: "商品・送料・手数料・値引きを変えて受注金額を変更します(入金処理の前, R26)。",
    Operation.REFUND: "売上の全額または一部を返金します(R39)。",
    Operation.CANCEL: "受注をキャンセルします。売上確定後なら全額を返金します(R35)。",
    Operation.CHANGE_METHOD: "Amazon Payから別の決済方法に変更します(R33)。",
    Operation.CLEAR_PAYMENT_DATE: "記録した入金日を取り消します。Amazonには送信せず、返金もしません(R37)。",
}
# Shortcuts of the daily operations (issue 16 item 1), shown in their tooltips.
OPERATION_KEYS: dict[Operation, str] = {Operation.AMOUNT: Keys.AMOUNT, Operation.REFUND: Keys.REFUND}
NO_ORDER = "受注が選ばれていません。"
BUSY = "この受注の処理中です。結果が出るまでお待ちください。"
NO_PAYMENT_DATE = "入金日が記録されていません(R37)。"


def operation_reasons(payments: PaymentService, detail: OrderDetail) -> dict[Operation, str | None]:
    """Why each operation cannot be done now (None: it can), from core's previews.

    Runs on the read lane. A rule's refusal is a reason; any other exception is a bug and
    propagates.
    """
    number = detail.number
    reasons: dict[Operation, str | None] = {}
    change = payments.amount_preview(number, detail.total)  # the same total: only "may it change at all"
    reasons[Operation.AMOUNT] = None if change.allowed else with_rule(change.refusal or "", change.rule)
    for operation, preview in (
        (Operation.REFUND, lambda: payments.refund_preview(number, None)),
        (Operation.CANCEL, lambda: payments.cancel_preview(number)),
        (Operation.CHANGE_METHOD, lambda: payments.change_method_preview(number, "other")),
    ):
        try:
            preview()
        except UserError as exc:
            reasons[operation] = with_rule(exc.message, exc.code)
        else:
            reasons[operation] = None
    reasons[Operation.CLEAR_PAYMENT_DATE] = None if detail.payment_date is not None else NO_PAYMENT_DATE
    return reasons


class FlowLayout(QLayout):
    """Left to right, wrapping to a new line when the panel is narrow (Qt's flow layout example)."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 4) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self.setContentsMargins(0, 0, 0, 0)
        self.setSpacing(spacing)

    def addItem(self, item: QLayoutItem) -> None:  # noqa: N802 - Qt override
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 - Qt override
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 - Qt override
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:  # noqa: N802 - Qt override
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt override
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 - Qt override
        return self._arrange(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802 - Qt override
        super().setGeometry(rect)
        self._arrange(rect, move=True)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        width = sum(i.sizeHint().width() for i in self._items) + self.spacing() * max(len(self._items) - 1, 0)
        height = max((i.sizeHint().height() for i in self._items), default=0)
        return QSize(width, height)

    def minimumSize(self) -> QSize:  # noqa: N802 - Qt override
        size = QSize()
        for item in self._items:
            size = size.expandedTo(item.minimumSize())
        return size

    def _arrange(self, rect: QRect, *, move: bool) -> int:
        x, y, line = rect.x(), rect.y(), 0
        for item in self._items:
            hint = item.sizeHint()
            if x > rect.x() and x + hint.width() > rect.right() + 1:
                x, y, line = rect.x(), y + line + self.spacing(), 0
            if move:
                item.setGeometry(QRect(QPoint(x, y), hint))
            x += hint.width() + self.spacing()
            line = max(line, hint.height())
        return y + line - rect.y()


class OperationBar(QWidget):
    """Buttons for the operations on the order shown.

    Signals:
        requested(str): an Operation value; the button was pressed and is enabled.
        detail_changed(object): the order shown changed (an OrderDetail, or None); its
            availability is wanted.
    """

    requested = Signal(str)
    detail_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("operationBar")
        self._detail: OrderDetail | None = None
        self._busy = False
        self._reasons: Mapping[Operation, str | None] | None = None
        self.buttons: dict[Operation, QPushButton] = {}
        layout = FlowLayout(self)
        caption = QLabel("操作:")
        caption.setObjectName("operationCaption")
        layout.addWidget(caption)
        for operation in Operation:
            button = QPushButton(f"{operation.label}…")
            button.setObjectName(f"{operation.value}Button")
            button.setAutoDefault(False)
            button.clicked.connect(lambda _checked=False, op=operation: self._on_button_clicked(op))
            self.buttons[operation] = button
            layout.addWidget(button)
        caption.setAlignment(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft)
        caption.setMinimumHeight(max(b.sizeHint().height() for b in self.buttons.values()))
        self._update()

    @property
    def detail(self) -> OrderDetail | None:
        return self._detail

    def button(self, operation: Operation) -> QPushButton:
        return self.buttons[operation]

    def set_detail(self, detail: OrderDetail | None) -> None:
        self._detail = detail
        self._reasons = None  # until core answers, nothing is offered
        self._update()
        self.detail_changed.emit(detail)

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        self._update()

    def set_availability(self, number: str, reasons: Mapping[Operation, str | None]) -> None:
        """Core's answer for ``number`` (ignored when another order is shown by now)."""
        if self._detail is None or self._detail.number != number:
            return
        self._reasons = dict(reasons)
        self._update()

    def _update(self) -> None:
        for operation, button in self.buttons.items():
            if self._detail is None:
                enabled, tip = False, NO_ORDER
            elif self._busy:
                enabled, tip = False, BUSY
            elif self._reasons is None:
                enabled, tip = False, CHECKING
            else:
                reason = self._reasons.get(operation)
                enabled, tip = reason is None, reason or OPERATION_TIPS[operation]
            button.setEnabled(enabled)
            button.setToolTip(with_shortcut(tip, OPERATION_KEYS.get(operation, "")))

    def refusal(self, operation: Operation) -> str:
        """Why ``operation``'s button is off now ('' when it is on): for a shortcut pressed anyway."""
        if self._detail is None:
            return NO_ORDER
        if self._busy:
            return BUSY
        if self._reasons is None:
            return CHECKING
        return self._reasons.get(operation) or ""

    def _on_button_clicked(self, operation: Operation) -> None:
        if self._detail is not None and self.buttons[operation].isEnabled():
            self.requested.emit(operation.value)
