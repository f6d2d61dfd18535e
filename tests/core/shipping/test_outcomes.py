"""The outcome calculator (R47) and the 24-hour rule (R44), with hand-computed figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.shipping.cancellation import Option, OutcomeFacts, net_result, outcome_of, outcomes, propose


def test_each_option_by_hand() -> None:
    # Sold for 6,600 (items 6,000 + shipping 600); cost 2,500; shipping cost the shop 800;
    # fees 240; the returned item is expected to fetch 1,500 at auction.
    facts = OutcomeFacts(sales=6_600, items=6_000, cost=2_500, shipping_cost=800, resale=1_500, fees=240)
    by = {o.option: o for o in outcomes(facts)}
    # refuse: 6,600 − 240 − 2,500 − 800 = 3,060
    assert (by[Option.REFUSE].refund, by[Option.REFUSE].shop_result) == (0, 3_060)
    # half: refund 3,000; 6,600 − 3,000 − 240 − 2,500 − 800 + 1,500 = 1,560
    assert (by[Option.HALF].refund, by[Option.HALF].shop_result) == (3_000, 1_560)
    # full: refund 6,600; 6,600 − 6,600 − 240 − 2,500 − 800 + 1,500 = −2,040
    assert (by[Option.FULL].refund, by[Option.FULL].shop_result) == (6_600, -2_040)
    assert by[Option.HALF].returned and by[Option.FULL].returned and not by[Option.REFUSE].returned


def test_half_rounds_down_and_before_shipping_full_costs_only_the_fees() -> None:
    odd = OutcomeFacts(sales=3_001, items=3_001, cost=1_000, shipping_cost=0, resale=0)
    assert outcome_of(odd, Option.HALF).refund == 1_500
    unshipped = OutcomeFacts(
        sales=5_000, items=5_000, cost=2_000, shipping_cost=700, resale=900, fees=200, shipped=False
    )
    full = outcome_of(unshipped, Option.FULL)
    assert (full.refund, full.shop_result, full.returned) == (5_000, -200, False)
    assert [o.option for o in outcomes(unshipped)] == [Option.FULL, Option.REFUSE]


def test_net_result() -> None:
    assert net_result(sales=6_600, refunds=3_000, fees=240, cost=2_500, resale=1_500) == 2_360


def test_within_24_hours_accept_after_one_cushion() -> None:
    ordered = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
    inside = propose(ordered, ordered + timedelta(hours=23, minutes=59), shipped=False)
    assert inside.accept and inside.rule == "R44"
    exactly = propose(ordered, ordered + timedelta(hours=24), shipped=True)
    assert exactly.accept
    after = propose(ordered, ordered + timedelta(hours=24, seconds=1), shipped=True)
    assert not after.accept and after.rule == "R45" and after.template_id == "cancel-reply"
