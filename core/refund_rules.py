"""Refund allocation over an order's captures (R33, R38, R39).

A refund is taken from one capture at a time, never more than what is left of it (pending
refunds count as taken). A full refund returns every remaining yen of every capture in one
action (R39, beyond the source: no manual remainder). A partial refund comes from the newest
capture that can cover it alone, otherwise it is spread newest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.clock import to_utc
from core.domain import ChargeFacts, ChargeState, RefundFacts, RefundState
from core.errors import RuleViolation

MAX_REFUND = 10_000_000  # per refund (amazonpay-api.md §3)


@dataclass(frozen=True)
class RefundLine:
    charge_id: str
    amount: int
    refundable: int  # what was left on the capture before this refund


@dataclass(frozen=True)
class RefundPlan:
    lines: tuple[RefundLine, ...]
    full: bool

    @property
    def total(self) -> int:
        return sum(line.amount for line in self.lines)


def refunds_taken_by_charge(refunds: Sequence[RefundFacts]) -> dict[str, int]:
    """Yen refunded or being refunded per charge (a declined refund took nothing)."""
    taken: dict[str, int] = {}
    for refund in refunds:
        if refund.state is not RefundState.DECLINED:
            taken[refund.charge_id] = taken.get(refund.charge_id, 0) + refund.amount
    return taken


def refundable_by_charge(charges: Sequence[ChargeFacts], refunds: Sequence[RefundFacts]) -> dict[str, int]:
    """Yen still refundable per captured charge, newest capture first."""
    taken = refunds_taken_by_charge(refunds)
    captured = [c for c in charges if c.state is ChargeState.CAPTURED and c.captured_amount > 0]
    captured.sort(key=lambda c: (to_utc(c.created_at), c.seq, c.id), reverse=True)
    return {c.id: max(c.captured_amount - taken.get(c.id, 0), 0) for c in captured}


def plan_refund(charges: Sequence[ChargeFacts], refunds: Sequence[RefundFacts], amount: int | None) -> RefundPlan:
    """Allocate ``amount`` yen (``None``: everything left) over the captures."""
    left_by_charge = refundable_by_charge(charges, refunds)
    available = sum(left_by_charge.values())
    if not left_by_charge:
        if any(c.state is ChargeState.CAPTURE_INITIATED for c in charges):
            raise RuleViolation(
                "売上処理がAmazonで完了していないため、まだ返金できません。同期してからお試しください。", code="R55"
            )
        raise RuleViolation("売上確定前の受注は返金できません。キャンセル(与信の取消)を行ってください。", code="R35")
    if available == 0:
        raise RuleViolation("返金できる残額がありません(返金処理中の分を含みます)。", code="R39")
    if amount is None:
        lines = tuple(RefundLine(cid, left, left) for cid, left in left_by_charge.items() if left > 0)
        return RefundPlan(lines, full=True)
    if amount <= 0:
        raise RuleViolation("返金額は1円以上を指定してください。", code="R39")
    if amount > available:
        raise RuleViolation(f"返金できるのは残り{available:,}円までです。", code="R39")
    if amount > MAX_REFUND:
        raise RuleViolation("1回の返金は10,000,000円までです。", code="R39")
    single = next((cid for cid, left in left_by_charge.items() if left >= amount), None)
    if single is not None:
        return RefundPlan((RefundLine(single, amount, left_by_charge[single]),), full=amount == available)
    spread: list[RefundLine] = []
    remaining = amount
    for cid, left in left_by_charge.items():
        if remaining <= 0:
            break
        take = min(left, remaining)
        if take > 0:
            spread.append(RefundLine(cid, take, left))
            remaining -= take
    return RefundPlan(tuple(spread), full=amount == available)
