"""キャンセル対応: the cancellation desk of one order (R44–R50). The request and the outcome
calculator (R47) on the left, the reply it leads to on the right; each button is one step
(reply, resolve = refund or return + message, R48 switch, return received, refund, R50)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PySide6.QtCore import QDateTime, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.clock import JST, to_jst, to_utc
from core.domain import Tone
from core.errors import UserError
from core.shipping.cancellation import CHANNELS, Option, Outcome, RequestState
from core.shipping.service import DeskResult, Draft, RequestView, ShippingService
from gui.shipping.common import StatusLine, run_task
from gui.tasks import TaskRunner


@dataclass(frozen=True)
class DeskState:
    request: RequestView | None
    options: tuple[Outcome, ...]
    draft: Draft | None
    draft_error: str
    summary: dict[str, Any]
    costs: dict[str, int]


def _yen(amount: int) -> str:
    return f"{amount:,}円" if amount >= 0 else f"−{-amount:,}円"


class CancellationDesk(QDialog):
    changed = Signal(str)  # the order number, after each step

    def __init__(
        self, service: ShippingService, runner: TaskRunner, number: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.service, self.runner, self.number = service, runner, number
        self.state: DeskState | None = None
        self.last_result: DeskResult | None = None
        self.confirm: Callable[[str], bool] = self._ask  # tests replace it
        self.setWindowTitle(f"キャンセル対応 — 受注番号 {number}")
        self.resize(1100, 640)

        # Left: the request, the costs and the calculator.
        self.record_box = QGroupBox("キャンセル依頼を記録")
        now = to_jst(service.clock_now())
        self.requested_at = QDateTimeEdit(QDateTime(now.year, now.month, now.day, now.hour, now.minute, 0))
        self.requested_at.setDisplayFormat("yyyy-MM-dd HH:mm")
        self.channel = QComboBox()
        for key, label in CHANNELS.items():
            self.channel.addItem(label, key)
        self.note = QLineEdit()
        self.note.setPlaceholderText("お客様のことば")
        self.record_button = QPushButton("依頼を記録")
        self.record_button.setObjectName("recordRequest")
        record_form = QFormLayout(self.record_box)
        record_form.addRow("受けた日時", self.requested_at)
        record_form.addRow("受付方法", self.channel)
        record_form.addRow("内容", self.note)
        record_form.addRow("", self.record_button)

        self.request_label = QLabel()
        self.request_label.setObjectName("requestState")
        self.request_label.setWordWrap(True)
        self.proposal_label = QLabel()
        self.proposal_label.setObjectName("proposal")
        self.proposal_label.setWordWrap(True)

        costs = QGroupBox("計算に使う費用(R47)")
        self.shipping_cost = self._yen_box()
        self.payment_fee = self._yen_box()
        self.resale_estimate = self._yen_box()
        self.save_costs = QPushButton("費用を保存して再計算")
        costs_form = QFormLayout(costs)
        costs_form.addRow("送料の実費", self.shipping_cost)
        costs_form.addRow("決済手数料", self.payment_fee)
        costs_form.addRow("再販の見込み額", self.resale_estimate)
        costs_form.addRow("", self.save_costs)

        self.options_table = QTableWidget(0, 3)
        self.options_table.setObjectName("outcomes")
        self.options_table.setHorizontalHeaderLabels(["対応", "返金額", "ショップの収支"])
        self.options_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.options_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.options_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.options_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.net_label = QLabel()
        self.net_label.setObjectName("netResult")

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(self.record_box)
        left_layout.addWidget(self.request_label)
        left_layout.addWidget(self.proposal_label)
        left_layout.addWidget(QLabel("対応ごとの結果(原価・送料・再販見込みから)"))
        left_layout.addWidget(self.options_table, 1)
        left_layout.addWidget(self.net_label)
        left_layout.addWidget(costs)

        # Right: the reply beside the calculator.
        self.subject = QLineEdit()
        self.subject.setReadOnly(True)
        self.subject.setObjectName("replySubject")
        self.body = QPlainTextEdit()
        self.body.setReadOnly(True)
        self.body.setObjectName("replyBody")
        self.reply_button = QPushButton("この返信を送る(ワンクッション)")
        self.reply_button.setObjectName("replyButton")
        self.resolve_button = QPushButton("選んだ対応で確定(返信+返金/返品待ち)")
        self.resolve_button.setObjectName("resolveButton")
        self.switch_button = QPushButton("全額返金に切り替え(R48)")
        self.switch_button.setObjectName("switchButton")
        self.received_button = QPushButton("返品が届いた")
        self.received_button.setObjectName("receivedButton")
        self.refund_button = QPushButton("返金する")
        self.refund_button.setObjectName("refundButton")
        self.supplier_button = QPushButton("仕入れ先の都合でお届けできない(R50)…")
        self.supplier_button.setObjectName("supplierButton")
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.addWidget(QLabel("返信の文面"))
        right_layout.addWidget(self.subject)
        right_layout.addWidget(self.body, 1)
        row1 = QHBoxLayout()
        row1.addWidget(self.reply_button)
        row1.addWidget(self.resolve_button)
        row2 = QHBoxLayout()
        row2.addWidget(self.switch_button)
        row2.addWidget(self.received_button)
        row2.addWidget(self.refund_button)
        right_layout.addLayout(row1)
        right_layout.addLayout(row2)
        right_layout.addWidget(self.supplier_button)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setSizes([520, 580])
        self.status = StatusLine()
        layout = QVBoxLayout(self)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.status)

        self.record_button.clicked.connect(self.record)
        self.save_costs.clicked.connect(self.store_costs)
        self.options_table.itemSelectionChanged.connect(self._on_option_selected)
        self.reply_button.clicked.connect(self.reply)
        self.resolve_button.clicked.connect(self.resolve)
        self.switch_button.clicked.connect(self.switch_full)
        self.received_button.clicked.connect(self.received)
        self.refund_button.clicked.connect(self.refund)
        self.supplier_button.clicked.connect(self.supplier_failure)

    @staticmethod
    def _yen_box() -> QSpinBox:
        box = QSpinBox()
        box.setRange(0, 99_999_999)
        box.setSuffix(" 円")
        box.setGroupSeparatorShown(True)
        return box

    def _ask(self, text: str) -> bool:
        return QMessageBox.question(self, "確認", text) == QMessageBox.StandardButton.Yes

    def open(self) -> None:
        super().open()
        self.refresh()

    # --- reading --------------------------------------------------------------------------

    def selected_option(self) -> Option | None:
        rows = self.options_table.selectionModel().selectedRows()
        if not rows or self.state is None:
            return None
        return self.state.options[rows[0].row()].option

    def select_option(self, option: Option) -> None:
        if self.state is None:
            return
        for row, outcome in enumerate(self.state.options):
            if outcome.option is option:
                self.options_table.selectRow(row)

    def _load(self, option: Option | None) -> DeskState:
        request = self.service.request(self.number)
        options = self.service.options(self.number)
        draft, error = None, ""
        if request is not None:
            try:
                draft = self.service.reply_draft(self.number, option)
            except UserError as exc:
                error = exc.message
        return DeskState(
            request, options, draft, error, self.service.summary(self.number), self.service.costs(self.number)
        )

    def refresh(self, option: Option | None = None) -> None:
        run_task(
            self.runner, self.splitter, self.status, lambda: self._load(option), self._show, busy="読み込んでいます…"
        )

    def _show(self, state: DeskState) -> None:
        keep = self.selected_option()
        self.state = state
        self.shipping_cost.setValue(state.costs["shipping_cost"])
        self.payment_fee.setValue(state.costs["payment_fee"])
        self.resale_estimate.setValue(state.costs["resale_estimate"])
        request = state.request
        self.record_box.setVisible(request is None or RequestState(request.state) in _CLOSED)
        self.options_table.blockSignals(True)
        self.options_table.setRowCount(len(state.options))
        for row, outcome in enumerate(state.options):
            for col, text in enumerate((outcome.option.label, _yen(outcome.refund), _yen(outcome.shop_result))):
                item = QTableWidgetItem(text)
                if col:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.options_table.setItem(row, col, item)
        self.options_table.blockSignals(False)
        if keep is not None:
            self.options_table.blockSignals(True)
            self.select_option(keep)
            self.options_table.blockSignals(False)
        self.net_label.setText(f"この受注の収支(売上−返金−手数料−原価+再販): {_yen(state.summary['net_result'])}")
        if request is None:
            self.request_label.setText("キャンセル依頼はまだ記録されていません。")
            self.proposal_label.setText("")
        else:
            when = to_jst(request.requested_at).strftime("%Y-%m-%d %H:%M")
            chosen = Option(request.option).label if request.option else "未定"
            amount = f"、返金 {request.refund_amount:,}円" if request.refund_amount else ""
            self.request_label.setText(
                f"状態: {request.state_label}(受付 {when}、{CHANNELS.get(request.channel, request.channel)}、対応: {chosen}{amount})"
            )
            self.proposal_label.setText(request.proposal.text if request.proposal else "")
        if state.draft is not None:
            self.subject.setText(state.draft.subject)
            self.body.setPlainText(state.draft.body)
        else:
            self.subject.setText("")
            self.body.setPlainText(state.draft_error)
        current = RequestState(request.state) if request else None
        self.reply_button.setEnabled(current is RequestState.OPEN and state.draft is not None)
        self.resolve_button.setEnabled(current in (RequestState.OPEN, RequestState.REPLIED))
        self.switch_button.setEnabled(
            current is not None
            and request is not None
            and request.option not in (None, Option.FULL.value)
            and current is not RequestState.CANCELED
        )
        self.received_button.setEnabled(current is RequestState.AWAITING_RETURN)
        self.refund_button.setEnabled(current is RequestState.RECEIVED)

    def _on_option_selected(self) -> None:
        option = self.selected_option()
        if option is not None and self.state is not None and self.state.request is not None:
            run_task(
                self.runner,
                self.body,
                self.status,
                lambda: self.service.reply_draft(self.number, option),
                self._show_draft,
                busy="文面を作っています…",
            )

    def _show_draft(self, draft: Draft) -> None:
        self.subject.setText(draft.subject)
        self.body.setPlainText(draft.body)
        self.status.show_text("")

    # --- steps -----------------------------------------------------------------------------

    def _step(self, fn: Callable[[], Any], busy: str) -> None:
        def done(result: Any) -> None:
            text = result.message if isinstance(result, DeskResult) else "記録しました。"
            if isinstance(result, DeskResult):
                self.last_result = result
                if result.mail == "manual":
                    text += (
                        " SMTPが未設定のため、返信は「手動送信」として記録しました(文面をコピーしてお送りください)。"
                    )
                elif result.mail == "sent":
                    text += " 返信を送信しました。"
            self.changed.emit(self.number)
            self.refresh()
            self.status.show_text(text, Tone.SUCCESS)

        run_task(self.runner, self.splitter, self.status, fn, done, busy=busy)

    def record(self) -> None:
        qt = self.requested_at.dateTime()
        d, t = qt.date(), qt.time()
        at = to_utc(datetime(d.year(), d.month(), d.day(), t.hour(), t.minute(), tzinfo=JST))
        channel, note = str(self.channel.currentData()), self.note.text()
        self._step(lambda: self.service.open_request(self.number, at=at, channel=channel, note=note), "記録しています…")

    def store_costs(self) -> None:
        values = (self.shipping_cost.value(), self.payment_fee.value(), self.resale_estimate.value())
        self._step(
            lambda: self.service.set_costs(
                self.number, shipping_cost=values[0], payment_fee=values[1], resale_estimate=values[2]
            ),
            "保存しています…",
        )

    def reply(self) -> None:
        self._step(lambda: self.service.reply(self.number), "返信しています…")

    def resolve(self) -> None:
        option = self.selected_option()
        if option is None or self.state is None:
            self.status.show_text("左の表から対応を選んでください。", Tone.ATTENTION)
            return
        outcome = next(o for o in self.state.options if o.option is option)
        if outcome.refund and not self.confirm(
            f"{option.label}で確定します。返金額 {outcome.refund:,}円(ショップの収支 {_yen(outcome.shop_result)})。"
            "返信を送り、発送済みなら返品を待って返金します。よろしいですか?"
        ):
            return
        self._step(lambda: self.service.resolve(self.number, option.value, confirmed=True), "確定しています…")

    def switch_full(self) -> None:
        if not self.confirm("全額返金に切り替えます(R48)。すでに一部を返金済みなら残りを返金します。よろしいですか?"):
            return
        self._step(lambda: self.service.switch_to_full(self.number, confirmed=True), "切り替えています…")

    def received(self) -> None:
        self._step(lambda: self.service.return_received(self.number), "記録しています…")

    def refund(self) -> None:
        request = self.state.request if self.state else None
        amount = ((request.refund_amount or 0) - request.refunded) if request else 0
        if not self.confirm(f"{amount:,}円を返金します。返金は取り消せません。よろしいですか?"):
            return
        self._step(lambda: self.service.return_refund(self.number, confirmed=True), "返金しています…")

    def supplier_failure(self) -> None:
        if not self.confirm(
            "仕入れ先の都合でお届けできないため、お詫び(担当者名で署名)を送り、全額返金(理由: その他)して"
            "受注をキャンセルします。途中で止まっても、もう一度押すと続きから再開します。よろしいですか?"
        ):
            return
        self._step(
            lambda: self.service.supplier_failure(self.number, confirmed=True), "お詫び・返金・キャンセルをしています…"
        )


_CLOSED = (RequestState.REFUNDED, RequestState.REFUSED, RequestState.CANCELED)
