"""The local ledger: ORM rows as status facts, and the order summary kept beside them.

Every write that touches a charge, refund or Charge Permission ends with
``refresh_order(order, now)`` so the denormalised columns the order list sorts and filters
on (payment status, amounts, authorization expiry) always match the R10 rule.
"""

from __future__ import annotations

from datetime import datetime

from core.amazonpay.models import ChargeInfo, ChargePermissionInfo, RefundInfo
from core.db.schema import Charge, ChargePermission, Order, Refund
from core.domain import (
    ChargeFacts,
    ChargePermissionFacts,
    ChargePermissionState,
    ChargePermissionType,
    ChargePurpose,
    ChargeState,
    Instrument,
    PaymentStatus,
    RefundFacts,
    RefundState,
)
from core.status import auth_expiry_of, authorization_expiry, order_label

LOCAL_CHARGE_PREFIX = "declined-"  # failed authorizations: Amazon created no Charge (§5)


def charge_facts(charge: Charge) -> ChargeFacts:
    return ChargeFacts(
        id=charge.id,
        state=ChargeState(charge.state),
        reason_code=charge.reason_code,
        amount=charge.amount,
        captured_amount=charge.captured_amount,
        refunded_amount=charge.refunded_amount,
        created_at=charge.created_at,
        expires_at=charge.expires_at,
        capture_requested=charge.capture_requested_at is not None,
        capture_confirmed=charge.capture_confirmed,
        purpose=ChargePurpose(charge.purpose),
        seq=charge.seq,
    )


def refund_facts(refund: Refund) -> RefundFacts:
    return RefundFacts(
        id=refund.id,
        charge_id=refund.charge_id,
        state=RefundState(refund.state),
        amount=refund.amount,
        created_at=refund.created_at,
        reason_code=refund.reason_code,
        seq=refund.seq,
    )


def charge_permission_facts(cp: ChargePermission) -> ChargePermissionFacts:
    return ChargePermissionFacts(
        id=cp.id,
        type=ChargePermissionType(cp.type),
        state=ChargePermissionState(cp.state),
        reason_code=cp.reason_code,
        expires_at=cp.expires_at,
        instrument=Instrument(cp.instrument),
        amount_limit=cp.amount_limit,
        amount_balance=cp.amount_balance,
    )


def order_payment_status(order: Order, now: datetime) -> PaymentStatus | None:
    return order_label(
        [charge_facts(c) for c in order.charges],
        [refund_facts(r) for r in order.refunds],
        now,
        sync_failed=order.sync_error is not None,
    )


def authorized_total(order: Order) -> int:
    """Yen still held by live authorizations (not yet captured)."""
    return sum(
        c.amount for c in order.charges if c.state in (ChargeState.AUTHORIZED, ChargeState.AUTHORIZATION_INITIATED)
    )


def captured_total(order: Order) -> int:
    return sum(c.captured_amount for c in order.charges if c.state == ChargeState.CAPTURED)


def refunded_total(order: Order) -> int:
    return sum(r.amount for r in order.refunds if r.state == RefundState.REFUNDED)


def pending_refund_total(order: Order) -> int:
    return sum(r.amount for r in order.refunds if r.state == RefundState.REFUND_INITIATED)


def pending_capture_total(order: Order) -> int:
    return sum(c.amount for c in order.charges if c.state == ChargeState.CAPTURE_INITIATED)


def refresh_order(order: Order, now: datetime) -> None:
    status = order_payment_status(order, now)
    if order.payment_method != "amazon_pay" and not any(
        c.state in (ChargeState.AUTHORIZED, ChargeState.CAPTURE_INITIATED, ChargeState.CAPTURED) for c in order.charges
    ):
        # R34: once no Amazon Pay money is held the payment status disappears (決済不要 / other method).
        status = None
    order.payment_status = status.value if status else None
    order.auth_expires_at = auth_expiry_of([charge_facts(c) for c in order.charges], now)
    order.authorized_amount = authorized_total(order)
    order.captured_amount = captured_total(order)
    order.refunded_amount = refunded_total(order)
    order.updated_at = now


def apply_charge_info(charge: Charge, info: ChargeInfo, now: datetime, *, confirmed_by_read: bool) -> None:
    """Copy Amazon's view of a charge onto the local row.

    ``confirmed_by_read``: this came from a status read (sync), so a capture is 請求完了, not
    just 請求済 (R10).
    """
    charge.state = ChargeState(info.status.state).value
    charge.reason_code = info.status.reason_code
    charge.amount = info.amount or charge.amount
    if info.status.state == ChargeState.CAPTURED:
        charge.captured_amount = info.captured_amount or info.amount
        if confirmed_by_read:
            charge.capture_confirmed = True
    if info.refunded_amount:
        charge.refunded_amount = info.refunded_amount
    if info.expires_at is not None:
        charge.expires_at = info.expires_at
    elif charge.expires_at is None:
        charge.expires_at = authorization_expiry(charge.created_at)
    charge.last_synced_at = now if confirmed_by_read else charge.last_synced_at


def new_charge_row(order: Order, info: ChargeInfo, *, purpose: ChargePurpose, origin: str, now: datetime) -> Charge:
    created = info.created_at or now
    charge = Charge(
        id=info.id,
        seq=next_seq(order.charges),
        order=order,
        charge_permission_id=info.charge_permission_id or (order.charge_permission_id or ""),
        purpose=purpose.value,
        origin=origin,
        amount=info.amount,
        captured_amount=0,
        refunded_amount=0,
        state=info.status.state,
        created_at=created,
        expires_at=info.expires_at or authorization_expiry(created),
        capture_confirmed=False,
    )
    apply_charge_info(charge, info, now, confirmed_by_read=False)
    return charge


def next_seq(rows: list[Charge] | list[Refund]) -> int:
    """The next creation sequence number among an order's charges or refunds."""
    return max((row.seq for row in rows), default=0) + 1


def apply_refund_info(refund: Refund, info: RefundInfo, now: datetime) -> None:
    refund.state = RefundState(info.status.state).value
    refund.reason_code = info.status.reason_code
    refund.last_synced_at = now


def apply_charge_permission_info(cp: ChargePermission, info: ChargePermissionInfo, now: datetime) -> None:
    cp.state = ChargePermissionState(info.status.state).value
    cp.reason_code = info.status.reason_code
    if info.amount_limit is not None:
        cp.amount_limit = info.amount_limit
    if info.amount_balance is not None:
        cp.amount_balance = info.amount_balance
    if info.expires_at is not None:
        # Amazon's expirationTimestamp wins over any local estimate: 180 days or 13 months for
        # a one-time permission (R54), and a recurring one as extended by Amazon (R14).
        cp.expires_at = info.expires_at
    if info.status.state == ChargePermissionState.CLOSED and cp.closed_at is None:
        cp.closed_at = now
    cp.last_synced_at = now


def instrument_from_descriptor(descriptor: str) -> Instrument:
    """Amazon's payment descriptor says whether gift balance and/or a card paid (R22)."""
    gift = "ギフト" in descriptor or "gift" in descriptor.lower()
    card = any(word in descriptor for word in ("Visa", "Master", "JCB", "Amex", "Diners", "****"))
    if gift and card:
        return Instrument.GIFT_AND_CARD
    if gift:
        return Instrument.GIFT
    return Instrument.CARD
