"""A subscription walked over 13 months of the shared clock (issue 12, "Done when").

Real SQLite store, the built-in sandbox, the generation run as the operator starts it each morning.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

import core.subscriptions.service as subscriptions_service
from core.app import Kanjo
from core.clock import FixedClock, add_months, to_jst
from core.db.schema import ChargePermission, Order
from core.domain import OrderKind, OrderStatus
from core.errors import RuleViolation
from core.subscriptions.rules import ContractState, HoldKind, first_day_of_next_month
from tests.helpers import place_order


def _cp(app: Kanjo, number: str) -> ChargePermission:
    with app.sessions() as session:
        order = session.scalar(select(Order).where(Order.number == number))
        assert order is not None and order.charge_permission_id
        cp = session.get(ChargePermission, order.charge_permission_id)
        assert cp is not None
        return cp


def _sandbox_charges(app: Kanjo, number: str) -> list[tuple[str, int, str]]:
    """(state, amount, Tokyo month) of every Charge the sandbox holds on the order's permission."""
    control = app.gateway().control
    assert control is not None
    out = []
    for charge in control.snapshot(number)["charges"]:
        created = datetime.strptime(charge["creationTimestamp"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        out.append(
            (charge["statusDetails"]["state"], int(charge["chargeAmount"]["amount"]), to_jst(created).strftime("%Y-%m"))
        )
    return out


def test_thirteen_months_of_generations(app: Kanjo, clock: FixedClock) -> None:
    control = app.gateway().control
    assert control is not None
    subs = app.subscriptions
    place_order(app, "S1", 8_000, kind=OrderKind.SUBSCRIPTION)
    place_order(app, "H1", 5_000, kind=OrderKind.SUBSCRIPTION)
    place_order(app, "B1", 60_000, kind=OrderKind.SUBSCRIPTION)
    place_order(app, "C1", 3_000, kind=OrderKind.SUBSCRIPTION)
    s1 = subs.create("S1", "1m")
    h1 = subs.create("H1", "1m", rounds_total=3)
    b1 = subs.create("B1", "2w", rounds_total=4)  # a 頒布会 of 60,000 yen rounds every two weeks
    c1 = subs.create("C1", "1m")
    start = clock.now()
    authorized_on: dict[str, datetime] = {}
    held_by_limit: list[str] = []
    declined: list[str] = []
    day = 0
    special = [date(2027, 1, 20), date(2027, 1, 22), date(2027, 2, 1)]
    while clock.now() < add_months(start, 13):
        # The next morning something happens: a round due, a month's first day (R53), a test event.
        # Runs on the days between would find nothing due (due_rounds is unit-tested for that).
        today = subs.today()
        upcoming = [v.next_date for v in subs.contracts() if v.state == ContractState.ACTIVE.value]
        upcoming += [first_day_of_next_month(today), *(d for d in special if d > today)]
        day += 1
        clock.advance(timedelta(days=(min(d for d in upcoming if d > today) - today).days))
        today = subs.today()
        if today.isoformat() == "2027-01-20":
            control.decline_next("S1", "hard")  # the buyer's card fails for round 3 (2027-01-21)
        if today.isoformat() == "2027-02-01":
            control.close_subscription("C1")  # the buyer ends C1 at Amazon
            app.sync.sync_order("C1")
        report = subs.generate()
        for held in report.held:
            if "R53" in held["reason"]:
                held_by_limit.append(held["order_number"])
            else:
                declined.append(held["order_number"])
        if today.isoformat() == "2027-01-22":
            assert declined == ["S1-3"]
            with app.sessions() as session:
                order = session.scalar(select(Order).where(Order.number == "S1-3"))
                assert order is not None and order.order_status == OrderStatus.ON_HOLD.value
                assert order.reauth_message and "決済方法を変更" in order.reauth_message  # R41
            on_hold = [o.number for o in app.orders.list(status="保留")]
            assert "S1-3" in on_hold and all(n == "S1-3" or n.startswith("B1-") for n in on_hold)
            control.fix_payment("S1")  # R42
            retried = subs.retry("S1-3")
            assert retried.authorized == 1
        for view in subs.rounds(s1.id):
            if view.state == "authorized" and view.order_number not in authorized_on:
                authorized_on[view.order_number] = clock.now()
                # R14: the permission's expiry moves to 13 months from this success
                assert _cp(app, "S1").expires_at == add_months(clock.now(), 13).replace(microsecond=0) or (
                    _cp(app, "S1").expires_at is not None
                    and abs((_cp(app, "S1").expires_at - add_months(clock.now(), 13)).total_seconds()) < 2
                )
    # S1: a round every month on its day, 13 generated after the checkout, each authorized once
    s1_rounds = subs.rounds(s1.id)
    assert [r.round for r in s1_rounds] == list(range(2, 15))
    assert all(r.state == "authorized" for r in s1_rounds)
    for r in s1_rounds:
        if r.order_number != "S1-3":
            assert r.generated_on.day == 21
    sandbox = [c for c in _sandbox_charges(app, "S1") if c[0] != "Declined"]
    assert len(sandbox) == 14  # the checkout and 13 generations, never twice
    # H1: a 頒布会 of 3 rounds completes and closes its permission (R15)
    assert subs.show(h1.id).state == ContractState.COMPLETED.value
    assert [r.round for r in subs.rounds(h1.id)] == [2, 3]
    assert _cp(app, "H1").state == "Closed"
    # B1: 60,000 every two weeks: the second generation of a month is held by R53, released next month
    assert held_by_limit and held_by_limit[0] == "B1-3"
    b1_rounds = {r.order_number: r for r in subs.rounds(b1.id)}
    assert b1_rounds["B1-3"].state == "authorized"  # retried on 2027-01-01, the next month's first run
    assert b1_rounds["B1-3"].hold_kind is None
    assert b1_rounds["B1-4"].generated_on == date(2027, 1, 2) and b1_rounds["B1-4"].state == "authorized"
    assert held_by_limit == ["B1-3", "B1-4"]  # B1-4 held on 1/2 (B1-3 took January), released 2/1
    assert subs.show(b1.id).state == ContractState.COMPLETED.value  # completed after its held last round
    # Kanjo read amountBalance first: the sandbox never had to refuse a generation (R53, R59)
    with app.sessions() as session:
        codes = set(session.scalars(select(Order.reauth_reason_code).where(Order.number.startswith("B1-"))))
    assert "PeriodicAmountExceeded" not in codes
    # C1: the buyer closed it at Amazon: the contract stopped at the next run
    c1_view = subs.show(c1.id)
    assert c1_view.state == ContractState.BUYER_CLOSED.value
    assert "購入者" in c1_view.note
    assert max(r.round for r in subs.rounds(c1.id)) == 3  # 12/21 and 1/21 only
    assert HoldKind.MONTHLY_LIMIT.value == "monthly_limit"
    assert datetime(2027, 1, 1, tzinfo=UTC) < clock.now()


def test_a_cancelled_run_stops_between_contracts_and_the_next_run_finishes(
    app: Kanjo, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    for number in ("K1", "K2", "K3"):
        place_order(app, number, 2_000, kind=OrderKind.SUBSCRIPTION)
        app.subscriptions.create(number, "1m")
    clock.advance(timedelta(days=30))
    # 中止 before anything started: no contract is generated, on any number of threads.
    nothing = app.subscriptions.generate(cancelled=lambda: True)
    assert nothing.cancelled and nothing.generated == 0
    # On one thread, 中止 after the first contract stops right there; with more, the contracts
    # already under way (at most GENERATION_THREADS) finish and no other one starts.
    monkeypatch.setattr(subscriptions_service, "GENERATION_THREADS", 1)
    steps: list[int] = []
    report = app.subscriptions.generate(progress=lambda p: steps.append(p.done), cancelled=lambda: len(steps) >= 1)
    assert report.cancelled and report.generated == 1 and steps == [1]
    monkeypatch.undo()
    rest = app.subscriptions.generate()
    assert rest.generated == 2 and rest.authorized == 2 and not rest.cancelled
    # Deleting a contract asks for the named confirmation, then closes its permission (R15).
    with pytest.raises(RuleViolation) as refused:
        app.subscriptions.delete("K3", confirmed=False)
    assert "K3 を削除し" in refused.value.message and "元に戻せ" in refused.value.message
    deleted = app.subscriptions.delete("K3", confirmed=True)
    assert deleted.state == ContractState.CANCELED.value and "削除" in deleted.note
    assert _cp(app, "K3").state == "Closed"
    assert app.subscriptions.generate(until=subs_today(app) + timedelta(days=90)).generated == 6  # K1, K2 only


def subs_today(app: Kanjo) -> date:
    return app.subscriptions.today()
