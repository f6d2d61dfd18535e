"""Tests for core.status: the 与信ステータス badge (R10) and the lifetimes behind it (R9, R13, R14).

Everything here is pure: facts and a fixed moment in, a badge or a date out. Test names cite
the rule of /work/shared/domain.md they check.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.domain import (
    ChargeFacts,
    ChargePermissionState,
    ChargePurpose,
    ChargeState,
    PaymentStatus,
    RefundFacts,
    RefundState,
)
from core.status import (
    AUTHORIZATION_VALIDITY,
    CHARGE_PERMISSION_MONTHS,
    auth_expiry_of,
    authorization_expiry,
    charge_label,
    charge_permission_expiry,
    days_remaining,
    expiry_text,
    extended_charge_permission_expiry,
    is_authorization_lapsed,
    is_charge_permission_expired,
    order_label,
    refund_label,
)
from tests.core.facts import DAY, JST, NOW, SECOND, charge, permission, refund

# The R10 table, row by row, exactly as written there.
R10_TABLE = (
    "承認中",
    "承認済",
    "承認完了",
    "承認失敗",
    "承認取消済",
    "請求中",
    "請求済",
    "請求完了",
    "請求却下",
    "返金中",
    "返金済",
    "返金却下",
    "(Amazonのステータスが取得できませんでした)",
)

CANCEL_REASONS_OTHER_THAN_EXPIRY = (
    None,
    "MerchantCanceled",
    "BuyerCanceled",
    "AmazonCanceled",
    "ChargePermissionCanceled",
    "AmazonRejected",
)
DECLINE_REASONS = (
    None,
    "SoftDeclined",
    "HardDeclined",
    "AmazonRejected",
    "ProcessingFailure",
    "TransactionTimedOut",
)


# --------------------------------------------------------------------------- R10: the labels


def test_r10_payment_status_texts_are_exactly_the_r10_table() -> None:
    assert [status.value for status in PaymentStatus] == list(R10_TABLE)
    assert len(PaymentStatus) == 13


def test_r10_authorization_initiated_is_auth_pending() -> None:
    assert charge_label(charge(ChargeState.AUTHORIZATION_INITIATED), NOW) is PaymentStatus.AUTH_PENDING


@pytest.mark.parametrize("capture_requested", [False, True])
@pytest.mark.parametrize("capture_confirmed", [False, True])
def test_r10_authorization_initiated_ignores_capture_flags(capture_requested: bool, capture_confirmed: bool) -> None:
    c = charge(
        ChargeState.AUTHORIZATION_INITIATED,
        capture_requested=capture_requested,
        capture_confirmed=capture_confirmed,
    )
    assert charge_label(c, NOW) is PaymentStatus.AUTH_PENDING
    assert charge_label(c, NOW).value == "承認中"


@pytest.mark.parametrize("reason", [None, "SoftDeclined"])
def test_r10_r9_authorized_within_30_days_is_authorized(reason: str | None) -> None:
    c = charge(ChargeState.AUTHORIZED, reason=reason, created=NOW - 29 * DAY)
    assert charge_label(c, NOW) is PaymentStatus.AUTHORIZED
    assert charge_label(c, NOW).value == "承認済"


def test_r10_r9_authorized_past_30_days_is_auth_lapsed() -> None:
    c = charge(ChargeState.AUTHORIZED, created=NOW - 31 * DAY)
    assert charge_label(c, NOW) is PaymentStatus.AUTH_LAPSED
    assert charge_label(c, NOW).value == "承認完了"


@pytest.mark.parametrize("capture_confirmed", [False, True])
def test_r10_canceled_expired_unused_is_auth_lapsed(capture_confirmed: bool) -> None:
    c = charge(ChargeState.CANCELED, reason="ExpiredUnused", capture_confirmed=capture_confirmed)
    assert charge_label(c, NOW) is PaymentStatus.AUTH_LAPSED


@pytest.mark.parametrize("reason", CANCEL_REASONS_OTHER_THAN_EXPIRY)
def test_r10_canceled_for_any_other_reason_is_auth_canceled(reason: str | None) -> None:
    c = charge(ChargeState.CANCELED, reason=reason)
    assert charge_label(c, NOW) is PaymentStatus.AUTH_CANCELED
    assert charge_label(c, NOW).value == "承認取消済"


def test_r10_canceled_label_does_not_depend_on_age() -> None:
    """A fresh ExpiredUnused cancel is still 承認完了; an old shop cancel is still 承認取消済."""
    fresh = charge(ChargeState.CANCELED, reason="ExpiredUnused", created=NOW - DAY)
    old = charge(ChargeState.CANCELED, reason="MerchantCanceled", created=NOW - 400 * DAY)
    assert charge_label(fresh, NOW) is PaymentStatus.AUTH_LAPSED
    assert charge_label(old, NOW) is PaymentStatus.AUTH_CANCELED


@pytest.mark.parametrize("reason", DECLINE_REASONS)
def test_r10_declined_before_capture_is_auth_failed(reason: str | None) -> None:
    c = charge(ChargeState.DECLINED, reason=reason, capture_requested=False)
    assert charge_label(c, NOW) is PaymentStatus.AUTH_FAILED
    assert charge_label(c, NOW).value == "承認失敗"


@pytest.mark.parametrize("reason", DECLINE_REASONS)
@pytest.mark.parametrize("capture_confirmed", [False, True])
def test_r10_declined_after_capture_request_is_capture_declined(reason: str | None, capture_confirmed: bool) -> None:
    c = charge(ChargeState.DECLINED, reason=reason, capture_requested=True, capture_confirmed=capture_confirmed)
    assert charge_label(c, NOW) is PaymentStatus.CAPTURE_DECLINED
    assert charge_label(c, NOW).value == "請求却下"


@pytest.mark.parametrize("capture_confirmed", [False, True])
def test_r10_capture_initiated_is_capture_pending(capture_confirmed: bool) -> None:
    c = charge(ChargeState.CAPTURE_INITIATED, capture_requested=True, capture_confirmed=capture_confirmed)
    assert charge_label(c, NOW) is PaymentStatus.CAPTURE_PENDING
    assert charge_label(c, NOW).value == "請求中"


def test_r10_captured_not_yet_confirmed_by_sync_is_capture_recorded() -> None:
    c = charge(ChargeState.CAPTURED, captured=5_000, capture_requested=True, capture_confirmed=False)
    assert charge_label(c, NOW) is PaymentStatus.CAPTURE_RECORDED
    assert charge_label(c, NOW).value == "請求済"


def test_r10_captured_confirmed_by_sync_is_capture_completed() -> None:
    c = charge(ChargeState.CAPTURED, captured=5_000, capture_requested=True, capture_confirmed=True)
    assert charge_label(c, NOW) is PaymentStatus.CAPTURE_COMPLETED
    assert charge_label(c, NOW).value == "請求完了"


@pytest.mark.parametrize("capture_requested", [False, True])
def test_r10_captured_in_seller_central_depends_only_on_confirmation(capture_requested: bool) -> None:
    """A capture made in Seller Central (R31) is read by sync: confirmed, never requested here."""
    confirmed = charge(ChargeState.CAPTURED, capture_requested=capture_requested, capture_confirmed=True)
    recorded = charge(ChargeState.CAPTURED, capture_requested=capture_requested, capture_confirmed=False)
    assert charge_label(confirmed, NOW) is PaymentStatus.CAPTURE_COMPLETED
    assert charge_label(recorded, NOW) is PaymentStatus.CAPTURE_RECORDED


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (RefundState.REFUND_INITIATED, "返金中"),
        (RefundState.REFUNDED, "返金済"),
        (RefundState.DECLINED, "返金却下"),
    ],
)
def test_r10_refund_labels(state: RefundState, expected: str) -> None:
    assert refund_label(refund(state)).value == expected
    assert order_label([charge(ChargeState.CAPTURED, capture_confirmed=True)], [refund(state)], NOW).value == expected


def test_r10_sync_failed_is_unreachable_whatever_the_facts() -> None:
    assert order_label([], [], NOW, sync_failed=True) is PaymentStatus.UNREACHABLE
    assert order_label([charge()], [], NOW, sync_failed=True) is PaymentStatus.UNREACHABLE
    assert order_label([charge()], [refund(RefundState.REFUND_INITIATED)], NOW, sync_failed=True) is (
        PaymentStatus.UNREACHABLE
    )
    assert order_label([charge()], [], NOW, sync_failed=True).value == "(Amazonのステータスが取得できませんでした)"


def _all_charge_variants() -> list[ChargeFacts]:
    variants = []
    for state in ChargeState:
        for reason in {*CANCEL_REASONS_OTHER_THAN_EXPIRY, *DECLINE_REASONS, "ExpiredUnused"}:
            for requested in (False, True):
                for confirmed in (False, True):
                    for created in (NOW - DAY, NOW - 31 * DAY):
                        variants.append(
                            charge(
                                state,
                                reason=reason,
                                created=created,
                                capture_requested=requested,
                                capture_confirmed=confirmed,
                            )
                        )
    return variants


def test_r10_every_charge_variant_has_a_label_and_never_unreachable_or_refund() -> None:
    refund_labels = {PaymentStatus.REFUND_PENDING, PaymentStatus.REFUNDED, PaymentStatus.REFUND_DECLINED}
    for c in _all_charge_variants():
        label = charge_label(c, NOW)
        assert isinstance(label, PaymentStatus)
        assert label is not PaymentStatus.UNREACHABLE
        assert label not in refund_labels


def test_r10_all_13_labels_are_reachable() -> None:
    reachable = {charge_label(c, NOW) for c in _all_charge_variants()}
    assert len(reachable) == 9  # every charge label of R10
    reachable |= {refund_label(refund(state)) for state in RefundState}
    reachable.add(order_label([charge()], [], NOW, sync_failed=True))
    assert reachable == set(PaymentStatus)
    assert {status.value for status in reachable} == set(R10_TABLE)


# --------------------------------------------------------------------------- R9: 30 days


def test_r9_authorization_validity_is_30_days() -> None:
    assert timedelta(days=30) == AUTHORIZATION_VALIDITY
    assert authorization_expiry(datetime(2026, 10, 22, 3, 0, tzinfo=UTC)) == datetime(2026, 11, 21, 3, 0, tzinfo=UTC)


def test_r9_authorization_expiry_is_utc_for_other_offsets() -> None:
    created_jst = datetime(2026, 10, 22, 12, 0, tzinfo=JST)
    expiry = authorization_expiry(created_jst)
    assert expiry == datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
    assert expiry.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (-SECOND, PaymentStatus.AUTHORIZED),
        (timedelta(0), PaymentStatus.AUTH_LAPSED),
        (SECOND, PaymentStatus.AUTH_LAPSED),
        (DAY, PaymentStatus.AUTH_LAPSED),
    ],
    ids=["1s-before", "at", "1s-after", "1d-after"],
)
def test_r9_lapses_30_days_after_creation_when_expires_at_is_none(offset: timedelta, expected: PaymentStatus) -> None:
    created = datetime(2026, 10, 1, 9, 30, tzinfo=UTC)
    c = charge(ChargeState.AUTHORIZED, created=created, expires=None)
    now = created + 30 * DAY + offset
    assert charge_label(c, now) is expected
    assert is_authorization_lapsed(c, now) is (expected is PaymentStatus.AUTH_LAPSED)


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (-SECOND, PaymentStatus.AUTHORIZED),
        (timedelta(0), PaymentStatus.AUTH_LAPSED),
        (SECOND, PaymentStatus.AUTH_LAPSED),
    ],
    ids=["1s-before", "at", "1s-after"],
)
def test_r9_lapses_at_expires_at_when_given(offset: timedelta, expected: PaymentStatus) -> None:
    created = datetime(2026, 10, 1, 9, 30, tzinfo=UTC)
    expires = created + 30 * DAY
    c = charge(ChargeState.AUTHORIZED, created=created, expires=expires)
    assert charge_label(c, expires + offset) is expected
    assert is_authorization_lapsed(c, expires + offset) is (expected is PaymentStatus.AUTH_LAPSED)


def test_r9_expires_at_takes_precedence_over_created_at() -> None:
    """Amazon's own expiresAt is the authority when we have it."""
    early = charge(ChargeState.AUTHORIZED, created=NOW - 5 * DAY, expires=NOW - SECOND)
    late = charge(ChargeState.AUTHORIZED, created=NOW - 40 * DAY, expires=NOW + SECOND)
    assert charge_label(early, NOW) is PaymentStatus.AUTH_LAPSED
    assert charge_label(late, NOW) is PaymentStatus.AUTHORIZED


