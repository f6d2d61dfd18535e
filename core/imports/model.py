"""What a shop's order file says, independent of its format (issue 11; R57, R58).

The parser (``core.imports.reader``) yields these; the import service decides what to store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from operator import attrgetter
from typing import Any, TypeVar

_T = TypeVar("_T")


def pickled_by_fields(cls: type[_T]) -> type[_T]:
    """Pickle instances as their class and field values, not as their ``__dict__``: half the time
    for an import's accepted orders, which the check pass keeps for the write pass."""
    values: Callable[[Any], tuple[Any, ...]] = attrgetter(*(f.name for f in fields(cls)))  # type: ignore[arg-type]

    def reduce(self: Any) -> tuple[type[_T], tuple[Any, ...]]:
        return cls, values(self)

    cls.__reduce__ = reduce  # type: ignore[method-assign]
    return cls


@pickled_by_fields
@dataclass(frozen=True)
class ImportedItem:
    sku: str
    name: str
    unit_price: int  # yen
    quantity: int
    cost_price: int = 0  # yen a unit, when the file has a cost column (R47's calculator); 0: not given


@pickled_by_fields
@dataclass(frozen=True)
class ImportedOrder:
    number: str  # the shop's order number (stripped)
    line: int  # 1-based physical line number of the order's first data row in the file (header = line 1)
    ordered_at: datetime  # timezone-aware, UTC
    kind: str  # "normal" | "marketplace" (Amazon Seller Central order report) | "subscription" | "reservation"
    customer_name: str
    customer_email: str
    customer_phone: str
    ship_name: str
    ship_postal_code: str
    ship_prefecture: str
    ship_address: str  # city + address lines joined with a space
    ship_phone: str
    items: tuple[ImportedItem, ...]
    shipping_fee: int
    total: int  # what the buyer pays (請求合計金額 / 支払合計 / Total / sum for amazon-orders)
    payment_method: str  # "amazon_pay" | "credit_card" | "bank_transfer" | "cod" | "convenience_store" | "other"
    payment_label: str  # the file's own text for the payment method
    charge_permission_id: str | None  # S03-…/P03-…/B… style id when the file carries one
    charge_ids: tuple[str, ...] = ()
    tracking_number: str | None = None
    order_status: str | None = None  # the shop's status text, if any
    extra: dict[str, str] = field(default_factory=dict)  # unknown columns of the first row, kept
    customer_reading: str = ""  # フリガナ when the file has it (EC-CUBE お名前(セイ)/(メイ)), for search


@dataclass(frozen=True)
class RefusedRow:
    line: int
    column: str | None  # the header name (or None for whole-row problems)
    reason: str  # one Japanese sentence


@dataclass(frozen=True)
class ImportNotice:
    """What the file says that the import does not do by itself (the operator must)."""

    line: int
    number: str  # the order number
    reason: str  # one Japanese sentence


@dataclass(frozen=True)
class DetectedFile:
    format: str  # "futureshop" | "eccube" | "shopify" | "amazon-orders" | a saved mapping name
    encoding: str  # "cp932" | "utf-8" | "utf-8-sig"
    delimiter: str  # "," or "\t"
