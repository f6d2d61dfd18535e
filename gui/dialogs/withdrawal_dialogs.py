"""キャンセル and 決済方法の変更: both take the money back (refund what was captured, cancel open
authorizations) and may delete the Amazon transaction (R33–R35, R15). The plan comes from core's
preview and is re-read when 「Amazonの取引情報を取り消す」 is toggled; every irreversible
consequence is listed word for word and must be acknowledged before OK is enabled."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from core.domain import OrderKind, Tone
from core.queries import OrderDetail
from core.services.payments import PAYMENT_METHODS, CancelPlan, PaymentService
from gui.dialogs.common import CHECKING, InlineMessage, OperationDialog, html, preview_error_text, run_modal
from gui.labels import yen
from gui.tasks import TaskRunner

VOID_LABEL = "Amazonの取引情報を取り消す"
R36_HINT = (
    "商品はキャンセルして送料だけ請求したい場合は、キャンセルしないでください。"
    "「金額変更」で商品を外して送料だけにしてから、入金処理をしてください(R36)。"
)
R15_FORCED = "予約商品・定期の受注は、キャンセルするとAmazonの取引情報が必ず削除されます(R15)。"
SELECTABLE_METHODS: tuple[str, ...] = tuple(m for m in PAYMENT_METHODS if m not in ("amazon_pay", "none"))  # R6


@dataclass(frozen=True)
class CancelRequest:
    void_amazon: bool
    confirmed: bool
    reason: str


@dataclass(frozen=True)
class ChangeMethodRequest:
    method: str
    void_amazon: bool
    confirmed: bool


class WithdrawalDialog(OperationDialog):
    """The common part: plan steps, the void checkbox, the refund inside the plan, confirmation."""

    def __init__(
        self,
        title: str,
        ok_text: str,
        detail: OrderDetail,
        payments: PaymentService,
        runner: TaskRunner,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(title, ok_text, runner, parent)
        self.detail = detail
        self.payments = payments
        self.plan: CancelPlan | None = None
        self._error: str | None = None

        self.void_box = QCheckBox(VOID_LABEL)
        self.void_box.setObjectName("voidAmazon")
        self.void_box.setToolTip(
            "Amazon Payの取引情報(Charge Permission)も削除します。元に戻せないため、"
            "今後この受注で請求しないことが確実なときだけチェックしてください(R35)。"
        )
        cp = detail.charge_permission
        if cp is None or cp.state == "Closed":
            self.void_box.setEnabled(False)
            self.void_box.setToolTip("Amazonの取引情報はすでに削除されています。")

        steps_box = QGroupBox("実行する内容")
        steps_layout = QVBoxLayout(steps_box)
        self.steps = QLabel()
        self.steps.setObjectName("planSteps")
        self.steps.setWordWrap(True)
        steps_layout.addWidget(self.steps)
        self.refund_lines = QLabel()
        self.refund_lines.setObjectName("planRefund")
        self.refund_lines.setWordWrap(True)
        self.refund_lines.hide()
        steps_layout.addWidget(self.refund_lines)
        self.form = QFormLayout()
        self.body.addLayout(self.form)
        self.body.addWidget(self.void_box)
        self.body.addWidget(steps_box)
        self.void_box.toggled.connect(lambda _on: self.recompute())

    def plan_call(self, void_amazon: bool) -> Callable[[], CancelPlan]:
        """The preview to run on the worker, built here on the GUI thread (it reads the widgets)."""
        raise NotImplementedError

    def recompute(self) -> None:
        self.plan = None
        self.preview.request(self.plan_call(self.void_box.isChecked()), self._on_plan, self._on_refused)
        self.update_state()

    def _on_plan(self, plan: CancelPlan) -> None:
        self.plan = plan
        self._error = None
        self.update_state()

    def _on_refused(self, exc: BaseException) -> None:
        self.plan = None
        self._error = preview_error_text(exc)
        self.update_state()

    def update_state(self) -> None:
        plan = self.plan
        self.confirm.set_consequences(plan.irreversible if plan else ())
        self.steps.setText("<br>".join(f"{n}. {html(s)}" for n, s in enumerate(plan.steps, 1)) if plan else "—")
        if plan and plan.refund and len(plan.refund.lines) > 1:
            lines = "<br>".join(f"・{html(line.charge_id)}: {yen(line.amount)}" for line in plan.refund.lines)
            self.refund_lines.setText(f"返金の内訳(R39):<br>{lines}")
            self.refund_lines.show()
        else:
            self.refund_lines.hide()
        if self._error is not None:
            self.message.show_message(self._error, Tone.FAILURE)
            self.set_ok(False, self._error)
            return
        if plan is None or self.preview.pending:
            self.message.show_message(CHECKING, Tone.NEUTRAL)
            self.set_ok(False, CHECKING)
            return
        self.message.show_message(self.note(plan), Tone.NEUTRAL)
        if not self.confirm.satisfied:
            self.set_ok(
                False, "取り消せない操作が含まれます。内容を確認し、「上記を理解しました」にチェックしてください。"
            )
            return
        self.set_ok(True)

    def note(self, plan: CancelPlan) -> str:
        return ""

    @property
    def confirmed(self) -> bool:
        """Sent to core: the operator acknowledged every irreversible consequence shown."""
        return bool(self.plan and self.plan.irreversible and self.confirm.satisfied)


class CancelDialog(WithdrawalDialog):
    def __init__(
        self, detail: OrderDetail, payments: PaymentService, runner: TaskRunner, parent: QWidget | None = None
    ) -> None:
        super().__init__(f"キャンセル — 受注番号 {detail.number}", "キャンセルする", detail, payments, runner, parent)
        self.result_request: CancelRequest | None = None
        self.heading.setText(
            f"受注番号 {detail.number}({yen(detail.total)})をキャンセルします。"
            "売上確定前なら与信を取り消し、売上確定後なら全額を返金します(R35)。"
        )
        self.hint = InlineMessage()
        self.hint.setObjectName("r36Hint")
        self.hint.show_message(R36_HINT, Tone.ATTENTION)
        self.body.insertWidget(0, self.hint)
        self.reason = QLineEdit()
        self.reason.setObjectName("cancelReason")
        self.reason.setPlaceholderText("例: お客様都合、欠品(返金があるときは返金の理由として記録します)")
        self.form.addRow("キャンセルの理由", self.reason)
        if detail.kind in (OrderKind.RESERVATION.value, OrderKind.SUBSCRIPTION.value):
            self.void_box.setChecked(True)
            self.void_box.setEnabled(False)
            self.void_box.setToolTip(R15_FORCED)
        self.recompute()

    @classmethod
    def ask(
        cls, detail: OrderDetail, payments: PaymentService, runner: TaskRunner, parent: QWidget | None = None
    ) -> CancelRequest | None:
        """Show the dialog; the cancellation asked for, or None when closed (tests monkeypatch this)."""
        dialog = cls(detail, payments, runner, parent)
        return dialog.result_request if run_modal(dialog) else None

    def plan_call(self, void_amazon: bool) -> Callable[[], CancelPlan]:
        number, payments = self.detail.number, self.payments
        return lambda: payments.cancel_preview(number, void_amazon=void_amazon)

    def note(self, plan: CancelPlan) -> str:
        if self.detail.kind in (OrderKind.RESERVATION.value, OrderKind.SUBSCRIPTION.value):
            return R15_FORCED
        if not self.void_box.isChecked():
            return "Amazonの取引情報は残ります(あとで請求し直すことができます)。"
        return ""

    def accept(self) -> None:
        if self.plan is None:
            return
        self.result_request = CancelRequest(self.void_box.isChecked(), self.confirmed, self.reason.text().strip())
        super().accept()


class ChangeMethodDialog(WithdrawalDialog):
    def __init__(
        self, detail: OrderDetail, payments: PaymentService, runner: TaskRunner, parent: QWidget | None = None
    ) -> None:
        super().__init__(
            f"決済方法の変更 — 受注番号 {detail.number}", "決済方法を変更", detail, payments, runner, parent
        )
        self.result_request: ChangeMethodRequest | None = None
        self.heading.setText(
            "Amazon Payから別の決済方法に変更します。売上確定前なら与信を取り消し、"
            "売上確定後なら全額を返金します(R33)。他の決済方法からAmazon Payへは戻せません(R6)。"
        )
        self.method = QComboBox()
        self.method.setObjectName("paymentMethod")
        for key in SELECTABLE_METHODS:
            self.method.addItem(PAYMENT_METHODS[key], key)
        self.method.setToolTip("Amazon Payへの変更はできないため、一覧にありません(R6)。")
        self.form.addRow("新しい決済方法", self.method)
        self.method.currentIndexChanged.connect(lambda _i: self.recompute())
        self.recompute()

    @classmethod
    def ask(
        cls, detail: OrderDetail, payments: PaymentService, runner: TaskRunner, parent: QWidget | None = None
    ) -> ChangeMethodRequest | None:
        """Show the dialog; the change asked for, or None when closed (tests monkeypatch this)."""
        dialog = cls(detail, payments, runner, parent)
        return dialog.result_request if run_modal(dialog) else None

    def methods(self) -> list[str]:
        return [self.method.itemData(i) for i in range(self.method.count())]

    def select_method(self, key: str) -> None:
        self.method.setCurrentIndex(self.methods().index(key))

    def plan_call(self, void_amazon: bool) -> Callable[[], CancelPlan]:
        number, payments, method = self.detail.number, self.payments, self.method.currentData()
        return lambda: payments.change_method_preview(number, method, void_amazon=void_amazon)

    def note(self, plan: CancelPlan) -> str:
        return f"変更後の決済方法: {self.method.currentText()}"

    def accept(self) -> None:
        if self.plan is None:
            return
        self.result_request = ChangeMethodRequest(self.method.currentData(), self.void_box.isChecked(), self.confirmed)
        super().accept()
