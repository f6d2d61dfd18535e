"""Demo orders: real checkouts on the sandbox, then the operations that lead to every badge.

Each order goes through the same path a real one does (the buyer checks out on the sandbox,
the order arrives, the operator captures or re-authorizes, Seller Central acts, a sync reads
it back), so the demo shows what the product really does, not painted data.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from core.app import Kanjo
from core.domain import OrderKind, PaymentStatus
from core.errors import UserError
from core.sandbox.backend import DEFAULT_SETTINGS
from core.services.orders import LineItem

CATALOG: tuple[tuple[str, int, int], ...] = (
    ("有機ほうじ茶 100g", 1_280, 540),
    ("今治タオル フェイスタオル 2枚組", 2_640, 1_150),
    ("信楽焼 マグカップ", 3_300, 1_400),
    ("手ぬぐい 富士山柄", 1_100, 380),
    ("玄米フレーク 徳用", 980, 420),
    ("南部鉄器 急須 0.6L", 12_800, 6_900),
    ("ひのき 石鹸トレー", 1_650, 600),
    ("抹茶 宇治 30g", 2_160, 950),
    ("帆布トートバッグ", 4_950, 2_100),
    ("美濃焼 豆皿 5枚セット", 3_850, 1_700),
)
SHIPPING_FEES = (0, 550, 880)

# Every R10 badge, each reached by the steps below; larger demos repeat the common ones.
SCENARIOS: tuple[PaymentStatus, ...] = tuple(PaymentStatus)
COMMON: tuple[PaymentStatus, ...] = (
    PaymentStatus.AUTHORIZED,
    PaymentStatus.AUTHORIZED,
    PaymentStatus.CAPTURE_COMPLETED,
    PaymentStatus.CAPTURE_COMPLETED,
    PaymentStatus.CAPTURE_RECORDED,
    PaymentStatus.AUTH_LAPSED,
    PaymentStatus.REFUNDED,
)


@dataclass(frozen=True)
class DemoOrder:
    number: str
    target: PaymentStatus
    payment_status: str | None


def _items(rng: random.Random) -> tuple[list[LineItem], int]:
    picks = rng.sample(CATALOG, rng.randint(1, 3))
    items = [LineItem(name, price, rng.choice((1, 1, 1, 2, 3)), cost) for name, price, cost in picks]
    return items, rng.choice(SHIPPING_FEES)


def seed_demo(
    app: Kanjo,
    *,
    orders: int = 26,
    seed: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> list[DemoOrder]:
    """Place ``orders`` demo orders; the first 13 cover every badge of R10."""
    gateway = app.gateway()
    control = gateway.control
    if control is None:
        raise UserError("デモ注文はサンドボックスでのみ作成できます(Amazon Payの認証情報が設定されています)。")
    rng = random.Random(seed)
    now = app.clock.now()
    made: list[DemoOrder] = []
    for index in range(orders):
        target = SCENARIOS[index] if index < len(SCENARIOS) else rng.choice(COMMON)
        number = f"K{seed:02d}{index + 1:06d}"
        items, shipping = _items(rng)
        total = sum(i.unit_price * i.quantity for i in items) + shipping
        kind = rng.choice((OrderKind.NORMAL,) * 6 + (OrderKind.RESERVATION, OrderKind.SUBSCRIPTION))
        if total > 100_000 and kind is OrderKind.SUBSCRIPTION:
            kind = OrderKind.NORMAL
        days_ago = {
            PaymentStatus.AUTH_LAPSED: rng.randint(31, 60),
            PaymentStatus.AUTH_FAILED: rng.randint(31, 45),
            PaymentStatus.CAPTURE_PENDING: rng.randint(8, 20),
        }.get(target, rng.randint(0, 5))
        ordered_at = now - timedelta(days=days_ago, hours=rng.randint(0, 23), minutes=rng.randint(0, 59))
        try:
            placed = control.checkout(
                number=number,
                total=total,
                kind=kind.value,
                ordered_at=ordered_at,
                instrument=rng.choice(("card", "card", "card", "gift+card")),
                pending=target is PaymentStatus.AUTH_PENDING,
            )
        except UserError:
            continue  # already placed by an earlier run with the same seed
        app.orders.receive_checkout(
            number=number,
            kind=kind,
            charge_permission_id=placed["chargePermissionId"],
            charge_id=placed["chargeId"],
            items=items,
            shipping_fee=shipping,
            ordered_at=ordered_at,
            member=rng.random() < 0.6,
        )
        _drive(app, number, target)
        made.append(DemoOrder(number, target, app.orders.detail(number).payment_status))
        if progress is not None:
            progress(index + 1, orders)
    control.settings(**DEFAULT_SETTINGS)
    return made


def _drive(app: Kanjo, number: str, target: PaymentStatus) -> None:
    gateway = app.gateway()
    control = gateway.control
    assert control is not None
    detail = app.orders.detail(number)
    total = detail.total
    if target is PaymentStatus.AUTH_FAILED:
        control.decline_next(number, "hard", "auth")
        app.payments.reauthorize(number)
    elif target is PaymentStatus.AUTH_CANCELED:
        gateway.client.cancel_charge(detail.charges[0].id, "在庫切れのためキャンセル")
        app.sync.sync_order(number)
    elif target in (PaymentStatus.CAPTURE_PENDING, PaymentStatus.CAPTURE_RECORDED):
        app.payments.capture(number)
    elif target is PaymentStatus.CAPTURE_COMPLETED:
        app.payments.capture(number)
        app.sync.sync_order(number)
    elif target is PaymentStatus.CAPTURE_DECLINED:
        control.decline_next(number, "soft", "capture")
        app.payments.capture(number)
    elif target in (PaymentStatus.REFUND_PENDING, PaymentStatus.REFUNDED, PaymentStatus.REFUND_DECLINED):
        app.payments.capture(number)
        if target is PaymentStatus.REFUND_PENDING:
            control.settings(refund_settle_seconds=10.0 * 365 * 86400)
        if target is PaymentStatus.REFUND_DECLINED:
            control.decline_next(number, "soft", "refund")
        control.seller_central("refund", number, max(total // 2, 1))
        app.sync.sync_order(number)
        control.settings(refund_settle_seconds=DEFAULT_SETTINGS["refund_settle_seconds"])
    elif target is PaymentStatus.UNREACHABLE:
        cp_id = detail.charge_permission.id if detail.charge_permission else ""
        control.settings(hang_seconds=0.05)
        control.add_fault("timeout", count=1, path=cp_id)
        app.sync.sync_order(number)
        control.settings(hang_seconds=DEFAULT_SETTINGS["hang_seconds"])
