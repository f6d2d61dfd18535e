"""Amazon Seller Central order report (tab-separated; UTF-8 since 2021-11-01, Shift_JIS before; R58).

These are Amazon marketplace orders, not Amazon Pay orders: kind "marketplace". ``item-price`` is
the line's amount (unit price × quantity); the order's total is the sum of item-price and
shipping-price over its lines.
"""

from __future__ import annotations

from core.imports.formats.base import FormatSpec

SPEC = FormatSpec(
    name="amazon-orders",
    label="Amazon セラーセントラル 注文レポート",
    delimiter="\t",
    encoding="utf-8",
    kind="marketplace",
    columns={
        "number": (("order-id",),),
        "ordered_at": (("purchase-date",),),
        "customer_name": (("buyer-name",),),
        "customer_email": (("buyer-email",),),
        "customer_phone": (("buyer-phone-number",),),
        "ship_name": (("recipient-name",),),
        "ship_postal_code": (("ship-postal-code",),),
        "ship_prefecture": (("ship-state",),),
        "ship_address": (("ship-city", "ship-address-1", "ship-address-2", "ship-address-3"),),
        "ship_phone": (("ship-phone-number",),),
        "item_sku": (("sku",),),
        "item_name": (("product-name",),),
        "item_price": (("item-price",),),
        "item_quantity": (("quantity-purchased",),),
        "shipping_fee": (("shipping-price",),),
        "order_status": (("order-status",),),
    },
    required=("number", "ordered_at", "item_name", "item_price", "item_quantity"),
    line_amounts=True,
    known=(
        "order-item-id",
        "payments-date",
        "currency",
        "item-tax",
        "shipping-tax",
        "ship-service-level",
        "ship-country",
        "sales-channel",
        "fulfillment-channel",
    ),
    date_format="%Y-%m-%dT%H:%M:%S%z",
    date_in_utc=True,
)
