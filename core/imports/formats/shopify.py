"""Shopify orders export (UTF-8; one line per line item, the order's fields on its first line only; R58)."""

from __future__ import annotations

from core.imports.formats.base import FormatSpec

SPEC = FormatSpec(
    name="shopify",
    label="Shopify 注文エクスポート",
    delimiter=",",
    encoding="utf-8",
    columns={
        "number": (("Name",),),
        "ordered_at": (("Created at",),),
        "customer_name": (("Billing Name",),),
        "customer_email": (("Email",),),
        "customer_phone": (("Phone",), ("Billing Phone",)),
        "ship_name": (("Shipping Name",),),
        "ship_postal_code": (("Shipping Zip",),),
        "ship_prefecture": (("Shipping Province",),),
        "ship_address": (("Shipping City", "Shipping Address1", "Shipping Address2"),),
        "ship_phone": (("Shipping Phone",),),
        "item_sku": (("Lineitem sku",),),
        "item_name": (("Lineitem name",),),
        "item_price": (("Lineitem price",),),
        "item_quantity": (("Lineitem quantity",),),
        "shipping_fee": (("Shipping",),),
        "total": (("Total",),),
        "payment_label": (("Payment Method",),),
        "order_status": (("Financial Status",),),
    },
    required=("number", "ordered_at", "total", "item_name", "item_price", "item_quantity"),
    order_fields_first_line_only=True,
    payment_reference="Payment Reference",
    known=("Subtotal", "Taxes", "Currency", "Fulfillment Status", "Paid at", "Fulfilled at", "Id"),
    date_format="%Y-%m-%d %H:%M:%S %z",
    write_columns=("Subtotal", "Payment Reference"),
)
