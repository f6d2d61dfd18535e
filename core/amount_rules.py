"""Amount changes before capture (R26–R30, R5, R21, R53) and the increase ceiling they obey."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.clock import to_utc
from core.domain import ChargeState, Instrument, OrderKind

MAX_ORDER_TOTAL = 10_000_000  # R5
AMOUNT_CHANGE_WINDOW = timedelta(days=30)  # R27 (Seller Central allows 180 days)
INCREASE_FACTOR = 9  # R29: up to 900 % of the amount at order time …
INCREASE_FLOOR = 70_000  # … or 70,000 yen, whichever is higher
RECURRING_MONTHLY_LIMIT = 100_000  # R53


def increase_ceiling(kind: OrderKind, original_total: int, amount_limit: int | None, *, known_permission: bool) -> int:
    """The highest total the order may reach (R29, R5, R21/R53).

    Decision (R29): when the Charge Permission reports ``amountLimit`` that is the limit;
    a known one-time permission without it was created without overcharge, so the total
    cannot rise; with no permission information the documented max(9×, 70,000 yen) applies.
    Subscriptions are authorized per generated order, within the recurring permission's
    monthly limit (R21, R53).
    """
    if kind is OrderKind.SUBSCRIPTION:
        return RECURRING_MONTHLY_LIMIT
    if amount_limit is not None:
        return min(amount_limit, MAX_ORDER_TOTAL)
    if known_permission:
        return original_total
    return min(max(INCREASE_FACTOR * original_total, INCREASE_FLOOR), MAX_ORDER_TOTAL)


def amount_change_refusal(
    *,
    kind: OrderKind,
    new_total: int,
    current_total: int,
    original_total: int,
    ordered_at: datetime,
    now: datetime,
    instrument: Instrument | None,
    amount_limit: int | None,
    known_permission: bool,
    charge_states: list[ChargeState],
    capture_requested: bool,
    payment_method: str,
    permission_open: bool = True,
) -> tuple[str, str] | None:
    """Why the new total cannot be set, as (Japanese reason, rule); None when it can.

    ``payment_method`` "none" (決済不要) is what a total of 0 left behind (R34). Raising such
    a total again is possible only while Amazon still holds a chargeable Charge Permission
    (``permission_open``): then the order is an Amazon Pay order again, within the same limits.
    """
    if new_total < 0:
        return "金額にマイナスは指定できません。", "R26"
    if payment_method == "none" and new_total > 0:
        if not permission_open:
            return (
                "Amazon Payの取引情報が終了しているため、0円(決済不要)にした受注の金額は戻せません。"
                "代金は別の決済方法で受け取ってください。",
                "R34",
            )
        payment_method = "amazon_pay"
    if payment_method == "amazon_pay" and (
        capture_requested or any(s in (ChargeState.CAPTURED, ChargeState.CAPTURE_INITIATED) for s in charge_states)
    ):
        return "売上確定後の金額変更はSeller Centralで行ってください(こちらでは同期で記録します)。", "R31"
    if to_utc(now) - to_utc(ordered_at) > AMOUNT_CHANGE_WINDOW:
        return (
            "受注から30日を過ぎたため、ここでは金額を変更できません。Seller Central(180日まで)で変更してください。",
            "R27",
        )
    if new_total > MAX_ORDER_TOTAL:
        return "Amazon Payで決済できる金額は10,000,000円までです。", "R5"
    if new_total <= current_total or payment_method != "amazon_pay":
        return None
    if instrument is Instrument.GIFT:
        return "Amazonギフト券のみで支払われた受注は増額できません。", "R30"
    ceiling = increase_ceiling(kind, original_total, amount_limit, known_permission=known_permission)
    if new_total > ceiling:
        if kind is OrderKind.SUBSCRIPTION:
            return f"定期購入の与信は月{RECURRING_MONTHLY_LIMIT:,}円までです。", "R53"
        if ceiling <= original_total:
            return "この注文は購入時に増額が許可されていないため、増額できません。", "R29"
        return f"増額できるのは{ceiling:,}円までです(注文時の金額の900%または70,000円の高い方)。", "R29"
    return None
