"""Issue 4 operations over the real store and sandbox: amount change, refunds, cancel and void,
payment-method change, zero total, 入金日取消, automatic sync off, and faults."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from core.app import Kanjo
from core.clock import FixedClock
from core.domain import OrderKind, PaymentStatus
from core.errors import BadInput, RuleViolation, UserError
from core.sandbox.control import SandboxControl
from tests.helpers import place_order


@pytest.fixture
def store_url(any_store_url: str) -> str:
    """Every test here runs on a SQLite file and on PostgreSQL (issue 14)."""
    return any_store_url


def control(app: Kanjo) -> SandboxControl:
    ctl = app.gateway().control
    assert ctl is not None
    return ctl


def sandbox_states(app: Kanjo, number: str) -> dict[str, list[str]]:
    snap = control(app).snapshot(number)
    return {
        "cp": [snap["chargePermission"]["statusDetails"]["state"]],
        "charges": [c["statusDetails"]["state"] for c in snap["charges"]],
        "refunds": [r["statusDetails"]["state"] for r in snap["refunds"]],
    }


# --- amount change (R26–R30, R5, R28) --------------------------------------------------------


def test_r28_raised_total_is_authorized_at_capture_then_captured(app: Kanjo) -> None:
    place_order(app, "A1", 5_000)
    result = app.payments.change_amount("A1", total=8_000)
    assert "3,000円" in result.message  # says the difference will be authorized at capture
    detail = app.orders.detail("A1")
    assert detail.total == 8_000 and detail.authorized == 5_000  # nothing sent yet (R28)
    assert not [c for c in control(app).calls() if c["path"] == "/charges"]
    assert app.payments.capture("A1").ok
    detail = app.orders.detail("A1")
    assert [(c.amount, c.purpose) for c in detail.charges] == [(5_000, "original"), (3_000, "increase")]
    assert detail.captured == 8_000


def test_r26_lowered_total_captures_only_the_new_total(app: Kanjo) -> None:
    place_order(app, "A2", 5_000)
    app.payments.change_amount("A2", total=4_200)
    app.payments.capture("A2")
    assert app.orders.detail("A2").captured == 4_200
    assert sandbox_states(app, "A2")["charges"] == ["Captured"]


def test_r29_increase_cap_is_the_permissions_amount_limit(app: Kanjo) -> None:
    place_order(app, "A3", 5_000)  # amountLimit = max(9 × 5,000, 70,000) = 70,000
    assert app.payments.amount_preview("A3", 70_000).allowed
    refused = app.payments.amount_preview("A3", 70_001)
    assert not refused.allowed and refused.rule == "R29" and "70,000円" in (refused.refusal or "")
    with pytest.raises(RuleViolation, match="70,000円"):
        app.payments.change_amount("A3", total=70_001)
    assert app.orders.detail("A3").total == 5_000  # refused: nothing changed


def test_r29_nine_times_for_larger_orders(app: Kanjo) -> None:
    place_order(app, "A4", 10_000)
    assert app.payments.amount_preview("A4", 90_000).allowed
    assert not app.payments.amount_preview("A4", 90_001).allowed


def test_r30_gift_balance_only_cannot_be_increased(app: Kanjo) -> None:
    place_order(app, "A5", 5_000, instrument="gift")
    with pytest.raises(RuleViolation, match="ギフト券"):
        app.payments.change_amount("A5", total=5_001)
    assert app.payments.change_amount("A5", total=4_000).ok  # decreasing is fine


def test_r27_amount_change_window_is_30_days(app: Kanjo, clock: FixedClock) -> None:
    place_order(app, "A6", 5_000, ordered_at=clock.now() - timedelta(days=30, seconds=1))
    refused = app.payments.amount_preview("A6", 4_000)
    assert refused.rule == "R27" and "Seller Central" in (refused.refusal or "")


def test_r5_ten_million_limit(app: Kanjo) -> None:
    place_order(app, "A7", 5_000)
    assert app.payments.amount_preview("A7", 10_000_001).rule == "R5"


def test_r31_no_amount_change_after_capture(app: Kanjo) -> None:
    place_order(app, "A8", 5_000)
    app.payments.capture("A8")
    assert app.payments.amount_preview("A8", 4_000).rule == "R31"


def test_line_items_and_fees_change_the_total(app: Kanjo) -> None:
    place_order(app, "A9", 5_000)
    app.payments.change_amount(
        "A9", items=[("テスト商品", 2_000, 2), ("追加商品", 500, 1)], shipping_fee=880, discount=100
    )
    detail = app.orders.detail("A9")
    assert detail.total == 4_000 + 500 + 880 - 100
    assert [(i.name, i.quantity) for i in detail.items] == [("テスト商品", 2), ("追加商品", 1)]
    with pytest.raises(BadInput):
        app.payments.change_amount("A9", shipping_fee=-1)


def test_r36_cancel_goods_but_charge_shipping(app: Kanjo) -> None:
    """R36: to charge only the shipping, change the amounts and capture; do not cancel."""
    place_order(app, "A10", 5_880)
    app.payments.change_amount("A10", items=[], shipping_fee=880)
    app.payments.capture("A10")
    assert app.orders.detail("A10").captured == 880


# --- refunds (R33, R38, R39) -----------------------------------------------------------------


def test_r39_full_refund_returns_every_remaining_yen_in_one_action(app: Kanjo) -> None:
    place_order(app, "R1", 500)
    app.payments.capture("R1")
    control(app).seller_central("increase", "R1", 200)
    original = app.orders.detail("R1").charges[0].id
    control(app).seller_central("refund", "R1", 100, original)
    app.sync.sync_order("R1")
    plan = app.payments.refund_preview("R1", None)
    assert sorted(line.amount for line in plan.lines) == [200, 400] and plan.total == 600
    result = app.payments.refund("R1", None, reason="返品")
    assert result.ok and result.amount == 600
    app.sync.sync_order("R1")
    detail = app.orders.detail("R1")
    assert detail.refunded == 700 and detail.payment_status == PaymentStatus.REFUNDED.value
    assert {r.reason for r in detail.refunds if r.origin == "product"} == {"返品"}
    with pytest.raises(RuleViolation, match="残額"):
        app.payments.refund("R1", None)


def test_partial_refund_takes_one_capture_and_never_more_than_is_left(app: Kanjo) -> None:
    place_order(app, "R2", 3_000)
    app.payments.capture("R2")
    plan = app.payments.refund_preview("R2", 1_000)
    assert [line.amount for line in plan.lines] == [1_000] and not plan.full
    app.payments.refund("R2", 1_000)
    with pytest.raises(RuleViolation, match="2,000円"):
        app.payments.refund_preview("R2", 2_001)  # the pending 1,000 counts as taken
    assert app.payments.refund("R2", 2_000).ok
    assert app.orders.detail("R2").pending_refund + app.orders.detail("R2").refunded == 3_000


def test_refund_before_capture_is_refused(app: Kanjo) -> None:
    place_order(app, "R3", 3_000)
    with pytest.raises(RuleViolation, match="キャンセル"):
        app.payments.refund("R3", 1_000)


def test_refund_timeout_is_unknown_then_recovered_exactly_once(app: Kanjo) -> None:
    place_order(app, "R4", 3_000)
    app.payments.capture("R4")
    ctl = control(app)
    ctl.settings(hang_seconds=3.0)
    ctl.add_fault("timeout", path="/refunds")
    assert app.payments.refund("R4", 1_000).outcome == "unknown"
    with pytest.raises(RuleViolation, match="結果不明"):
        app.payments.refund("R4", 500)
    assert [r.outcome for r in app.payments.recover()] == ["succeeded"]
    assert [r.amount for r in app.orders.detail("R4").refunds] == [1_000]
    assert len(sandbox_states(app, "R4")["refunds"]) == 1


def test_an_in_doubt_refund_is_not_resent_past_the_capture_after_a_seller_central_refund(app: Kanjo) -> None:
    """A refund lost to an outage, then a Seller Central refund, then recovery: Amazon would
    accept the resend up to 15 % over the capture; Kanjo holds it instead (money never lost)."""
    place_order(app, "R6", 3_000)
    app.payments.capture("R6")
    ctl = control(app)
    ctl.add_fault("503", count=20, path="/refunds")  # the refund never reaches Amazon
    assert app.payments.refund("R6", None).outcome == "unknown"
    charge_id = app.orders.detail("R6").charges[0].id
    ctl.seller_central("refund", "R6", 500, charge_id)  # meanwhile, in Seller Central
    ctl.clear_faults()
    [held] = app.payments.recover()
    assert held.outcome == "held" and not held.ok
    assert "再送していません" in held.message and "Seller Central" in held.message
    assert [r["refundAmount"]["amount"] for r in ctl.snapshot("R6")["refunds"]] == ["500"]  # 3,000 never sent
    assert app.payments.pending("R6") == []  # the order is not blocked
    app.sync.sync_order("R6")
    assert app.payments.refund_preview("R6", None).total == 2_500
    assert app.payments.refund("R6", None).ok
    app.sync.sync_order("R6")
    detail = app.orders.detail("R6")
    assert detail.refunded == 3_000 and detail.payment_status == PaymentStatus.REFUNDED.value


def test_a_refund_planned_from_a_stale_ledger_is_not_sent_past_the_capture(app: Kanjo) -> None:
    place_order(app, "R7", 3_000)
    app.payments.capture("R7")
    charge_id = app.orders.detail("R7").charges[0].id
    control(app).seller_central("refund", "R7", 400, charge_id)  # not synced yet
    result = app.payments.refund("R7", None)  # planned as 3,000 from what is known here
    assert result.outcome == "not_sent" and "400円" in result.message and "同期" in result.message
    assert len(control(app).snapshot("R7")["refunds"]) == 1
    app.sync.sync_order("R7")
    assert app.payments.refund("R7", None).amount == 2_600


def test_a_refund_resent_after_it_went_through_is_confirmed_not_held(app: Kanjo) -> None:
    place_order(app, "R8", 3_000)
    app.payments.capture("R8")
    ctl = control(app)
    ctl.settings(hang_seconds=3.0)
    ctl.add_fault("timeout", path="/refunds")  # processed by Amazon, the answer lost
    assert app.payments.refund("R8", None).outcome == "unknown"
    [recovered] = app.payments.recover()  # Amazon's refundedAmount already holds it
    assert recovered.outcome == "succeeded"
    assert [r.amount for r in app.orders.detail("R8").refunds] == [3_000]
    assert len(ctl.snapshot("R8")["refunds"]) == 1


def test_refund_decline_shows_refund_declined(app: Kanjo) -> None:
    place_order(app, "R5", 3_000)
    app.payments.capture("R5")
    control(app).decline_next("R5", "soft", "refund")
    app.payments.refund("R5", None)
    app.sync.sync_order("R5")
    assert app.orders.detail("R5").payment_status == PaymentStatus.REFUND_DECLINED.value


# --- cancel and void (R34, R35, R15, R16) ----------------------------------------------------


def test_cancel_before_capture_cancels_the_authorizations(app: Kanjo) -> None:
    place_order(app, "C1", 3_000)
    plan = app.payments.cancel_preview("C1")
    assert not plan.needs_confirmation and plan.irreversible == ()
    result = app.payments.cancel("C1")
    assert result.ok
    detail = app.orders.detail("C1")
    assert detail.order_status == "キャンセル" and detail.payment_status == PaymentStatus.AUTH_CANCELED.value
    assert sandbox_states(app, "C1") == {"cp": ["Chargeable"], "charges": ["Canceled"], "refunds": []}
    with pytest.raises(RuleViolation):
        app.payments.cancel("C1")


def test_cancel_with_void_closes_the_permission_only_when_confirmed(app: Kanjo) -> None:
    place_order(app, "C2", 3_000)
    plan = app.payments.cancel_preview("C2", void_amazon=True)
    assert plan.needs_confirmation
    assert any("元に戻せません" in text for text in plan.irreversible)
    with pytest.raises(RuleViolation, match="確認"):
        app.payments.cancel("C2", void_amazon=True)
    assert sandbox_states(app, "C2")["charges"] == ["Authorized"]  # refused: nothing sent
    app.payments.cancel("C2", void_amazon=True, confirmed=True)
    assert sandbox_states(app, "C2")["cp"] == ["Closed"]
    assert app.orders.detail("C2").charge_permission.state == "Closed"  # type: ignore[union-attr]


def test_cancel_after_capture_refunds_in_full_then_cancels(app: Kanjo) -> None:
    place_order(app, "C3", 3_000)
    app.payments.capture("C3")
    plan = app.payments.cancel_preview("C3")
    assert plan.refund is not None and plan.refund.total == 3_000
    assert any("返金は取り消せません" in text for text in plan.irreversible)
    assert app.payments.cancel("C3").ok
    detail = app.orders.detail("C3")
    assert detail.order_status == "キャンセル" and [r.amount for r in detail.refunds] == [3_000]


def test_r15_reservation_cancel_closes_the_permission(app: Kanjo) -> None:
    place_order(app, "C4", 3_000, kind=OrderKind.RESERVATION)
    assert app.payments.cancel_preview("C4").needs_confirmation
    app.payments.cancel("C4", confirmed=True)
    assert sandbox_states(app, "C4")["cp"] == ["Closed"]


def test_a_failed_first_step_stops_the_operation(app: Kanjo) -> None:
    place_order(app, "C5", 3_000)
    app.payments.capture("C5")
    control(app).add_fault("503", count=4, path="/refunds")
    result = app.payments.cancel("C5", void_amazon=True, confirmed=True)
    assert not result.ok
    detail = app.orders.detail("C5")
    assert detail.order_status != "キャンセル"
    assert sandbox_states(app, "C5")["cp"] == ["Chargeable"]  # the close step was never sent


# --- payment-method change (R33, R6) and zero total (R34) ------------------------------------


def test_change_method_before_capture_cancels_and_the_badge_disappears(app: Kanjo) -> None:
    place_order(app, "M1", 3_000)
    assert app.payments.change_method("M1", "bank_transfer").ok
    detail = app.orders.detail("M1")
    assert detail.payment_status is None
    assert sandbox_states(app, "M1")["charges"] == ["Canceled"]
    with pytest.raises(RuleViolation):
        app.payments.capture("M1")


def test_change_method_after_capture_refunds_in_full(app: Kanjo) -> None:
    place_order(app, "M2", 3_000)
    app.payments.capture("M2")
    app.payments.change_method("M2", "cod")
    assert [r.amount for r in app.orders.detail("M2").refunds] == [3_000]


def test_r6_changing_to_amazon_pay_is_refused(app: Kanjo) -> None:
    place_order(app, "M3", 3_000)
    with pytest.raises(RuleViolation, match="Amazon Payへの変更"):
        app.payments.change_method("M3", "amazon_pay")
    with pytest.raises(BadInput):
        app.payments.change_method("M3", "bitcoin")


def test_r34_zero_total_is_no_payment_needed(app: Kanjo) -> None:
    place_order(app, "Z1", 3_000)
    app.payments.change_amount("Z1", total=0, confirmed=True)
    detail = app.orders.detail("Z1")
    assert detail.total == 0 and detail.payment_status == PaymentStatus.AUTHORIZED.value  # not voided
    place_order(app, "Z2", 3_000)
    with pytest.raises(RuleViolation, match="確認"):
        app.payments.change_amount("Z2", total=0, void_amazon=True)
    app.payments.change_amount("Z2", total=0, void_amazon=True, confirmed=True)
    assert app.orders.detail("Z2").payment_status is None
    assert sandbox_states(app, "Z2")["cp"] == ["Closed"]


def test_r34_a_total_of_0_needs_a_named_confirmation_and_changes_nothing_without_it(app: Kanjo) -> None:
    place_order(app, "Z3", 3_000)
    preview = app.payments.amount_preview("Z3", 0)
    assert preview.needs_confirmation and "決済不要" in preview.consequences[0]
    assert "3,000円" in preview.consequences[0]  # the authorization Amazon keeps is named
    journal_before = len(app.orders.detail("Z3").journal)
    with pytest.raises(RuleViolation, match="確認が必要"):
        app.payments.change_amount("Z3", total=0)
    detail = app.orders.detail("Z3")
    assert detail.total == 3_000 and len(detail.journal) == journal_before
    assert detail.can_capture
    assert not app.payments.amount_preview("Z3", 2_000).needs_confirmation  # only 0 yen asks


def test_r34_after_a_total_of_0_the_order_follows_what_amazon_still_holds(app: Kanjo) -> None:
    """Not voided: the authorization stays at Amazon, so raising the total again brings the
    order back to Amazon Pay and the capture takes it; never an authorization nobody can capture."""
    place_order(app, "Z4", 3_000)
    app.payments.change_amount("Z4", total=0, confirmed=True)
    detail = app.orders.detail("Z4")
    assert not detail.can_capture and "決済不要" in detail.capture_blocked_reason
    assert detail.payment_status == PaymentStatus.AUTHORIZED.value  # Amazon still holds 3,000円
    app.payments.change_amount("Z4", total=2_500)
    detail = app.orders.detail("Z4")
    assert detail.total == 2_500 and detail.can_capture, detail.capture_blocked_reason
    assert app.payments.capture("Z4").ok
    assert app.orders.detail("Z4").captured == 2_500
    assert sandbox_states(app, "Z4")["charges"] == ["Captured"]


def test_r34_after_a_voided_total_of_0_the_total_cannot_rise_again(app: Kanjo) -> None:
    place_order(app, "Z5", 3_000)
    app.payments.change_amount("Z5", total=0, void_amazon=True, confirmed=True)
    assert sandbox_states(app, "Z5")["cp"] == ["Closed"]
    refusal = app.payments.amount_preview("Z5", 1_000)
    assert not refusal.allowed and refusal.rule == "R34"
    with pytest.raises(RuleViolation, match="終了しているため"):
        app.payments.change_amount("Z5", total=1_000)
    detail = app.orders.detail("Z5")
    assert detail.total == 0 and not detail.can_capture


# --- 入金日取消 (R37) -------------------------------------------------------------------------


def test_r37_clear_payment_date_is_local_only(app: Kanjo) -> None:
    place_order(app, "P1", 3_000)
    app.payments.capture("P1")
    calls = len(control(app).calls())
    result = app.payments.clear_payment_date("P1")
    assert "送信しておらず" in result.message
    detail = app.orders.detail("P1")
    assert detail.payment_date is None and detail.captured == 3_000
    assert len(control(app).calls()) == calls
    assert detail.journal[-1].action == "clear_payment_date"
    with pytest.raises(RuleViolation):
        app.payments.clear_payment_date("P1")


# --- automatic sync off (R11) ----------------------------------------------------------------


def test_r11_operations_are_recorded_only_and_a_sync_reconciles_them(app: Kanjo) -> None:
    place_order(app, "S1", 3_000)
    app.settings.save(auto_sync=False)
    calls = len(control(app).calls())
    assert app.payments.capture("S1").outcome == "local_only"
    assert len(control(app).calls()) == calls
    detail = app.orders.detail("S1")
    assert detail.seller_central_tasks == ("Seller Centralで実施が必要: 売上確定 3,000円",)
    assert detail.unsettled_operations == 0
    control(app).seller_central("capture", "S1", None)  # the operator does it in Seller Central
    app.sync.sync_order("S1")
    detail = app.orders.detail("S1")
    assert detail.seller_central_tasks == ()
    assert detail.payment_status == PaymentStatus.CAPTURE_COMPLETED.value
    assert "reconciled" in [j.action for j in detail.journal]


# --- retries of calls without an idempotency key (issue 10 item 14) ---------------------------


def test_a_resent_cancel_that_amazon_already_applied_is_recorded_as_done(app: Kanjo) -> None:
    """Cancel has no idempotency key: the resend meets a Canceled charge (422) and reads it."""
    place_order(app, "K1", 3_000)
    ctl = control(app)
    ctl.settings(hang_seconds=3.0)
    ctl.add_fault("timeout", path="/cancel")  # Amazon cancels, the answer is lost
    assert app.payments.cancel("K1").outcome == "unknown"
    assert sandbox_states(app, "K1")["charges"] == ["Canceled"]
    [recovered] = app.payments.recover()
    assert recovered.outcome == "succeeded" and recovered.ok
    detail = app.orders.detail("K1")
    assert detail.order_status == "キャンセル" and detail.payment_status == PaymentStatus.AUTH_CANCELED.value
    assert app.payments.pending("K1") == []
    assert [c["status"] for c in control(app).calls() if c["path"].endswith("/cancel")] == [200, 422]


def test_a_resent_close_meeting_an_already_closed_permission_is_recorded_as_done_r15(app: Kanjo) -> None:
    """Close has no idempotency key either: a resend meets a Closed permission (422) and reads it."""
    place_order(app, "K2", 3_000, kind=OrderKind.RESERVATION)
    ctl = control(app)
    ctl.settings(hang_seconds=3.0)
    ctl.add_fault("timeout", path="/close")  # Amazon closes, the answer is lost
    assert app.payments.cancel("K2", confirmed=True).outcome == "unknown"
    assert sandbox_states(app, "K2")["cp"] == ["Closed"]
    [recovered] = app.payments.recover()
    assert recovered.outcome == "succeeded" and recovered.ok, recovered.message
    detail = app.orders.detail("K2")
    assert detail.order_status == "キャンセル"
    assert detail.charge_permission is not None and detail.charge_permission.state == "Closed"
    assert app.payments.pending("K2") == []
    assert [c["status"] for c in control(app).calls() if c["path"].endswith("/close")] == [200, 422]


def test_a_close_meeting_a_permission_amazon_closed_itself_is_done(app: Kanjo) -> None:
    """With the onboarding pages' closure rule, Amazon closes a one-time permission once the order
    is captured; Kanjo's own close (R15) then meets a Closed permission and is done, not failed."""
    control(app).options(one_time_closure="order-amount")
    place_order(app, "K3", 3_000, kind=OrderKind.RESERVATION)
    assert app.payments.capture("K3").ok
    assert sandbox_states(app, "K3")["cp"] == ["Closed"]
    result = app.payments.cancel("K3", confirmed=True)  # full refund, then close
    assert result.ok, result.message
    assert app.orders.detail("K3").order_status == "キャンセル"


