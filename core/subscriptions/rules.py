"""Subscription and reservation rules: pure functions over facts and a moment (R9, R12–R21, R53, R59).

No I/O. Dates of generation are calendar days in Tokyo; money is int yen.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from core.clock import add_months, to_jst

MONTHLY_LIMIT = 100_000  # R53: a recurring Charge Permission in Japan, per calendar month (Tokyo)
AUTH_DAYS = 30  # R9
REAUTH_OFFER_DAYS = 7  # reservations: re-authorization is offered in the last days before shipping
SUBSCRIPTION_PAGE = "https://pay.amazon.com/jp/jr/your-account/ba/{cp_id}"  # R43, R59


class ContractState(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    CANCELED = "canceled"
    COMPLETED = "completed"
    BUYER_CLOSED = "buyer_closed"

    @property
    def label(self) -> str:
        return CONTRACT_STATE_LABELS[self]

    @property
    def ended(self) -> bool:
        return self in (ContractState.CANCELED, ContractState.COMPLETED, ContractState.BUYER_CLOSED)


CONTRACT_STATE_LABELS: dict[ContractState, str] = {
    ContractState.ACTIVE: "継続",
    ContractState.PAUSED: "休止",
    ContractState.CANCELED: "申込取消",
    ContractState.COMPLETED: "完了",
    ContractState.BUYER_CLOSED: "Amazon側で終了",
}


class HoldKind(StrEnum):
    """Why a generated order is 保留 (R18)."""

    DECLINED = "declined"  # the authorization was declined (R41, R56)
    MONTHLY_LIMIT = "monthly_limit"  # R53: not sent; retried on the next month's first run
    UNKNOWN = "unknown"  # 結果不明: settled by the next run, recovery or sync


class RoundState(StrEnum):
    SENDING = "sending"  # journaled; the authorization's outcome is not applied yet
    AUTHORIZED = "authorized"
    HELD = "held"


_EVERY = re.compile(r"^\s*([0-9０-９]{1,3})\s*([dwmDWM日週月])\s*$")
_UNITS = {"d": "d", "日": "d", "w": "w", "週": "w", "m": "m", "月": "m"}


@dataclass(frozen=True)
class Frequency:
    """Every ``value`` days (``d``), weeks (``w``) or months (``m``)."""

    unit: str
    value: int

    @classmethod
    def parse(cls, text: str) -> Frequency:
        """``1m``, ``2w``, ``30d`` (also 1月 / 2週 / 30日); ``ValueError`` in Japanese otherwise."""
        match = _EVERY.match(text or "")
        if not match:
            raise ValueError(
                f"周期「{text}」を読めません。1m(毎月)、2w(2週間ごと)、30d(30日ごと)のように指定してください。"
            )
        value = int(match.group(1).translate(str.maketrans("０１２３４５６７８９", "0123456789")))
        unit = _UNITS[match.group(2).lower()]
        limits = {"d": 365, "w": 52, "m": 12}
        if not 1 <= value <= limits[unit]:
            raise ValueError(f"周期の数は1から{limits[unit]}までで指定してください(「{text}」)。")
        return cls(unit, value)

    @property
    def code(self) -> str:
        return f"{self.value}{self.unit}"

    @property
    def label(self) -> str:
        if self.unit == "m":
            return "毎月" if self.value == 1 else f"{self.value}か月ごと"
        if self.unit == "w":
            return "毎週" if self.value == 1 else f"{self.value}週間ごと"
        return "毎日" if self.value == 1 else f"{self.value}日ごと"

    def api(self) -> dict[str, str]:
        """Amazon Pay's ``recurringMetadata.frequency``."""
        return {"unit": {"d": "Day", "w": "Week", "m": "Month"}[self.unit], "value": str(self.value)}


def tokyo_date(moment: datetime) -> date:
    return to_jst(moment).date()


def round_date(anchor: date, every: Frequency, round_number: int) -> date:
    """The generation day of ``round_number`` (1 = the checkout itself on ``anchor``).

    Counted from the anchor, not from the previous round, so a month's clamped day (Jan 31 →
    Feb 28) does not drift the later rounds (→ Mar 31).
    """
    steps = round_number - 1
    if every.unit == "d":
        return anchor + timedelta(days=every.value * steps)
    if every.unit == "w":
        return anchor + timedelta(weeks=every.value * steps)
    moment = datetime(anchor.year, anchor.month, anchor.day)
    return add_months(moment, every.value * steps).date()


@dataclass(frozen=True)
class ContractFacts:
    state: ContractState
    anchor: date
    every: Frequency
    rounds_done: int  # rounds generated so far, the checkout counting as round 1
    rounds_total: int | None  # 頒布会: a fixed number of rounds; None for an open subscription
    next_date: date
    anchor_round: int = 1  # the round that falls on ``anchor`` (moved when the schedule is moved)


def scheduled_date(contract: ContractFacts, round_number: int) -> date:
    """The day ``round_number`` falls on in the contract's schedule."""
    return round_date(contract.anchor, contract.every, round_number - contract.anchor_round + 1)


def resume_date(contract: ContractFacts, today: date) -> date:
    """A paused contract resumes at the first day of its schedule from ``today`` on; the rounds
    keep their numbers (a 頒布会's next round is still the next one, none is skipped)."""
    number = contract.rounds_done + 1
    while scheduled_date(contract, number) < today:
        number += 1
    return scheduled_date(contract, number)


