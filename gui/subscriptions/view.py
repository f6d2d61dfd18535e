"""定期購入: the subscription desk (issue 12 item 6).

Contracts with their next date, state and this month's amount against the 100,000-yen limit
(R53); 「本日の受注生成」 runs the generation off the GUI thread with a progress dialog and
中止; the 保留 queue lists held generations with their reason and the buyer's subscription page
(R43, R59), and retries one or all after the buyer fixed their payment (R42). Reservations
whose authorization lapses before the planned shipping day are listed under it (R9, R12).
The window only calls :class:`core.subscriptions.service.SubscriptionService`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.errors import UserError
from core.money import format_yen
from core.subscriptions.rules import MONTHLY_LIMIT, HoldKind
from core.subscriptions.service import (
    ContractView,
    GenerationReport,
    HeldOrder,
    Progress,
    SubscriptionService,
)
from gui.errors import error_message, show_error
from gui.subscriptions.edit_dialog import ContractEditDialog
from gui.tasks import READ, CancelToken, TaskRunner

CONTRACT_HEADERS = ("ID", "最初の受注", "状態", "周期", "次回の受注生成", "回数", "1回の金額", "今月の与信 / 上限")
HELD_HEADERS = ("受注番号", "回", "金額", "理由", "再与信できる日", "購入者の案内先")


def report_text(report: GenerationReport) -> str:
    text = (
        f"受注生成: 生成 {report.generated}件、与信成功 {report.authorized}件、保留 {len(report.held)}件、"
        f"見送り {report.skipped}件"
    )
    if report.cancelled:
        text = "中止しました。" + text + "(残りの定期購入は生成していません)"
    if report.notices:
        text += "\n" + "\n".join(report.notices)
    return text


def guidance_text(held: HeldOrder) -> str:
    """What to tell the buyer of a held generation (R43 (2), R59)."""
    if held.kind == HoldKind.MONTHLY_LIMIT.value:
        return "購入者への連絡は不要です。上限の枠が空く月の最初の受注生成で自動的に再与信します(R53)。"
    return (
        "購入者にAmazon Payのお支払い設定の変更をお願いしてください(定期購入のページ: "
        f"{held.guidance_url})。変更の連絡があったら「選択した保留を再与信」を押します(R42)。"
    )


class SubscriptionsView(QDialog):
    """Signals:
    orders_changed(): generation or retry wrote orders (the main list reloads).
    """

    orders_changed = Signal()

    def __init__(
        self,
        service: SubscriptionService,
        runner: TaskRunner,
        *,
        compose: Callable[[str], object] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.service = service
        self.runner = runner
        self.compose = compose
        self.token: CancelToken | None = None
        self.progress: QProgressDialog | None = None
        self.last_report: GenerationReport | None = None
        self.held_orders: list[HeldOrder] = []
        self.setWindowTitle("定期購入")
        self.resize(1180, 720)

        self.today_label = QLabel()
        self.generate_button = QPushButton("本日の受注生成")
        self.generate_button.setObjectName("generateButton")
        self.generate_button.setToolTip("今日までに予定のある定期購入の受注を作り、Amazon Payで与信します(R17)。")
        self.reload_button = QPushButton("再読み込み")
        top = QHBoxLayout()
        top.addWidget(self.today_label, 1)
        top.addWidget(self.reload_button)
        top.addWidget(self.generate_button)

        self.contracts = _table(CONTRACT_HEADERS)
        self.contracts.setObjectName("contractsTable")
        self.contract_views: list[ContractView] = []
        self.pause_button = QPushButton("休止")
        self.resume_button = QPushButton("再開")
        self.edit_button = QPushButton("変更…")
        self.edit_button.setObjectName("editButton")
        self.edit_button.setToolTip("1回分の金額、送料、次回の受注生成日を変更します。")
        self.cancel_button = QPushButton("申込取消…")
        self.cancel_button.setToolTip("Amazon Payの支払い許可も削除します(元に戻せません、R15)。")
        contract_buttons = QHBoxLayout()
        contract_buttons.addStretch(1)
        for button in (self.edit_button, self.pause_button, self.resume_button, self.cancel_button):
            contract_buttons.addWidget(button)
        # Tests replace it; the default asks with the consequence named (R15, R35).
        self.confirm: Callable[[str], bool] = self._confirm
        self.held = _table(HELD_HEADERS)
        self.held.setObjectName("heldTable")
        self.held.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.guidance = QLabel()
        self.guidance.setWordWrap(True)
        self.guidance.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.retry_button = QPushButton("選択した保留を再与信")
        self.retry_all_button = QPushButton("すべての保留を再与信")
        self.compose_button = QPushButton("お支払いの案内を作成…")
        self.copy_button = QPushButton("案内先URLをコピー")
        held_buttons = QHBoxLayout()
        held_buttons.addWidget(self.compose_button)
        held_buttons.addWidget(self.copy_button)
        held_buttons.addStretch(1)
        held_buttons.addWidget(self.retry_button)
        held_buttons.addWidget(self.retry_all_button)
        self.reservations = QLabel()
        self.reservations.setWordWrap(True)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setObjectName("statusLabel")

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(_heading("定期購入(定期・頒布会)"))
        layout.addWidget(self.contracts, 3)
        layout.addLayout(contract_buttons)
        layout.addWidget(_heading("保留中の生成受注"))
        layout.addWidget(self.held, 2)
        layout.addWidget(self.guidance)
        layout.addLayout(held_buttons)
        layout.addWidget(_heading("予約受注の与信期限"))
        layout.addWidget(self.reservations)
        layout.addWidget(self.status)

        self.generate_button.clicked.connect(self.generate_today)
        self.reload_button.clicked.connect(self.reload)
        self.retry_button.clicked.connect(self.retry_selected)
        self.retry_all_button.clicked.connect(self.retry_all)
        self.compose_button.clicked.connect(self._on_compose_button_clicked)
        self.copy_button.clicked.connect(self._on_copy_button_clicked)
        self.held.itemSelectionChanged.connect(self._on_held_selection_changed)
        self.contracts.itemSelectionChanged.connect(self._on_contract_selection_changed)
        self.edit_button.clicked.connect(self.edit_selected)
        self.pause_button.clicked.connect(lambda: self._contract_action("pause"))
        self.resume_button.clicked.connect(lambda: self._contract_action("resume"))
        self.cancel_button.clicked.connect(lambda: self._contract_action("cancel"))
        self._on_held_selection_changed()
        self._on_contract_selection_changed()

    # --- reading ---------------------------------------------------------------------------------

    def reload(self) -> None:
        service = self.service

        def read() -> tuple[list[ContractView], list[HeldOrder], list[dict[str, object]], str]:
            return service.contracts(), service.held(), service.reservation_warnings(), service.today().isoformat()

        self.runner.run(read, self._show, self._failed, lane=READ)

    def _show(self, result: tuple[list[ContractView], list[HeldOrder], list[dict[str, object]], str]) -> None:
        contracts, held, warnings, today = result
        self.contract_views = list(contracts)
        self.today_label.setText(f"本日: {today}(東京)  定期購入 {len(contracts)}件 / 保留 {len(held)}件")
        self.contracts.setRowCount(len(contracts))
        for row, view in enumerate(contracts):
            rounds = f"{view.rounds_done} / {view.rounds_total}" if view.rounds_total else f"{view.rounds_done}"
            month = f"{format_yen(view.month_amount)} / {format_yen(MONTHLY_LIMIT)}"
            values = (
                str(view.id),
                view.order_number,
                view.state_label,
                view.every_label,
                view.next_date.isoformat(),
                rounds,
                format_yen(view.amount),
                month,
            )
            _fill(self.contracts, row, values)
            if view.note:
                for column in range(len(values)):
                    item = self.contracts.item(row, column)
                    if item is not None:
                        item.setToolTip(view.note)
        self.held_orders = list(held)
        self.held.setRowCount(len(held))
        for row, h in enumerate(held):
            retry = h.retry_from.isoformat() if h.retry_from else "購入者の支払い設定の変更後"
            _fill(self.held, row, (h.order_number, str(h.round), format_yen(h.amount), h.reason, retry, h.guidance_url))
        self.reservations.setText(
            "\n".join(f"{w['order_number']}: {w['message']}" for w in warnings)
            or "発送予定日より前に与信が切れる予約受注はありません。"
        )
        self._on_held_selection_changed()
        self._on_contract_selection_changed()

    def _failed(self, exc: BaseException) -> None:
        self._finish_progress()
        self.generate_button.setEnabled(True)
        if isinstance(exc, UserError):
            self.status.setText(error_message(exc))
            return
        show_error(self, exc)

    # --- contracts: pause, resume, 申込取消 ------------------------------------------------------

    def selected_contract(self) -> ContractView | None:
        rows = {index.row() for index in self.contracts.selectionModel().selectedRows()}
        row = next(iter(rows), None)
        return self.contract_views[row] if row is not None and row < len(self.contract_views) else None

    def _on_contract_selection_changed(self) -> None:
        view = self.selected_contract()
        state = view.state if view else ""
        self.edit_button.setEnabled(state in ("active", "paused"))
        self.pause_button.setEnabled(state == "active")
        self.resume_button.setEnabled(state == "paused")
        self.cancel_button.setEnabled(state in ("active", "paused"))

    def _contract_action(self, action: str) -> None:
        view = self.selected_contract()
        if view is None:
            return
        service = self.service
        if action == "cancel":
            consequence = service.cancel_consequence(view.id)
            if not self.confirm(consequence):
                return
        work = {
            "pause": lambda: service.pause(view.id),
            "resume": lambda: service.resume(view.id),
            "cancel": lambda: service.cancel(view.id, confirmed=True),
        }[action]

        def done(result: ContractView) -> None:
            self.status.setText(f"定期購入 {result.order_number} を{result.state_label}にしました。")
            self.orders_changed.emit()
            self.reload()

        self.runner.run(work, done, self._failed)

    def edit_dialog(self, view: ContractView) -> ContractEditDialog:
        """The dialog for ``view`` (tests fill and accept it themselves)."""
        return ContractEditDialog(view, self.service.today(), self)

    def edit_selected(self) -> None:
        view = self.selected_contract()
        if view is None:
            return
        dialog = self.edit_dialog(view)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        self.apply_edit(view, dialog)

    def apply_edit(self, view: ContractView, dialog: ContractEditDialog) -> None:
        edit = dialog.result_edit
        if edit is None or (edit.amount is None and edit.shipping_fee is None and edit.next_date is None):
            return
        service = self.service

        def work() -> ContractView:
            return service.edit(view.id, amount=edit.amount, shipping_fee=edit.shipping_fee, next_date=edit.next_date)

        def done(result: ContractView) -> None:
            self.status.setText(
                f"定期購入 {result.order_number} を変更しました(1回{format_yen(result.amount)}、"
                f"次回 {result.next_date:%Y/%m/%d})。"
            )
            self.orders_changed.emit()
            self.reload()

        self.runner.run(work, done, self._failed)

    def _confirm(self, text: str) -> bool:
        answer = QMessageBox.warning(
            self,
            "申込取消の確認",
            text + "\n\n申込取消にしますか?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes

    # --- 本日の受注生成 --------------------------------------------------------------------------

    def generate_today(self) -> None:
        """Generate today's rounds on the worker, with a progress dialog and 中止."""
        self.generate_button.setEnabled(False)
        token = CancelToken()
        self.token = token
        progress = QProgressDialog("受注を生成しています…", "中止", 0, 0, self)
        progress.setWindowTitle("本日の受注生成")
        progress.setWindowModality(Qt.WindowModality.WindowModal)
        progress.setMinimumDuration(0)
        progress.canceled.connect(token.cancel)
        self.progress = progress
        progress.show()
        relay = self.runner.progress_callback(self._on_progress)
        service = self.service

        def work() -> GenerationReport:
            return service.generate(progress=relay, cancelled=token.cancelled)

        self.runner.run(work, self._generated, self._failed)

    def _on_progress(self, step: Progress) -> None:
        if self.progress is None:
            return
        self.progress.setMaximum(step.total)
        self.progress.setValue(step.done)
        self.progress.setLabelText(f"受注を生成しています… {step.done:,} / {step.total:,}件 {step.order_number}")

    def _generated(self, report: GenerationReport) -> None:
        self._finish_progress()
        self.last_report = report
        self.generate_button.setEnabled(True)
        self.status.setText(report_text(report))
        self.orders_changed.emit()
        self.reload()

    def _finish_progress(self) -> None:
        if self.progress is not None:
            self.progress.reset()
            self.progress.hide()
            self.progress.deleteLater()
            self.progress = None

    # --- the 保留 queue ------------------------------------------------------------------------

    def selected_held(self) -> list[HeldOrder]:
        rows = sorted({index.row() for index in self.held.selectionModel().selectedRows()})
        return [self.held_orders[r] for r in rows if r < len(self.held_orders)]

    def _on_held_selection_changed(self) -> None:
        chosen = self.selected_held()
        self.retry_button.setEnabled(bool(chosen))
        self.compose_button.setEnabled(len(chosen) == 1 and self.compose is not None)
        self.copy_button.setEnabled(len(chosen) == 1)
        self.retry_all_button.setEnabled(bool(self.held_orders))
        self.guidance.setText(guidance_text(chosen[0]) if len(chosen) == 1 else "")

    def retry_selected(self) -> None:
        self._retry([h.order_number for h in self.selected_held()])

    def retry_all(self) -> None:
        service = self.service
        self.runner.run(service.retry_all, self._retried, self._failed)

    def _retry(self, numbers: Sequence[str]) -> None:
        service = self.service

        def work() -> GenerationReport:
            total = GenerationReport()
            for number in numbers:
                report = service.retry(number)
                total.authorized += report.authorized
                total.held.extend(report.held)
                total.skipped += report.skipped
                total.notices.extend(report.notices)
            return total

        self.runner.run(work, self._retried, self._failed)

    def _retried(self, report: GenerationReport) -> None:
        self.status.setText(
            f"再与信: 成功 {report.authorized}件、保留のまま {len(report.held)}件"
            + "".join(f"\n{h['order_number']}: {h['reason']}" for h in report.held)
        )
        self.orders_changed.emit()
        self.reload()

    def _on_compose_button_clicked(self) -> None:
        chosen = self.selected_held()
        if len(chosen) == 1 and self.compose is not None:
            self.compose(chosen[0].order_number)

    def _on_copy_button_clicked(self) -> None:
        chosen = self.selected_held()
        clipboard = QApplication.clipboard()
        if len(chosen) == 1 and clipboard is not None:
            clipboard.setText(chosen[0].guidance_url)
            self.status.setText(f"案内先をコピーしました: {chosen[0].guidance_url}")


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    return label


def _table(headers: Sequence[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(list(headers))
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def _fill(table: QTableWidget, row: int, values: Sequence[str]) -> None:
    for column, value in enumerate(values):
        item = QTableWidgetItem(value)
        item.setToolTip(value)
        table.setItem(row, column, item)
