"""Reservations (R12): authorized at order, a planned shipping day, the warning when the authorization
lapses first (R9) and re-authorization in the last days before shipping, alone or in bulk (R40)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.app import Kanjo
from core.clock import FixedClock
from core.domain import OrderKind
from core.errors import RuleViolation
from core.order_pages import OrderFilter, OrderPages, OrderQuery
from tests.helpers import place_order


def test_reservation_warned_then_reauthorized_in_bulk_before_shipping(app: Kanjo, clock: FixedClock) -> None:
    place_order(app, "R1", 6_000, kind=OrderKind.RESERVATION)
    place_order(app, "R2", 7_000, kind=OrderKind.RESERVATION)
    place_order(app, "R3", 8_000, kind=OrderKind.RESERVATION)
    place_order(app, "N1", 1_000)
    subs = app.subscriptions
    today = subs.today()
    subs.set_planned_ship("R1", today + timedelta(days=45))
    subs.set_planned_ship("R2", today + timedelta(days=44))
    subs.set_planned_ship("R3", today + timedelta(days=20))  # shipped well within the 30 days: no warning
    with pytest.raises(RuleViolation):
        subs.set_planned_ship("N1", today)  # only reservations have a planned shipping day
    clock.advance(timedelta(days=10))
    warnings = {w["order_number"]: w for w in subs.reservation_warnings()}
    assert set(warnings) == {"R1", "R2"}
    assert {"R1", "R2"} <= needing_action(app, clock) and "R3" not in needing_action(app, clock)  # 要対応
    assert not warnings["R1"]["reauth_offered"] and "R9" in str(warnings["R1"]["message"])
    with pytest.raises(RuleViolation):
        subs.reauthorize_reservations(["R1"])  # not yet: refused with the reason
    clock.advance(timedelta(days=30))  # 40 days after the order: lapsed, 5 days before shipping
    warnings = {w["order_number"]: w for w in subs.reservation_warnings()}
    assert warnings["R1"]["reauth_offered"] and warnings["R2"]["reauth_offered"]
    results = subs.reauthorize_reservations()  # in bulk
    assert sorted(r.order_number for r in results) == ["R1", "R2"] and all(r.ok for r in results)
    assert subs.reservation_warnings() == []  # the new authorizations last past shipping
    assert not {"R1", "R2"} & needing_action(app, clock)
    assert app.orders.detail("R1").payment_status == "承認済"


def test_removing_sandbox_orders_takes_their_contracts_rounds_and_plans(app: Kanjo, clock: FixedClock) -> None:
    place_order(app, "S9", 2_000, kind=OrderKind.SUBSCRIPTION)
    place_order(app, "R9", 2_000, kind=OrderKind.RESERVATION)
    app.subscriptions.create("S9", "1m")
    app.subscriptions.set_planned_ship("R9", app.subscriptions.today() + timedelta(days=60))
    clock.advance(timedelta(days=30))
    assert app.subscriptions.generate().authorized == 1
    removed = app.orders.remove_sandbox_orders()
    assert removed.count == 3
    assert app.subscriptions.contracts() == [] and app.subscriptions.held() == []
    assert app.subscriptions.reservation_warnings() == []


def test_editing_a_contract_moves_its_schedule_and_refuses_what_the_rules_forbid(app: Kanjo, clock: FixedClock) -> None:
    from datetime import date

    from core.errors import BadInput

    place_order(app, "E1", 5_000, kind=OrderKind.SUBSCRIPTION)
    subs = app.subscriptions
    view = subs.create("E1", "1m", rounds_total=4)
    edited = subs.edit(view.id, amount=6_000, shipping_fee=500, next_date=date(2026, 12, 25))
    assert edited.amount == 6_500 and edited.next_date == date(2026, 12, 25)
    with pytest.raises(RuleViolation):
        subs.edit(view.id, amount=100_001)  # R53: no month could ever allow it
    with pytest.raises(BadInput):
        subs.edit(view.id, next_date=date(2026, 11, 1))  # the past
    subs.pause(view.id)
    with pytest.raises(RuleViolation):
        subs.pause(view.id)
    clock.advance(timedelta(days=40))  # 12/25 passed while paused
    resumed = subs.resume(view.id)
    assert resumed.state == "active" and resumed.next_date == date(2027, 1, 25) and resumed.rounds_done == 1
    with pytest.raises(BadInput):
        subs.create("E1", "1y")
    with pytest.raises(RuleViolation):
        subs.create("E1", "1m")  # already a contract


def needing_action(app: Kanjo, clock: FixedClock) -> set[str]:
    """The numbers the list's 要対応 filter shows (the reservation warnings among them)."""
    query = OrderQuery(filter=OrderFilter(needs_action=True))
    return {row.number for row in OrderPages(app.engine).page(query, 0, 100, clock.now()).rows}
