"""The operation dialogs (issue 4, point 10) over the real core and the in-process sandbox:
live validation with full-width input, rule refusals inline, the refund allocation preview,
and irreversible confirmations that gate OK."""

from __future__ import annotations

from datetime import timedelta

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from core.app import Kanjo
from core.clock import FixedClock
from core.domain import OrderKind, Tone
from core.queries import OrderDetail
from gui.dialogs.amount_dialog import VOID_CONSEQUENCE, AmountChangeDialog
from gui.dialogs.common import UNDERSTOOD, LivePreview, parse_quantity, with_rule
from gui.dialogs.payment_date_dialog import ClearPaymentDateDialog
from gui.dialogs.refund_dialog import RefundDialog, refund_consequence
from gui.dialogs.withdrawal_dialogs import R15_FORCED, R36_HINT, CancelDialog, ChangeMethodDialog
from gui.tasks import ImmediateExecutor, TaskRunner
from tests.gui.conftest import ManualExecutor
from tests.gui.helpers import control
from tests.helpers import place_order


def detail(app: Kanjo, number: str) -> OrderDetail:
    return app.orders.detail(number)


def amount_dialog(qtbot: QtBot, app: Kanjo, runner: TaskRunner, number: str) -> AmountChangeDialog:
    dialog = AmountChangeDialog(detail(app, number), app.payments, runner)
    qtbot.addWidget(dialog)
    return dialog


def r39_order(app: Kanjo, number: str) -> tuple[str, str]:
    """domain.md R39: 500 yen captured; +200 increase in Seller Central; 100 refunded there
    from the original 500. Returns (original charge id, increase charge id)."""
    place_order(app, number, 500)
    app.payments.capture(number)
    control(app).seller_central("increase", number, 200)
    original = detail(app, number).charges[0].id
    control(app).seller_central("refund", number, 100, original)
    app.sync.sync_order(number)
    charges = detail(app, number).charges
    assert [(c.amount, c.origin) for c in charges] == [(500, "buyer"), (200, "seller_central")]
    return charges[0].id, charges[1].id


# --- parsing helpers ---------------------------------------------------------------------------


def test_quantities_and_rule_numbers_read_the_japanese_way() -> None:
    assert parse_quantity("２") == 2
    assert parse_quantity(" 3個 ") == 3
    for bad in ("", "0", "1.5", "-1", "二"):
        with pytest.raises(Exception, match="数量"):
            parse_quantity(bad)
    assert with_rule("増額できません。", "R30") == "増額できません(R30)。"
    assert with_rule("…までです(注文時の金額の900%)。", "R29") == "…までです(注文時の金額の900%, R29)。"
    assert with_rule("理由(R27)。", "R27") == "理由(R27)。"
    assert with_rule("確認してください。", "exactly-once") == "確認してください。"


# --- 金額変更 (R26–R30, R34) -----------------------------------------------------------------------


def test_amount_dialog_reads_full_width_input_and_says_the_difference_is_authorized_at_capture(
    qtbot: QtBot, app: Kanjo, runner: TaskRunner
) -> None:
    place_order(app, "A1", 5_000)
    dialog = amount_dialog(qtbot, app, runner, "A1")
    assert not dialog.ok_button.isEnabled() and dialog.message.text() == "変更がありません。"
    dialog.rows[0].price.setText("６，０００円")
    assert dialog.new_total == 6_000
    assert dialog.total_label.text().startswith("6,000円")
    assert "+1,000円" in dialog.total_label.text()
    assert (
        "差額1,000円" in dialog.message.text()
        and "入金処理" in dialog.message.text()
        and "R28" in dialog.message.text()
    )
    assert dialog.message.tone is Tone.ATTENTION
    assert dialog.ok_button.isEnabled()

    dialog.add_button.click()  # a new, empty row: cannot be read yet
    assert dialog.message.text() == "2行目: 商品名を入力してください。"
    assert dialog.message.tone is Tone.FAILURE and not dialog.ok_button.isEnabled()
    row = dialog.rows[1]
    row.name.setText("ギフト包装")
    row.price.setText("￥３００")
    row.quantity.setText("２")
    dialog.shipping.setText("８８０円")
    assert dialog.new_total == 6_000 + 600 + 880
    assert row.subtotal.text() == "600円"

    dialog.fees.setText("1.5")
    assert "小数点" in dialog.message.text() and not dialog.ok_button.isEnabled()
    assert dialog.fees.property("invalid") is True
    assert dialog.total_label.text() == "—"
    dialog.fees.setText("")
    assert dialog.message.text() == "手数料を入力してください。"
    dialog.fees.setText("０")
    assert dialog.fees.property("invalid") is False and dialog.ok_button.isEnabled()

    dialog.shipping.editingFinished.emit()  # what was understood is shown back
    assert dialog.shipping.text() == "880"

    dialog.ok_button.click()
    request = dialog.result_request
    assert request is not None
    assert request.items == (("テスト商品", 6_000, 1), ("ギフト包装", 300, 2))
    assert (request.shipping_fee, request.fees, request.discount, request.total) == (880, 0, 0, 7_480)
    assert not request.void_amazon and not request.confirmed


