"""注文を追加: one order from its Charge Permission ID, everything else read from Amazon Pay
(issue 11 item 3; R57). The read runs on the work lane; a 404 or an order already registered is
a Japanese sentence in the dialog, which stays open to correct the ID."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from core.domain import Tone
from core.errors import UserError
from core.imports.service import ImportService
from gui.errors import error_message, show_error
from gui.imports.message_frame import MessageFrame
from gui.tasks import TaskRunner


class AddOrderDialog(QDialog):
    """Signals:
    added(str): the new order's number.
    """

    added = Signal(str)

    def __init__(self, imports: ImportService, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("addOrderDialog")
        self.setWindowTitle("注文を追加")
        self.setMinimumWidth(520)
        self.imports = imports
        self.runner = runner
        self.busy = False
        intro = QLabel(
            "Amazon PayのCharge Permission IDから受注を追加します。金額・お客様・お届け先はAmazon Payから読み込みます。"
        )
        intro.setWordWrap(True)
        self.permission = QLineEdit()
        self.permission.setObjectName("addPermission")
        self.permission.setPlaceholderText("例: S03-1234567-1234567")
        self.number = QLineEdit()
        self.number.setObjectName("addNumber")
        self.number.setPlaceholderText("空のときはAmazon Payに登録された注文番号")
        self.charges = QLineEdit()
        self.charges.setObjectName("addCharges")
        self.charges.setPlaceholderText("任意。複数のときはスペースで区切ります")
        form = QFormLayout()
        form.addRow("Charge Permission ID *", self.permission)
        form.addRow("受注番号", self.number)
        form.addRow("Charge ID", self.charges)
        self.message = MessageFrame("addOrderMessage")
        self.buttons = QDialogButtonBox()
        self.add_button = self.buttons.addButton("追加", QDialogButtonBox.ButtonRole.AcceptRole)
        self.add_button.setObjectName("addOrderSubmit")
        self.close_button = self.buttons.addButton("閉じる", QDialogButtonBox.ButtonRole.RejectRole)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)

    def submit(self) -> None:
        if self.busy:
            return
        permission = self.permission.text().strip()
        if not permission:
            self.message.show_message("Charge Permission IDを入力してください。", Tone.FAILURE)
            self.permission.setFocus()
            return
        number = self.number.text().strip() or None
        charges = self.charges.text().replace(",", " ").replace("、", " ").split()
        self._set_busy(True)
        self.message.show_message("Amazon Payから読み込んでいます…", Tone.PROGRESS)
        self.runner.run(
            lambda: self.imports.add_by_charge_permission(permission, number, charges), self._on_added, self._on_failed
        )

    def _on_added(self, number: str) -> None:
        self._set_busy(False)
        self.message.hide()
        self.added.emit(number)
        self.accept()

    def _on_failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        self.message.show_message(error_message(exc), Tone.FAILURE)
        if not isinstance(exc, UserError):
            show_error(self, exc, title="予期しないエラー")

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        for widget in (self.permission, self.number, self.charges, self.add_button):
            widget.setEnabled(not busy)

    def reject(self) -> None:
        if self.busy:
            return  # the read from Amazon Pay finishes first (its outcome is shown)
        super().reject()
