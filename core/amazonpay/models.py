"""Typed views of Amazon Pay API v2 responses (amazonpay-api.md §2). JPY amounts become int yen."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.amazonpay.signing import format_amz_date, parse_amz_date

CURRENCY = "JPY"


def money(amount: int) -> dict[str, str]:
    """JPY is sent without a fraction (amazonpay-api.md §3)."""
    return {"amount": str(int(amount)), "currencyCode": CURRENCY}


def yen(value: Any) -> int:
    """Response amounts are strings ('100000', sometimes '1000.00'); JPY has no minor unit."""
    if value is None:
        return 0
    if isinstance(value, Mapping):
        value = value.get("amount")
        if value is None:
            return 0
    text = str(value)
    whole, _, fraction = text.partition(".")
    if fraction.strip("0"):
        raise ValueError(f"JPY amount with a fraction: {text!r}")
    return int(whole)


def timestamp(value: Any) -> datetime | None:
    if not value:
        return None
    return parse_amz_date(str(value))


def stamp(moment: datetime) -> str:
    return format_amz_date(moment)


@dataclass(frozen=True)
class Status:
    state: str
    reason_code: str | None
    reason_description: str | None
    last_updated: datetime | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Status:
        details = data.get("statusDetails") or {}
        reason = details.get("reasonCode")
        description = details.get("reasonDescription")
        reasons = details.get("reasons")
        if reason is None and reasons:
            reason = reasons[0].get("reasonCode")
            description = reasons[0].get("reasonDescription")
        return cls(
            state=str(details.get("state", "")),
            reason_code=reason,
            reason_description=description,
            last_updated=timestamp(details.get("lastUpdatedTimestamp")),
        )


@dataclass(frozen=True)
class ChargeInfo:
    id: str
    charge_permission_id: str
    amount: int
    captured_amount: int
    refunded_amount: int
    status: Status
    created_at: datetime | None
    expires_at: datetime | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChargeInfo:
        return cls(
            id=str(data["chargeId"]),
            charge_permission_id=str(data.get("chargePermissionId", "")),
            amount=yen(data.get("chargeAmount")),
            captured_amount=yen(data.get("captureAmount")),
            refunded_amount=yen(data.get("refundedAmount")),
            status=Status.from_json(data),
            created_at=timestamp(data.get("creationTimestamp")),
            expires_at=timestamp(data.get("expirationTimestamp")),
            raw=data,
        )


@dataclass(frozen=True)
class Buyer:
    buyer_id: str
    name: str
    email: str
    phone: str


@dataclass(frozen=True)
class Address:
    name: str
    postal_code: str
    prefecture: str
    address: str
    phone: str


@dataclass(frozen=True)
class ChargePermissionInfo:
    id: str
    type: str
    status: Status
    amount_limit: int | None
    amount_balance: int | None
    buyer: Buyer | None
    shipping_address: Address | None
    payment_descriptor: str
    merchant_reference_id: str | None
    created_at: datetime | None
    expires_at: datetime | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChargePermissionInfo:
        limits = data.get("limits") or {}
        buyer = data.get("buyer")
        address = data.get("shippingAddress")
        preferences = data.get("paymentPreferences") or []
        metadata = data.get("merchantMetadata") or {}
        return cls(
            id=str(data["chargePermissionId"]),
            type=str(data.get("chargePermissionType", "OneTime")),
            status=Status.from_json(data),
            amount_limit=yen(limits["amountLimit"]) if limits.get("amountLimit") else None,
            amount_balance=yen(limits["amountBalance"]) if limits.get("amountBalance") else None,
            buyer=Buyer(
                buyer_id=str(buyer.get("buyerId", "")),
                name=str(buyer.get("name", "")),
                email=str(buyer.get("email", "")),
                phone=str(buyer.get("phoneNumber") or ""),
            )
            if buyer
            else None,
            shipping_address=Address(
                name=str(address.get("name", "")),
                postal_code=str(address.get("postalCode", "")),
                prefecture=str(address.get("stateOrRegion", "")),
                address=" ".join(
                    str(address[k]) for k in ("city", "addressLine1", "addressLine2", "addressLine3") if address.get(k)
                ),
                phone=str(address.get("phoneNumber") or ""),
            )
            if address
            else None,
            payment_descriptor=str(preferences[0].get("paymentDescriptor", "")) if preferences else "",
            merchant_reference_id=metadata.get("merchantReferenceId"),
            created_at=timestamp(data.get("creationTimestamp")),
            expires_at=timestamp(data.get("expirationTimestamp")),
            raw=data,
        )


@dataclass(frozen=True)
class RefundInfo:
    id: str
    charge_id: str
    amount: int
    status: Status
    created_at: datetime | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RefundInfo:
        return cls(
            id=str(data["refundId"]),
            charge_id=str(data.get("chargeId", "")),
            amount=yen(data.get("refundAmount")),
            status=Status.from_json(data),
            created_at=timestamp(data.get("creationTimestamp")),
            raw=data,
        )
