"""When the shop's order status has not followed the money (issue 16 item 5).

The order status (新規受付, 発送済, …) is the shop's own; Kanjo changes it only on a
cancellation made here. An order refunded in full, or whose authorization was cancelled (here or
in Seller Central), still reads 新規受付 until the shop's next import says otherwise: the window
says so instead of leaving the operator to trust a 新規受付 that will never be shipped.
"""

from __future__ import annotations

from core.domain import OrderStatus, PaymentStatus

OPEN_STATUSES = frozenset({OrderStatus.NEW, OrderStatus.RESERVED, OrderStatus.PROCESSING, OrderStatus.ON_HOLD})


def money_hint(
    order_status: OrderStatus, payment_status: PaymentStatus | None, *, captured: int, refunded: int, pending: int = 0
) -> str:
    """A one-sentence hint, or '' when the order status agrees with the money."""
    if order_status not in OPEN_STATUSES:
        return ""
    label = order_status.label
    if captured > 0 and refunded >= captured and not pending:
        return (
            f"全額返金済みですが、受注ステータスは「{label}」のままです。"
            "発送しない受注なら、ショップ側でキャンセルにしてください(次の取込で反映されます)。"
        )
    if payment_status is PaymentStatus.AUTH_CANCELED and captured == 0:
        return (
            f"与信が取り消されていますが、受注ステータスは「{label}」のままです。"
            "発送しない受注なら、ショップ側でキャンセルにしてください(次の取込で反映されます)。"
        )
    return ""