def test_r9_lapse_boundary_with_mixed_offsets() -> None:
    """now given in Japan time is compared as the same instant."""
    created = datetime(2026, 10, 22, 3, 0, tzinfo=UTC)
    c = charge(ChargeState.AUTHORIZED, created=created)
    assert charge_label(c, datetime(2026, 11, 21, 11, 59, 59, tzinfo=JST)) is PaymentStatus.AUTHORIZED
    assert charge_label(c, datetime(2026, 11, 21, 12, 0, 0, tzinfo=JST)) is PaymentStatus.AUTH_LAPSED


def test_r9_canceled_expired_unused_is_lapsed_and_other_cancels_are_not() -> None:
    assert is_authorization_lapsed(charge(ChargeState.CANCELED, reason="ExpiredUnused"), NOW) is True
    for reason in CANCEL_REASONS_OTHER_THAN_EXPIRY:
        assert is_authorization_lapsed(charge(ChargeState.CANCELED, reason=reason), NOW) is False


@pytest.mark.parametrize(
    "state",
    [ChargeState.AUTHORIZATION_INITIATED, ChargeState.CAPTURE_INITIATED, ChargeState.CAPTURED, ChargeState.DECLINED],
)
def test_r9_only_authorized_charges_lapse_by_time(state: ChargeState) -> None:
    c = charge(state, created=NOW - 100 * DAY)
    assert is_authorization_lapsed(c, NOW) is False