def test_amount_dialog_shows_the_r29_ceiling_inline_and_disables_ok(
    qtbot: QtBot, app: Kanjo, runner: TaskRunner
) -> None:
    place_order(app, "A2", 5_000)  # amountLimit = max(9 × 5,000, 70,000) = 70,000
    dialog = amount_dialog(qtbot, app, runner, "A2")
    dialog.rows[0].price.setText("７０，００１")
    assert dialog.message.tone is Tone.FAILURE
    assert "70,000円" in dialog.message.text() and "R29" in dialog.message.text()
    assert not dialog.ok_button.isEnabled()
    assert dialog.ok_button.toolTip() == dialog.message.text()  # the reason, also on the button
    dialog.rows[0].price.setText("７０，０００")
    assert dialog.ok_button.isEnabled()
    dialog.discount.setText("99,999")
    assert "マイナス" in dialog.message.text() and not dialog.ok_button.isEnabled()


def test_amount_dialog_refuses_any_increase_for_gift_balance_only_r30(
    qtbot: QtBot, app: Kanjo, runner: TaskRunner
) -> None:
    place_order(app, "A3", 5_000, instrument="gift")
    dialog = amount_dialog(qtbot, app, runner, "A3")
    dialog.shipping.setText("1")
    assert "ギフト券" in dialog.message.text() and "R30" in dialog.message.text()
    assert not dialog.ok_button.isEnabled()
    dialog.shipping.setText("0")
    dialog.discount.setText("１，０００")  # lowering is fine
    assert dialog.new_total == 4_000 and dialog.ok_button.isEnabled()


def test_amount_dialog_refuses_after_30_days_r27(
    qtbot: QtBot, app: Kanjo, runner: TaskRunner, clock: FixedClock
) -> None:
    place_order(app, "A4", 5_000, ordered_at=clock.now() - timedelta(days=31))
    dialog = amount_dialog(qtbot, app, runner, "A4")
    dialog.discount.setText("500")
    assert "30日" in dialog.message.text() and "Seller Central" in dialog.message.text()
    assert "R27" in dialog.message.text() and not dialog.ok_button.isEnabled()


def test_zero_total_offers_the_void_option_and_needs_the_acknowledgement_r34(
    qtbot: QtBot, app: Kanjo, runner: TaskRunner
) -> None:
    place_order(app, "A5", 5_000)
    dialog = amount_dialog(qtbot, app, runner, "A5")
    dialog.show()
    assert not dialog.void_box.isVisible() and not dialog.confirm.isVisible()
    dialog.rows[0].remove.click()
    assert dialog.rows == [] and dialog.new_total == 0
    assert dialog.void_box.isVisible() and dialog.void_box.text() == "Amazonの取引情報を取り消す"
    assert "決済不要" in dialog.message.text()
    # A total of 0 alone already names what it does (決済不要, the authorization Amazon keeps) and
    # needs the acknowledgement (issue 10 item 2).
    assert dialog.confirm.isVisible() and len(dialog.confirm.consequences) == 1
    assert "決済不要" in dialog.confirm.consequences[0] and "5,000円" in dialog.confirm.consequences[0]
    assert not dialog.ok_button.isEnabled()
    dialog.void_box.setChecked(True)
    assert dialog.confirm.isVisible() and dialog.confirm.consequences[-1] == VOID_CONSEQUENCE
    assert dialog.confirm.checkbox.text() == UNDERSTOOD
    assert not dialog.ok_button.isEnabled()
    dialog.confirm.checkbox.setChecked(True)
    assert dialog.ok_button.isEnabled()
    dialog.shipping.setText("100")  # no longer 0 yen: the option and its confirmation go away
    assert not dialog.void_box.isVisible() and not dialog.confirm.isVisible()
    dialog.shipping.setText("0")
    assert dialog.void_box.isChecked() and not dialog.ok_button.isEnabled()  # acknowledged anew
    dialog.confirm.checkbox.setChecked(True)
    dialog.ok_button.click()
    request = dialog.result_request
    assert request is not None and request.items == () and request.void_amazon and request.confirmed


