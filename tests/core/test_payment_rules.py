"""Tests for core.payment_rules: when 入金処理 (capture) and 再与信 (re-authorization) are allowed.

Facts are built directly (no database); the moment is fixed. Test names cite the rules of
/work/shared/domain.md they check.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.domain import (
    AMAZON_PAY_KINDS,
    ChargeFacts,
    ChargePermissionFacts,
    ChargePermissionState,
    ChargePurpose,
    ChargeState,
    OrderKind,
    OrderStatus,
    PaymentStatus,
    RefundFacts,
    RefundState,
)
from core.payment_rules import Decision, OrderFacts, capture_decision, reauthorize_decision
from tests.core import facts
from tests.core.facts import DAY, JST, NOW, SECOND, charge, refund

_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


# --------------------------------------------------------------------------- factories


def lapsed(id: str = "C-1", amount: int = 5_000) -> ChargeFacts:
    """An uncaptured authorization older than 30 days (R9), not yet canceled by Amazon."""
    return charge(ChargeState.AUTHORIZED, id=id, amount=amount, created=NOW - 31 * DAY)


def captured(id: str = "C-1", amount: int = 5_000, *, confirmed: bool = True) -> ChargeFacts:
    return charge(
        ChargeState.CAPTURED,
        id=id,
        amount=amount,
        captured=amount,
        created=NOW - 10 * DAY,
        capture_requested=True,
        capture_confirmed=confirmed,
    )


def permission(
    state: ChargePermissionState = ChargePermissionState.CHARGEABLE,
    *,
    reason: str | None = None,
    expires: datetime | None = NOW + 300 * DAY,
) -> ChargePermissionFacts:
    """A Charge Permission with 300 days left unless told otherwise."""
    return facts.permission(state, reason=reason, expires=expires)


_DEFAULT_PERMISSION = permission()


def order(
    *charges: ChargeFacts,
    total: int = 5_000,
    refunds: tuple[RefundFacts, ...] = (),
    cp: ChargePermissionFacts | None = _DEFAULT_PERMISSION,
    kind: OrderKind = OrderKind.NORMAL,
    status: OrderStatus = OrderStatus.SHIPPED,
    payment_method: str = "amazon_pay",
    amount_changed_externally: bool = False,
    sync_failed: bool = False,
    unsettled_operation: bool = False,
) -> OrderFacts:
    return OrderFacts(
        number="10001",
        kind=kind,
        order_status=status,
        total=total,
        payment_method=payment_method,
        charges=list(charges),
        refunds=list(refunds),
        charge_permission=cp,
        amount_changed_externally=amount_changed_externally,
        sync_failed=sync_failed,
        unsettled_operation=unsettled_operation,
    )


def assert_refused(decision: Decision, rule: str) -> None:
    assert decision.allowed is False
    assert decision.rule == rule
    assert decision.reason.strip()
    assert _JAPANESE.search(decision.reason), decision.reason
    assert decision.captures == ()
    assert decision.amount == 0
    assert decision.purpose is None


# --------------------------------------------------------------------------- capture: allowed (R24)


@pytest.mark.parametrize("kind", AMAZON_PAY_KINDS)
def test_r24_capture_allowed_for_authorized_order_captures_the_total(kind: OrderKind) -> None:
    decision = capture_decision(order(charge(), total=5_000, kind=kind), NOW)
    assert decision == Decision(True, captures=(("C-1", 5_000),), amount=5_000)
    assert decision.reason == ""
    assert decision.rule == ""


@pytest.mark.parametrize("status", [s for s in OrderStatus if s is not OrderStatus.CANCELED])
def test_r24_capture_allowed_whatever_the_open_order_status(status: OrderStatus) -> None:
    decision = capture_decision(order(charge(), status=status), NOW)
    assert decision.allowed is True
    assert decision.captures == (("C-1", 5_000),)


def test_r26_capture_of_a_lowered_total_takes_only_the_total() -> None:
    decision = capture_decision(order(charge(amount=5_000), total=3_800), NOW)
    assert decision == Decision(True, captures=(("C-1", 3_800),), amount=3_800)


def test_r24_r39_capture_plan_takes_open_charges_oldest_first() -> None:
    older = charge(id="C-Z", amount=3_000, created=NOW - 6 * DAY)
    newer = charge(id="C-A", amount=2_000, created=NOW - 2 * DAY, purpose=ChargePurpose.INCREASE)
    for charges in ((older, newer), (newer, older)):
        decision = capture_decision(order(*charges, total=4_000), NOW)
        assert decision == Decision(True, captures=(("C-Z", 3_000), ("C-A", 1_000)), amount=4_000)


def test_r24_r39_capture_plan_covers_every_open_charge_when_the_total_needs_it() -> None:
    charges = (
        charge(id="C-1", amount=5_000, created=NOW - 9 * DAY),
        charge(id="C-2", amount=1_000, created=NOW - 5 * DAY, purpose=ChargePurpose.INCREASE),
        charge(id="C-3", amount=500, created=NOW - 1 * DAY, purpose=ChargePurpose.INCREASE),
    )
    decision = capture_decision(order(*charges, total=6_500), NOW)
    assert decision == Decision(True, captures=(("C-1", 5_000), ("C-2", 1_000), ("C-3", 500)), amount=6_500)


def test_r24_capture_plan_skips_charges_not_needed() -> None:
    charges = (
        charge(id="C-1", amount=5_000, created=NOW - 9 * DAY),
        charge(id="C-2", amount=1_000, created=NOW - 5 * DAY, purpose=ChargePurpose.INCREASE),
    )
    decision = capture_decision(order(*charges, total=5_000), NOW)
    assert decision == Decision(True, captures=(("C-1", 5_000),), amount=5_000)


def test_r24_capture_plan_orders_by_instant_across_offsets() -> None:
    # 10:00 JST is 01:00 UTC: the JST charge is the older one despite the larger wall-clock hour.
    jst = charge(id="C-B", amount=1_000, created=datetime(2026, 11, 20, 10, 0, tzinfo=JST))
    utc = charge(id="C-A", amount=1_000, created=datetime(2026, 11, 20, 2, 0, tzinfo=UTC))
    decision = capture_decision(order(utc, jst, total=1_500), NOW)
    assert decision.captures == (("C-B", 1_000), ("C-A", 500))


def test_r24_capture_plan_same_instant_follows_creation_sequence() -> None:
    same = NOW - 2 * DAY
    first = replace(charge(id="C-Z", amount=3_000, created=same), seq=1)
    second = replace(charge(id="C-A", amount=2_000, created=same, purpose=ChargePurpose.INCREASE), seq=2)
    decision = capture_decision(order(second, first, total=4_000), NOW)
    assert decision.captures == (("C-Z", 3_000), ("C-A", 1_000))


def test_r24_r39_capture_of_an_increase_after_the_original_was_captured() -> None:
    charges = (
        captured("C-1", 5_000),
        charge(id="C-2", amount=2_000, created=NOW - DAY, purpose=ChargePurpose.INCREASE),
    )
    decision = capture_decision(order(*charges, total=7_000), NOW)
    assert decision == Decision(True, captures=(("C-2", 2_000),), amount=2_000)


def test_r24_capture_counts_partially_captured_amount() -> None:
    partial = replace(captured("C-1", 5_000), captured_amount=4_000)
    charges = (partial, charge(id="C-2", amount=3_000, created=NOW - DAY, purpose=ChargePurpose.INCREASE))
    decision = capture_decision(order(*charges, total=6_500), NOW)
    assert decision == Decision(True, captures=(("C-2", 2_500),), amount=2_500)


def test_r9_r40_capture_after_reauthorization_uses_only_the_new_authorization() -> None:
    charges = (lapsed("C-1"), charge(id="C-2", created=NOW - DAY, purpose=ChargePurpose.REAUTH))
    decision = capture_decision(order(*charges, total=5_000), NOW)
    assert decision == Decision(True, captures=(("C-2", 5_000),), amount=5_000)


def test_r9_r40_capture_after_expired_unused_and_reauthorization() -> None:
    charges = (
        charge(ChargeState.CANCELED, id="C-1", reason="ExpiredUnused", created=NOW - 35 * DAY),
        charge(id="C-2", created=NOW - DAY, purpose=ChargePurpose.REAUTH),
    )
    decision = capture_decision(order(*charges, total=5_000), NOW)
    assert decision == Decision(True, captures=(("C-2", 5_000),), amount=5_000)


def test_r24_capture_after_a_failed_authorization_was_retried() -> None:
    charges = (
        charge(ChargeState.DECLINED, id="C-1", reason="SoftDeclined", created=NOW - 3 * DAY),
        charge(id="C-2", created=NOW - DAY, purpose=ChargePurpose.REAUTH),
    )
    assert capture_decision(order(*charges), NOW) == Decision(True, captures=(("C-2", 5_000),), amount=5_000)


# --------------------------------------------------------------------------- capture: R9 (30 days)


@pytest.mark.parametrize(
    ("age", "allowed"),
    [(30 * DAY - SECOND, True), (30 * DAY, False), (30 * DAY + SECOND, False), (45 * DAY, False)],
    ids=["1s-before", "at", "1s-after", "45-days"],
)
def test_r9_capture_refused_from_30_days_after_authorization(age: timedelta, allowed: bool) -> None:
    decision = capture_decision(order(charge(created=NOW - age)), NOW)
    if allowed:
        assert decision == Decision(True, captures=(("C-1", 5_000),), amount=5_000)
    else:
        assert_refused(decision, "R9")
        assert "再与信" in decision.reason
        assert decision.reason == "与信の有効期限(30日)が切れています。先に再与信してください。"


def test_r9_capture_refused_at_amazons_expires_at() -> None:
    c = charge(created=NOW - 10 * DAY, expires=NOW)
    assert_refused(capture_decision(order(c), NOW), "R9")
    assert capture_decision(order(c), NOW - SECOND).allowed is True


def test_r9_capture_refused_when_amazon_canceled_it_as_expired_unused() -> None:
    c = charge(ChargeState.CANCELED, reason="ExpiredUnused", created=NOW - 31 * DAY)
    decision = capture_decision(order(c), NOW)
    assert_refused(decision, "R9")
    assert "再与信" in decision.reason


# --------------------------------------------------------------------------- capture: R28 / R40 (amount)


def test_r28_capture_authorizes_the_difference_first() -> None:
    """A total raised before capture is sent with the capture: the difference is authorized first."""
    decision = capture_decision(order(charge(id="C-1", amount=5_000), total=6_000), NOW)
    assert decision.allowed
    assert decision.authorize_first == 1_000
    assert decision.amount == 6_000
    assert decision.captures == (("C-1", 5_000),)


def test_r28_capture_shortfall_of_one_yen() -> None:
    decision = capture_decision(order(charge(id="C-1", amount=5_000), total=5_001), NOW)
    assert decision.allowed and decision.authorize_first == 1


def test_r28_capture_shortfall_counts_all_open_charges() -> None:
    charges = (
        charge(id="C-1", amount=5_000, created=NOW - 9 * DAY),
        charge(id="C-2", amount=2_000, created=NOW - DAY, purpose=ChargePurpose.INCREASE),
    )
    decision = capture_decision(order(*charges, total=1_234_567), NOW)
    assert decision.allowed and decision.authorize_first == 1_227_567
    assert decision.captures == (("C-1", 5_000), ("C-2", 2_000))


def test_r9_r28_lapsed_original_does_not_count_towards_what_is_authorized() -> None:
    """The original ran out (R9); only the later increase is still capturable."""
    charges = (lapsed("C-1", 5_000), charge(id="C-2", amount=2_000, created=NOW - DAY, purpose=ChargePurpose.INCREASE))
    decision = capture_decision(order(*charges, total=7_000), NOW)
    assert decision.allowed and decision.authorize_first == 5_000
    assert decision.captures == (("C-2", 2_000),)


def test_r31_shortfall_after_a_capture_is_for_seller_central() -> None:
    charges = (captured("C-1", 5_000), charge(id="C-2", amount=1_000, created=NOW - DAY))
    decision = capture_decision(order(*charges, total=7_000), NOW)
    assert_refused(decision, "R31")
    assert "1,000円" in decision.reason


def test_r24_capture_refused_when_everything_is_already_captured() -> None:
    """Total lowered back after an increase was authorized: nothing is left to capture."""
    charges = (
        captured("C-1", 5_000),
        charge(id="C-2", amount=1_000, created=NOW - DAY, purpose=ChargePurpose.INCREASE),
    )
    decision = capture_decision(order(*charges, total=5_000), NOW)
    assert_refused(decision, "R24")
    assert decision.reason == "この受注はすでに全額の売上が確定しています。"


# --------------------------------------------------------------------------- capture: R32, R24 and common refusals


def test_r32_capture_refused_when_amount_changed_in_seller_central() -> None:
    decision = capture_decision(order(charge(), amount_changed_externally=True), NOW)
    assert_refused(decision, "R32")
    assert "Seller Central" in decision.reason


def test_r32_capture_refused_even_when_amount_still_fits_the_authorization() -> None:
    decision = capture_decision(order(charge(amount=5_000), total=4_000, amount_changed_externally=True), NOW)
    assert_refused(decision, "R32")


@pytest.mark.parametrize("method", ["credit_card", "bank_transfer", "cod", "", "Amazon Pay", "AMAZON_PAY"])
def test_r33_capture_refused_for_other_payment_methods(method: str) -> None:
    decision = capture_decision(order(charge(), payment_method=method), NOW)
    assert_refused(decision, "R33")
    assert "Amazon Pay" in decision.reason


def test_r35_capture_refused_for_a_canceled_order() -> None:
    decision = capture_decision(order(charge(), status=OrderStatus.CANCELED), NOW)
    assert_refused(decision, "R35")
    assert "キャンセル" in decision.reason


def test_capture_refused_while_a_money_call_is_unsettled() -> None:
    decision = capture_decision(order(charge(), unsettled_operation=True), NOW)
    assert_refused(decision, "exactly-once")
    assert "結果不明" in decision.reason


def test_capture_common_refusals_take_precedence_in_order() -> None:
    everything_wrong = order(
        lapsed(),
        payment_method="bank_transfer",
        status=OrderStatus.CANCELED,
        unsettled_operation=True,
        amount_changed_externally=True,
    )
    assert capture_decision(everything_wrong, NOW).rule == "R33"
    assert capture_decision(replace(everything_wrong, payment_method="amazon_pay"), NOW).rule == "R35"
    assert (
        capture_decision(replace(everything_wrong, payment_method="amazon_pay", order_status=OrderStatus.NEW), NOW).rule
        == "exactly-once"
    )
    assert (
        capture_decision(
            replace(
                everything_wrong,
                payment_method="amazon_pay",
                order_status=OrderStatus.NEW,
                unsettled_operation=False,
            ),
            NOW,
        ).rule
        == "R32"
    )


@pytest.mark.parametrize(
    ("facts", "shown"),
    [
        (order(charge(ChargeState.AUTHORIZATION_INITIATED)), "承認中"),
        (order(charge(ChargeState.DECLINED, reason="HardDeclined")), "承認失敗"),
        (order(charge(ChargeState.CANCELED, reason="MerchantCanceled")), "承認取消済"),
        (order(charge(ChargeState.CAPTURE_INITIATED, capture_requested=True)), "請求中"),
        (order(captured(confirmed=False)), "請求済"),
        (order(captured(confirmed=True)), "請求完了"),
        (order(charge(ChargeState.DECLINED, capture_requested=True)), "請求却下"),
        (order(captured(), refunds=(refund(RefundState.REFUND_INITIATED),)), "返金中"),
        (order(captured(), refunds=(refund(RefundState.REFUNDED),)), "返金済"),
        (order(captured(), refunds=(refund(RefundState.DECLINED),)), "返金却下"),
        (order(charge(), sync_failed=True), "(Amazonのステータスが取得できませんでした)"),
        (order(), "決済なし"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_r24_capture_refused_unless_badge_is_authorized(facts: OrderFacts, shown: str) -> None:
    decision = capture_decision(facts, NOW)
    assert_refused(decision, "R24")
    assert decision.reason == f"与信ステータスが「承認済」ではないため入金処理できません(現在: {shown})。"


def test_r24_capture_refused_while_an_increase_is_being_authorized() -> None:
    charges = (charge(id="C-1"), charge(ChargeState.AUTHORIZATION_INITIATED, id="C-2", created=NOW - DAY))
    assert_refused(capture_decision(order(*charges, total=6_000), NOW), "R24")


def test_r10_r24_capture_refused_when_latest_charge_is_dead() -> None:
    """A canceled increase is the latest charge: the order reads 承認取消済 (R10), so no capture (R24)."""
    charges = (
        charge(id="C-1", created=NOW - 5 * DAY),
        charge(ChargeState.CANCELED, id="C-2", reason="MerchantCanceled", created=NOW - DAY),
    )
    decision = capture_decision(order(*charges), NOW)
    assert_refused(decision, "R24")
    assert PaymentStatus.AUTH_CANCELED.value in decision.reason


# --------------------------------------------------------------------------- re-authorization: R16


@pytest.mark.parametrize(
    "done",
    [
        captured(confirmed=True),
        captured(confirmed=False),
        charge(ChargeState.CAPTURE_INITIATED, capture_requested=True),
        charge(ChargeState.AUTHORIZED, capture_requested=True),
    ],
    ids=["captured-confirmed", "captured-recorded", "capture-initiated", "capture-requested"],
)
def test_r16_reauthorization_refused_after_capture(done: ChargeFacts) -> None:
    decision = reauthorize_decision(order(lapsed("C-0"), replace(done, id="C-9"), total=9_000), NOW)
    assert_refused(decision, "R16")
    assert decision.reason == "売上(入金処理)の後は再与信できません。"


@pytest.mark.parametrize("state", list(RefundState))
def test_r16_reauthorization_refused_after_any_refund(state: RefundState) -> None:
    decision = reauthorize_decision(order(lapsed(), refunds=(refund(state),)), NOW)
    assert_refused(decision, "R16")
    assert decision.reason == "返金の後は再与信できません。"


# --------------------------------------------------------------------------- re-authorization: R13 / R15


def test_r13_reauthorization_refused_without_charge_permission() -> None:
    decision = reauthorize_decision(order(lapsed(), cp=None), NOW)
    assert_refused(decision, "R13")
    assert "Charge Permission" in decision.reason


@pytest.mark.parametrize(
    ("expires", "allowed"),
    [(NOW + SECOND, True), (NOW, False), (NOW - SECOND, False), (NOW - 100 * DAY, False)],
    ids=["1s-before", "at", "1s-after", "long-ago"],
)
def test_r13_reauthorization_refused_once_charge_permission_expired(expires: datetime, allowed: bool) -> None:
    decision = reauthorize_decision(order(lapsed(), cp=permission(expires=expires)), NOW)
    if allowed:
        assert decision == Decision(True, amount=5_000, purpose=ChargePurpose.REAUTH)
    else:
        assert_refused(decision, "R13")
        assert "13か月" in decision.reason


def test_r13_reauthorization_refused_when_permission_closed_as_expired() -> None:
    cp = permission(ChargePermissionState.CLOSED, reason="Expired", expires=None)
    decision = reauthorize_decision(order(lapsed(), cp=cp), NOW)
    assert_refused(decision, "R13")


@pytest.mark.parametrize("reason", [None, "MerchantClosed", "BuyerCanceled", "AmazonCanceled", "AmazonClosed"])
def test_r15_reauthorization_refused_when_permission_closed(reason: str | None) -> None:
    cp = permission(ChargePermissionState.CLOSED, reason=reason)
    decision = reauthorize_decision(order(lapsed(), cp=cp), NOW)
    assert_refused(decision, "R15")
    assert "Charge Permission" in decision.reason


def test_r13_r14_subscription_permission_without_expiry_allows_reauthorization() -> None:
    facts = order(lapsed(), cp=permission(expires=None), kind=OrderKind.SUBSCRIPTION)
    assert reauthorize_decision(facts, NOW) == Decision(True, amount=5_000, purpose=ChargePurpose.REAUTH)


# --------------------------------------------------------------------------- re-authorization: not needed / not now


def test_r40_reauthorization_refused_when_valid_authorization_covers_total() -> None:
    decision = reauthorize_decision(order(charge(amount=5_000), total=5_000), NOW)
    assert_refused(decision, "R40")
    assert decision.reason == "有効な与信があるため、再与信は不要です。"


def test_r40_reauthorization_refused_when_total_was_lowered() -> None:
    assert_refused(reauthorize_decision(order(charge(amount=5_000), total=3_000), NOW), "R40")


def test_r40_reauthorization_refused_when_several_live_charges_cover_total() -> None:
    charges = (
        charge(id="C-1", amount=5_000, created=NOW - 9 * DAY),
        charge(id="C-2", amount=2_000, created=NOW - DAY, purpose=ChargePurpose.INCREASE),
    )
    assert_refused(reauthorize_decision(order(*charges, total=7_000), NOW), "R40")


def test_r9_r40_reauthorization_not_needed_one_second_before_lapse() -> None:
    c = charge(created=NOW - 30 * DAY + SECOND)
    assert_refused(reauthorize_decision(order(c), NOW), "R40")
    assert reauthorize_decision(order(c), NOW + SECOND) == Decision(True, amount=5_000, purpose=ChargePurpose.REAUTH)


def test_r10_reauthorization_refused_while_an_authorization_is_in_progress() -> None:
    decision = reauthorize_decision(order(charge(ChargeState.AUTHORIZATION_INITIATED), total=9_000), NOW)
    assert_refused(decision, "R10")
    assert "承認処理中" in decision.reason


def test_reauthorization_common_refusals() -> None:
    assert_refused(reauthorize_decision(order(lapsed(), payment_method="bank_transfer"), NOW), "R33")
    assert_refused(reauthorize_decision(order(lapsed(), status=OrderStatus.CANCELED), NOW), "R35")
    assert_refused(reauthorize_decision(order(lapsed(), unsettled_operation=True), NOW), "exactly-once")


def test_r32_reauthorization_of_a_lapsed_order_changed_in_seller_central_is_refused() -> None:
    decision = reauthorize_decision(order(lapsed(), amount_changed_externally=True), NOW)
    assert_refused(decision, "R32")
    assert "Seller Central" in decision.reason


# --------------------------------------------------------------------------- re-authorization: allowed


def test_r9_r40_reauthorization_of_a_lapsed_authorization_is_for_the_total() -> None:
    decision = reauthorize_decision(order(lapsed(amount=5_000), total=5_500), NOW)
    assert decision == Decision(True, amount=5_500, purpose=ChargePurpose.REAUTH)
    assert decision.reason == ""
    assert decision.rule == ""
    assert decision.captures == ()


def test_r9_r40_reauthorization_after_expired_unused_cancel() -> None:
    c = charge(ChargeState.CANCELED, reason="ExpiredUnused", created=NOW - 31 * DAY)
    decision = reauthorize_decision(order(c, total=4_200), NOW)
    assert decision == Decision(True, amount=4_200, purpose=ChargePurpose.REAUTH)


@pytest.mark.parametrize("reason", ["SoftDeclined", "HardDeclined", "ProcessingFailure", "TransactionTimedOut", None])
def test_r40_r42_reauthorization_after_failed_authorization(reason: str | None) -> None:
    c = charge(ChargeState.DECLINED, reason=reason, created=NOW - DAY)
    decision = reauthorize_decision(order(c, total=5_000), NOW)
    assert decision == Decision(True, amount=5_000, purpose=ChargePurpose.REAUTH)


def test_r40_r42_reauthorization_after_lapse_then_failed_reauthorization() -> None:
    charges = (
        lapsed("C-1"),
        charge(ChargeState.DECLINED, id="C-2", reason="SoftDeclined", created=NOW - DAY, purpose=ChargePurpose.REAUTH),
    )
    assert reauthorize_decision(order(*charges), NOW) == Decision(True, amount=5_000, purpose=ChargePurpose.REAUTH)


def test_r18_subscription_generation_that_failed_can_be_reauthorized() -> None:
    c = charge(ChargeState.DECLINED, reason="SoftDeclined", purpose=ChargePurpose.GENERATION)
    facts = order(c, kind=OrderKind.SUBSCRIPTION, status=OrderStatus.ON_HOLD, total=3_300)
    assert reauthorize_decision(facts, NOW) == Decision(True, amount=3_300, purpose=ChargePurpose.REAUTH)


def test_r28_r40_reauthorization_for_an_increase_is_for_the_difference() -> None:
    decision = reauthorize_decision(order(charge(amount=5_000), total=7_000), NOW)
    assert decision == Decision(True, amount=2_000, purpose=ChargePurpose.INCREASE)


def test_r28_r40_increase_counts_every_live_authorization() -> None:
    charges = (
        charge(id="C-1", amount=5_000, created=NOW - 9 * DAY),
        charge(id="C-2", amount=1_000, created=NOW - DAY, purpose=ChargePurpose.INCREASE),
    )
    assert reauthorize_decision(order(*charges, total=8_000), NOW) == Decision(
        True, amount=2_000, purpose=ChargePurpose.INCREASE
    )


def test_r28_r40_increase_by_one_yen() -> None:
    assert reauthorize_decision(order(charge(amount=5_000), total=5_001), NOW) == Decision(
        True, amount=1, purpose=ChargePurpose.INCREASE
    )


def test_r28_r40_lapsed_charges_do_not_count_towards_an_increase() -> None:
    charges = (lapsed("C-1", 5_000), charge(id="C-2", amount=2_000, created=NOW - DAY, purpose=ChargePurpose.INCREASE))
    assert reauthorize_decision(order(*charges, total=7_000), NOW) == Decision(
        True, amount=5_000, purpose=ChargePurpose.INCREASE
    )


def test_r40_reauthorization_without_any_charge_is_for_the_total() -> None:
    assert reauthorize_decision(order(total=2_000), NOW) == Decision(True, amount=2_000, purpose=ChargePurpose.REAUTH)


@pytest.mark.parametrize(
    "charges",
    [(), (lapsed(),), (charge(ChargeState.DECLINED, reason="SoftDeclined"),)],
    ids=["no-charge", "lapsed", "declined"],
)
def test_r34_reauthorization_refused_for_a_zero_total(charges: tuple[ChargeFacts, ...]) -> None:
    decision = reauthorize_decision(order(*charges, total=0), NOW)
    assert decision.allowed is False
    assert _JAPANESE.search(decision.reason)
    assert decision.rule
    assert decision.amount == 0


def test_r34_capture_refused_for_a_zero_total() -> None:
    decision = capture_decision(order(charge(), total=0), NOW)
    assert decision.allowed is False
    assert decision.rule
    assert _JAPANESE.search(decision.reason)


def test_capture_and_reauthorization_agree_on_a_lapsed_order() -> None:
    """When capture says 're-authorize first' (R9), re-authorization is allowed; a raised total
    is authorized by the capture itself (R28) or by 再与信 (R40)."""
    facts = order(lapsed())
    assert capture_decision(facts, NOW).allowed is False
    assert "再与信" in capture_decision(facts, NOW).reason
    assert reauthorize_decision(facts, NOW).allowed is True
    raised = order(charge(amount=5_000), total=6_000)
    assert capture_decision(raised, NOW).authorize_first == 1_000
    assert reauthorize_decision(raised, NOW).amount == 1_000


# --------------------------------------------------------------------------- properties


_states = st.sampled_from(list(ChargeState))
_ages = st.integers(min_value=0, max_value=60 * 86_400).map(lambda s: timedelta(seconds=s))


@st.composite
def _orders(draw: st.DrawFn) -> OrderFacts:
    n = draw(st.integers(min_value=0, max_value=4))
    charges = []
    for i in range(n):
        state = draw(_states)
        amount = draw(st.integers(min_value=1, max_value=100_000))
        charges.append(
            charge(
                state,
                id=f"C-{i}",
                amount=amount,
                captured=amount if state is ChargeState.CAPTURED else 0,
                reason=draw(st.sampled_from([None, "ExpiredUnused", "MerchantCanceled", "SoftDeclined"])),
                created=NOW - draw(_ages),
                capture_requested=draw(st.booleans()),
                capture_confirmed=draw(st.booleans()),
            )
        )
    refunds = tuple(draw(st.lists(st.sampled_from(list(RefundState)), max_size=1)))
    return order(
        *charges,
        total=draw(st.integers(min_value=1, max_value=300_000)),  # 0 yen: refused, see the R34 test
        refunds=tuple(refund(s) for s in refunds),
        cp=draw(st.sampled_from([None, permission(), permission(expires=NOW - DAY)])),
        amount_changed_externally=draw(st.booleans()),
        sync_failed=draw(st.booleans()),
    )


@settings(max_examples=300, deadline=None)
@given(_orders())
def test_property_decisions_are_well_formed(facts: OrderFacts) -> None:
    for decision in (capture_decision(facts, NOW), reauthorize_decision(facts, NOW)):
        if decision.allowed:
            assert decision.reason == ""
            assert decision.amount > 0
        else:
            assert decision.reason and _JAPANESE.search(decision.reason)
            assert decision.rule
    capture = capture_decision(facts, NOW)
    if capture.allowed:
        by_id = {c.id: c for c in facts.charges}
        # R28: a shortfall is authorized first, then captured with the open charges.
        assert sum(yen for _, yen in capture.captures) + capture.authorize_first == capture.amount
        for charge_id, yen in capture.captures:
            c = by_id[charge_id]
            assert c.state is ChargeState.AUTHORIZED
            assert 0 < yen <= c.amount
        assert len({cid for cid, _ in capture.captures}) == len(capture.captures)
    reauth = reauthorize_decision(facts, NOW)
    if reauth.allowed:
        assert reauth.purpose in (ChargePurpose.REAUTH, ChargePurpose.INCREASE)
        assert not facts.refunds
        assert not any(c.state in (ChargeState.CAPTURED, ChargeState.CAPTURE_INITIATED) for c in facts.charges)
        if reauth.purpose is ChargePurpose.REAUTH:
            assert reauth.amount == facts.total