# --------------------------------------------------------------------------- R13 / R54: 13 months


def test_r13_charge_permission_lives_13_months() -> None:
    assert CHARGE_PERMISSION_MONTHS == 13
    assert charge_permission_expiry(datetime(2026, 11, 21, 3, 0, tzinfo=UTC)) == datetime(
        2027, 12, 21, 3, 0, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("created", "expected"),
    [
        (datetime(2026, 1, 15, 8, 0, tzinfo=UTC), datetime(2027, 2, 15, 8, 0, tzinfo=UTC)),
        (datetime(2026, 1, 31, 8, 0, tzinfo=UTC), datetime(2027, 2, 28, 8, 0, tzinfo=UTC)),
        (datetime(2027, 1, 31, 8, 0, tzinfo=UTC), datetime(2028, 2, 29, 8, 0, tzinfo=UTC)),
        (datetime(2027, 1, 29, 8, 0, tzinfo=UTC), datetime(2028, 2, 29, 8, 0, tzinfo=UTC)),
        (datetime(2026, 1, 29, 8, 0, tzinfo=UTC), datetime(2027, 2, 28, 8, 0, tzinfo=UTC)),
        (datetime(2026, 3, 31, 0, 0, tzinfo=UTC), datetime(2027, 4, 30, 0, 0, tzinfo=UTC)),
        (datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC), datetime(2028, 1, 31, 23, 59, 59, tzinfo=UTC)),
        (datetime(2026, 11, 30, 12, 0, tzinfo=UTC), datetime(2027, 12, 30, 12, 0, tzinfo=UTC)),
        (datetime(2026, 12, 1, 0, 0, tzinfo=UTC), datetime(2028, 1, 1, 0, 0, tzinfo=UTC)),
    ],
    ids=[
        "mid-month",
        "jan31-to-feb28",
        "jan31-to-leap-feb29",
        "jan29-to-leap-feb29",
        "jan29-to-feb28",
        "mar31-to-apr30",
        "dec31-across-two-years",
        "nov30",
        "dec1",
    ],
)
def test_r13_charge_permission_expiry_clamps_month_end(created: datetime, expected: datetime) -> None:
    assert charge_permission_expiry(created) == expected


