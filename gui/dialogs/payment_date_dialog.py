"""入金日取消 (R37): clears the recorded payment date here only. The dialog says plainly that
nothing goes to Amazon and no money moves, so nobody mistakes it for a refund."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QWidget

from core.clock import format_jst
from core.domain import Tone
from core.queries import OrderDetail
from gui.dialogs.common import InlineMessage, OperationDialog, run_modal, with_rule
from gui.tasks import TaskRunner

NOTHING_SENT = "Amazon Payには何も送信しません。返金も行われず、売上(請求)はそのまま残ります。"
WHAT_IT_DOES = "この受注に記録されている入金日だけを取り消します(この端末の記録の変更です)。"
IF_MONEY = "お客様にお金を返す場合は、入金日取消ではなく「返金」または「キャンセル」を使ってください。"


class ClearPaymentDateDialog(OperationDialog):
    def __init__(self, detail: OrderDetail, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(f"入金日取消 — 受注番号 {detail.number}", "入金日を取り消す", runner, parent)
        self.detail = detail
        recorded = format_jst(detail.payment_date) if detail.payment_date else "記録なし"
        self.heading.setText(f"記録されている入金日: {recorded}")
        self.what = QLabel(WHAT_IT_DOES)
        self.what.setWordWrap(True)
        self.what.setObjectName("clearWhat")
        self.nothing_sent = InlineMessage()
        self.nothing_sent.setObjectName("nothingSent")
        self.nothing_sent.show_message(with_rule(NOTHING_SENT, "R37"), Tone.ATTENTION)
        self.money = QLabel(IF_MONEY)
        self.money.setWordWrap(True)
        self.body.addWidget(self.what)
        self.body.addWidget(self.nothing_sent)
        self.body.addWidget(self.money)
        self.setMinimumWidth(480)
        self.set_ok(detail.payment_date is not None, "入金日が記録されていません。")

    @classmethod
    def ask(cls, detail: OrderDetail, runner: TaskRunner, parent: QWidget | None = None) -> bool:
        """Show the dialog; True when the operator confirmed (tests monkeypatch this)."""
        dialog = cls(detail, runner, parent)
        return run_modal(dialog)

    def text(self) -> str:
        """Everything the dialog says, for tests and screen readers."""
        return "\n".join((self.heading.text(), self.what.text(), self.nothing_sent.text(), self.money.text()))
