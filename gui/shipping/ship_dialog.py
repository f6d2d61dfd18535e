"""発送: carrier, tracking number (checked as typed), date and the notice (R24)."""

from __future__ import annotations

from PySide6.QtCore import QDate, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from core.clock import to_jst
from core.domain import Tone
from core.shipping.carriers import CARRIER_LABELS, Carrier, check_tracking, tracking_url
from core.shipping.service import ShippingService, ShipResult
from gui.shipping.common import StatusLine, run_task
from gui.tasks import TaskRunner


class ShipDialog(QDialog):
    shipped = Signal(object)  # ShipResult

    def __init__(
        self, service: ShippingService, runner: TaskRunner, number: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.service, self.runner, self.number = service, runner, number
        self.result_value: ShipResult | None = None
        self.setWindowTitle(f"発送 — 受注番号 {number}")
        self.carrier = QComboBox()
        for carrier in Carrier:
            self.carrier.addItem(CARRIER_LABELS[carrier], carrier.value)
        self.tracking = QLineEdit()
        self.tracking.setObjectName("tracking")
        self.tracking.setPlaceholderText("例: 4444-1375-8703")
        self.check = QLabel()
        self.check.setObjectName("trackingCheck")
        self.check.setWordWrap(True)
        self.date = QDateEdit()
        self.date.setCalendarPopup(True)
        today = to_jst(service.clock_now()).date()
        self.date.setDate(QDate(today.year, today.month, today.day))
        self.date.setMaximumDate(QDate(today.year, today.month, today.day))
        self.notify = QCheckBox("発送通知を送る(追跡ページのリンクつき)")
        self.notify.setObjectName("notify")
        ready = service.smtp_ready()
        self.notify.setChecked(ready)
        self.notify.setEnabled(ready)
        if not ready:
            self.notify.setToolTip("SMTPサーバーが未設定です。発送後にメッセージ作成から手動で送れます。")
        form = QFormLayout()
        form.addRow("配送会社", self.carrier)
        form.addRow("送り状番号", self.tracking)
        form.addRow("", self.check)
        form.addRow("発送日", self.date)
        form.addRow("", self.notify)
        note = QLabel("承認済の受注は、発送の登録の前に入金処理(売上確定)をします(R24)。")
        note.setWordWrap(True)
        self.status = StatusLine()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ship_button = self.buttons.addButton("発送を登録", QDialogButtonBox.ButtonRole.AcceptRole)
        self.ship_button.setObjectName("shipButton")
        self.buttons.rejected.connect(self.reject)
        self.ship_button.clicked.connect(self.submit)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self.carrier.currentIndexChanged.connect(lambda _i: self._validate())
        self.tracking.textChanged.connect(lambda _t: self._validate())
        self._validate()

    def set_carrier(self, carrier: Carrier) -> None:
        self.carrier.setCurrentIndex(self.carrier.findData(carrier.value))

    def _validate(self) -> bool:
        carrier = Carrier(self.carrier.currentData())
        checked = check_tracking(carrier, self.tracking.text())
        if not self.tracking.text().strip():
            self.check.setText("")
        elif checked.ok:
            link = tracking_url(carrier, checked.number)
            self.check.setText(f"✓ {checked.number}" + (f"  {link}" if link else ""))
        else:
            self.check.setText(checked.error or "")
        self.ship_button.setEnabled(checked.ok)
        return checked.ok

    def submit(self) -> None:
        if not self._validate():
            return
        carrier = str(self.carrier.currentData())
        tracking = self.tracking.text()
        qdate = self.date.date()
        from datetime import date

        shipped_on = date(qdate.year(), qdate.month(), qdate.day())
        notify = self.notify.isChecked()
        run_task(
            self.runner,
            self,
            self.status,
            lambda: self.service.ship(self.number, carrier, tracking, shipped_on=shipped_on, notify=notify),
            self._done,
            busy="入金処理と発送の登録をしています…",
        )

    def _done(self, result: ShipResult) -> None:
        self.result_value = result
        tone = Tone.ATTENTION if result.notice_error else Tone.SUCCESS
        self.status.show_text(result.message + (f" {result.notice_error}" if result.notice_error else ""), tone)
        self.shipped.emit(result)
        self.ship_button.setEnabled(False)
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("閉じる")
