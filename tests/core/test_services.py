"""Services over the real store and the real sandbox (HTTP on loopback), with a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from core.amazonpay.errors import R41_CHANGE_METHOD_MESSAGE, R41_PAYMENT_SETTINGS_MESSAGE
from core.amazonpay.models import ChargePermissionInfo
from core.amazonpay.signing import format_amz_date
from core.app import Kanjo
from core.clock import FixedClock
from core.db.schema import ChargePermission
from core.domain import OrderKind, PaymentStatus
from core.errors import BadInput, NotFound, RuleViolation
from core.ledger import apply_charge_permission_info
from tests.helpers import place_order


def status(app: Kanjo, number: str) -> str | None:
    return app.orders.detail(number).payment_status


def control(app: Kanjo):  # type: ignore[no-untyped-def]
    ctl = app.gateway().control
    assert ctl is not None
    return ctl


def test_checkout_arrives_authorized_with_memo_r22(app: Kanjo) -> None:
    place_order(app, "A1", 4_400, instrument="gift+card")
    detail = app.orders.detail("A1")
    assert detail.payment_status == PaymentStatus.AUTHORIZED.value
    assert detail.total == detail.authorized == 4_400
    assert detail.shop_memo == "Amazonギフト券と指定のお支払い方法"  # R22
    assert detail.charge_permission is not None and detail.charge_permission.expires_in_days in (395, 396)  # R13
    assert detail.can_capture and not detail.can_reauthorize


def test_subscription_memo_has_no_payment_line_r23(app: Kanjo) -> None:
    place_order(app, "S1", 3_000, kind=OrderKind.SUBSCRIPTION)
    assert app.orders.detail("S1").shop_memo == ""


def test_guest_records_no_consent_r7(app: Kanjo) -> None:
    place_order(app, "G1")
    with app.sessions() as session:
        consent = session.execute(text("SELECT newsletter_consent, amazon_linked_at FROM customers")).one()
    assert consent == (None, None)


def test_duplicate_order_number_refused(app: Kanjo) -> None:
    place_order(app, "D1")
    with pytest.raises(BadInput):
        place_order(app, "D1")


def test_capture_records_then_sync_confirms_r24_r10(app: Kanjo) -> None:
    place_order(app, "C1", 7_000)
    result = app.payments.capture("C1")
    assert result.ok and result.payment_status == PaymentStatus.CAPTURE_RECORDED.value  # 請求済
    detail = app.orders.detail("C1")
    assert detail.captured == 7_000 and detail.payment_date is not None
    assert not detail.can_capture  # nothing left to capture
    app.sync.sync_order("C1")
    assert status(app, "C1") == PaymentStatus.CAPTURE_COMPLETED.value  # 請求完了


def test_capture_twice_is_refused_and_sent_once(app: Kanjo) -> None:
    place_order(app, "C2", 1_000)
    app.payments.capture("C2")
    with pytest.raises(RuleViolation):
        app.payments.capture("C2")
    captures = [c for c in control(app).calls() if c["path"].endswith("/capture")]
    assert len(captures) == 1


def test_capture_after_7_days_is_in_progress_until_settled_r55(app: Kanjo, clock: FixedClock) -> None:
    place_order(app, "C3", 2_000, ordered_at=clock.now() - timedelta(days=10))
    assert app.payments.capture("C3").payment_status == PaymentStatus.CAPTURE_PENDING.value  # 請求中
    clock.advance(timedelta(hours=2))
    app.sync.sync_order("C3")
    assert status(app, "C3") == PaymentStatus.CAPTURE_COMPLETED.value


def test_capture_refused_after_30_days_then_reauth_and_capture_r9_r40(app: Kanjo, clock: FixedClock) -> None:
    place_order(app, "E1", 3_000, ordered_at=clock.now() - timedelta(days=31))
    assert status(app, "E1") == PaymentStatus.AUTH_LAPSED.value  # 承認完了 from the clock alone
    with pytest.raises(RuleViolation, match="再与信"):
        app.payments.capture("E1")
    result = app.payments.reauthorize("E1")
    assert result.ok and status(app, "E1") == PaymentStatus.AUTHORIZED.value
    assert app.payments.capture("E1").ok


def test_reauth_hard_decline_shows_change_method_message_r41(app: Kanjo, clock: FixedClock) -> None:
    place_order(app, "R1", 3_000, ordered_at=clock.now() - timedelta(days=40))
    control(app).decline_next("R1", "hard")
    result = app.payments.reauthorize("R1")
    assert not result.ok and result.outcome == "failed"
    detail = app.orders.detail("R1")
    assert detail.payment_status == PaymentStatus.AUTH_FAILED.value
    assert detail.reauth_message == R41_CHANGE_METHOD_MESSAGE
    # The buyer has not fixed anything yet: the permission is NonChargeable (R42).
    app.payments.reauthorize("R1")
    assert app.orders.detail("R1").reauth_message == R41_PAYMENT_SETTINGS_MESSAGE
    control(app).fix_payment("R1")
    assert app.payments.reauthorize("R1").ok
    detail = app.orders.detail("R1")
    assert detail.payment_status == PaymentStatus.AUTHORIZED.value and detail.reauth_message is None


def test_reauth_soft_decline_shows_payment_settings_message_r41(app: Kanjo, clock: FixedClock) -> None:
    place_order(app, "R2", 3_000, ordered_at=clock.now() - timedelta(days=40))
    control(app).decline_next("R2", "soft")
    app.payments.reauthorize("R2")
    assert app.orders.detail("R2").reauth_message == R41_PAYMENT_SETTINGS_MESSAGE
    assert app.payments.reauthorize("R2").ok  # a soft decline may pass on retry (R56)


def test_reauth_refused_after_capture_r16(app: Kanjo) -> None:
    place_order(app, "R3", 3_000)
    app.payments.capture("R3")
    with pytest.raises(RuleViolation, match="再与信"):
        app.payments.reauthorize("R3")


def test_reauth_refused_when_charge_permission_expired_r13(app: Kanjo, clock: FixedClock) -> None:
    place_order(app, "R4", 3_000)
    clock.advance(timedelta(days=400))
    with pytest.raises(RuleViolation, match="13か月"):
        app.payments.reauthorize("R4")


def test_subscription_reauth_extends_permission_r14(app: Kanjo, clock: FixedClock) -> None:
    place_order(app, "S2", 3_000, kind=OrderKind.SUBSCRIPTION)
    before = app.orders.detail("S2").charge_permission
    clock.advance(timedelta(days=35))
    assert app.payments.reauthorize("S2").ok
    after = app.orders.detail("S2").charge_permission
    assert before is not None and after is not None
    assert after.expires_at is not None and before.expires_at is not None
    assert after.expires_at > before.expires_at


def test_capture_decline_is_capture_declined_r10(app: Kanjo) -> None:
    place_order(app, "X1", 3_000)
    control(app).decline_next("X1", "soft", "capture")
    app.payments.capture("X1")
    assert status(app, "X1") == PaymentStatus.CAPTURE_DECLINED.value


def test_sync_failure_shows_last_r10_label_and_recovers(app: Kanjo) -> None:
    place_order(app, "F1", 3_000)
    control(app).add_fault("503", count=4)
    result = app.sync.sync_order("F1")
    assert not result.ok
    assert status(app, "F1") == PaymentStatus.UNREACHABLE.value
    assert app.sync.sync_order("F1").ok
    assert status(app, "F1") == PaymentStatus.AUTHORIZED.value


def test_unreachable_gateway_changes_nothing(app: Kanjo) -> None:
    place_order(app, "U1", 3_000)
    gateway = app.gateway()
    assert gateway.server is not None
    gateway.server.stop()
    result = app.payments.capture("U1")
    assert result.outcome == "not_sent" and not result.ok
    detail = app.orders.detail("U1")
    assert detail.payment_status == PaymentStatus.AUTHORIZED.value and detail.captured == 0
    assert detail.unsettled_operations == 0 and detail.can_capture


def test_timeout_leaves_unknown_then_recover_captures_once(app: Kanjo) -> None:
    place_order(app, "T1", 3_000)
    ctl = control(app)
    ctl.settings(hang_seconds=3.0)
    ctl.add_fault("timeout", count=1, path="/capture")
    result = app.payments.capture("T1")
    assert result.outcome == "unknown"
    detail = app.orders.detail("T1")
    assert detail.unsettled_operations == 1 and not detail.can_capture  # 結果不明 blocks a second capture
    with pytest.raises(RuleViolation, match="結果不明"):
        app.payments.capture("T1")
    recovered = app.payments.recover()
    assert [r.outcome for r in recovered] == ["succeeded"]
    assert app.orders.detail("T1").captured == 3_000
    snapshot = ctl.snapshot("T1")
    assert [c["statusDetails"]["state"] for c in snapshot["charges"]] == ["Captured"]
    processed = [c for c in ctl.calls() if c["path"].endswith("/capture")]
    assert [bool(c["replayed"]) for c in processed] == [False, True]


def test_seller_central_capture_and_refund_are_noticed_r31_r38(app: Kanjo) -> None:
    place_order(app, "SC1", 5_000)
    ctl = control(app)
    ctl.seller_central("capture", "SC1", None)
    app.sync.sync_order("SC1")
    assert status(app, "SC1") == PaymentStatus.CAPTURE_COMPLETED.value
    ctl.seller_central("refund", "SC1", 1_000)
    app.sync.sync_order("SC1")
    detail = app.orders.detail("SC1")
    assert detail.payment_status == PaymentStatus.REFUNDED.value
    assert [(r.amount, r.origin) for r in detail.refunds] == [(1_000, "seller_central")]
    actions = [(j.action, j.actor) for j in detail.journal]
    assert ("external_capture", "seller_central") in actions
    assert ("external_refund", "seller_central") in actions


def test_seller_central_amount_change_blocks_capture_r32(app: Kanjo) -> None:
    place_order(app, "SC2", 5_000)
    control(app).seller_central("increase", "SC2", 2_000)
    app.sync.sync_order("SC2")
    detail = app.orders.detail("SC2")
    assert detail.amount_changed_externally
    assert detail.charges[0].label == PaymentStatus.AUTH_CANCELED.value  # 承認取消済
    assert detail.total == 7_000
    with pytest.raises(RuleViolation, match="Seller Central"):
        app.payments.capture("SC2")


def test_seller_central_increase_after_capture_adds_a_charge_r39(app: Kanjo) -> None:
    place_order(app, "SC3", 500)
    app.payments.capture("SC3")
    control(app).seller_central("increase", "SC3", 200)
    app.sync.sync_order("SC3")
    detail = app.orders.detail("SC3")
    assert [(c.amount, c.origin) for c in detail.charges] == [(500, "buyer"), (200, "seller_central")]
    assert detail.captured == 700 and detail.total == 700


def test_auto_sync_off_records_locally_only_r11(app: Kanjo) -> None:
    place_order(app, "L1", 3_000)
    app.settings.save(auto_sync=False)
    result = app.payments.capture("L1")
    assert result.outcome == "local_only" and result.ok
    assert not [c for c in control(app).calls() if c["path"].endswith("/capture")]
    assert app.orders.detail("L1").journal[-1].outcome == "local_only"


def test_unknown_order_is_a_clear_error(app: Kanjo) -> None:
    with pytest.raises(NotFound, match="見つかりません"):
        app.payments.capture("NOPE")
    with pytest.raises(BadInput):
        app.orders.list(status="存在しない")


def test_orders_list_filters_by_effective_status(app: Kanjo, clock: FixedClock) -> None:
    place_order(app, "L2", 1_000)
    place_order(app, "L3", 1_000, ordered_at=clock.now() - timedelta(days=29, hours=23))
    assert {o.number for o in app.orders.list(status="承認済")} == {"L2", "L3"}
    clock.advance(timedelta(hours=2))  # L3 lapses without any write (R9)
    assert {o.number for o in app.orders.list(status="承認済")} == {"L2"}
    assert {o.number for o in app.orders.list(status="承認完了")} == {"L3"}


def test_journal_is_append_only(app: Kanjo) -> None:
    place_order(app, "J1")
    with app.engine.begin() as connection, pytest.raises(DatabaseError, match="append-only"):
        connection.execute(text("UPDATE journal SET detail = 'x'"))
    with app.engine.begin() as connection, pytest.raises(DatabaseError, match="append-only"):
        connection.execute(text("DELETE FROM journal"))


def test_order_over_r5_limit_refused(app: Kanjo) -> None:
    from core.services.orders import LineItem

    with pytest.raises(RuleViolation, match="10,000,000"):
        app.orders.receive_checkout(
            number="BIG",
            kind=OrderKind.NORMAL,
            charge_permission_id="x",
            charge_id="y",
            items=[LineItem("高額品", 10_000_001, 1)],
        )


# --- Charge Permission lifetime as Amazon reports it (issue 10 item 13; R13, R14, R54) ----------


def test_one_time_permission_without_the_extension_lives_180_days_r54(app: Kanjo) -> None:
    place_order(app, "E1", 3_000, extended_expiry=False)
    cp = app.orders.detail("E1").charge_permission
    assert cp is not None and cp.expires_in_days == 180  # Amazon's expirationTimestamp, not 13 months
    app.sync.sync_order("E1")
    cp = app.orders.detail("E1").charge_permission
    assert cp is not None and cp.expires_in_days == 180


def test_subscription_permission_expiry_follows_amazon_after_sync_r14(app: Kanjo, clock: FixedClock) -> None:
    place_order(app, "E2", 3_000, kind=OrderKind.SUBSCRIPTION)
    clock.advance(timedelta(days=35))
    assert app.payments.reauthorize("E2").ok
    app.sync.sync_order("E2")
    amazon = control(app).snapshot("E2")["chargePermission"]["expirationTimestamp"]
    cp = app.orders.detail("E2").charge_permission
    assert cp is not None and cp.expires_at is not None
    assert format_amz_date(cp.expires_at) == amazon


def test_a_recurring_permissions_expiry_is_amazons_not_a_local_estimate_r14() -> None:
    """Sync copies Amazon's expirationTimestamp for every type, recurring too (prefer what Amazon returns)."""
    created = datetime(2026, 1, 10, tzinfo=UTC)
    cp = ChargePermission(
        id="S03-1",
        type="Recurring",
        state="Chargeable",
        instrument="card",
        created_at=created,
        expires_at=datetime(2027, 12, 31, tzinfo=UTC),  # a local R14 estimate
    )
    info = ChargePermissionInfo.from_json(
        {
            "chargePermissionId": "S03-1",
            "chargePermissionType": "Recurring",
            "limits": {"amountLimit": {"amount": "100000", "currencyCode": "JPY"}},
            "statusDetails": {"state": "Chargeable", "reasons": []},
            "creationTimestamp": "20260110T000000Z",
            "expirationTimestamp": "20270210T000000Z",
        }
    )
    apply_charge_permission_info(cp, info, datetime(2026, 11, 21, tzinfo=UTC))
    assert cp.expires_at == datetime(2027, 2, 10, tzinfo=UTC)
    assert cp.amount_limit == 100_000
