"""EC-CUBE 4 受注CSV (SJIS-win by default, one line per order detail; R58).

The header names are EC-CUBE's own (``dtb_csv``, csv type 受注). Without the 配送先_ columns the
shipping address is the customer's.
"""

from __future__ import annotations

from core.imports.formats.base import FormatSpec

SPEC = FormatSpec(
    name="eccube",
    label="EC-CUBE 受注CSV",
    delimiter=",",
    encoding="cp932",
    columns={
        "number": (("注文番号",),),
        "ordered_at": (("受注日",), ("注文日",)),
        "customer_name": (("お名前(姓)", "お名前(名)"),),
        "customer_reading": (("お名前(セイ)", "お名前(メイ)"),),  # searched with the name (issue 16)
        "customer_email": (("メールアドレス",),),
        "customer_phone": (("TEL",),),
        "ship_name": (("配送先_お名前(姓)", "配送先_お名前(名)"), ("お名前(姓)", "お名前(名)")),
        "ship_postal_code": (("配送先_郵便番号",), ("郵便番号",)),
        "ship_prefecture": (("配送先_都道府県",), ("都道府県",)),
        "ship_address": (("配送先_住所1", "配送先_住所2"), ("住所1", "住所2")),
        "ship_phone": (("配送先_TEL",), ("TEL",)),
        "item_sku": (("商品コード",),),
        "item_name": (("商品名",),),
        "item_price": (("価格",),),
        "item_quantity": (("個数",),),
        "shipping_fee": (("送料",),),
        "total": (("支払合計",),),
        "payment_label": (("支払方法",),),
        "tracking_number": (("出荷伝票番号",),),
        "order_status": (("対応状況",),),
    },
    required=("number", "ordered_at", "total", "payment_label", "item_name", "item_price", "item_quantity"),
    known=("注文ID", "小計", "値引き", "税金", "合計"),
    date_format="%Y-%m-%d %H:%M:%S",
    write_columns=("小計", "合計"),
)