def test_zero_total_without_void_is_confirmed_too_r34(qtbot: QtBot, app: Kanjo, runner: TaskRunner) -> None:
    place_order(app, "A7", 5_000)
    dialog = amount_dialog(qtbot, app, runner, "A7")
    dialog.show()
    dialog.rows[0].remove.click()
    assert not dialog.ok_button.isEnabled() and "理解しました" in dialog.ok_button.toolTip()
    dialog.confirm.checkbox.setChecked(True)
    dialog.ok_button.click()
    request = dialog.result_request
    assert request is not None and not request.void_amazon and request.confirmed
    app.payments.change_amount("A7", items=request.items, void_amazon=request.void_amazon, confirmed=request.confirmed)
    assert app.orders.detail("A7").total == 0


def test_amount_dialog_ask_returns_none_when_closed(qtbot: QtBot, app: Kanjo, runner: TaskRunner) -> None:
    place_order(app, "A6", 5_000)

    def close_it() -> None:
        widget = QApplication.activeModalWidget()
        assert isinstance(widget, AmountChangeDialog)
        widget.reject()

    QTimer.singleShot(0, close_it)
    assert AmountChangeDialog.ask(detail(app, "A6"), app.payments, runner) is None


# --- 返金 (R33, R38, R39) -------------------------------------------------------------------------


def test_refund_dialog_previews_the_r39_example_as_200_plus_400(qtbot: QtBot, app: Kanjo, runner: TaskRunner) -> None:
    original, increase = r39_order(app, "R1")
    dialog = RefundDialog(detail(app, "R1"), app.payments, runner)
    qtbot.addWidget(dialog)
    assert dialog.full.isChecked()
    assert dialog.allocation() == [(increase, 200, 200), (original, 400, 400)]
    assert dialog.table.item(0, 0).text() == "増額分(Seller Central)"
    assert dialog.table.item(1, 0).text() == "注文時の与信"
    assert dialog.total_label.text() == "返金額の合計 600円"
    assert "R39" in dialog.message.text()
    assert dialog.confirm.consequences == (refund_consequence(600),)
    assert "取り消せません" in dialog.confirm.consequences[0]
    assert not dialog.ok_button.isEnabled()  # a refund cannot be undone: acknowledge first
    dialog.confirm.checkbox.setChecked(True)
    assert dialog.ok_button.isEnabled()
    dialog.reason.setCurrentText("返品")
    dialog.ok_button.click()
    assert dialog.result_request is not None
    assert (dialog.result_request.amount, dialog.result_request.reason) == (None, "返品")


def test_refund_dialog_parses_a_full_width_amount_and_shows_the_ceiling_inline(
    qtbot: QtBot, app: Kanjo, runner: TaskRunner
) -> None:
    place_order(app, "R2", 3_000)
    app.payments.capture("R2")
    charge = detail(app, "R2").charges[0].id
    dialog = RefundDialog(detail(app, "R2"), app.payments, runner)
    qtbot.addWidget(dialog)
    dialog.amount.setText("１，０００円")
    assert dialog.partial.isChecked()  # typing an amount chooses 金額を指定
    assert dialog.allocation() == [(charge, 3_000, 1_000)]
    assert dialog.confirm.consequences == (refund_consequence(1_000),)
    dialog.confirm.checkbox.setChecked(True)
    assert dialog.ok_button.isEnabled()
    dialog.amount.setText("５，０００")
    assert dialog.message.text() == "返金できるのは残り3,000円までです(R39)。"
    assert dialog.message.tone is Tone.FAILURE
    assert dialog.allocation() == [] and not dialog.ok_button.isEnabled() and not dialog.confirm.isVisible()
    dialog.amount.setText("千円")
    assert "数字で入力" in dialog.message.text() and not dialog.ok_button.isEnabled()
    dialog.amount.setText("0")
    assert "1円以上" in dialog.message.text()
    dialog.amount.setText("2000")
    assert not dialog.ok_button.isEnabled()  # a new amount is acknowledged anew
    dialog.confirm.checkbox.setChecked(True)
    dialog.ok_button.click()
    assert dialog.result_request is not None and dialog.result_request.amount == 2_000


def test_refund_dialog_before_capture_says_to_cancel_instead(qtbot: QtBot, app: Kanjo, runner: TaskRunner) -> None:
    place_order(app, "R3", 3_000)
    dialog = RefundDialog(detail(app, "R3"), app.payments, runner)
    qtbot.addWidget(dialog)
    assert "売上確定前" in dialog.message.text() and "キャンセル" in dialog.message.text()
    assert not dialog.ok_button.isEnabled()


