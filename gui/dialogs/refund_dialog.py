"""返金: full or a given amount, the reason, and the allocation over the captures previewed live
(R33, R38, R39). Nothing is sent until the operator acknowledges that a refund cannot be undone."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QRadioButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.domain import Tone
from core.errors import BadInput
from core.queries import OrderDetail
from core.refund_rules import RefundPlan
from core.services.payments import PaymentService
from gui.dialogs.common import CHECKING, OperationDialog, YenField, preview_error_text, run_modal
from gui.labels import yen
from gui.tasks import TaskRunner

REFUND_REASONS = ("返品", "キャンセル", "商品の不良・破損", "欠品・入荷未定", "一部返金(ご要望)", "その他")
PURPOSE_LABELS = {
    "original": "注文時の与信",
    "increase": "増額分",
    "reauth": "再与信",
    "generation": "受注生成の与信",
}
ORIGIN_SUFFIX = {"seller_central": "(Seller Central)"}


@dataclass(frozen=True)
class RefundRequest:
    amount: int | None  # None: everything left (全額)
    reason: str


def refund_consequence(total: int) -> str:
    return f"{total:,}円の返金は、Amazon Payへ送信すると取り消せません。"


def plan_note(plan: RefundPlan, detail: OrderDetail) -> str:
    """What the allocation means for the operator (R39): several captures at once, and (only
    when it is so) that a capture Seller Central already refunded in part gives its remainder."""
    from_seller_central = {r.charge_id for r in detail.refunds if r.origin == "seller_central" and r.amount}
    remainder = any(line.charge_id in from_seller_central for line in plan.lines)
    note = "(Seller Centralで一部返金済みの売上の残りも含みます, R39)" if remainder else "(R39)"
    if len(plan.lines) > 1:
        return f"{len(plan.lines)}件の売上から合計{yen(plan.total)}を一度に返金します{note}。"
    if remainder:
        return f"合計{yen(plan.total)}を返金します{note}。"
    return ""


class RefundDialog(OperationDialog):
    def __init__(
        self, detail: OrderDetail, payments: PaymentService, runner: TaskRunner, parent: QWidget | None = None
    ) -> None:
        super().__init__(f"返金 — 受注番号 {detail.number}", "返金する", runner, parent)
        self.detail = detail
        self.payments = payments
        self.result_request: RefundRequest | None = None
        self.plan: RefundPlan | None = None
        self._error: str | None = None
        pending = f"、返金処理中 {yen(detail.pending_refund)}" if detail.pending_refund else ""
        self.heading.setText(
            f"売上 {yen(detail.captured)}、返金済み {yen(detail.refunded)}{pending}。"
            "返金は売上(キャプチャ)ごとに、残っている額の範囲で行います(R39)。"
        )

        amount_box = QGroupBox("返金額")
        amount_layout = QVBoxLayout(amount_box)
        self.full = QRadioButton("全額(返金できる残りすべて)")
        self.full.setObjectName("refundFull")
        self.partial = QRadioButton("金額を指定")
        self.partial.setObjectName("refundPartial")
        self.amount = YenField("返金額", allow_zero=False)
        self.amount.setObjectName("refundAmount")
        self.amount.setMaximumWidth(180)
        self.group = QButtonGroup(self)
        self.group.addButton(self.full)
        self.group.addButton(self.partial)
        self.full.setChecked(True)
        partial_row = QHBoxLayout()
        partial_row.addWidget(self.partial)
        partial_row.addWidget(self.amount)
        partial_row.addStretch(1)
        amount_layout.addWidget(self.full)
        amount_layout.addLayout(partial_row)

        form = QFormLayout()
        self.reason = QComboBox()
        self.reason.setObjectName("refundReason")
        self.reason.setEditable(True)
        self.reason.addItems(REFUND_REASONS)
        self.reason.setCurrentIndex(-1)  # no reason is assumed for the operator
        line = self.reason.lineEdit()
        if line is not None:
            line.setPlaceholderText("一覧から選ぶか入力してください(任意)")
        self.reason.setToolTip("返金の理由。一覧から選ぶか、自由に入力できます。履歴に残ります。")
        form.addRow("返金の理由", self.reason)

        allocation_box = QGroupBox("返金の内訳(どの売上から返金するか)")
        allocation_layout = QVBoxLayout(allocation_box)
        self.table = QTableWidget(0, 4)
        self.table.setObjectName("allocation")
        self.table.setHorizontalHeaderLabels(["売上(キャプチャ)", "ID", "返金できる額", "今回の返金額"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.total_label = QLabel()
        self.total_label.setObjectName("refundTotal")
        self.total_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        font = self.total_label.font()
        font.setBold(True)
        self.total_label.setFont(font)
        allocation_layout.addWidget(self.table)
        allocation_layout.addWidget(self.total_label)

        self.body.addWidget(amount_box)
        self.body.addLayout(form)
        self.body.addWidget(allocation_box, 1)

        self.full.toggled.connect(lambda _on: self._on_mode_changed())
        self.amount.edited.connect(self._on_amount_edited)
        self.reason.currentTextChanged.connect(lambda _t: self.update_state())
        self._on_mode_changed()

    @classmethod
    def ask(
        cls, detail: OrderDetail, payments: PaymentService, runner: TaskRunner, parent: QWidget | None = None
    ) -> RefundRequest | None:
        """Show the dialog; the refund asked for, or None when closed (tests monkeypatch this)."""
        dialog = cls(detail, payments, runner, parent)
        return dialog.result_request if run_modal(dialog) else None

    # --- live preview --------------------------------------------------------------------

    def _on_mode_changed(self) -> None:
        self.amount.setEnabled(self.partial.isChecked())
        if self.partial.isChecked():
            self.amount.setFocus()
        self.recompute()

    def _on_amount_edited(self) -> None:
        if not self.partial.isChecked() and self.amount.text().strip():
            self.partial.setChecked(True)  # typing an amount means 金額を指定 (toggling recomputes)
            return
        self.recompute()

    def wanted_amount(self) -> int | None:
        """None for 全額; raises BadInput when the amount typed cannot be read."""
        return None if self.full.isChecked() else self.amount.value()

    def recompute(self) -> None:
        self.plan = None
        try:
            amount = self.wanted_amount()
        except BadInput as exc:
            self._error = exc.message
            self._show_plan(None)
            self.update_state()
            return
        self._error = None
        number, payments = self.detail.number, self.payments  # read on the worker: no widgets
        self.preview.request(lambda: payments.refund_preview(number, amount), self._on_plan, self._on_refused)
        self.update_state()

    def _on_plan(self, plan: RefundPlan) -> None:
        self.plan = plan
        self._error = None
        self._show_plan(plan)
        self.update_state()

    def _on_refused(self, exc: BaseException) -> None:
        self.plan = None
        self._error = preview_error_text(exc)
        self._show_plan(None)
        self.update_state()

    def _show_plan(self, plan: RefundPlan | None) -> None:
        lines = plan.lines if plan else ()
        charges = {c.id: c for c in self.detail.charges}
        self.table.setRowCount(len(lines))
        for row, line in enumerate(lines):
            charge = charges.get(line.charge_id)
            what = "売上"
            if charge is not None:
                what = PURPOSE_LABELS.get(charge.purpose, charge.purpose) + ORIGIN_SUFFIX.get(charge.origin, "")
            values = (what, line.charge_id, yen(line.refundable), yen(line.amount))
            for column, value in enumerate(values):
                cell = QTableWidgetItem(value)
                cell.setToolTip(value)
                if column >= 2:
                    cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, cell)
        self.total_label.setText(f"返金額の合計 {yen(plan.total)}" if plan else "")
        self._fit_table()

    def _fit_table(self) -> None:
        """Every line visible (one per capture: a handful at most), at least two rows tall."""
        self.table.resizeRowsToContents()
        row = self.table.rowHeight(0) if self.table.rowCount() else self.table.verticalHeader().defaultSectionSize()
        rows = max(self.table.rowCount(), 2)
        self.table.setFixedHeight(
            self.table.horizontalHeader().sizeHint().height() + rows * row + 2 * self.table.frameWidth()
        )

    def allocation(self) -> list[tuple[str, int, int]]:
        """(charge id, refundable, amount) as the table shows them."""

        def cell(row: int, column: int) -> str:
            item = self.table.item(row, column)
            return item.text() if item is not None else ""

        def amount(row: int, column: int) -> int:
            return int(cell(row, column).replace(",", "").removesuffix("円"))

        return [(cell(row, 1), amount(row, 2), amount(row, 3)) for row in range(self.table.rowCount())]

    def update_state(self) -> None:
        plan = self.plan
        if plan is not None or self._error is not None or not self.preview.pending:
            # While a preview is on its way (the field just reformatted 5000 as 5,000) the
            # acknowledgement stays: it is cleared only when the amount to refund really changes.
            self.confirm.set_consequences([refund_consequence(plan.total)] if plan else [])
        if self._error is not None:
            self.message.show_message(self._error, Tone.FAILURE)
            self.set_ok(False, self._error)
            return
        if plan is None or self.preview.pending:
            self.message.show_message(CHECKING, Tone.NEUTRAL)
            self.set_ok(False, CHECKING)
            return
        self.message.show_message(plan_note(plan, self.detail), Tone.NEUTRAL)
        if not self.confirm.satisfied:
            self.set_ok(False, "返金は取り消せません。内容を確認し、「上記を理解しました」にチェックしてください。")
            return
        self.set_ok(True)

    def accept(self) -> None:
        if self.plan is None:
            return
        self.result_request = RefundRequest(self.wanted_amount(), self.reason.currentText().strip())
        super().accept()
