"""The 与信ステータス badge (R10) and the lifetimes behind it (R9, R13, R14).

Pure functions over stored facts and a moment in time: the same inputs give the same badge
in the window, on the command line and in tests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from core.clock import add_months, to_utc
from core.domain import (
    ChargeFacts,
    ChargePermissionFacts,
    ChargePermissionState,
    ChargeState,
    PaymentStatus,
    RefundFacts,
    RefundState,
)

AUTHORIZATION_VALIDITY = timedelta(days=30)  # R9
CHARGE_PERMISSION_MONTHS = 13  # R13, R14 (R54: the documents assume the 13-month extension)
EXPIRED_UNUSED = "ExpiredUnused"

# Badges of a charge that is over: nothing left to capture on it.
_DEAD = frozenset(
    {
        PaymentStatus.AUTH_LAPSED,
        PaymentStatus.AUTH_FAILED,
        PaymentStatus.AUTH_CANCELED,
        PaymentStatus.CAPTURE_DECLINED,
    }
)
# When several live charges disagree, the one that most needs the operator's eye wins.
_LIVE_PRECEDENCE = (
    PaymentStatus.CAPTURE_PENDING,
    PaymentStatus.AUTH_PENDING,
    PaymentStatus.AUTHORIZED,
    PaymentStatus.CAPTURE_RECORDED,
    PaymentStatus.CAPTURE_COMPLETED,
)


def authorization_expiry(authorized_at: datetime) -> datetime:
    """An authorization can be captured for 30 days (R9)."""
    return to_utc(authorized_at) + AUTHORIZATION_VALIDITY


def charge_permission_expiry(created_at: datetime) -> datetime:
    """A Charge Permission lives 13 months (R13)."""
    return add_months(to_utc(created_at), CHARGE_PERMISSION_MONTHS)


def extended_charge_permission_expiry(current: datetime | None, authorized_at: datetime) -> datetime:
    """A subscription's successful authorization extends its permission to 13 months from then (R14).

    The expiry never moves backwards.
    """
    extended = charge_permission_expiry(authorized_at)
    if current is None:
        return extended
    return max(to_utc(current), extended)


def is_authorization_lapsed(charge: ChargeFacts, now: datetime) -> bool:
    """True once an uncaptured authorization passed its 30 days (R9), even before Amazon says so."""
    if charge.state is ChargeState.CANCELED and charge.reason_code == EXPIRED_UNUSED:
        return True
    if charge.state is not ChargeState.AUTHORIZED:
        return False
    expires = charge.expires_at or authorization_expiry(charge.created_at)
    return to_utc(now) >= to_utc(expires)


def is_charge_permission_expired(cp: ChargePermissionFacts, now: datetime) -> bool:
    """R13: no authorization or re-authorization after the permission expired."""
    if cp.state is ChargePermissionState.CLOSED and cp.reason_code == "Expired":
        return True
    return cp.expires_at is not None and to_utc(now) >= to_utc(cp.expires_at)


def days_remaining(expires_at: datetime, now: datetime) -> int:
    """Whole days left, rounded up ("残り3日" means it lapses within 3 days); 0 or less when lapsed."""
    remaining = (to_utc(expires_at) - to_utc(now)).total_seconds()
    if remaining <= 0:
        return 0
    return math.ceil(remaining / 86400)


def expiry_text(expires_at: datetime | None, now: datetime) -> str:
    """'残り3日', '期限切れ' or '' when there is no expiry."""
    if expires_at is None:
        return ""
    days = days_remaining(expires_at, now)
    return f"残り{days}日" if days > 0 else "期限切れ"


def charge_label(charge: ChargeFacts, now: datetime) -> PaymentStatus:
    """The R10 badge of one charge."""
    state = charge.state
    if state is ChargeState.AUTHORIZATION_INITIATED:
        return PaymentStatus.AUTH_PENDING
    if state is ChargeState.AUTHORIZED:
        return PaymentStatus.AUTH_LAPSED if is_authorization_lapsed(charge, now) else PaymentStatus.AUTHORIZED
    if state is ChargeState.CANCELED:
        return PaymentStatus.AUTH_LAPSED if charge.reason_code == EXPIRED_UNUSED else PaymentStatus.AUTH_CANCELED
    if state is ChargeState.DECLINED:
        return PaymentStatus.CAPTURE_DECLINED if charge.capture_requested else PaymentStatus.AUTH_FAILED
    if state is ChargeState.CAPTURE_INITIATED:
        return PaymentStatus.CAPTURE_PENDING
    if state is ChargeState.CAPTURED:
        return PaymentStatus.CAPTURE_COMPLETED if charge.capture_confirmed else PaymentStatus.CAPTURE_RECORDED
    raise AssertionError(f"unknown charge state {state!r}")


def refund_label(refund: RefundFacts) -> PaymentStatus:
    return {
        RefundState.REFUND_INITIATED: PaymentStatus.REFUND_PENDING,
        RefundState.REFUNDED: PaymentStatus.REFUNDED,
        RefundState.DECLINED: PaymentStatus.REFUND_DECLINED,
    }[refund.state]


def order_label(
    charges: Sequence[ChargeFacts],
    refunds: Sequence[RefundFacts],
    now: datetime,
    *,
    sync_failed: bool = False,
) -> PaymentStatus | None:
    """The badge of a whole order (R10). ``None`` when the order has no payment (決済不要).

    Decisions, in order:
    1. the last status read failed → the "could not read" label (R10 last row);
    2. refunds speak for the order once there is one: any in progress → 返金中, otherwise the
       most recent refund's outcome (a declined refund retried successfully reads 返金済);
    3. the most recent charge, if it is over (lapsed, failed, canceled, capture declined), is
       what the operator must act on;
    4. otherwise the live charges (the original and every increase) are combined, the one in
       progress or still to capture winning over the captured ones.
    """
    if sync_failed:
        return PaymentStatus.UNREACHABLE
    if refunds:
        if any(r.state is RefundState.REFUND_INITIATED for r in refunds):
            return PaymentStatus.REFUND_PENDING
        latest_refund = max(refunds, key=lambda r: (to_utc(r.created_at), r.seq, r.id))
        return refund_label(latest_refund)
    if not charges:
        return None
    ordered = sorted(charges, key=lambda c: (to_utc(c.created_at), c.seq, c.id))
    labels = [charge_label(c, now) for c in ordered]
    if labels[-1] in _DEAD:
        return labels[-1]
    live = {label for label in labels if label not in _DEAD}
    for label in _LIVE_PRECEDENCE:
        if label in live:
            return label
    raise AssertionError("a live charge has a live label")


def auth_expiry_of(charges: Sequence[ChargeFacts], now: datetime) -> datetime | None:
    """The earliest expiry among authorizations still capturable (shown as 残りN日).

    Authorizations that already lapsed (R9) are left out: after a re-authorization the old
    one must not make a capturable order read 承認完了.
    """
    expiries = [
        to_utc(c.expires_at or authorization_expiry(c.created_at))
        for c in charges
        if c.state is ChargeState.AUTHORIZED and not is_authorization_lapsed(c, now)
    ]
    return min(expiries) if expiries else None
