"""The operation dialogs wired into the window: the detail panel's 操作 buttons follow core's rules
(with the reason as a tooltip), operations run on the work lane with the order busy until the
outcome is known, and the outcome, the row and the detail follow."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from PySide6.QtWidgets import QWidget

from core.app import Kanjo
from core.clock import FixedClock
from core.domain import PaymentStatus, Tone
from core.queries import OrderDetail
from core.services.payments import PaymentService
from gui.dialogs.amount_dialog import AmountChangeDialog
from gui.dialogs.operation_bar import BUSY, Operation
from gui.dialogs.payment_date_dialog import ClearPaymentDateDialog
from gui.dialogs.refund_dialog import RefundDialog, RefundRequest
from gui.dialogs.withdrawal_dialogs import CancelDialog, CancelRequest, ChangeMethodDialog
from gui.main_window import MainWindow
from gui.orders.table_model import Column
from gui.tasks import TaskRunner
from tests.gui.conftest import MakeWindow, ManualExecutor
from tests.gui.helpers import control, payment_text, select
from tests.helpers import place_order


def drive(
    monkeypatch: pytest.MonkeyPatch, dialog_class: type[Any], operate: Callable[[Any], None], opened: list[Any]
) -> None:
    """Replace ``dialog_class.ask`` by one that builds the real dialog, lets ``operate`` use it
    like the operator would (ending with a click on OK or 閉じる), and returns its result."""

    def ask(cls: type[Any], detail: OrderDetail, *args: Any) -> Any:
        dialog = cls(detail, *args)
        opened.append(dialog)
        operate(dialog)
        if isinstance(dialog, ClearPaymentDateDialog):
            return dialog.result() == ClearPaymentDateDialog.DialogCode.Accepted
        return dialog.result_request if dialog.result() == dialog.DialogCode.Accepted else None

    monkeypatch.setattr(dialog_class, "ask", classmethod(ask))


def button(window: MainWindow, operation: Operation) -> QWidget:
    return window.detail.operation_bar.button(operation)


def sandbox_permission_state(app: Kanjo, number: str) -> str:
    state: str = control(app).snapshot(number)["chargePermission"]["statusDetails"]["state"]
    return state


def test_operation_buttons_follow_the_rules_with_the_reason_as_tooltip(
    app: Kanjo, make_window: MakeWindow, clock: FixedClock
) -> None:
    place_order(app, "B1", 3_000)
    place_order(app, "B2", 3_000, ordered_at=clock.now() - timedelta(days=31))
    window = make_window()
    select(window, "B1")
    assert button(window, Operation.AMOUNT).isEnabled()
    assert button(window, Operation.CANCEL).isEnabled()
    assert button(window, Operation.CHANGE_METHOD).isEnabled()
    refund = button(window, Operation.REFUND)
    assert not refund.isEnabled() and "売上確定前" in refund.toolTip()
    clear = button(window, Operation.CLEAR_PAYMENT_DATE)
    assert not clear.isEnabled() and "入金日が記録されていません" in clear.toolTip()
    select(window, "B2")
    amount = button(window, Operation.AMOUNT)
    assert not amount.isEnabled() and "30日" in amount.toolTip() and "R27" in amount.toolTip()
    window.detail.reauthorize_button.click()
    window.detail.capture_button.click()  # captured now: the buttons follow
    assert payment_text(window, "B2") == "請求済"
    assert button(window, Operation.REFUND).isEnabled()
    assert button(window, Operation.CLEAR_PAYMENT_DATE).isEnabled()
    assert "R31" in button(window, Operation.AMOUNT).toolTip()


def test_amount_change_end_to_end_with_full_width_input(
    app: Kanjo, make_window: MakeWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    place_order(app, "E1", 5_000)
    window = make_window()
    select(window, "E1")
    opened: list[AmountChangeDialog] = []

    def operate(dialog: AmountChangeDialog) -> None:
        dialog.rows[0].quantity.setText("２")
        dialog.shipping.setText("¥８８０")
        assert "差額5,880円" in dialog.message.text()
        dialog.ok_button.click()

    drive(monkeypatch, AmountChangeDialog, operate, opened)
    button(window, Operation.AMOUNT).click()
    assert len(opened) == 1
    assert window.banner.tone is Tone.SUCCESS and "10,880円に変更しました" in window.banner.text()
    assert "差額5,880円" in window.banner.text()  # R28: authorized first at 入金処理
    row = window.model.row_of("E1")
    assert row is not None and window.model.index(row, Column.TOTAL).data() == "10,880円"
    assert window.detail.amount_labels["total"].text() == "10,880円"
    window.detail.capture_button.click()  # R28: the increase is authorized, then everything captured
    assert app.orders.detail("E1").captured == 10_880


def test_refund_end_to_end_returns_every_remaining_yen_r39(
    app: Kanjo, make_window: MakeWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    place_order(app, "E2", 500)
    app.payments.capture("E2")
    control(app).seller_central("increase", "E2", 200)
    original = app.orders.detail("E2").charges[0].id
    control(app).seller_central("refund", "E2", 100, original)
    app.sync.sync_order("E2")
    window = make_window()
    select(window, "E2")
    opened: list[RefundDialog] = []

    def operate(dialog: RefundDialog) -> None:
        assert [amount for _id, _left, amount in dialog.allocation()] == [200, 400]
        assert not dialog.ok_button.isEnabled()
        dialog.confirm.checkbox.setChecked(True)
        dialog.reason.setCurrentText("返品")
        dialog.ok_button.click()

    drive(monkeypatch, RefundDialog, operate, opened)
    button(window, Operation.REFUND).click()
    assert window.banner.tone is Tone.SUCCESS, window.banner.text()
    detail = window.detail.detail
    assert detail is not None
    refunds = sorted((r.amount, r.reason) for r in detail.refunds if r.origin == "product")
    assert refunds == [(200, "返品"), (400, "返品")]
    assert payment_text(window, "E2") == PaymentStatus.REFUND_PENDING.value
    assert not button(window, Operation.REFUND).isEnabled()  # nothing left (pending refunds count)
    assert "残額" in button(window, Operation.REFUND).toolTip()


def test_cancel_with_void_closes_the_charge_permission_only_after_confirmation(
    app: Kanjo, make_window: MakeWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    place_order(app, "E3", 3_000)
    window = make_window()
    select(window, "E3")
    opened: list[CancelDialog] = []

    def operate(dialog: CancelDialog) -> None:
        dialog.void_box.setChecked(True)
        assert not dialog.ok_button.isEnabled()
        dialog.ok_button.click()  # ignored: not acknowledged
        assert dialog.result_request is None
        assert sandbox_permission_state(app, "E3") == "Chargeable"
        dialog.confirm.checkbox.setChecked(True)
        dialog.ok_button.click()

    drive(monkeypatch, CancelDialog, operate, opened)
    button(window, Operation.CANCEL).click()
    assert sandbox_permission_state(app, "E3") == "Closed"
    assert window.banner.tone is Tone.SUCCESS, window.banner.text()
    detail = window.detail.detail
    assert detail is not None and detail.order_status == "キャンセル"
    assert detail.charge_permission is not None and detail.charge_permission.state == "Closed"
    assert window.detail.cp_labels["state"].text().startswith("終了")
    assert not button(window, Operation.CANCEL).isEnabled()
    assert "すでにキャンセル" in button(window, Operation.CANCEL).toolTip()


def test_closing_the_cancel_dialog_sends_nothing(
    app: Kanjo, make_window: MakeWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    place_order(app, "E4", 3_000)
    window = make_window()
    select(window, "E4")
    calls = len(control(app).calls())
    drive(monkeypatch, CancelDialog, lambda dialog: dialog.reject(), [])
    button(window, Operation.CANCEL).click()
    assert len(control(app).calls()) == calls
    assert not window.banner.text()
    assert button(window, Operation.CANCEL).isEnabled()


def test_change_method_end_to_end(app: Kanjo, make_window: MakeWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    place_order(app, "E5", 3_000)
    window = make_window()
    select(window, "E5")

    def operate(dialog: ChangeMethodDialog) -> None:
        dialog.select_method("bank_transfer")
        dialog.ok_button.click()

    drive(monkeypatch, ChangeMethodDialog, operate, [])
    button(window, Operation.CHANGE_METHOD).click()
    assert window.banner.tone is Tone.SUCCESS, window.banner.text()
    assert payment_text(window, "E5") == "対象外"  # the R10 badge disappears (R33): paid otherwise now
    assert not button(window, Operation.CHANGE_METHOD).isEnabled()
    assert "すでにAmazon Payではありません" in button(window, Operation.CHANGE_METHOD).toolTip()


def test_clear_payment_date_end_to_end_sends_nothing(
    app: Kanjo, make_window: MakeWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    place_order(app, "E6", 3_000)
    window = make_window()
    select(window, "E6")
    window.detail.capture_button.click()
    calls = len(control(app).calls())
    drive(monkeypatch, ClearPaymentDateDialog, lambda dialog: dialog.ok_button.click(), [])
    button(window, Operation.CLEAR_PAYMENT_DATE).click()
    assert len(control(app).calls()) == calls  # R37: nothing sent
    assert "送信しておらず" in window.banner.text() and "返金もされていません" in window.banner.text()
    detail = window.detail.detail
    assert detail is not None and detail.payment_date is None and detail.captured == 3_000
    assert not button(window, Operation.CLEAR_PAYMENT_DATE).isEnabled()


def test_operation_waits_for_its_outcome_with_every_button_disabled(
    app: Kanjo,
    make_window: MakeWindow,
    manual_runner: tuple[TaskRunner, ManualExecutor],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    place_order(app, "E7", 3_000)
    app.payments.capture("E7")
    task_runner, work = manual_runner
    window = make_window(task_runner=task_runner, start=False)
    window.model.set_query(window.model.query)
    select(window, "E7")
    monkeypatch.setattr(RefundDialog, "ask", classmethod(lambda cls, *args: RefundRequest(1_000, "一部返金")))
    button(window, Operation.REFUND).click()
    assert len(work.queue) == 1  # on the work lane, not yet run
    for operation in Operation:
        assert not button(window, operation).isEnabled()
        assert button(window, operation).toolTip().startswith(BUSY)  # then its shortcut, if any (issue 16)
    assert not window.detail.capture_button.isEnabled()
    assert window.detail.busy_label.text() == "返金中…"
    assert window.operations.refund("E7", 1_000, "") is False  # a second one is refused while in flight
    work.run_all()
    assert window.banner.tone is Tone.SUCCESS
    assert app.orders.detail("E7").pending_refund == 1_000
    assert button(window, Operation.REFUND).isEnabled()  # 2,000 yen are still refundable
    assert window.detail.busy_label.text() == ""


def test_a_refused_operation_shows_the_japanese_reason(
    app: Kanjo, make_window: MakeWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Core re-checks everything: a void that was not confirmed is refused and nothing is sent."""
    place_order(app, "E8", 3_000)
    window = make_window()
    select(window, "E8")
    monkeypatch.setattr(CancelDialog, "ask", classmethod(lambda cls, *args: CancelRequest(True, False, "")))
    button(window, Operation.CANCEL).click()
    assert window.banner.tone is Tone.FAILURE
    assert "キャンセルができませんでした" in window.banner.text() and "確認が必要" in window.banner.text()
    assert sandbox_permission_state(app, "E8") == "Chargeable"
    assert button(window, Operation.CANCEL).isEnabled()


def test_a_gateway_failure_is_reported_and_the_order_is_left_as_it_was(
    app: Kanjo, make_window: MakeWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    place_order(app, "E9", 3_000)
    app.payments.capture("E9")
    window = make_window()
    select(window, "E9")
    control(app).add_fault("503", count=10, path="/refunds")
    monkeypatch.setattr(RefundDialog, "ask", classmethod(lambda cls, *args: RefundRequest(None, "")))
    button(window, Operation.REFUND).click()
    assert window.banner.tone is Tone.FAILURE and "返金ができませんでした" in window.banner.text()
    assert app.orders.detail("E9").refunded == 0
    control(app).clear_faults()


def test_dialogs_get_the_window_as_parent(app: Kanjo, make_window: MakeWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    place_order(app, "E10", 3_000)
    window = make_window()
    select(window, "E10")
    seen: list[tuple[str, PaymentService, QWidget | None]] = []

    def ask(cls: type, detail: OrderDetail, payments: PaymentService, _runner: TaskRunner, parent: QWidget) -> None:
        seen.append((detail.number, payments, parent))

    monkeypatch.setattr(AmountChangeDialog, "ask", classmethod(ask))
    button(window, Operation.AMOUNT).click()
    assert seen == [("E10", app.payments, window)]