# --- キャンセル and 決済方法の変更 (R33–R36, R15, R6) ---------------------------------------------------


def test_cancel_dialog_lists_the_plan_and_gates_the_void_behind_the_acknowledgement(
    qtbot: QtBot, app: Kanjo, runner: TaskRunner
) -> None:
    place_order(app, "C1", 3_000)
    dialog = CancelDialog(detail(app, "C1"), app.payments, runner)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.hint.text() == R36_HINT and "送料だけ" in R36_HINT and "金額変更" in R36_HINT
    assert "与信3,000円を取り消します。" in dialog.steps.text()
    assert not dialog.confirm.isVisible() and dialog.ok_button.isEnabled()  # nothing irreversible yet
    dialog.void_box.setChecked(True)
    expected = app.payments.cancel_preview("C1", void_amazon=True).irreversible
    assert dialog.confirm.isVisible() and dialog.confirm.consequences == expected  # verbatim
    for text in expected:
        assert text in dialog.confirm.list.text()
    assert "Charge Permission" in dialog.steps.text()
    assert not dialog.ok_button.isEnabled()
    dialog.confirm.checkbox.setChecked(True)
    assert dialog.ok_button.isEnabled()
    dialog.void_box.setChecked(False)
    dialog.void_box.setChecked(True)
    assert not dialog.ok_button.isEnabled()  # each time it is asked for, it is acknowledged anew
    dialog.confirm.checkbox.setChecked(True)
    dialog.reason.setText("お客様都合")
    dialog.ok_button.click()
    request = dialog.result_request
    assert request is not None and (request.void_amazon, request.confirmed, request.reason) == (
        True,
        True,
        "お客様都合",
    )
    assert control(app).snapshot("C1")["chargePermission"]["statusDetails"]["state"] == "Chargeable"  # only previews


def test_cancel_after_capture_names_the_refund_as_irreversible(qtbot: QtBot, app: Kanjo, runner: TaskRunner) -> None:
    original, increase = r39_order(app, "C2")
    dialog = CancelDialog(detail(app, "C2"), app.payments, runner)
    qtbot.addWidget(dialog)
    assert "売上600円を全額返金します。" in dialog.steps.text()
    assert original in dialog.refund_lines.text() and increase in dialog.refund_lines.text()
    assert dialog.confirm.consequences == ("600円の返金は取り消せません。",)
    assert not dialog.ok_button.isEnabled()


def test_cancel_of_a_reservation_always_deletes_the_transaction_r15(
    qtbot: QtBot, app: Kanjo, runner: TaskRunner
) -> None:
    place_order(app, "C3", 3_000, kind=OrderKind.RESERVATION)
    dialog = CancelDialog(detail(app, "C3"), app.payments, runner)
    qtbot.addWidget(dialog)
    assert dialog.void_box.isChecked() and not dialog.void_box.isEnabled()
    assert dialog.void_box.toolTip() == R15_FORCED and dialog.message.text() == R15_FORCED
    assert any("元に戻せません" in text for text in dialog.confirm.consequences)
    assert not dialog.ok_button.isEnabled()


def test_change_method_dialog_offers_no_amazon_pay_and_lists_the_plan(
    qtbot: QtBot, app: Kanjo, runner: TaskRunner
) -> None:
    place_order(app, "M1", 3_000)
    app.payments.capture("M1")
    dialog = ChangeMethodDialog(detail(app, "M1"), app.payments, runner)
    qtbot.addWidget(dialog)
    assert dialog.methods() == ["credit_card", "bank_transfer", "cod", "convenience_store", "other"]  # R6
    assert "売上3,000円を全額返金します。" in dialog.steps.text()
    assert dialog.confirm.consequences == ("3,000円の返金は取り消せません。",)
    dialog.select_method("cod")
    assert dialog.message.text() == "変更後の決済方法: 代金引換"
    dialog.void_box.setChecked(True)
    assert len(dialog.confirm.consequences) == 2 and not dialog.ok_button.isEnabled()
    dialog.confirm.checkbox.setChecked(True)
    dialog.ok_button.click()
    request = dialog.result_request
    assert request is not None and (request.method, request.void_amazon, request.confirmed) == ("cod", True, True)


