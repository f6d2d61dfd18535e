"""The values a message template is filled with, taken from the order and the shop settings (R51).

Every value is ready to print: names carry 様, dates are Japan time in Japanese form, amounts
are ``¥1,234``. A value that depends on a setting the operator has not made yet (a seller
token, a shop domain …) or on something the order does not have (a tracking number) is not
an empty string or a broken URL: it is a :class:`MissingValue` that refuses to render and says,
in Japanese, what to set. The set of names is fixed (:data:`VARIABLES`), so a template that
uses any other name is refused when it is saved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from jinja2 import StrictUndefined, UndefinedError

from core.clock import to_jst
from core.domain import OrderKind
from core.money import format_yen
from core.queries import ItemView, OrderDetail
from core.settings import AppSettings
from core.shipping.carriers import carrier_label, tracking_url

STORE_PROFILE_URL: Final = "https://www.amazon.co.jp/sp?_encoding=UTF8&seller={seller_token}"  # R44
ORDER_HISTORY_URL: Final = "https://{domain}/my/orders/{order_number}"  # R43 (1)
AMAZON_PAY_ORDERS_URL: Final = "https://payments.amazon.co.jp/jr/your-account/orders/"  # R43 (2) normal, reservation
AMAZON_PAY_SUBSCRIPTIONS_URL: Final = "https://pay.amazon.com/jp/jr/your-account/ba"  # R43 (2) subscriptions

SETTING_LABELS: Final = {
    "shop_name": "ショップ名",
    "shop_domain": "ショップのドメイン",
    "seller_token": "出品者トークン",
    "operator_name": "担当者名",
}


class MissingValue(UndefinedError):
    """A template used a value this order or these settings cannot give (raised while rendering)."""


@dataclass(frozen=True)
class Variable:
    name: str
    description: str


VARIABLES: Final[tuple[Variable, ...]] = (
    Variable("customer_name", "お客様のお名前(様付き) 例: 山田 花子 様"),
    Variable("customer_name_plain", "お客様のお名前(敬称なし)"),
    Variable("customer_email", "お客様のメールアドレス"),
    Variable("order_number", "受注番号"),
    Variable("order_date", "受注日(日本時間) 例: 2026年11月21日"),
    Variable("order_datetime", "受注日時(日本時間) 例: 2026年11月21日 12:00"),
    Variable("order_kind", "注文の種類(通常商品・予約商品・定期・頒布会)"),
    Variable(
        "items",
        "商品の一覧。{% for item in items %}{{ item.name }} {{ item.quantity }} {{ item.unit_price }} {{ item.subtotal }}{% endfor %}",
    ),
    Variable("item_names", "商品名を「、」でつないだもの"),
    Variable("items_text", "商品の一覧(1行に1商品: 商品名 × 数量 小計)"),
    Variable("items_subtotal", "商品代金の合計 例: ¥5,000"),
    Variable("shipping_fee", "送料"),
    Variable("total", "受注金額(お支払い金額)"),
    Variable("amounts_text", "金額の内訳(商品合計・送料・手数料・割引・お支払い金額を1行ずつ)"),
    Variable("half_refund", "商品代金の半額(R45のキャンセル条件で返金する額、1円未満切り捨て)"),
    Variable("full_refund", "全額返金の額(売上確定後は売上額から返金済みを除いた額、確定前は受注金額)"),
    Variable("charged", "売上が確定しているか(真偽値)。{% if charged %}…{% else %}…{% endif %} で使います"),
    Variable("store_profile_url", "ストアプロフィールのURL(出品者トークンから, R44)"),
    Variable("order_history_url", "ショップの注文履歴ページのURL(ドメインから, 会員のみ, R43)"),
    Variable("amazon_pay_url", "Amazon Payのお支払い設定ページ(注文の種類で選ばれます, R43)"),
    Variable("tracking_number", "送り状番号"),
    Variable("carrier_name", "配送会社(ヤマト運輸・佐川急便・日本郵便・その他, 発送時に登録, R24)"),
    Variable(
        "tracking_url",
        "配送会社の追跡ページのURL(送り状番号から。その他の配送会社にはありません: {% if tracking_url is defined %}…{% endif %})",
    ),
    Variable("shop_name", "ショップ名"),
    Variable("shop_url", "ショップのURL(ドメインから)"),
    Variable("operator_name", "担当者名(署名, ペンネーム可, R50)"),
)
VARIABLE_NAMES: Final = frozenset(v.name for v in VARIABLES)


@dataclass(frozen=True)
class ItemVar:
    """One line of the order as a template sees it."""

    name: str
    quantity: int
    unit_price: str
    subtotal: str


def missing(name: str, reason: str) -> Any:
    """A value that refuses to render, with ``reason`` as the Japanese message."""
    return StrictUndefined(hint=reason, name=name, exc=MissingValue)


def missing_setting(variable: str, setting: str) -> Any:
    label = SETTING_LABELS.get(setting, setting)
    return missing(
        variable,
        f"「{label}」({setting})が設定されていないため、{variable} を使うメッセージは作れません。"
        f"設定画面か `kanjo settings set {setting} 値` で設定してください。",
    )


def _store_profile_url(stored: str) -> Any:
    """R44's link; a token stored before it was checked (``X&seller=evil#``) is checked here too."""
    from core.errors import BadInput
    from core.settings import normalize_seller_token

    try:
        token = normalize_seller_token(stored)
    except BadInput as exc:
        return missing("store_profile_url", exc.message + " 設定し直してください。")
    return (
        STORE_PROFILE_URL.format(seller_token=token) if token else missing_setting("store_profile_url", "seller_token")
    )


