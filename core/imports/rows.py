"""The rows a new imported order becomes in the store, built in one place for every write path.

The ORM path (``ImportService._insert``), the bulk path (``_insert_plain``) and the staged path
(``core.imports.staging``) all take an order's columns from here, so the three cannot drift.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from core.domain import OrderKind, OrderStatus
from core.environment import NO_ENVIRONMENT
from core.imports.model import ImportedItem, ImportedOrder
from core.status import auth_expiry_of, order_label

# The shop's status text → our order status (labels of R10's list and common shop wordings).
STATUS_WORDS: Final[dict[str, OrderStatus]] = {
    **{status.label: status for status in OrderStatus},
    **{status.value: status for status in OrderStatus},
    "新規": OrderStatus.NEW,
    "新規受付": OrderStatus.NEW,
    "入金待ち": OrderStatus.NEW,
    "入金済み": OrderStatus.PROCESSING,
    "対応中": OrderStatus.PROCESSING,
    "処理中": OrderStatus.PROCESSING,
    "発送済み": OrderStatus.SHIPPED,
    "発送済": OrderStatus.SHIPPED,
    "fulfilled": OrderStatus.SHIPPED,
    "完了": OrderStatus.DONE,
    "取消": OrderStatus.CANCELED,
    "キャンセル": OrderStatus.CANCELED,
    "cancelled": OrderStatus.CANCELED,
    "保留": OrderStatus.ON_HOLD,
}


_KINDS: Final = {kind.value: kind for kind in OrderKind}


def order_status_of(text: str | None, default: OrderStatus) -> OrderStatus:
    if text is None or not text.strip():
        return default
    return STATUS_WORDS.get(text.strip(), STATUS_WORDS.get(text.strip().lower(), default))


def customer_values(order: ImportedOrder) -> dict[str, Any]:
    """The customer row of an imported order: a guest, who records no consent (R7)."""
    return {
        "name": order.customer_name,
        "name_reading": order.customer_reading,
        "email": order.customer_email,
        "phone": order.customer_phone,
        "is_member": False,
        "newsletter_consent": None,
    }


def order_values(order: ImportedOrder, source: str, environment: str, now: datetime) -> dict[str, Any]:
    """The columns a new order takes from the shop's file, for the ORM and the bulk path alike."""
    kind = _KINDS.get(order.kind, OrderKind.NORMAL)
    default = OrderStatus.RESERVED if kind is OrderKind.RESERVATION else OrderStatus.NEW
    return {
        "number": order.number.strip(),
        "kind": kind.value,
        "ordered_at": order.ordered_at,
        "ship_name": order.ship_name,
        "ship_postal_code": order.ship_postal_code,
        "ship_prefecture": order.ship_prefecture,
        "ship_address": order.ship_address,
        "ship_phone": order.ship_phone,
        "shipping_fee": order.shipping_fee,
        "fees": 0,
        "discount": 0,
        "adjustment": 0,
        "total": order.total,
        "original_total": order.total,
        "order_status": order_status_of(order.order_status, default).value,
        "tracking_number": order.tracking_number or None,
        "shop_memo": "",
        "payment_method": order.payment_method if kind is not OrderKind.MARKETPLACE else "other",
        "payment_label": order.payment_label[:64] or None,
        "created_at": now,
        "updated_at": now,
        "source": source,
        "environment": environment,
    }


def plain_order_row(order: ImportedOrder, source: str, now: datetime) -> dict[str, Any]:
    """A new order that needs no Amazon Pay reading (no Charge Permission): the columns
    ``refresh_order`` would give it, computed without charges (R34), without ``customer_id``.
    ``tests/core/imports/test_scale.py`` checks the two agree."""
    values = order_values(order, source, NO_ENVIRONMENT, now)  # in no Amazon Pay environment (item 8)
    status = order_label([], [], now, sync_failed=False) if values["payment_method"] == "amazon_pay" else None
    return {
        **values,
        "payment_status": status.value if status else None,
        "auth_expires_at": auth_expiry_of([], now),
        "authorized_amount": 0,
        "captured_amount": 0,
        "refunded_amount": 0,
    }


def item_row(position: int, item: ImportedItem) -> dict[str, Any]:
    """One item's row, without ``order_id``."""
    return {
        "position": position,
        "name": item.name,
        "unit_price": item.unit_price,
        "cost_price": item.cost_price,
        "quantity": item.quantity,
        "sku": item.sku[:64],  # issue 15: `orders set-cost --sku`
    }


def item_rows(order: ImportedOrder) -> list[dict[str, Any]]:
    """The order's item rows, without ``order_id``."""
    return [item_row(position, item) for position, item in enumerate(order.items)]


def imported_detail(source: str) -> str:
    """The journal's words for an order an import added."""
    return f"受注を取り込みました(取込元: {source})。"


def imported_event(number: str, amount: int, source: str, now: datetime, actor: str, operator: str) -> dict[str, Any]:
    """The journal row of an order an import added, as ``Journal.event`` writes it (the bulk and
    staged paths write it directly); ``operator`` is who imported (issue 14 item 3)."""
    return {
        "at": now,
        "actor": actor,
        "operator": operator,
        "action": "order_imported",
        "phase": "event",
        "order_number": number,
        "amount": amount,
        "detail": imported_detail(source),
    }
