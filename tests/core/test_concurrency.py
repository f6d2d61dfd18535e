"""Several processes race money operations on one order (issue 10 item 1).

Each round forks N children that open the app on the same SQLite file, wait on one start
signal, and then each try M operations on the same order: captures and refunds of 2,000円 on
a 3,840円 order. Amazon (and the sandbox) accept refunds up to 15 % over a capture, so only
Kanjo's per-order lock stands between two refunds and 4,000円 refunded. After each round:
never more refunded than captured, never two captures of one charge, no 結果不明, nothing
left pending; every loser was told why in a rule message (another operation in progress,
already captured, nothing left to refund), never "結果不明".

Every test runs against a SQLite file and against PostgreSQL (issue 14: the per-order lock
there is an advisory lock on the number plus ``SELECT … FOR UPDATE``). The everyday suite runs
a few rounds; the slow suite runs hundreds, and 4 processes × 50 operations on the same orders.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.app import Kanjo, open_app, sandbox_db_path
from core.clock import FixedClock
from core.errors import UserError
from core.gateway import SANDBOX_PUBLIC_KEY_ID, ensure_sandbox_key
from core.journal import UNKNOWN
from core.payment_rules import IN_PROGRESS_MESSAGE, UNSETTLED_MESSAGE
from core.queries import load_order
from core.sandbox.backend import SandboxBackend
from core.sandbox.server import SandboxServer
from tests.conftest import NOW
from tests.helpers import place_order

ROOT = Path(__file__).resolve().parents[2]
TOTAL = 3_840
REFUND = 2_000


@dataclass
class World:
    app: Kanjo
    backend: SandboxBackend
    url: str
    home: Path
    db: str  # the store's URL: a SQLite file in home, or a PostgreSQL database
    kind: str  # "sqlite" or "postgresql"

    def rounds(self, everyday: int) -> int:
        """Fewer rounds on PostgreSQL in the everyday suite (each costs ~3 s); the slow suite runs hundreds."""
        return 1 if self.kind == "postgresql" else everyday

    def sandbox(self, number: str) -> dict[str, Any]:
        with self.app.sessions() as session:
            cp_id = load_order(session, number).charge_permission_id
        assert cp_id is not None
        return self.backend.snapshot(cp_id)


@pytest.fixture(params=["sqlite", "postgresql"])
def world(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[World]:
    clock = FixedClock(NOW)
    db = f"sqlite:///{tmp_path / 'kanjo.sqlite3'}"
    if request.param == "postgresql":
        db = str(request.getfixturevalue("pg_url"))
    # The state file the app of this data directory uses, so it finds the control secret beside it.
    backend = SandboxBackend(sandbox_db_path(db, {"KANJO_HOME": str(tmp_path)}), clock)
    _private, public = ensure_sandbox_key(tmp_path / "sandbox-key.pem")
    backend.register_public_key(SANDBOX_PUBLIC_KEY_ID, public.decode("ascii"))
    server = SandboxServer(backend).start()
    env = {"KANJO_HOME": str(tmp_path), "KANJO_SANDBOX_URL": server.url}
    app = open_app(db, clock=clock, environ=env)
    try:
        yield World(app, backend, server.url, tmp_path, db, request.param)
    finally:
        app.close()
        server.stop()


def _child(db: str, home: str, url: str, number: str, plan: list[str], start: Any, results: Any) -> None:
    """One process of the race: open the app, wait for the start signal, try each operation."""
    app = open_app(
        db,
        clock=FixedClock(NOW),
        environ={"KANJO_HOME": home, "KANJO_SANDBOX_URL": url},
        gateway_options={"retry_delays": (0.0, 0.0, 0.0)},
    )
    app.gateway()  # connect before the start, so the race is between the operations
    start.wait()
    for action in plan:
        try:
            result = app.payments.capture(number) if action == "capture" else app.payments.refund(number, REFUND)
            results.put((os.getpid(), action, result.outcome, result.message))
        except UserError as exc:
            results.put((os.getpid(), action, "refused", exc.message))
    app.close()


def race(world: World, number: str, plans: list[list[str]]) -> list[tuple[int, str, str, str]]:
    context = multiprocessing.get_context("fork")
    start = context.Event()
    results = context.Queue()
    children = [
        context.Process(target=_child, args=(world.db, str(world.home), world.url, number, plan, start, results))
        for plan in plans
    ]
    for child in children:
        child.start()
    start.set()
    expected = sum(len(plan) for plan in plans)
    outcomes = [results.get(timeout=120) for _ in range(expected)]
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0
    return outcomes


def check_round(world: World, number: str, outcomes: list[tuple[int, str, str, str]]) -> None:
    snapshot = world.sandbox(number)
    charges = snapshot["charges"]
    captured = sum(int(c["captureAmount"]["amount"]) for c in charges if c["captureAmount"])
    refunded = sum(int(r["refundAmount"]["amount"]) for r in snapshot["refunds"])
    assert captured <= TOTAL, snapshot
    assert refunded <= captured, (refunded, captured, outcomes)
    # Every capture request that reached Amazon, answered or refused: a loser must be stopped
    # here, not by Amazon's 422.
    capture_calls = [c for c in world.backend.calls() if c["path"].endswith("/capture") and not c["replayed"]]
    charge_ids = {c["chargeId"] for c in charges}
    per_charge = [sum(1 for call in capture_calls if charge_id in call["path"]) for charge_id in charge_ids]
    assert all(n <= 1 for n in per_charge), (per_charge, outcomes)  # never two captures of one charge
    for _pid, action, outcome, message in outcomes:
        assert outcome != UNKNOWN, message
        assert UNSETTLED_MESSAGE not in message, message  # the loser is never told 結果不明
        assert outcome in ("succeeded", "refused"), (outcome, message)  # nothing sent in vain
        if outcome == "refused" and action == "refund":
            assert message == IN_PROGRESS_MESSAGE or "返金" in message, message
    assert world.app.payments.pending(number) == []
    detail = world.app.orders.detail(number)
    assert detail.captured == captured
    assert sum(r.amount for r in detail.refunds) == refunded  # refunds still settling at Amazon included


def run_rounds(world: World, rounds: int, processes: int, operations: int) -> list[str]:
    """Each round a new order; child i alternates capture/refund starting at i % 2."""
    messages: list[str] = []
    for round_no in range(rounds):
        number = f"RACE-{round_no:04d}"
        place_order(world.app, number, TOTAL)
        plans = [[("capture", "refund")[(i + k) % 2] for k in range(operations)] for i in range(processes)]
        outcomes = race(world, number, plans)
        check_round(world, number, outcomes)
        messages += [m for _p, _a, outcome, m in outcomes if outcome == "refused"]
    return messages


def test_refunds_and_captures_racing_in_processes_never_overshoot(world: World) -> None:
    messages = run_rounds(world, rounds=world.rounds(3), processes=4, operations=3)
    assert messages  # losers there were, and each was told why (checked per round)


def test_two_refunds_started_together_on_a_capture_refund_once(world: World) -> None:
    """The review's case: two 2,000円 refunds on a 3,840円 capture; one goes, one is refused."""
    for round_no in range(world.rounds(3)):
        number = f"TWO-{round_no}"
        place_order(world.app, number, TOTAL)
        assert world.app.payments.capture(number).ok
        outcomes = race(world, number, [["refund"], ["refund"]])
        check_round(world, number, outcomes)
        assert sorted(o[2] for o in outcomes) == ["refused", "succeeded"], outcomes
        assert [r.amount for r in world.app.orders.detail(number).refunds] == [REFUND]