def test_change_method_of_an_order_no_longer_on_amazon_pay_is_refused_inline(
    qtbot: QtBot, app: Kanjo, runner: TaskRunner
) -> None:
    place_order(app, "M2", 3_000)
    app.payments.change_method("M2", "bank_transfer")
    dialog = ChangeMethodDialog(detail(app, "M2"), app.payments, runner)
    qtbot.addWidget(dialog)
    assert "すでにAmazon Payではありません" in dialog.message.text() and "R33" in dialog.message.text()
    assert not dialog.ok_button.isEnabled()


# --- 入金日取消 (R37) -------------------------------------------------------------------------------


def test_clear_payment_date_dialog_says_nothing_is_sent_or_refunded(
    qtbot: QtBot, app: Kanjo, runner: TaskRunner
) -> None:
    place_order(app, "P1", 3_000)
    app.payments.capture("P1")
    dialog = ClearPaymentDateDialog(detail(app, "P1"), runner)
    qtbot.addWidget(dialog)
    text = dialog.text()
    assert "Amazon Payには何も送信しません" in text
    assert "返金も行われず" in text
    assert "R37" in text and "2026/11/21" in text
    assert dialog.ok_button.isEnabled() and dialog.ok_button.text() == "入金日を取り消す"
    place_order(app, "P2", 3_000)
    not_paid = ClearPaymentDateDialog(detail(app, "P2"), runner)
    qtbot.addWidget(not_paid)
    assert not not_paid.ok_button.isEnabled() and "記録されていません" in not_paid.ok_button.toolTip()


def test_clear_payment_date_ask_is_true_only_when_confirmed(qtbot: QtBot, app: Kanjo, runner: TaskRunner) -> None:
    place_order(app, "P3", 3_000)
    app.payments.capture("P3")
    answers = []

    def answer(confirm: bool) -> None:
        widget = QApplication.activeModalWidget()
        assert isinstance(widget, ClearPaymentDateDialog)
        answers.append(widget)
        if confirm:
            widget.ok_button.click()
        else:
            widget.reject()

    QTimer.singleShot(0, lambda: answer(True))
    assert ClearPaymentDateDialog.ask(detail(app, "P3"), runner) is True
    QTimer.singleShot(0, lambda: answer(False))
    assert ClearPaymentDateDialog.ask(detail(app, "P3"), runner) is False
    assert len(answers) == 2


# --- live preview mechanics ----------------------------------------------------------------------


def test_only_the_newest_preview_is_shown_while_older_ones_are_still_running(qtbot: QtBot, app: Kanjo) -> None:
    """Typing fast never queues one preview per keystroke, and a stale answer is never shown."""
    place_order(app, "L1", 3_000)
    app.payments.capture("L1")
    read = ManualExecutor()
    runner = TaskRunner(ImmediateExecutor(), read)
    try:
        dialog = RefundDialog(detail(app, "L1"), app.payments, runner)
        qtbot.addWidget(dialog)
        assert len(read.queue) == 1 and not dialog.ok_button.isEnabled()  # 全額: still being checked
        assert dialog.message.text() == "確認しています…"
        for text in ("1", "10", "100", "１，０００"):
            dialog.amount.setText(text)
        read.run_all()
        assert dialog.allocation()[0][2] == 1_000  # the last amount typed, not an older one
        assert not dialog.preview.pending
    finally:
        runner.shutdown()


def test_previews_on_a_real_worker_thread(qtbot: QtBot, app: Kanjo) -> None:
    place_order(app, "L2", 3_000)
    app.payments.capture("L2")
    runner = TaskRunner()
    try:
        dialog = RefundDialog(detail(app, "L2"), app.payments, runner)
        qtbot.addWidget(dialog)
        qtbot.waitUntil(lambda: dialog.plan is not None, timeout=10_000)
        assert dialog.allocation()[0][2] == 3_000
        dialog.amount.setText("１２３")
        assert dialog.plan is None and not dialog.ok_button.isEnabled()  # the GUI thread did not wait
        qtbot.waitUntil(lambda: dialog.plan is not None, timeout=10_000)
        assert dialog.allocation()[0][2] == 123
    finally:
        runner.shutdown()


def test_a_preview_answering_after_the_dialog_closed_is_dropped(qtbot: QtBot, app: Kanjo) -> None:
    place_order(app, "L3", 3_000)
    read = ManualExecutor()
    runner = TaskRunner(ImmediateExecutor(), read)
    try:
        preview = LivePreview(runner)
        shown: list[object] = []
        preview.request(lambda: "old", shown.append, shown.append)
        preview.drop()
        read.run_all()
        assert shown == [] and not preview.pending
    finally:
        runner.shutdown()
