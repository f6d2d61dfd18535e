"""変更…: a contract's amount per round, its shipping fee and its next generation day (issue 12 item 1).

What is typed is read here (yen as operators type it; a past day is not offered) and handed to
``SubscriptionService.edit``, which checks the rules again (R53: a round above the monthly limit
is refused; an ended contract cannot change, R15). A refusal stays in the dialog and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from PySide6.QtCore import QDate
from PySide6.QtWidgets import (
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from core.errors import BadInput
from core.money import format_yen, parse_yen
from core.subscriptions.service import ContractView


@dataclass(frozen=True)
class ContractEdit:
    amount: int | None  # None: unchanged
    shipping_fee: int | None
    next_date: date | None


class ContractEditDialog(QDialog):
    def __init__(self, contract: ContractView, today: date, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"定期購入 {contract.order_number} の変更")
        self._contract = contract
        self.result_edit: ContractEdit | None = None
        self.amount_field = QLineEdit(format_yen(contract.item_amount))
        self.amount_field.setObjectName("amountField")
        self.shipping_field = QLineEdit(format_yen(contract.shipping_fee))
        self.shipping_field.setObjectName("shippingField")
        self.date_field = QDateEdit(QDate(contract.next_date.year, contract.next_date.month, contract.next_date.day))
        self.date_field.setObjectName("nextDateField")
        self.date_field.setCalendarPopup(True)
        self.date_field.setDisplayFormat("yyyy/MM/dd")
        self.date_field.setMinimumDate(QDate(today.year, today.month, today.day))
        self.problem = QLabel()
        self.problem.setObjectName("problemLabel")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #b00020;")
        form = QFormLayout()
        form.addRow("1回分の商品金額", self.amount_field)
        form.addRow("送料", self.shipping_field)
        form.addRow("次回の受注生成日", self.date_field)
        note = QLabel("1回分の合計は月間上限100,000円までです(R53)。変更は次回の受注生成から使われます。")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)

    def accept(self) -> None:
        try:
            amount = parse_yen(self.amount_field.text(), field="1回分の商品金額", allow_zero=False)
            shipping = parse_yen(self.shipping_field.text(), field="送料")
        except BadInput as exc:
            self.problem.setText(exc.message)
            return
        chosen = self.date_field.date().toPython()
        assert isinstance(chosen, date)
        contract = self._contract
        self.result_edit = ContractEdit(
            amount=None if amount == contract.item_amount else amount,
            shipping_fee=None if shipping == contract.shipping_fee else shipping,
            next_date=None if chosen == contract.next_date else chosen,
        )
        super().accept()

    def show_refusal(self, message: str) -> None:
        self.problem.setText(message)