def test_r13_charge_permission_expiry_is_computed_in_utc() -> None:
    # 2026-02-01 05:00 JST is 2026-01-31 20:00 UTC: the clamp applies to the UTC date.
    expiry = charge_permission_expiry(datetime(2026, 2, 1, 5, 0, tzinfo=JST))
    assert expiry == datetime(2027, 2, 28, 20, 0, tzinfo=UTC)
    assert expiry.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("offset", "expected"),
    [(-SECOND, False), (timedelta(0), True), (SECOND, True)],
    ids=["1s-before", "at", "1s-after"],
)
def test_r13_charge_permission_expired_boundary(offset: timedelta, expected: bool) -> None:
    expires = charge_permission_expiry(datetime(2025, 10, 21, 3, 0, tzinfo=UTC))
    assert expires == NOW
    cp = permission(expires=expires)
    assert is_charge_permission_expired(cp, NOW + offset) is expected


def test_r13_charge_permission_without_expiry_is_not_expired() -> None:
    assert is_charge_permission_expired(permission(expires=None), NOW + 10_000 * DAY) is False


def test_r13_closed_expired_is_expired_whatever_the_date() -> None:
    cp = permission(ChargePermissionState.CLOSED, reason="Expired", expires=NOW + 100 * DAY)
    assert is_charge_permission_expired(cp, NOW) is True
    assert is_charge_permission_expired(permission(ChargePermissionState.CLOSED, reason="Expired"), NOW) is True


@pytest.mark.parametrize("reason", [None, "MerchantClosed", "BuyerCanceled", "AmazonCanceled", "AmazonClosed"])
def test_r13_closed_for_other_reasons_is_not_expiry(reason: str | None) -> None:
    """Closed for another reason is R15's business, not an expiry (R13)."""
    cp = permission(ChargePermissionState.CLOSED, reason=reason, expires=NOW + DAY)
    assert is_charge_permission_expired(cp, NOW) is False


def test_r13_non_chargeable_is_not_expiry() -> None:
    cp = permission(ChargePermissionState.NON_CHARGEABLE, reason="Expired", expires=NOW + DAY)
    assert is_charge_permission_expired(cp, NOW) is False


# --------------------------------------------------------------------------- R14: subscriptions extend


def test_r14_first_authorization_sets_13_months() -> None:
    authorized = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
    assert extended_charge_permission_expiry(None, authorized) == datetime(2027, 12, 21, 3, 0, tzinfo=UTC)


def test_r14_each_authorization_extends_to_13_months_from_it() -> None:
    expiry = extended_charge_permission_expiry(None, datetime(2026, 1, 10, tzinfo=UTC))
    assert expiry == datetime(2027, 2, 10, tzinfo=UTC)
    expiry = extended_charge_permission_expiry(expiry, datetime(2026, 2, 10, tzinfo=UTC))
    assert expiry == datetime(2027, 3, 10, tzinfo=UTC)
    expiry = extended_charge_permission_expiry(expiry, datetime(2026, 3, 31, tzinfo=UTC))
    assert expiry == datetime(2027, 4, 30, tzinfo=UTC)


