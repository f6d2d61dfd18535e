"""What the rules allow, decided from facts and a moment (pure; cites domain.md).

Each decision says yes with a plan, or no with the Japanese reason the window shows as a
tooltip and the command line prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from core.clock import to_utc
from core.domain import (
    ChargeFacts,
    ChargePermissionFacts,
    ChargePermissionState,
    ChargePermissionType,
    ChargePurpose,
    ChargeState,
    OrderKind,
    OrderStatus,
    PaymentStatus,
    RefundFacts,
)
from core.environment import label as environment_label
from core.status import is_authorization_lapsed, is_charge_permission_expired, order_label

UNSETTLED_MESSAGE = "結果不明の決済処理があります。状態を確認(同期または復旧)してから操作してください。"
IN_PROGRESS_MESSAGE = (
    "この受注では別の決済処理が実行中です(ほかのウィンドウ・担当者・コマンド)。終わってから、もう一度操作してください。"
)


@dataclass(frozen=True)
class OrderFacts:
    number: str
    kind: OrderKind
    order_status: OrderStatus
    total: int
    payment_method: str
    charges: Sequence[ChargeFacts]
    refunds: Sequence[RefundFacts]
    charge_permission: ChargePermissionFacts | None
    amount_changed_externally: bool = False
    sync_failed: bool = False
    unsettled_operation: bool = False  # a money call of this order is 結果不明
    operation_in_progress: bool = False  # a money call of this order is being sent right now (elsewhere)
    # Issue 11 item 8: the Amazon Pay environment the order's Charge Permission lives in and the
    # one the current connection talks to (core.environment); "" = not known, nothing refused.
    environment: str = ""
    connection: str = ""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""
    rule: str = ""
    # For capture: (charge id, yen) per charge; for re-authorization: the amount and purpose.
    captures: tuple[tuple[str, int], ...] = field(default=())
    amount: int = 0
    purpose: ChargePurpose | None = None
    authorize_first: int = 0  # capture: yen to authorize before capturing (R28)

    @staticmethod
    def no(reason: str, rule: str) -> Decision:
        return Decision(False, reason, rule)


MARKETPLACE_MESSAGE = "Amazonマーケットプレイスの注文です。お金の動きはSeller Centralで行ってください。"
UNLINKED_MESSAGE = (
    "Amazon Payと未連携の受注です(Charge Permission IDがありません)。kanjo orders link で連携してから操作してください。"
)


UNKNOWN_CHARGES_MESSAGE = (
    "Amazon Payにはこの受注の与信(Charge)がありますが、Charge IDが分かりません(取込ファイルにありませんでした)。"
    "二重に与信しないよう、kanjo orders link 受注番号 --charge-permission ID --charge ChargeID で"
    "Charge IDを追加してから操作してください。"
)


def has_unknown_charges(permission: ChargePermissionFacts | None, *, has_charges: bool) -> bool:
    """Issue 11 (R57): the API cannot list a permission's charges. A one-time permission whose
    balance Amazon reports below its limit already carries a charge; when none is known here,
    a new authorization would hold the buyer's money twice."""
    return (
        not has_charges
        and permission is not None
        and permission_holds_a_charge(permission.type, permission.amount_limit, permission.amount_balance)
    )


def permission_holds_a_charge(permission_type: str, amount_limit: int | None, amount_balance: int | None) -> bool:
    """A Charge Permission whose balance is below its limit has had money authorized
    (limits.amountBalance): a one-time one for this order; a recurring one this calendar month
    (R53), perhaps for this very delivery. Either way a new authorization may hold the buyer's
    money twice until the charge is known here."""
    return (
        permission_type in (ChargePermissionType.ONE_TIME.value, ChargePermissionType.RECURRING.value)
        and amount_limit is not None
        and amount_balance is not None
        and amount_balance < amount_limit
    )


