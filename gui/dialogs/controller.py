"""Wires the operation bar to the dialogs and the dialogs to :class:`gui.orders.actions.OrderActions`.

For the order shown, core is asked (read lane) which operations make sense, and the bar's
buttons follow. A button opens its dialog (``ask``, which tests monkeypatch); what the operator
confirmed runs as an ``OrderActions`` task on the work lane, so the order is busy (buttons
disabled) until the outcome is known, and the window shows the outcome and refreshes the row
and the detail exactly as for 入金処理.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

from core.queries import OrderDetail
from core.services.payments import PaymentService
from gui.dialogs.common import run_read
from gui.dialogs.operation_bar import Operation, OperationBar, operation_reasons
from gui.errors import error_message
from gui.orders.actions import OrderActions
from gui.tasks import TaskRunner


class PaymentDialogs(QObject):
    def __init__(
        self,
        payments: PaymentService,
        actions: OrderActions,
        runner: TaskRunner,
        bar: OperationBar,
        window: QWidget,
        *,
        on_bug: Callable[[BaseException], None] | None = None,
    ) -> None:
        super().__init__(window)
        self._payments = payments
        self._actions = actions
        self._runner = runner
        self._bar = bar
        self._window = window
        self._on_bug = on_bug
        self._generation = 0
        bar.detail_changed.connect(self._on_bar_detail_changed)
        bar.requested.connect(self._on_bar_requested)

    # --- availability --------------------------------------------------------------------

    def _on_bar_detail_changed(self, detail: OrderDetail | None) -> None:
        self._generation += 1
        if detail is None:
            return
        generation = self._generation
        payments = self._payments

        def shown(reasons: dict[Operation, str | None]) -> None:
            if generation == self._generation:
                self._bar.set_availability(detail.number, reasons)

        def failed(exc: BaseException) -> None:
            if generation != self._generation:
                return
            self._bar.set_availability(detail.number, dict.fromkeys(Operation, error_message(exc)))
            if self._on_bug is not None:
                self._on_bug(exc)

        run_read(self._runner, lambda: operation_reasons(payments, detail), shown, failed)

    # --- operations ----------------------------------------------------------------------

    def _on_bar_requested(self, operation: str) -> None:
        self.open(Operation(operation))

    def open(self, operation: Operation) -> bool:
        """Ask with the operation's dialog, then run it; False when nothing was started."""
        # The dialogs are imported when one is first opened, not before the window's first
        # paint (issue 10 item 16).
        from gui.dialogs.amount_dialog import AmountChangeDialog
        from gui.dialogs.payment_date_dialog import ClearPaymentDateDialog
        from gui.dialogs.refund_dialog import RefundDialog
        from gui.dialogs.withdrawal_dialogs import CancelDialog, ChangeMethodDialog

        detail = self._bar.detail
        if detail is None:
            return False
        number = detail.number
        if operation is Operation.AMOUNT:
            amount = AmountChangeDialog.ask(detail, self._payments, self._runner, self._window)
            return amount is not None and self._actions.change_amount(
                number,
                items=amount.items,
                shipping_fee=amount.shipping_fee,
                fees=amount.fees,
                discount=amount.discount,
                void_amazon=amount.void_amazon,
                confirmed=amount.confirmed,
                expected_version=amount.expected_version,
            )
        if operation is Operation.REFUND:
            refund = RefundDialog.ask(detail, self._payments, self._runner, self._window)
            return refund is not None and self._actions.refund(number, refund.amount, refund.reason)
        if operation is Operation.CANCEL:
            cancel = CancelDialog.ask(detail, self._payments, self._runner, self._window)
            return cancel is not None and self._actions.cancel(
                number, void_amazon=cancel.void_amazon, confirmed=cancel.confirmed, reason=cancel.reason
            )
        if operation is Operation.CHANGE_METHOD:
            method = ChangeMethodDialog.ask(detail, self._payments, self._runner, self._window)
            return method is not None and self._actions.change_method(
                number, method.method, void_amazon=method.void_amazon, confirmed=method.confirmed
            )
        if operation is Operation.CLEAR_PAYMENT_DATE:
            return ClearPaymentDateDialog.ask(detail, self._runner, self._window) and self._actions.clear_payment_date(
                number
            )
        raise ValueError(operation)
