"""Pure subscription rules: dates of rounds, what is due, the monthly limit (R17, R53), reservations (R9, R12)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from core.subscriptions.rules import (
    ContractFacts,
    ContractState,
    Frequency,
    due_rounds,
    first_day_of_next_month,
    generation_idempotency_key,
    is_last_round,
    monthly_allowance,
    reservation_check,
    resume_date,
    round_date,
    scheduled_date,
    subscription_page,
)


def test_frequency_parses_days_weeks_months_and_refuses_the_rest() -> None:
    assert Frequency.parse("1m") == Frequency("m", 1)
    assert Frequency.parse("2w").label == "2週間ごと"
    assert Frequency.parse("30d").api() == {"unit": "Day", "value": "30"}
    assert Frequency.parse("１月") == Frequency("m", 1)
    for bad in ("", "m", "0m", "13m", "1y", "x2w"):
        with pytest.raises(ValueError):
            Frequency.parse(bad)


def test_round_dates_count_from_the_anchor_so_month_ends_do_not_drift() -> None:
    monthly = Frequency("m", 1)
    anchor = date(2027, 1, 31)
    assert round_date(anchor, monthly, 1) == anchor
    assert round_date(anchor, monthly, 2) == date(2027, 2, 28)
    assert round_date(anchor, monthly, 3) == date(2027, 3, 31)
    assert round_date(date(2026, 12, 1), Frequency("w", 2), 3) == date(2026, 12, 29)
    assert round_date(date(2026, 12, 1), Frequency("d", 30), 2) == date(2026, 12, 31)


def _facts(**changes: object) -> ContractFacts:
    base: dict[str, object] = {
        "state": ContractState.ACTIVE,
        "anchor": date(2026, 11, 21),
        "every": Frequency("m", 1),
        "rounds_done": 1,
        "rounds_total": None,
        "next_date": date(2026, 12, 21),
    }
    base.update(changes)
    return ContractFacts(**base)  # type: ignore[arg-type]


def test_due_rounds_r17_one_per_date_reached_stopping_at_a_hanpukai_last_round() -> None:
    assert due_rounds(_facts(), date(2026, 12, 20)) == []
    assert due_rounds(_facts(), date(2026, 12, 21)) == [2]
    assert due_rounds(_facts(), date(2027, 2, 21)) == [2, 3, 4]
    assert due_rounds(_facts(rounds_total=3), date(2027, 6, 1)) == [2, 3]
    assert due_rounds(_facts(state=ContractState.PAUSED), date(2027, 6, 1)) == []
    assert due_rounds(_facts(state=ContractState.BUYER_CLOSED), date(2027, 6, 1)) == []
    assert is_last_round(3, 3) and not is_last_round(None, 99) and not is_last_round(3, 2)


def test_monthly_limit_r53_holds_with_the_first_day_it_can_succeed() -> None:
    today = date(2026, 12, 19)
    assert monthly_allowance(40_000, 40_000, today).allowed
    held = monthly_allowance(60_000, 40_000, today)
    assert not held.allowed and held.first_day == date(2027, 1, 1)
    assert "2027年1月1日" in held.reason and "R53" in held.reason
    never = monthly_allowance(100_001, 100_000, today)
    assert not never.allowed and never.first_day is None
    assert monthly_allowance(100_000, None, today).allowed  # not reported: the whole month's limit
    assert first_day_of_next_month(date(2026, 12, 31)) == date(2027, 1, 1)


def test_generation_key_is_stable_per_permission_round_and_attempt_and_fits_the_journal() -> None:
    key = generation_idempotency_key("S03-7000001-0007919", 2, 1)
    assert key == generation_idempotency_key("S03-7000001-0007919", 2, 1)
    assert len(key) == 32
    assert key != generation_idempotency_key("S03-7000001-0007919", 3, 1)
    assert key != generation_idempotency_key("S03-7000001-0007919", 2, 2)
    assert key != generation_idempotency_key("S03-7000002-0015838", 2, 1)


def test_subscription_page_r59() -> None:
    assert subscription_page("S03-1") == "https://pay.amazon.com/jp/jr/your-account/ba/S03-1"


def test_reservation_warns_when_the_authorization_lapses_before_shipping_and_offers_reauth_late() -> None:
    expires = datetime(2026, 12, 21, 3, 0, tzinfo=UTC)  # R9: 30 days after 11/21
    early = reservation_check(expires, date(2027, 1, 15), datetime(2026, 12, 1, tzinfo=UTC))
    assert early.lapses_before_shipping and not early.reauth_offered
    late = reservation_check(expires, date(2027, 1, 15), datetime(2027, 1, 10, tzinfo=UTC))
    assert late.lapses_before_shipping and late.reauth_offered
    live = reservation_check(expires, date(2026, 12, 24), datetime(2026, 12, 18, tzinfo=UTC))
    assert live.lapses_before_shipping and not live.reauth_offered  # R40: not before it lapsed
    assert not reservation_check(expires, date(2026, 12, 20), datetime(2026, 12, 1, tzinfo=UTC)).lapses_before_shipping
    assert not reservation_check(None, date(2027, 1, 15), datetime(2026, 12, 1, tzinfo=UTC)).lapses_before_shipping


def test_a_moved_schedule_keeps_round_numbers_and_follows_the_new_date() -> None:
    paused = _facts(state=ContractState.PAUSED, rounds_done=3, rounds_total=6, next_date=date(2027, 1, 21))
    assert resume_date(paused, date(2027, 3, 5)) == date(2027, 3, 21)  # 2/21 was missed while paused
    moved = _facts(rounds_done=3, rounds_total=6, anchor=date(2027, 3, 21), anchor_round=4, next_date=date(2027, 3, 21))
    assert due_rounds(moved, date(2027, 5, 21)) == [4, 5, 6]  # round 4 is not skipped (頒布会)
    assert due_rounds(moved, date(2027, 4, 20)) == [4]
    assert scheduled_date(moved, 6) == date(2027, 5, 21)
