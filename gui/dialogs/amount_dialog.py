"""金額変更: line items, shipping, fees and discount, with the new total checked as it is typed
(R26–R30, R5, R27), the R28 re-authorization note and the R34 zero-total option."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.domain import Tone
from core.errors import STALE_EDIT_MESSAGE, BadInput
from core.queries import OrderDetail
from core.services.payments import AmountChange, PaymentService, detail_amount_version
from gui.dialogs.common import (
    CHECKING,
    OperationDialog,
    YenField,
    mark_invalid,
    parse_quantity,
    preview_error_text,
    run_modal,
    with_rule,
)
from gui.labels import yen
from gui.tasks import TaskRunner

VOID_LABEL = "Amazonの取引情報を取り消す"
VOID_CONSEQUENCE = (
    "Amazon Payの取引情報(Charge Permission)を削除します。元に戻すことはできず、"
    "この受注ではもう与信・再与信・入金処理ができなくなります(R34)。"
)


@dataclass(frozen=True)
class AmountChangeRequest:
    """What the operator asked for; ``items`` is None when the line items were left as they were."""

    total: int
    items: tuple[tuple[str, int, int], ...] | None
    shipping_fee: int
    fees: int
    discount: int
    void_amazon: bool = False
    confirmed: bool = False
    expected_version: str | None = None  # the amounts the dialog showed (issue 14 item 2)


class ItemRow:
    """One editable line item: name, unit price, quantity, subtotal and a remove button."""

    def __init__(self, name: str = "", unit_price: int | None = None, quantity: int | None = 1) -> None:
        self.name = QLineEdit(name)
        self.name.setPlaceholderText("商品名")
        self.price = YenField("単価", unit_price)
        self.quantity = QLineEdit("" if quantity is None else str(quantity))
        self.quantity.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.quantity.setMaximumWidth(64)
        self.quantity.setToolTip("全角数字でも入力できます。")
        self.subtotal = QLabel()
        self.subtotal.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.subtotal.setMinimumWidth(90)
        self.remove = QToolButton()
        self.remove.setText("削除")
        self.remove.setToolTip("この商品を受注から外します。")

    def widgets(self) -> tuple[QWidget, ...]:
        return (self.name, self.price, self.quantity, self.subtotal, self.remove)

    def read(self, position: int) -> tuple[str, int, int]:
        """(name, unit price, quantity); BadInput names the row when something cannot be read."""
        name = self.name.text().strip()
        try:
            if not name:
                raise BadInput("商品名を入力してください。")
            return name, self.price.value(), parse_quantity(self.quantity.text())
        except BadInput as exc:
            raise BadInput(f"{position}行目: {exc.message}") from exc


class AmountChangeDialog(OperationDialog):
    def __init__(
        self, detail: OrderDetail, payments: PaymentService, runner: TaskRunner, parent: QWidget | None = None
    ) -> None:
        super().__init__(f"金額変更 — 受注番号 {detail.number}", "金額を変更", runner, parent)
        self.payments = payments
        self.setMinimumWidth(640)
        self.result_request: AmountChangeRequest | None = None
        self.checked: AmountChange | None = None  # core's answer for the total shown
        self._input_error: str | None = None
        self._new_total: int | None = None
        self._load(detail)
        # Issue 14 item 2: another operator changed the amounts while this dialog was open.
        self.stale_label = QLabel()
        self.stale_label.setObjectName("staleNote")
        self.stale_label.setWordWrap(True)
        self.stale_label.setStyleSheet("color: #b3261e;")
        self.stale_label.hide()

        # Line items.
        items_box = QGroupBox("商品")
        items_layout = QVBoxLayout(items_box)
        self.grid = QGridLayout()
        self.grid.setHorizontalSpacing(6)
        self.grid.setColumnStretch(0, 1)
        for column, width in ((1, 120), (2, 64), (3, 90)):
            self.grid.setColumnMinimumWidth(column, width)
        for column, title in enumerate(("商品名", "単価", "数量", "小計")):
            header = QLabel(title)
            header.setObjectName("itemsHeader")
            if column:
                header.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.grid.addWidget(header, 0, column)
        grid_host = QWidget()
        grid_outer = QVBoxLayout(grid_host)
        grid_outer.setContentsMargins(0, 0, 0, 0)
        grid_outer.addLayout(self.grid)
        grid_outer.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(grid_host)
        scroll.viewport().setAutoFillBackground(False)
        grid_host.setAutoFillBackground(False)
        scroll.setMinimumHeight(120)
        items_layout.addWidget(scroll)
        self.add_button = QPushButton("商品を追加")
        self.add_button.setObjectName("addItem")
        add_row = QHBoxLayout()
        add_row.addWidget(self.add_button)
        add_row.addStretch(1)
        items_layout.addLayout(add_row)
        self.rows: list[ItemRow] = []
        for item in detail.items:
            self._add_row(ItemRow(item.name, item.unit_price, item.quantity))
        self.add_button.clicked.connect(self._on_add_clicked)

        # Other amounts and the total.
        amounts = QGroupBox("送料・手数料・値引き")
        form = QFormLayout(amounts)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        self.shipping = YenField("送料", detail.shipping_fee)
        self.fees = YenField("手数料", detail.fees)
        self.discount = YenField("値引き", detail.discount)
        for field in (self.shipping, self.fees, self.discount):
            field.setMinimumWidth(140)
        form.addRow("送料", self.shipping)
        form.addRow("手数料", self.fees)
        form.addRow("値引き", self.discount)
        self.adjustment_label = QLabel()
        form.addRow("その他の調整", self.adjustment_label)
        self._show_adjustment()
        self.total_label = QLabel()
        self.total_label.setObjectName("newTotal")
        font = self.total_label.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.2)
        self.total_label.setFont(font)
        form.addRow("新しい受注金額", self.total_label)

        self.void_box = QCheckBox(VOID_LABEL)
        self.void_box.setObjectName("voidAmazon")
        self.void_box.setToolTip(
            "受注金額が0円になると決済不要になります。Amazon側の取引も消す場合にだけチェックしてください(R34)。"
        )
        self.void_box.hide()

        self.body.addWidget(self.stale_label)
        self.body.addWidget(items_box, 1)
        self.body.addWidget(amounts)
        self.body.addWidget(self.void_box)

        for field in (self.shipping, self.fees, self.discount):
            field.edited.connect(self.recompute)
        self.void_box.toggled.connect(lambda _on: self._on_void_toggled())
        self.recompute()

    def _load(self, detail: OrderDetail) -> None:
        """Take ``detail``'s amounts as the ones this dialog edits (at start, and on a reload)."""
        self.detail = detail
        self.version = detail_amount_version(detail)  # handed back with the change (issue 14 item 2)
        self._original_items = tuple((i.name, i.unit_price, i.quantity) for i in detail.items)
        base = sum(i.subtotal for i in detail.items) + detail.shipping_fee + detail.fees - detail.discount
        self.adjustment = detail.total - base  # the order's other adjustments; kept as they are
        self.heading.setText(
            f"現在の受注金額 {yen(detail.total)}(与信済み {yen(detail.authorized)})。"
            "入金処理の前なら増額・減額できます。変更はここでは送信されず、入金処理のときにAmazon Payへ反映されます(R26, R28)。"
        )

    def _show_adjustment(self) -> None:
        self.adjustment_label.setText(f"{self.adjustment:+,}円(変わりません)")
        form = self.adjustment_label.parentWidget()
        layout = form.layout() if form is not None else None
        if isinstance(layout, QFormLayout):
            layout.setRowVisible(self.adjustment_label, bool(self.adjustment))

    def reload(self, detail: OrderDetail, note: str = "") -> None:
        """Show ``detail``'s amounts in place of the ones loaded before; ``note`` says why."""
        self._load(detail)
        for row in list(self.rows):
            self.rows.remove(row)
            for widget in row.widgets():
                self.grid.removeWidget(widget)
                widget.hide()
                widget.deleteLater()
        for item in detail.items:
            self._add_row(ItemRow(item.name, item.unit_price, item.quantity))
        for field, value in (
            (self.shipping, detail.shipping_fee),
            (self.fees, detail.fees),
            (self.discount, detail.discount),
        ):
            field.setText(f"{value:,}")
        self._show_adjustment()
        self.stale_label.setText(note)
        self.stale_label.setVisible(bool(note))
        self.recompute()

    @classmethod
    def ask(
        cls, detail: OrderDetail, payments: PaymentService, runner: TaskRunner, parent: QWidget | None = None
    ) -> AmountChangeRequest | None:
        """Show the dialog; the change asked for, or None when closed (tests monkeypatch this)."""
        dialog = cls(detail, payments, runner, parent)
        return dialog.result_request if run_modal(dialog) else None

    # --- rows ----------------------------------------------------------------------------

    def _add_row(self, row: ItemRow) -> ItemRow:
        self.rows.append(row)
        self._place_rows()
        row.name.textChanged.connect(lambda _t: self.recompute())
        row.price.edited.connect(self.recompute)
        row.quantity.textChanged.connect(lambda _t: self.recompute())
        row.remove.clicked.connect(lambda: self.remove_row(row))
        return row

    def add_item(self, name: str = "", unit_price: int | None = None, quantity: int | None = 1) -> ItemRow:
        row = self._add_row(ItemRow(name, unit_price, quantity))
        self.recompute()
        return row

    def _on_add_clicked(self) -> None:
        row = self.add_item(unit_price=None)
        row.name.setFocus()

    def remove_row(self, row: ItemRow) -> None:
        self.rows.remove(row)
        for widget in row.widgets():
            self.grid.removeWidget(widget)
            widget.hide()  # gone at once, not when the event loop gets to the deletion
            widget.deleteLater()
        self._place_rows()
        self.recompute()

    def _place_rows(self) -> None:
        for index, row in enumerate(self.rows, start=1):
            for column, widget in enumerate(row.widgets()):
                self.grid.addWidget(widget, index, column)

    # --- live validation -----------------------------------------------------------------

    def read_items(self) -> tuple[tuple[str, int, int], ...]:
        return tuple(row.read(position) for position, row in enumerate(self.rows, start=1))

    def recompute(self) -> None:
        """Re-read every field; when all can be read, ask core about the new total."""
        error: str | None = None
        items_total = 0
        for position, row in enumerate(self.rows, start=1):
            try:
                _name, price, quantity = row.read(position)
            except BadInput as exc:
                error = error or exc.message
                row.subtotal.setText("—")
            else:
                items_total += price * quantity
                row.subtotal.setText(yen(price * quantity))
            mark_invalid(row.quantity, _quantity_error(row) is not None)
        amounts = {}
        for key, field in (("shipping", self.shipping), ("fees", self.fees), ("discount", self.discount)):
            try:
                amounts[key] = field.value()
            except BadInput as exc:
                error = error or exc.message
        new_total: int | None = None
        if error is None:
            new_total = items_total + amounts["shipping"] + amounts["fees"] - amounts["discount"] + self.adjustment
            if new_total < 0:
                error = "値引きが商品・送料・手数料の合計を超えています。受注金額はマイナスにできません。"
                new_total = None
        self._input_error = error
        self._new_total = new_total
        self.checked = None
        if new_total is None:
            self.total_label.setText("—")
            self.void_box.hide()
            self.update_state()
            return
        difference = new_total - self.detail.total
        change = f"(現在より {difference:+,}円)" if difference else "(変更なし)"
        self.total_label.setText(f"{yen(new_total)} {change}")
        self.void_box.setVisible(new_total == 0 and self._can_void())
        number, payments, total = self.detail.number, self.payments, new_total  # read on the worker: no widgets
        self.preview.request(lambda: payments.amount_preview(number, total), self._on_checked, self._on_check_failed)
        self.update_state()

    def _can_void(self) -> bool:
        cp = self.detail.charge_permission
        return self.detail.payment_status is not None and cp is not None and cp.state != "Closed"

    def _on_checked(self, change: AmountChange) -> None:
        if change.version and change.version != self.version:
            self._on_stale()
            return
        self.checked = change
        self.update_state()

    def _on_stale(self) -> None:
        """The order's amounts are no longer the ones shown: say so and reload them (issue 14 item 2)."""
        self.checked = None
        payments, number = self.payments, self.detail.number

        def loaded(detail: OrderDetail) -> None:
            items = "、".join(f"{i.name} {yen(i.unit_price)}×{i.quantity}" for i in detail.items) or "なし"
            self.reload(
                detail,
                f"{STALE_EDIT_MESSAGE}。現在の内容を読み込みました: 受注金額 {yen(detail.total)}(商品: {items}、"
                f"送料 {yen(detail.shipping_fee)}、手数料 {yen(detail.fees)}、値引き {yen(detail.discount)})。"
                "確かめてからもう一度変更してください。",
            )

        self.preview.request(lambda: payments.detail(number), loaded, self._on_check_failed)
        self.update_state()

    def _on_check_failed(self, exc: BaseException) -> None:
        self.checked = None
        self._input_error = preview_error_text(exc)
        self.update_state()

    def _on_void_toggled(self) -> None:
        self.update_state()

    @property
    def new_total(self) -> int | None:
        return self._new_total

    def _changed(self) -> bool:
        try:
            items = self.read_items()
            amounts = (self.shipping.value(), self.fees.value(), self.discount.value())
        except BadInput:
            return True
        return items != self._original_items or amounts != (
            self.detail.shipping_fee,
            self.detail.fees,
            self.detail.discount,
        )

    def void_selected(self) -> bool:
        return self.void_box.isVisible() and self.void_box.isChecked()

    def update_state(self) -> None:
        # A total of 0 (R34) names what it does and needs the acknowledgement, void or not.
        zero = list(self.checked.consequences) if self.checked is not None and self.checked.allowed else []
        void = self.void_selected()
        self.confirm.set_consequences(zero + ([VOID_CONSEQUENCE] if void else []), irreversible=void)
        if self._input_error is not None:
            self.message.show_message(self._input_error, Tone.FAILURE)
            self.set_ok(False, self._input_error)
            return
        if self.checked is None or self.preview.pending:
            self.message.show_message(CHECKING, Tone.NEUTRAL)
            self.set_ok(False, CHECKING)
            return
        change = self.checked
        if not change.allowed:
            text = with_rule(change.refusal or "", change.rule)
            self.message.show_message(text, Tone.FAILURE)
            self.set_ok(False, text)
            return
        notes = []
        if change.new_total == 0:
            notes.append("受注金額が0円になるため、決済不要になります(R34)。")
        elif change.needs_reauthorization:
            notes.append(
                f"与信済みの{yen(change.authorized)}を超えるため、差額{yen(change.needs_reauthorization)}は"
                "入金処理のときに追加で与信(再与信)してから売上確定します(R28)。"
            )
        elif change.new_total < change.current_total:
            notes.append(f"入金処理のときは新しい金額{yen(change.new_total)}だけを売上確定します。")
        if not self._changed():
            self.message.show_message("変更がありません。", Tone.NEUTRAL)
            self.set_ok(False, "変更がありません。")
            return
        self.message.show_message(" ".join(notes), Tone.ATTENTION if change.needs_reauthorization else Tone.NEUTRAL)
        if not self.confirm.satisfied:
            self.set_ok(False, "表示した内容を確認し、「上記を理解しました」にチェックしてください。")
            return
        self.set_ok(True)

    def accept(self) -> None:
        if self._new_total is None:
            return
        items = self.read_items()
        void = self.void_selected()
        self.result_request = AmountChangeRequest(
            total=self._new_total,
            items=None if items == self._original_items else items,
            shipping_fee=self.shipping.value(),
            fees=self.fees.value(),
            discount=self.discount.value(),
            void_amazon=void,
            confirmed=bool(self.confirm.consequences) and self.confirm.satisfied,
            expected_version=self.version,
        )
        super().accept()


def _quantity_error(row: ItemRow) -> str | None:
    try:
        parse_quantity(row.quantity.text())
    except BadInput as exc:
        return exc.message
    return None