def test_r14_expiry_never_moves_backwards() -> None:
    current = datetime(2028, 6, 1, tzinfo=UTC)
    assert extended_charge_permission_expiry(current, datetime(2026, 1, 10, tzinfo=UTC)) == current


def test_r14_equal_expiry_is_kept() -> None:
    authorized = datetime(2026, 5, 5, 5, 5, tzinfo=UTC)
    current = charge_permission_expiry(authorized)
    assert extended_charge_permission_expiry(current, authorized) == current


def test_r14_extension_is_utc_when_current_has_an_offset() -> None:
    current = datetime(2028, 6, 1, 9, 0, tzinfo=JST)
    result = extended_charge_permission_expiry(current, datetime(2026, 1, 10, tzinfo=UTC))
    assert result == datetime(2028, 6, 1, 0, 0, tzinfo=UTC)
    assert result.utcoffset() == timedelta(0)


# --------------------------------------------------------------------------- 残りN日


@pytest.mark.parametrize(
    ("left", "days", "text"),
    [
        (timedelta(days=2, hours=12), 3, "残り3日"),
        (timedelta(days=3), 3, "残り3日"),
        (timedelta(days=3, seconds=1), 4, "残り4日"),
        (timedelta(days=1), 1, "残り1日"),
        (timedelta(hours=23, minutes=59), 1, "残り1日"),
        (SECOND, 1, "残り1日"),
        (timedelta(microseconds=1), 1, "残り1日"),
        (timedelta(days=30), 30, "残り30日"),
        (timedelta(0), 0, "期限切れ"),
        (-SECOND, 0, "期限切れ"),
        (-10 * DAY, 0, "期限切れ"),
    ],
)
def test_r9_days_remaining_rounds_up_and_expiry_text(left: timedelta, days: int, text: str) -> None:
    expires = NOW + left
    assert days_remaining(expires, NOW) == days
    assert expiry_text(expires, NOW) == text


def test_expiry_text_none_is_empty() -> None:
    assert expiry_text(None, NOW) == ""


def test_days_remaining_compares_instants_across_offsets() -> None:
    expires = datetime(2026, 11, 24, 0, 0, tzinfo=JST)  # = 2026-11-23 15:00 UTC, 2.5 days after NOW
    assert days_remaining(expires, NOW) == 3
    assert expiry_text(expires, NOW) == "残り3日"


# --------------------------------------------------------------------------- order_label (R10 combined)


def test_r10_no_charges_and_no_refunds_is_none() -> None:
    assert order_label([], [], NOW) is None


def test_r10_single_charge_order_reads_its_charge_label() -> None:
    for c in _all_charge_variants():
        assert order_label([c], [], NOW) is charge_label(c, NOW)


def test_r10_refund_in_progress_dominates() -> None:
    charges = [charge(ChargeState.CAPTURED, capture_confirmed=True)]
    refunds = [
        refund(RefundState.REFUNDED, id="R-1", created=NOW - 3 * DAY),
        refund(RefundState.REFUND_INITIATED, id="R-2", created=NOW - 5 * DAY),
        refund(RefundState.DECLINED, id="R-3", created=NOW - DAY),
    ]
    assert order_label(charges, refunds, NOW) is PaymentStatus.REFUND_PENDING


def test_r10_refunds_dominate_charges() -> None:
    charges = [charge(ChargeState.AUTHORIZED, id="C-2", created=NOW - DAY)]
    assert order_label(charges, [refund(RefundState.REFUNDED)], NOW) is PaymentStatus.REFUNDED
    # even a refund with no charges on record reads as the refund
    assert order_label([], [refund(RefundState.DECLINED)], NOW) is PaymentStatus.REFUND_DECLINED


def test_r10_declined_refund_retried_successfully_reads_refunded() -> None:
    refunds = [
        refund(RefundState.DECLINED, id="R-1", created=NOW - 2 * DAY),
        refund(RefundState.REFUNDED, id="R-2", created=NOW - DAY),
    ]
    assert order_label([charge(ChargeState.CAPTURED)], refunds, NOW) is PaymentStatus.REFUNDED
    # order of the input list does not matter
    assert order_label([charge(ChargeState.CAPTURED)], list(reversed(refunds)), NOW) is PaymentStatus.REFUNDED


def test_r10_latest_refund_declined_reads_refund_declined() -> None:
    refunds = [
        refund(RefundState.REFUNDED, id="R-1", created=NOW - 2 * DAY),
        refund(RefundState.DECLINED, id="R-2", created=NOW - DAY),
    ]
    assert order_label([charge(ChargeState.CAPTURED)], refunds, NOW) is PaymentStatus.REFUND_DECLINED


