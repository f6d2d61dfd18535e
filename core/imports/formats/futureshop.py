"""futureshop 受注データ (CP932, one line per order item)."""

from __future__ import annotations

from core.imports.formats.base import FormatSpec

SPEC = FormatSpec(
    name="futureshop",
    label="futureshop 受注データ",
    delimiter=",",
    encoding="cp932",
    columns={
        "number": (("受注コード",),),
        "ordered_at": (("注文日時",), ("受注日時",)),
        "customer_name": (("注文者氏名",), ("ご注文者氏名",)),
        "customer_email": (("注文者メールアドレス",), ("メールアドレス",)),
        "customer_phone": (("注文者電話番号",),),
        "ship_name": (("お届け先氏名",),),
        "ship_postal_code": (("お届け先郵便番号",),),
        "ship_prefecture": (("お届け先都道府県",),),
        "ship_address": (("お届け先住所",), ("お届け先住所1", "お届け先住所2")),
        "ship_phone": (("お届け先電話番号",),),
        "item_sku": (("商品番号",),),
        "item_name": (("商品名",),),
        "item_price": (("販売単価",),),
        "item_quantity": (("購入数量",),),
        "shipping_fee": (("送料",),),
        "total": (("請求合計金額",),),
        "payment_label": (("決済方法",),),
        "tracking_number": (("配送伝票番号",), ("送り状番号",)),
        "order_status": (("受注ステータス",), ("受注状況",)),
    },
    required=("number", "ordered_at", "total", "payment_label", "item_name", "item_price", "item_quantity"),
    known=("商品合計金額",),
)
