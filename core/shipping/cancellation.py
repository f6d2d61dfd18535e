"""The cancellation desk's rules (issue 15 items 3–5; R44–R49). Pure: facts and a clock in,
decisions out, no I/O.

The outcome calculator (R47) answers "what does the shop keep?" for each option, from:

- ``sales``: what the customer paid for the order (its total, before any refund);
- ``items``: the item price part of it (the half refund is half of this, R45);
- ``cost``: the purchase cost of the items (cost price per item × quantity);
- ``shipping_cost``: what shipping the order cost the shop;
- ``resale``: what the returned item is expected to fetch when resold (R49, e.g. an auction);
- ``fees``: payment fees the shop pays (kept whatever the option).

Options, for an order that has been shipped (R45, R46):

- ``refuse``: the customer keeps the item; the shop keeps the sales.
  result = sales − fees − cost − shipping_cost
- ``half``: the item comes back at the customer's cost; half the item price is refunded;
  the item is resold.  result = sales − half − fees − cost − shipping_cost + resale
- ``full``: the item comes back; everything paid is refunded (R48); the item is resold.
  result = sales − sales − fees − cost − shipping_cost + resale

Before shipping, nothing went out: accepting costs the shop nothing but the fees, so the
``full`` option's result is −fees and the cost stays as stock; there is no half option then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from core.clock import to_utc

CANCEL_WINDOW: Final = timedelta(hours=24)  # R44


class Option(StrEnum):
    FULL = "full"
    HALF = "half"
    REFUSE = "refuse"

    @property
    def label(self) -> str:
        return OPTION_LABELS[self]


OPTION_LABELS: Final[dict[Option, str]] = {
    Option.FULL: "全額返金",
    Option.HALF: "半額返金(送料お客様負担)",
    Option.REFUSE: "お断り",
}


class RequestState(StrEnum):
    """Where a cancellation request stands."""

    OPEN = "open"  # recorded, no reply chosen yet
    REPLIED = "replied"  # the one-cushion reply went out (R45); waiting for the customer
    AWAITING_RETURN = "awaiting_return"  # an option with a return was chosen: item on its way back
    RECEIVED = "received"  # the item is back: the refund may be made (R46)
    REFUNDED = "refunded"  # refund made: closed
    REFUSED = "refused"  # the shop refused; the order stays as it is: closed
    CANCELED = "canceled"  # accepted before shipping, or supplier failure (R50): order canceled

    @property
    def label(self) -> str:
        return STATE_LABELS[self]


STATE_LABELS: Final[dict[RequestState, str]] = {
    RequestState.OPEN: "受付",
    RequestState.REPLIED: "返信済(お客様の返事待ち)",
    RequestState.AWAITING_RETURN: "返品待ち(商品の返送中)",
    RequestState.RECEIVED: "返品受領(返金待ち)",
    RequestState.REFUNDED: "返金済",
    RequestState.REFUSED: "お断り済",
    RequestState.CANCELED: "キャンセル済",
}

OPEN_STATES: Final = frozenset({RequestState.OPEN, RequestState.REPLIED})
RETURN_STATES: Final = frozenset({RequestState.AWAITING_RETURN, RequestState.RECEIVED})
CLOSED_STATES: Final = frozenset({RequestState.REFUNDED, RequestState.REFUSED, RequestState.CANCELED})

CHANNELS: Final[dict[str, str]] = {"mail": "メール", "phone": "電話", "form": "フォーム"}


def within_window(ordered_at: datetime, requested_at: datetime) -> bool:
    """R44: a request that came within 24 hours of the order."""
    return to_utc(requested_at) - to_utc(ordered_at) <= CANCEL_WINDOW


@dataclass(frozen=True)
class Proposal:
    """What the desk proposes for a new request."""

    accept: bool  # within 24 h (R44): accept it
    template_id: str  # the reply to send
    rule: str
    text: str


def propose(ordered_at: datetime, requested_at: datetime, *, shipped: bool) -> Proposal:
    """R44: within 24 hours → accept; after → the one-cushion reply (R45)."""
    if within_window(ordered_at, requested_at):
        return Proposal(
            True,
            "return-steps" if shipped else "",
            "R44",
            "ご注文から24時間以内のご依頼です。キャンセルをお受けすることをおすすめします(全額返金)。",
        )
    return Proposal(
        False,
        "cancel-reply",
        "R45",
        "ご注文から24時間を過ぎたご依頼です。まず「ワンクッション」の返信(商品代金の半額と送料のご負担でお受けする)を送ります。",
    )


@dataclass(frozen=True)
class OutcomeFacts:
    sales: int
    items: int
    cost: int
    shipping_cost: int
    resale: int
    fees: int = 0
    shipped: bool = True


@dataclass(frozen=True)
class Outcome:
    option: Option
    refund: int  # yen refunded to the customer
    shop_result: int  # what the shop keeps, in yen (negative: a loss)
    returned: bool  # the item comes back (a return to track)

    def to_json(self) -> dict[str, object]:
        return {
            "option": self.option.value,
            "label": self.option.label,
            "refund": self.refund,
            "shop_result": self.shop_result,
            "returned": self.returned,
        }


def half_refund(items: int) -> int:
    """R45: half the item price, shipping is the customer's; rounded down to whole yen."""
    return items // 2


def outcomes(facts: OutcomeFacts) -> tuple[Outcome, ...]:
    """R47: the shop's result for full refund, half refund and refusing."""
    if not facts.shipped:
        # Nothing went out: cancel in full; the items stay in stock.
        # Nothing went out: cancel in full (the items stay in stock), or refuse; no half refund.
        full = Outcome(Option.FULL, facts.sales, -facts.fees, False)
        keep = facts.sales - facts.fees - facts.cost - facts.shipping_cost
        return (full, Outcome(Option.REFUSE, 0, keep, False))
    spent = facts.fees + facts.cost + facts.shipping_cost
    half_amount = half_refund(facts.items)
    return (
        Outcome(Option.FULL, facts.sales, facts.sales - facts.sales - spent + facts.resale, True),
        Outcome(Option.HALF, half_amount, facts.sales - half_amount - spent + facts.resale, True),
        Outcome(Option.REFUSE, 0, facts.sales - spent, False),
    )


def outcome_of(facts: OutcomeFacts, option: Option) -> Outcome:
    return next(o for o in outcomes(facts) if o.option is option)


def net_result(*, sales: int, refunds: int, fees: int, cost: int, resale: int) -> int:
    """Issue 15 item 4: the order's net result = sales − refunds − fees − cost + resale."""
    return sales - refunds - fees - cost + resale