def test_r10_latest_refund_is_by_time_not_list_position_across_offsets() -> None:
    # 08:00 JST the same day is 23:00 UTC the previous day: the JST one is the earlier.
    refunds = [
        refund(RefundState.REFUNDED, id="R-1", created=datetime(2026, 11, 20, 8, 0, tzinfo=JST)),
        refund(RefundState.DECLINED, id="R-2", created=datetime(2026, 11, 20, 0, 0, tzinfo=UTC)),
    ]
    assert order_label([charge(ChargeState.CAPTURED)], refunds, NOW) is PaymentStatus.REFUND_DECLINED


def test_r10_r9_expired_original_and_declined_reauth_reads_auth_failed() -> None:
    charges = [
        charge(ChargeState.AUTHORIZED, id="C-1", created=NOW - 40 * DAY),
        charge(ChargeState.DECLINED, id="C-2", created=NOW - DAY, reason="SoftDeclined", purpose=ChargePurpose.REAUTH),
    ]
    assert order_label(charges, [], NOW) is PaymentStatus.AUTH_FAILED
    charges[0] = charge(ChargeState.CANCELED, id="C-1", reason="ExpiredUnused", created=NOW - 40 * DAY)
    assert order_label(charges, [], NOW) is PaymentStatus.AUTH_FAILED


def test_r10_declined_original_and_successful_reauth_reads_authorized() -> None:
    charges = [
        charge(ChargeState.AUTHORIZED, id="C-2", created=NOW - DAY, purpose=ChargePurpose.REAUTH),
        charge(ChargeState.DECLINED, id="C-1", created=NOW - 3 * DAY, reason="HardDeclined"),
    ]
    assert order_label(charges, [], NOW) is PaymentStatus.AUTHORIZED


def test_r10_r9_expired_original_and_authorized_reauth_reads_authorized() -> None:
    charges = [
        charge(ChargeState.AUTHORIZED, id="C-1", created=NOW - 31 * DAY),
        charge(ChargeState.AUTHORIZED, id="C-2", created=NOW - DAY, purpose=ChargePurpose.REAUTH),
    ]
    assert order_label(charges, [], NOW) is PaymentStatus.AUTHORIZED
    charges[0] = charge(ChargeState.CANCELED, id="C-1", reason="ExpiredUnused", created=NOW - 31 * DAY)
    assert order_label(charges, [], NOW) is PaymentStatus.AUTHORIZED


@pytest.mark.parametrize(
    "dead",
    [
        charge(ChargeState.CANCELED, id="C-2", reason="ExpiredUnused", created=NOW - DAY),
        charge(ChargeState.CANCELED, id="C-2", reason="MerchantCanceled", created=NOW - DAY),
        charge(ChargeState.DECLINED, id="C-2", created=NOW - DAY),
        charge(ChargeState.DECLINED, id="C-2", created=NOW - DAY, capture_requested=True),
        charge(ChargeState.AUTHORIZED, id="C-2", created=NOW - DAY, expires=NOW - SECOND),
    ],
    ids=["lapsed-unused", "canceled", "auth-failed", "capture-declined", "lapsed-by-time"],
)
def test_r10_latest_dead_charge_wins_over_live_earlier_ones(dead: ChargeFacts) -> None:
    earlier = charge(ChargeState.CAPTURED, id="C-1", created=NOW - 3 * DAY, capture_confirmed=True)
    assert order_label([earlier, dead], [], NOW) is charge_label(dead, NOW)
    assert order_label([dead, earlier], [], NOW) is charge_label(dead, NOW)


def test_r10_latest_by_time_ties_broken_by_id() -> None:
    same = NOW - DAY
    a = charge(ChargeState.AUTHORIZED, id="C-A", created=same)
    b = charge(ChargeState.DECLINED, id="C-B", created=same)
    assert order_label([b, a], [], NOW) is PaymentStatus.AUTH_FAILED


def test_r10_same_instant_ties_follow_creation_sequence_before_id() -> None:
    same = NOW - DAY
    first = replace(charge(ChargeState.DECLINED, id="C-Z", created=same), seq=1)
    second = replace(charge(ChargeState.AUTHORIZED, id="C-A", created=same, purpose=ChargePurpose.REAUTH), seq=2)
    assert order_label([second, first], [], NOW) is PaymentStatus.AUTHORIZED
    r1 = replace(refund(RefundState.DECLINED, id="R-Z", created=same), seq=1)
    r2 = replace(refund(RefundState.REFUNDED, id="R-A", created=same), seq=2)
    assert order_label([first], [r2, r1], NOW) is PaymentStatus.REFUNDED


def test_r10_earlier_dead_charges_are_ignored_when_latest_is_live() -> None:
    charges = [
        charge(ChargeState.DECLINED, id="C-1", created=NOW - 5 * DAY, capture_requested=True),
        charge(ChargeState.CANCELED, id="C-2", created=NOW - 4 * DAY, reason="MerchantCanceled"),
        charge(ChargeState.CAPTURED, id="C-3", created=NOW - 3 * DAY, capture_confirmed=True),
    ]
    assert order_label(charges, [], NOW) is PaymentStatus.CAPTURE_COMPLETED