def japanese_date(moment: datetime) -> str:
    local = to_jst(moment)
    return f"{local.year}年{local.month}月{local.day}日"


def japanese_datetime(moment: datetime) -> str:
    local = to_jst(moment)
    return f"{japanese_date(moment)} {local:%H:%M}"


def clean_domain(domain: str) -> str:
    return domain.strip().removeprefix("https://").removeprefix("http://").strip("/")


def half_refund(items_subtotal: int) -> int:
    """R45: half the item price (shipping is the customer's), rounded down to whole yen."""
    return items_subtotal // 2


def amazon_pay_url(kind: str) -> str:
    """R43 (2): subscriptions have their own page."""
    return AMAZON_PAY_SUBSCRIPTIONS_URL if kind == OrderKind.SUBSCRIPTION else AMAZON_PAY_ORDERS_URL


@dataclass(frozen=True)
class OrderFacts:
    """What the variables need from an order (a slice of ``OrderDetail``; also built for samples)."""

    number: str
    kind: str
    ordered_at: datetime
    customer_name: str
    customer_email: str
    customer_is_member: bool
    items: Sequence[ItemView]
    shipping_fee: int
    fees: int
    discount: int
    total: int
    captured: int
    refunded: int  # settled and in progress (返金中) alike: neither can be refunded again
    tracking_number: str | None
    carrier: str | None = None  # issue 15: core.shipping.carriers.Carrier of the shipment

    @classmethod
    def of(cls, detail: OrderDetail) -> OrderFacts:
        return cls(
            number=detail.number,
            kind=detail.kind,
            ordered_at=detail.ordered_at,
            customer_name=detail.customer_name,
            customer_email=detail.customer_email,
            customer_is_member=detail.customer_is_member,
            items=detail.items,
            shipping_fee=detail.shipping_fee,
            fees=detail.fees,
            discount=detail.discount,
            total=detail.total,
            captured=detail.captured,
            refunded=detail.refunded + detail.pending_refund,
            tracking_number=detail.tracking_number,
            carrier=detail.carrier,
        )


