"""Matching settlement rows to what Kanjo recorded (pure: facts in, matches and problems out).

R57: AmazonTransactionId is the Charge ID (Capture) or the Refund ID (Refund),
AmazonOrderReferenceId the Charge Permission ID, SellerOrderId the order number. R60: the
report is the only place that tells a payment's fee; the Transfer row is the deposit.

Signs are the report's: a capture's amount is positive and its fee negative; a refund's amount
is negative and the part of the fee Amazon gives back positive; a chargeback or an A-to-z
claim is negative; the Transfer row moves the balance to the bank, so its amount is the
deposit with a minus sign.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from core.money import format_yen
from core.settlements.report import SettlementRow

# Problem kinds (``settlements show`` → ``problems[].kind``)
AMOUNT_DIFFERS = "amount_differs"  # the settled amount is not what Kanjo captured or refunded
SELLER_CENTRAL_REFUND = "seller_central_refund"  # a refund Kanjo never saw (made in Seller Central)
UNKNOWN_CAPTURE = "unknown_capture"  # a capture Kanjo never saw
CHARGEBACK = "chargeback"
ATOZ_CLAIM = "atoz_claim"
UNMATCHED = "unmatched"  # a row about an order Kanjo does not know
MISSING_CAPTURE = "missing_capture"  # captured here, in no settlement after its period closed

ORDER_TYPES = ("Capture", "Refund", "Chargeback", "A-to-z Guarantee Claim", "Adjustment")


# The facts are named tuples rather than frozen dataclasses: a large report reads one per row,
# and a named tuple is built three times faster.
class OrderRef(NamedTuple):
    id: int
    number: str


class ChargeFact(NamedTuple):
    id: str
    order: OrderRef
    captured: int
    captured_at: datetime | None = None


class RefundFact(NamedTuple):
    id: str
    order: OrderRef
    amount: int


@dataclass(frozen=True)
class Problem:
    kind: str
    order_number: str
    amount: int
    message: str
    transaction_id: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "order_number": self.order_number,
            "amount": self.amount,
            "message": self.message,
            "transaction_id": self.transaction_id,
        }


class Match(NamedTuple):
    """A row's order, charge or refund, and its problems (one per row, hence a named tuple)."""

    order: OrderRef | None
    charge_id: str | None = None
    refund_id: str | None = None
    problems: tuple[Problem, ...] = ()


_NO_ORDER = Match(None)  # Debt, Carryover, Transfer, an account-level adjustment


@dataclass(frozen=True)
class Known:
    """Lookups over what Kanjo recorded (the service fills them from the store, tests from dicts)."""

    charge: Callable[[str], ChargeFact | None]
    refund: Callable[[str], RefundFact | None]
    order_by_permission: Callable[[str], OrderRef | None]
    order_by_number: Callable[[str], OrderRef | None]


def match_row(row: SettlementRow, known: Known) -> Match:
    """The charge, refund and order a row belongs to, and what is wrong with it."""
    kind = row.transaction_type
    if kind not in ORDER_TYPES:  # Debt, Carryover, Transfer: the settlement's, not an order's
        return _NO_ORDER
    if kind == "Capture":
        charge = known.charge(row.transaction_id) if row.transaction_id else None
        if charge is not None:
            problems: tuple[Problem, ...] = ()
            if row.amount != charge.captured:
                problems = (
                    Problem(
                        AMOUNT_DIFFERS,
                        charge.order.number,
                        row.amount - charge.captured,
                        f"精算額{format_yen(row.amount)}が売上確定額{format_yen(charge.captured)}と異なります。",
                        row.transaction_id,
                    ),
                )
            return Match(charge.order, charge.id, None, problems)
        order = _order(row, known)
        if order is None:
            return _unmatched(row)
        return Match(
            order=order,
            problems=(
                Problem(
                    UNKNOWN_CAPTURE,
                    order.number,
                    row.amount,
                    f"Kanjoに記録のない売上確定({format_yen(row.amount)})が精算されています(Seller Centralでの操作?)。",
                    row.transaction_id,
                ),
            ),
        )
    if kind == "Refund":
        refund = known.refund(row.transaction_id) if row.transaction_id else None
        if refund is not None:
            problems = ()
            if -row.amount != refund.amount:
                problems = (
                    Problem(
                        AMOUNT_DIFFERS,
                        refund.order.number,
                        -row.amount - refund.amount,
                        f"精算された返金額{format_yen(-row.amount)}がKanjoの返金額{format_yen(refund.amount)}と異なります。",
                        row.transaction_id,
                    ),
                )
            return Match(refund.order, None, refund.id, problems)
        order = _order(row, known)
        if order is None:
            return _unmatched(row)
        return Match(
            order=order,
            problems=(
                Problem(
                    SELLER_CENTRAL_REFUND,
                    order.number,
                    -row.amount,
                    f"Kanjoが知らない返金{format_yen(-row.amount)}があります(Seller Centralで行われた返金)。",
                    row.transaction_id,
                ),
            ),
        )
    order = _order(row, known)
    if order is None:
        if kind == "Adjustment" and not (row.charge_permission_id or row.order_number):
            return _NO_ORDER  # an account-level adjustment
        return _unmatched(row)
    if kind == "Chargeback":
        return Match(
            order=order,
            problems=(
                Problem(
                    CHARGEBACK,
                    order.number,
                    -row.amount,
                    f"チャージバック{format_yen(-row.amount)}が差し引かれました。",
                    row.transaction_id,
                ),
            ),
        )
    if kind == "A-to-z Guarantee Claim":
        return Match(
            order=order,
            problems=(
                Problem(
                    ATOZ_CLAIM,
                    order.number,
                    -row.amount,
                    f"Amazonマーケットプレイス保証の申立てにより{format_yen(-row.amount)}が差し引かれました(R61: 48時間以内に対応)。",
                    row.transaction_id,
                ),
            ),
        )
    return Match(order)  # Adjustment on an order: counted in its net, not a problem