_LIVE_BY_PRECEDENCE = [
    (charge(ChargeState.CAPTURE_INITIATED, capture_requested=True), PaymentStatus.CAPTURE_PENDING),
    (charge(ChargeState.AUTHORIZATION_INITIATED), PaymentStatus.AUTH_PENDING),
    (charge(ChargeState.AUTHORIZED), PaymentStatus.AUTHORIZED),
    (charge(ChargeState.CAPTURED, capture_requested=True), PaymentStatus.CAPTURE_RECORDED),
    (charge(ChargeState.CAPTURED, capture_confirmed=True), PaymentStatus.CAPTURE_COMPLETED),
]


@pytest.mark.parametrize(
    ("higher", "lower"),
    [(i, j) for i in range(len(_LIVE_BY_PRECEDENCE)) for j in range(i + 1, len(_LIVE_BY_PRECEDENCE))],
)
def test_r10_live_charges_combine_by_precedence(higher: int, lower: int) -> None:
    """請求中 > 承認中 > 承認済 > 請求済 > 請求完了, whichever of the two is the latest."""
    hi_fact, hi_label = _LIVE_BY_PRECEDENCE[higher]
    lo_fact, _ = _LIVE_BY_PRECEDENCE[lower]
    for hi_time, lo_time in ((NOW - 2 * DAY, NOW - DAY), (NOW - DAY, NOW - 2 * DAY)):
        hi = charge(
            hi_fact.state,
            id="C-H",
            created=hi_time,
            capture_requested=hi_fact.capture_requested,
            capture_confirmed=hi_fact.capture_confirmed,
        )
        lo = charge(
            lo_fact.state,
            id="C-L",
            created=lo_time,
            capture_requested=lo_fact.capture_requested,
            capture_confirmed=lo_fact.capture_confirmed,
        )
        assert order_label([hi, lo], [], NOW) is hi_label
        assert order_label([lo, hi], [], NOW) is hi_label


def test_r10_all_five_live_labels_combine_to_capture_pending() -> None:
    charges = [
        charge(
            f.state,
            id=f"C-{i}",
            created=NOW - (i + 1) * DAY,
            capture_requested=f.capture_requested,
            capture_confirmed=f.capture_confirmed,
        )
        for i, (f, _) in enumerate(_LIVE_BY_PRECEDENCE)
    ]
    assert order_label(charges, [], NOW) is PaymentStatus.CAPTURE_PENDING
    assert order_label(charges[1:], [], NOW) is PaymentStatus.AUTH_PENDING
    assert order_label(charges[2:], [], NOW) is PaymentStatus.AUTHORIZED
    assert order_label(charges[3:], [], NOW) is PaymentStatus.CAPTURE_RECORDED
    assert order_label(charges[4:], [], NOW) is PaymentStatus.CAPTURE_COMPLETED


def test_r10_original_captured_and_increase_authorized_reads_authorized() -> None:
    charges = [
        charge(ChargeState.CAPTURED, id="C-1", created=NOW - 10 * DAY, captured=5_000, capture_confirmed=True),
        charge(ChargeState.AUTHORIZED, id="C-2", created=NOW - DAY, amount=2_000, purpose=ChargePurpose.INCREASE),
    ]
    assert order_label(charges, [], NOW) is PaymentStatus.AUTHORIZED


def test_r10_r9_order_label_follows_the_clock() -> None:
    c = charge(ChargeState.AUTHORIZED, created=NOW - 30 * DAY + SECOND)
    assert order_label([c], [], NOW) is PaymentStatus.AUTHORIZED
    assert order_label([c], [], NOW + SECOND) is PaymentStatus.AUTH_LAPSED


# --------------------------------------------------------------------------- auth_expiry_of


def test_auth_expiry_of_no_charges_is_none() -> None:
    assert auth_expiry_of([], NOW) is None


def test_auth_expiry_of_ignores_charges_that_are_not_authorized() -> None:
    charges = [
        charge(ChargeState.AUTHORIZATION_INITIATED, id="C-1", created=NOW - 20 * DAY),
        charge(ChargeState.CAPTURE_INITIATED, id="C-2", created=NOW - 20 * DAY, expires=NOW - DAY),
        charge(ChargeState.CAPTURED, id="C-3", created=NOW - 25 * DAY),
        charge(ChargeState.CANCELED, id="C-4", created=NOW - 25 * DAY, reason="ExpiredUnused"),
        charge(ChargeState.DECLINED, id="C-5", created=NOW - 25 * DAY),
    ]
    assert auth_expiry_of(charges, NOW) is None