def order_variables(order: OrderFacts, settings: AppSettings) -> dict[str, Any]:
    """Every name in :data:`VARIABLES`, filled for ``order``; missing ones refuse to render."""
    name = " ".join(order.customer_name.split())  # one line, whatever Amazon sent
    items_subtotal = sum(i.subtotal for i in order.items)
    charged = order.captured > 0
    amounts = [f"商品合計: {format_yen(items_subtotal)}", f"送料: {format_yen(order.shipping_fee)}"]
    if order.fees:
        amounts.append(f"手数料: {format_yen(order.fees)}")
    if order.discount:
        amounts.append(f"割引: -{format_yen(order.discount)}")
    amounts.append(f"お支払い金額: {format_yen(order.total)}")
    domain = clean_domain(settings.shop_domain)
    values: dict[str, Any] = {
        "customer_name": f"{name} 様",
        "customer_name_plain": name,
        "customer_email": order.customer_email,
        "order_number": order.number,
        "order_date": japanese_date(order.ordered_at),
        "order_datetime": japanese_datetime(order.ordered_at),
        "order_kind": OrderKind(order.kind).label,
        "items": tuple(
            ItemVar(i.name, i.quantity, format_yen(i.unit_price), format_yen(i.subtotal)) for i in order.items
        ),
        "item_names": "、".join(i.name for i in order.items),
        "items_text": "\n".join(f"・{i.name} × {i.quantity}  {format_yen(i.subtotal)}" for i in order.items),
        "items_subtotal": format_yen(items_subtotal),
        "shipping_fee": format_yen(order.shipping_fee),
        "total": format_yen(order.total),
        "amounts_text": "\n".join(amounts),
        "half_refund": format_yen(half_refund(items_subtotal)),
        "full_refund": format_yen(order.captured - order.refunded if charged else order.total),
        "charged": charged,
        "amazon_pay_url": amazon_pay_url(order.kind),
    }
    values["store_profile_url"] = _store_profile_url(settings.seller_token)
    if not domain:
        values["order_history_url"] = missing_setting("order_history_url", "shop_domain")
        values["shop_url"] = missing_setting("shop_url", "shop_domain")
    else:
        values["shop_url"] = f"https://{domain}/"
        values["order_history_url"] = (
            ORDER_HISTORY_URL.format(domain=domain, order_number=order.number)
            if order.customer_is_member
            else missing(
                "order_history_url",
                "この受注はゲストのご注文で、ショップの注文履歴ページ(会員ページ)がないため、"
                "order_history_url は使えません。Amazon Payのページを案内するテンプレートを使ってください(R43)。",
            )
        )
    values["tracking_number"] = (
        order.tracking_number.strip()
        if order.tracking_number and order.tracking_number.strip()
        else missing(
            "tracking_number",
            f"受注 {order.number} には送り状番号が登録されていないため、tracking_number を使うメッセージは作れません。",
        )
    )
    values["carrier_name"] = (
        carrier_label(order.carrier)
        if order.carrier
        else missing("carrier_name", f"受注 {order.number} には配送会社が登録されていません(発送の登録で指定します)。")
    )
    link = tracking_url(order.carrier, order.tracking_number.strip() if order.tracking_number else None)
    values["tracking_url"] = link or missing(
        "tracking_url",
        f"受注 {order.number} の配送会社には追跡ページのリンクがありません(送り状番号で案内してください)。",
    )
    for key in ("shop_name", "operator_name"):
        text = getattr(settings, key).strip()
        values[key] = text if text else missing_setting(key, key)
    assert set(values) == VARIABLE_NAMES, set(values) ^ VARIABLE_NAMES
    return values


SAMPLE_SETTINGS: Final = AppSettings(
    shop_name="サンプル商店",
    shop_domain="shop.example.jp",
    operator_name="佐藤",
    seller_token="A1SAMPLETOKEN",
)


def sample_order(kind: OrderKind = OrderKind.NORMAL) -> OrderFacts:
    """A made-up order with every value present: templates are checked against it when saved."""
    return OrderFacts(
        number="SAMPLE-0001",
        kind=kind.value,
        ordered_at=datetime(2026, 11, 21, 3, 0, tzinfo=UTC),
        customer_name="山田 花子",
        customer_email="hanako@example.jp",
        customer_is_member=True,
        items=(ItemView("サンプル商品", 2_400, 1_000, 2, 4_800), ItemView("ギフト包装", 200, 50, 1, 200)),
        shipping_fee=800,
        fees=0,
        discount=0,
        total=5_800,
        captured=5_800,
        refunded=0,
        tracking_number="444413758703",
        carrier="yamato",
    )


def sample_variables(kind: OrderKind = OrderKind.NORMAL) -> Mapping[str, Any]:
    return order_variables(sample_order(kind), SAMPLE_SETTINGS)