def link_refusal(
    kind: OrderKind,
    payment_method: str,
    *,
    has_permission: bool,
    has_charges: bool,
    unknown_charges: bool = False,
) -> Decision | None:
    """Issue 11: no Amazon Pay action on a marketplace order (its money moves in Seller Central,
    R61), on an Amazon Pay order imported without its Charge Permission (未連携, R57), nor on one
    whose charge exists at Amazon but is not known here (``has_unknown_charges``)."""
    if kind is OrderKind.MARKETPLACE:
        return Decision.no(MARKETPLACE_MESSAGE, "R61")
    if payment_method == "amazon_pay" and not has_permission and not has_charges:
        return Decision.no(UNLINKED_MESSAGE, "R57")
    if payment_method == "amazon_pay" and unknown_charges:
        return Decision.no(UNKNOWN_CHARGES_MESSAGE, "R57")
    return None


ENVIRONMENT_RULE = "issue11-environment"


def environment_message(order_environment: str, connection: str) -> str:
    return (
        f"この受注は{environment_label(order_environment)}の受注です。現在の接続先は"
        f"{environment_label(connection)}のため、Amazon Payへは送信しません。"
    )


def environment_refusal(order_environment: str, connection: str) -> Decision | None:
    """Issue 11 item 8 (R57: an order's IDs exist only in the Amazon Pay it came from): an order
    of one environment (本番 / サンドボックス / 内蔵サンドボックス) is never sent to another.

    Symmetric: a sandbox order is not sent to the live account, nor a live order to a sandbox.
    An empty value (not known) refuses nothing; the gateway check (core.gateway.order_client)
    always knows both.
    """
    if not order_environment or not connection or order_environment == connection:
        return None
    return Decision.no(environment_message(order_environment, connection), ENVIRONMENT_RULE)


def _facts_environment_refusal(order: OrderFacts) -> Decision | None:
    return environment_refusal(order.environment, order.connection)


def _common_refusal(order: OrderFacts) -> Decision | None:
    refusal = _facts_environment_refusal(order) or link_refusal(
        order.kind,
        order.payment_method,
        has_permission=order.charge_permission is not None,
        has_charges=bool(order.charges),
        unknown_charges=has_unknown_charges(order.charge_permission, has_charges=bool(order.charges)),
    )
    if refusal:
        return refusal
    if order.payment_method == "none":
        return Decision.no("受注金額が0円のため決済不要です。入金処理するには、先に受注金額を変更してください。", "R34")
    if order.payment_method != "amazon_pay":
        return Decision.no("この受注の決済方法はAmazon Payではありません。", "R33")
    if order.order_status is OrderStatus.CANCELED:
        return Decision.no("キャンセル済みの受注です。", "R35")
    return in_progress_refusal(order)


def settled_refusal(order: OrderFacts) -> Decision | None:
    """What refunds, cancellations and method changes check first: the environment, the link, then
    the journal."""
    refusal = _facts_environment_refusal(order) or link_refusal(
        order.kind,
        order.payment_method,
        has_permission=order.charge_permission is not None,
        has_charges=bool(order.charges),
        unknown_charges=has_unknown_charges(order.charge_permission, has_charges=bool(order.charges)),
    )
    return refusal or in_progress_refusal(order)


def in_progress_refusal(order: OrderFacts) -> Decision | None:
    """No second money call while one is under way or in doubt (exactly once, issue 10 item 1)."""
    if order.operation_in_progress:
        return Decision.no(IN_PROGRESS_MESSAGE, "in-progress")
    if order.unsettled_operation:
        return Decision.no(UNSETTLED_MESSAGE, "exactly-once")
    return None