def test_r9_auth_expiry_of_is_the_earliest_authorized_expiry() -> None:
    charges = [
        charge(ChargeState.CAPTURED, id="C-0", created=NOW - 29 * DAY),
        charge(ChargeState.AUTHORIZED, id="C-1", created=NOW - 10 * DAY),  # expires NOW + 20 days
        charge(ChargeState.AUTHORIZED, id="C-2", created=NOW - 2 * DAY, expires=NOW + 5 * DAY),
        charge(ChargeState.AUTHORIZED, id="C-3", created=NOW - 20 * DAY),  # expires NOW + 10 days
        charge(ChargeState.AUTHORIZATION_INITIATED, id="C-4", created=NOW - 29 * DAY, expires=NOW + DAY),
    ]
    assert auth_expiry_of(charges, NOW) == NOW + 5 * DAY
    assert auth_expiry_of(charges[:2] + charges[3:], NOW) == NOW + 10 * DAY
    assert auth_expiry_of(charges[:2], NOW) == NOW + 20 * DAY


def _auth_expiry(charges: list[ChargeFacts], now: datetime) -> datetime | None:
    return auth_expiry_of(charges, now)


def test_r9_auth_expiry_of_ignores_lapsed_authorizations_superseded_by_reauth() -> None:
    charges = [
        charge(ChargeState.AUTHORIZED, id="C-1", created=NOW - 31 * DAY),
        charge(ChargeState.AUTHORIZED, id="C-2", created=NOW - DAY, purpose=ChargePurpose.REAUTH),
    ]
    assert order_label(charges, [], NOW) is PaymentStatus.AUTHORIZED
    expiry = _auth_expiry(charges, NOW)
    assert expiry == NOW + 29 * DAY
    assert expiry_text(expiry, NOW) == "残り29日"


def test_r9_auth_expiry_of_is_utc_and_feeds_expiry_text() -> None:
    created = datetime(2026, 10, 24, 15, 0, tzinfo=JST)  # = 2026-10-24 06:00 UTC
    expiry = auth_expiry_of([charge(ChargeState.AUTHORIZED, created=created)], NOW)
    assert expiry == datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    assert expiry is not None and expiry.utcoffset() == timedelta(0)
    assert expiry_text(expiry, NOW) == "残り3日"  # 2 days 3 hours left


# --------------------------------------------------------------------------- property


_moments = st.datetimes(
    min_value=datetime(2025, 1, 1),
    max_value=datetime(2028, 12, 31),
    timezones=st.sampled_from([UTC, JST]),
)
_reasons = st.sampled_from([None, "ExpiredUnused", "MerchantCanceled", "SoftDeclined", "HardDeclined"])


@st.composite
def _charges(draw: st.DrawFn) -> ChargeFacts:
    return ChargeFacts(
        id=draw(st.text(alphabet="ABC123-", min_size=1, max_size=4)),
        state=draw(st.sampled_from(list(ChargeState))),
        reason_code=draw(_reasons),
        amount=draw(st.integers(min_value=1, max_value=10_000_000)),
        captured_amount=draw(st.integers(min_value=0, max_value=10_000_000)),
        refunded_amount=draw(st.integers(min_value=0, max_value=10_000_000)),
        created_at=draw(_moments),
        expires_at=draw(st.none() | _moments),
        capture_requested=draw(st.booleans()),
        capture_confirmed=draw(st.booleans()),
        purpose=draw(st.sampled_from(list(ChargePurpose))),
    )


@st.composite
def _refunds(draw: st.DrawFn) -> RefundFacts:
    return RefundFacts(
        id=draw(st.text(alphabet="XYZ789", min_size=1, max_size=4)),
        charge_id=draw(st.text(alphabet="ABC123-", min_size=1, max_size=4)),
        state=draw(st.sampled_from(list(RefundState))),
        amount=draw(st.integers(min_value=1, max_value=10_000_000)),
        created_at=draw(_moments),
    )


@settings(max_examples=300, deadline=None)
@given(
    charges=st.lists(_charges(), max_size=6, unique_by=lambda c: c.id),
    refunds=st.lists(_refunds(), max_size=4, unique_by=lambda r: r.id),
    now=_moments,
)
def test_r10_property_order_label_is_total(
    charges: list[ChargeFacts], refunds: list[RefundFacts], now: datetime
) -> None:
    label = order_label(charges, refunds, now)
    assert label is None or isinstance(label, PaymentStatus)
    assert label is not PaymentStatus.UNREACHABLE
    assert (label is None) == (not charges and not refunds)
    if refunds:
        assert label in {PaymentStatus.REFUND_PENDING, PaymentStatus.REFUNDED, PaymentStatus.REFUND_DECLINED}
    elif charges:
        assert label in {charge_label(c, now) for c in charges}
    assert order_label(charges, refunds, now, sync_failed=True) is PaymentStatus.UNREACHABLE
    # the input order never matters
    assert order_label(list(reversed(charges)), list(reversed(refunds)), now) is label
