"""Payment facts for the pure rule tests (core.status, core.payment_rules): built directly,
no database, at one fixed moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from core.domain import (
    ChargeFacts,
    ChargePermissionFacts,
    ChargePermissionState,
    ChargePermissionType,
    ChargePurpose,
    ChargeState,
    Instrument,
    RefundFacts,
    RefundState,
)

NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)  # 12:00 in Tokyo
SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)
JST = timezone(timedelta(hours=9))


def charge(
    state: ChargeState = ChargeState.AUTHORIZED,
    *,
    id: str = "C-1",
    reason: str | None = None,
    amount: int = 5_000,
    captured: int = 0,
    refunded: int = 0,
    created: datetime = NOW - 5 * DAY,
    expires: datetime | None = None,
    capture_requested: bool = False,
    capture_confirmed: bool = False,
    purpose: ChargePurpose = ChargePurpose.ORIGINAL,
) -> ChargeFacts:
    return ChargeFacts(
        id=id,
        state=state,
        reason_code=reason,
        amount=amount,
        captured_amount=captured,
        refunded_amount=refunded,
        created_at=created,
        expires_at=expires,
        capture_requested=capture_requested,
        capture_confirmed=capture_confirmed,
        purpose=purpose,
    )


def refund(
    state: RefundState = RefundState.REFUNDED,
    *,
    id: str = "R-1",
    charge_id: str = "C-1",
    amount: int = 1_000,
    created: datetime = NOW - DAY,
) -> RefundFacts:
    return RefundFacts(id=id, charge_id=charge_id, state=state, amount=amount, created_at=created)


def permission(
    state: ChargePermissionState = ChargePermissionState.CHARGEABLE,
    *,
    reason: str | None = None,
    expires: datetime | None = None,
) -> ChargePermissionFacts:
    return ChargePermissionFacts(
        id="P-1",
        type=ChargePermissionType.ONE_TIME,
        state=state,
        reason_code=reason,
        expires_at=expires,
        instrument=Instrument.CARD,
    )