# --- a connection that cannot be opened (issue 10 review) -----------------------------------


def set_environment(app: Kanjo, number: str, environment: str) -> None:
    from sqlalchemy import update

    from core.db.schema import Order

    with app.sessions.begin() as session:
        session.execute(update(Order).where(Order.number == number).values(environment=environment))


def test_an_operation_whose_connection_cannot_be_opened_is_not_sent_and_never_sent_later(
    app: Kanjo, tmp_path: Path
) -> None:
    """The key file is gone: the capture is refused as not sent, the order is not blocked as
    結果不明, and no later recovery moves the money without being asked."""
    place_order(app, "K1", 1_000)
    app.settings.save(
        amazon_merchant_id="M1",
        amazon_public_key_id="SANDBOX-AKEY",
        amazon_private_key_path=str(tmp_path / "missing.pem"),
        amazon_environment="sandbox",
    )
    set_environment(app, "K1", "sandbox")  # an order of Amazon's sandbox (issue 11 item 8: never sent elsewhere)
    with pytest.raises(UserError):
        app.reset_gateway()  # the window does this when settings change; the next call tries again
    result = app.payments.capture("K1")
    assert result.outcome == "not_sent" and "秘密鍵" in result.message, result
    assert app.payments.pending("K1") == []
    assert "結果不明" not in app.orders.detail("K1").capture_blocked_reason
    app.settings.save(amazon_merchant_id="", amazon_public_key_id="", amazon_private_key_path="")
    app.reset_gateway()
    set_environment(app, "K1", "builtin")
    assert app.payments.recover() == []
    assert app.orders.detail("K1").captured == 0  # nothing moved behind the operator's back
    assert app.payments.capture("K1").ok