def due_rounds(contract: ContractFacts, until: date) -> list[int]:
    """The rounds to generate on a run for every day up to ``until`` (R17), oldest first.

    A paused or ended contract generates nothing; a 頒布会 stops at its last round.
    """
    if contract.state is not ContractState.ACTIVE:
        return []
    rounds: list[int] = []
    number = contract.rounds_done + 1
    day = contract.next_date
    while day <= until:
        if contract.rounds_total is not None and number > contract.rounds_total:
            break
        rounds.append(number)
        number += 1
        day = scheduled_date(contract, number)
        if len(rounds) > 400:  # a contract far behind: a year of daily rounds is plenty per run
            break
    return rounds


def next_date_after(contract: ContractFacts, generated_round: int) -> date:
    return scheduled_date(contract, generated_round + 1)


def is_last_round(rounds_total: int | None, round_number: int) -> bool:
    """A 頒布会 is 完了 once its last round is generated (R15 then closes the permission)."""
    return rounds_total is not None and round_number >= rounds_total


@dataclass(frozen=True)
class MonthlyAllowance:
    """What the calendar month's 100,000 yen (R53) allows for one generation."""

    allowed: bool
    balance: int
    first_day: date | None  # the first day it can succeed; None when no month ever allows it
    reason: str


def first_day_of_next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def monthly_allowance(amount: int, balance: int | None, today: date) -> MonthlyAllowance:
    """R53, R59: ``balance`` is the permission's ``limits.amountBalance`` read just before charging.

    ``None`` (not reported) is taken as the whole month's limit: Amazon then still refuses with
    ``PeriodicAmountExceeded`` and the round is held the same way.
    """
    left = MONTHLY_LIMIT if balance is None else max(balance, 0)
    if amount <= left:
        return MonthlyAllowance(True, left, today, "")
    if amount > MONTHLY_LIMIT:
        return MonthlyAllowance(
            False,
            left,
            None,
            f"1回分の金額({amount:,}円)が定期購入の月間上限{MONTHLY_LIMIT:,}円を超えるため、"
            "どの月にも与信できません。金額を変更してください(R53)。",
        )
    first = first_day_of_next_month(today)
    return MonthlyAllowance(
        False,
        left,
        first,
        f"今月の残り枠{left:,}円では{amount:,}円を与信できないため、送信せず保留にしました"
        f"(定期購入は月間{MONTHLY_LIMIT:,}円まで、R53)。{first.year}年{first.month}月{first.day}日から与信できます。",
    )


def limit_hold_releasable(retry_from: date | None, today: date) -> bool:
    """A round held by the monthly limit is retried automatically from its first possible day."""
    return retry_from is not None and today >= retry_from


def generation_idempotency_key(charge_permission_id: str, round_number: int, attempt: int) -> str:
    """One key per (permission, round, attempt): a run killed and run again sends the same one,
    so Amazon answers the second send from its idempotency store (never two Charges).

    32 characters (the journal's column); the permission ID makes it unique at Amazon across stores.
    """
    digest = hashlib.sha256(f"kanjo-generation:{charge_permission_id}:{round_number}:{attempt}".encode()).hexdigest()
    return "g" + digest[:31]


def generated_order_number(contract_number: str, round_number: int) -> str:
    return f"{contract_number}-{round_number}"


def subscription_page(charge_permission_id: str) -> str:
    """Where the buyer fixes a subscription's payment (R43, R59)."""
    return SUBSCRIPTION_PAGE.format(cp_id=charge_permission_id)


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


# --- reservations (R9, R12) -------------------------------------------------------------------


@dataclass(frozen=True)
class ReservationCheck:
    lapses_before_shipping: bool
    reauth_offered: bool
    message: str


def reservation_check(
    auth_expires_at: datetime | None, planned_ship: date | None, now: datetime, *, offer_days: int = REAUTH_OFFER_DAYS
) -> ReservationCheck:
    """R12: a reservation is authorized at order; R9: that lasts 30 days.

    Warn when the authorization lapses before the planned shipping day; offer re-authorization
    (R40: once the authorization has lapsed) only in the last ``offer_days`` before shipping, so
    the new one, valid 30 days, lasts past the shipping day.
    """
    if planned_ship is None or auth_expires_at is None:
        return ReservationCheck(False, False, "")
    lapse_day = tokyo_date(auth_expires_at)
    today = tokyo_date(now)
    if lapse_day >= planned_ship:
        return ReservationCheck(False, False, "")
    in_window = (planned_ship - today).days <= offer_days
    lapsed = now >= auth_expires_at
    offered = in_window and lapsed
    message = (
        f"与信の有効期限({lapse_day.year}/{lapse_day.month}/{lapse_day.day})が発送予定日"
        f"({planned_ship.year}/{planned_ship.month}/{planned_ship.day})より前に切れます(R9)。"
    )
    if offered:
        message += "再与信できます。"
    elif in_window:
        message += "与信の期限が切れたら再与信できます(R40)。"
    else:
        message += f"発送予定日の{offer_days}日前から再与信できます。"
    return ReservationCheck(True, offered, message)