def test_three_captures_started_together_capture_once(world: World) -> None:
    for round_no in range(world.rounds(4)):
        number = f"CAP-{round_no}"
        place_order(world.app, number, TOTAL)
        outcomes = race(world, number, [["capture"], ["capture"], ["capture"]])
        check_round(world, number, outcomes)
        assert [o[2] for o in outcomes].count("succeeded") == 1, outcomes
        assert world.app.orders.detail(number).captured == TOTAL


def test_the_command_line_loser_is_told_another_operation_is_in_progress(world: World) -> None:
    """Two `kanjo refund` processes: exit 0 and exit 1 with its reason on stderr, never exit 3."""
    number = "CLI-RACE"
    place_order(world.app, number, TOTAL)
    assert world.app.payments.capture(number).ok
    env = {
        **os.environ,
        "KANJO_HOME": str(world.home),
        "KANJO_SANDBOX_URL": world.url,
        "KANJO_NOW": NOW.isoformat(),
        "PYTHONPATH": str(ROOT),
    }
    command = [
        sys.executable,
        str(ROOT / "main.py"),
        "--db",
        world.db,
        "--json",
        "refund",
        number,
        "--amount",
        str(REFUND),
    ]
    procs = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)
    ]
    done = [
        (p.wait(timeout=120), p.stdout.read() if p.stdout else "", p.stderr.read() if p.stderr else "") for p in procs
    ]
    for p in procs:
        for stream in (p.stdout, p.stderr):
            if stream:
                stream.close()
    codes = sorted(code for code, _out, _err in done)
    assert codes == [0, 1], done
    winner = next(out for code, out, _err in done if code == 0)
    assert json.loads(winner)["ok"] is True
    loser = next(err for code, _out, err in done if code == 1)
    assert loser.startswith("kanjo: ") and loser.count("\n") == 1, loser
    assert "実行中" in loser or "返金できる" in loser, loser
    assert "送信していません" not in loser, loser  # stopped by the lock, not after reading Amazon
    assert [r.amount for r in world.app.orders.detail(number).refunds] == [REFUND]


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_hundreds_of_races(world: World) -> None:
    """1,600 operations in 100 races on SQLite, 960 in 60 on PostgreSQL (a round costs twice as
    long there; CI runs both within its 30 minutes)."""
    run_rounds(world, rounds=100 if world.kind == "sqlite" else 60, processes=4, operations=4)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_four_processes_fifty_refunds_and_captures_each_on_the_same_orders(world: World) -> None:
    """Issue 14's "done when": 4 processes × 50 operations, on each of a few orders; nothing over
    captured, no capture twice, every loser told why (checked per order by check_round)."""
    messages = run_rounds(world, rounds=5, processes=4, operations=50)
    assert messages