def _order(row: SettlementRow, known: Known) -> OrderRef | None:
    if row.transaction_id:  # a chargeback or claim carries the Charge ID it reverses
        charge = known.charge(row.transaction_id)
        if charge is not None:
            return charge.order
    if row.charge_permission_id:
        order = known.order_by_permission(row.charge_permission_id)
        if order is not None:
            return order
    if row.order_number:
        return known.order_by_number(row.order_number)
    return None


def _unmatched(row: SettlementRow) -> Match:
    label = row.order_number or row.charge_permission_id or row.transaction_id or "?"
    return Match(
        order=None,
        problems=(
            Problem(
                UNMATCHED,
                row.order_number,
                row.amount,
                f"{row.transaction_type}({format_yen(row.amount)}、{label})に対応する受注がKanjoにありません。",
                row.transaction_id,
            ),
        ),
    )


def row_keys(rows: Iterable[SettlementRow]) -> Iterable[tuple[str, SettlementRow]]:
    """Each row with its key within the settlement. A row without a transaction ID (Transfer,
    Carryover, Debt) is keyed by its type and its place among such rows of its settlement, which
    is the same on every read of the same report."""
    seen: dict[tuple[str, str], int] = {}
    for row in rows:
        if row.transaction_id:
            yield row.key, row
            continue
        slot = (row.settlement_id, row.transaction_type)
        seen[slot] = seen.get(slot, 0) + 1
        yield f"{row.transaction_type}|#{seen[slot]}", row


@dataclass
class Totals:
    """A settlement's sums, positive numbers of yen (what the operator reads)."""

    captured: int = 0
    refunded: int = 0
    fees: int = 0  # fees charged, net of the fees given back with refunds
    chargebacks: int = 0  # chargebacks and A-to-z claims
    adjustments: int = 0
    debts: int = 0
    carryover: int = 0
    deposit: int | None = None  # the Transfer row, None while the settlement is open
    rows: int = 0

    def add(self, row: SettlementRow) -> None:
        self.rows += 1
        self.fees -= row.fee
        kind = row.transaction_type
        if kind == "Capture":
            self.captured += row.amount
        elif kind == "Refund":
            self.refunded -= row.amount
        elif kind in ("Chargeback", "A-to-z Guarantee Claim"):
            self.chargebacks -= row.amount
        elif kind == "Adjustment":
            self.adjustments += row.amount
        elif kind == "Debt":
            self.debts += row.amount
        elif kind == "Carryover":
            self.carryover += row.amount
        elif kind == "Transfer":
            self.deposit = (self.deposit or 0) - row.amount

    @property
    def balance(self) -> int:
        """What the settlement owes the shop before its Transfer."""
        return (
            self.captured
            - self.refunded
            - self.fees
            - self.chargebacks
            + self.adjustments
            + self.debts
            + self.carryover
        )


def missing_captures(
    captures: Iterable[ChargeFact],
    settled: Container[str],
    periods: Iterable[tuple[datetime, datetime]],
    now: datetime,
) -> list[Problem]:
    """Captures recorded here whose settlement period has closed without them (R60).

    ``periods`` are the settlement periods read so far (both ends included: a capture at the very
    moment a period closed may be in either report); a capture counts as
    missing when one of them holds its time, has ended by ``now``, and no settlement read
    holds the Charge ID.
    """
    closed = [(start, end) for start, end in periods if end <= now]
    problems = []
    for charge in captures:
        if charge.id in settled or charge.captured_at is None or charge.captured <= 0:
            continue
        if any(start <= charge.captured_at <= end for start, end in closed):
            problems.append(
                Problem(
                    MISSING_CAPTURE,
                    charge.order.number,
                    charge.captured,
                    f"売上確定{format_yen(charge.captured)}が締め済みの精算期間に含まれていません。",
                    charge.id,
                )
            )
    return problems