def capture_decision(order: OrderFacts, now: datetime) -> Decision:
    """入金処理 (R24): only an 承認済 order, within 30 days (R9), not changed in Seller Central (R32)."""
    refusal = _common_refusal(order)
    if refusal:
        return refusal
    if order.amount_changed_externally:
        return Decision.no(
            "Seller Centralで金額が変更されたため、この受注の売上はSeller Centralで確定してください。", "R32"
        )
    label = order_label(order.charges, order.refunds, now, sync_failed=order.sync_failed)
    if label is PaymentStatus.AUTH_LAPSED:
        return Decision.no("与信の有効期限(30日)が切れています。先に再与信してください。", "R9")
    if label is not PaymentStatus.AUTHORIZED:
        shown = label.value if label else "決済なし"
        return Decision.no(f"与信ステータスが「承認済」ではないため入金処理できません(現在: {shown})。", "R24")
    captured = sum(c.captured_amount for c in order.charges if c.state is ChargeState.CAPTURED)
    pending = sum(c.amount for c in order.charges if c.state is ChargeState.CAPTURE_INITIATED)
    remaining = order.total - captured - pending
    open_charges = [
        c for c in order.charges if c.state is ChargeState.AUTHORIZED and not is_authorization_lapsed(c, now)
    ]
    authorized = sum(c.amount for c in open_charges)
    if remaining <= 0:
        return Decision.no("この受注はすでに全額の売上が確定しています。", "R24")
    if remaining > authorized:
        # R28: an amount raised before capture is sent with the capture, re-authorizing the
        # difference first on the same Charge Permission.
        if any(c.state is ChargeState.CAPTURED for c in order.charges):
            return Decision.no(
                f"受注金額が与信額を{remaining - authorized:,}円上回っています。Seller Centralで対応してください。",
                "R31",
            )
        return Decision(
            True,
            captures=tuple((c.id, c.amount) for c in open_charges),
            amount=remaining,
            authorize_first=remaining - authorized,
        )
    plan: list[tuple[str, int]] = []
    left = remaining
    for charge in sorted(open_charges, key=lambda c: (to_utc(c.created_at), c.seq, c.id)):
        if left <= 0:
            break
        take = min(charge.amount, left)
        plan.append((charge.id, take))
        left -= take
    return Decision(True, captures=tuple(plan), amount=remaining)


def reauthorize_decision(order: OrderFacts, now: datetime) -> Decision:
    """再与信 (R40–R42), impossible after capture or refund (R16) or once the permission is gone (R13, R15)."""
    refusal = _common_refusal(order)
    if refusal:
        return refusal
    if any(c.state in (ChargeState.CAPTURED, ChargeState.CAPTURE_INITIATED) for c in order.charges) or any(
        c.capture_requested for c in order.charges
    ):
        return Decision.no("売上(入金処理)の後は再与信できません。", "R16")
    if order.refunds:
        return Decision.no("返金の後は再与信できません。", "R16")
    if order.total <= 0:
        return Decision.no("受注金額が0円のため与信は不要です(決済不要)。", "R34")
    if order.amount_changed_externally:
        return Decision.no("Seller Centralで金額が変更された受注です。与信はSeller Centralで行ってください。", "R32")
    cp = order.charge_permission
    if cp is None:
        return Decision.no("Charge Permissionがないため再与信できません。", "R13")
    if is_charge_permission_expired(cp, now):
        return Decision.no("Charge Permissionの有効期限(13か月)が切れているため再与信できません。", "R13")
    if cp.state is ChargePermissionState.CLOSED:
        return Decision.no("Charge Permissionが終了しているため再与信できません。", "R15")
    live = [
        c
        for c in order.charges
        if c.state in (ChargeState.AUTHORIZED, ChargeState.AUTHORIZATION_INITIATED)
        and not is_authorization_lapsed(c, now)
    ]
    if any(c.state is ChargeState.AUTHORIZATION_INITIATED for c in live):
        return Decision.no("承認処理中の与信があります。結果が出るまでお待ちください。", "R10")
    authorized = sum(c.amount for c in live)
    label = order_label(order.charges, order.refunds, now, sync_failed=False)
    if live and order.total <= authorized:
        return Decision.no("有効な与信があるため、再与信は不要です。", "R40")
    if live:
        # The amount rose above what is authorized (R28, R40): authorize the difference.
        return Decision(True, amount=order.total - authorized, purpose=ChargePurpose.INCREASE)
    if label in (PaymentStatus.AUTH_LAPSED, PaymentStatus.AUTH_FAILED, PaymentStatus.AUTH_CANCELED, None):
        return Decision(True, amount=order.total, purpose=ChargePurpose.REAUTH)
    return Decision.no(f"現在の与信ステータス({label.value})では再与信できません。", "R40")
