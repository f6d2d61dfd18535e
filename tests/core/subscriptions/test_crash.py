"""``subscriptions generate`` killed at random points, then run again: every (contract, round) is
authorized exactly once at the sandbox (issue 12, "Done when").

Each kill forks a child that opens the app on the same SQLite file and runs the generation;
it dies (SIGKILL, no cleanup) at the Nth pass over one of the run's crash points: just after a
round's intent is journaled, just before the request is sent, after Amazon processed it but
before the outcome was recorded, or before the round was settled. N is random, so the kills
fall anywhere in the run. The parent then runs the generation again, as the operator would.
"""

from __future__ import annotations

import os
import random
import signal
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.app import Kanjo, open_app, sandbox_db_path
from core.clock import FixedClock
from core.db.schema import SubscriptionRound
from core.domain import OrderKind
from core.gateway import SANDBOX_PUBLIC_KEY_ID, ensure_sandbox_key
from core.sandbox.backend import SandboxBackend
from core.sandbox.server import SandboxServer
from tests.conftest import NOW
from tests.helpers import place_order

POINTS = ("authorize:after_intent", "authorize:before_send", "authorize:after_send", "generation:before_settle")
LATER = NOW + timedelta(days=31)  # every monthly contract placed at NOW is due


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Kanjo, str, Path, SandboxBackend, FixedClock]]:
    clock = FixedClock(NOW)
    db = tmp_path / "kanjo.sqlite3"
    backend = SandboxBackend(sandbox_db_path(f"sqlite:///{db}"), clock)
    _private, public = ensure_sandbox_key(tmp_path / "sandbox-key.pem")
    backend.register_public_key(SANDBOX_PUBLIC_KEY_ID, public.decode("ascii"))
    server = SandboxServer(backend).start()
    env = {"KANJO_HOME": str(tmp_path), "KANJO_SANDBOX_URL": server.url}
    app = open_app(f"sqlite:///{db}", clock=clock, environ=env)
    try:
        yield app, server.url, db, backend, clock
    finally:
        app.close()
        server.stop()


def kill_generate_in_child(db: Path, url: str, point: str, nth: int) -> int:
    pid = os.fork()
    if pid == 0:
        try:
            import core.services.operations as operations
            import core.subscriptions.service as service

            hits = {"n": 0}

            def crashpoint(name: str) -> None:
                if name == point:
                    hits["n"] += 1
                    if hits["n"] >= nth:
                        os.kill(os.getpid(), signal.SIGKILL)

            operations.crashpoint = crashpoint  # type: ignore[assignment]
            service.crashpoint = crashpoint  # type: ignore[assignment]
            env = {"KANJO_HOME": str(db.parent), "KANJO_SANDBOX_URL": url}
            child = open_app(f"sqlite:///{db}", clock=FixedClock(LATER), environ=env, daily_backup=False)
            child.subscriptions.generate()
        finally:
            os._exit(99)  # the run finished before the chosen point
    _pid, status = os.waitpid(pid, 0)
    return status


def _run(world: tuple[Kanjo, str, Path, SandboxBackend, FixedClock], contracts: int, kills: int) -> None:
    app, url, db, backend, clock = world
    for index in range(contracts):
        number = f"T{index:03d}"
        place_order(app, number, 2_000 + index, kind=OrderKind.SUBSCRIPTION)
        app.subscriptions.create(number, "1m")
    clock.set(LATER)  # the app's, the sandbox's: the shared clock
    rng = random.Random(12)
    killed = 0
    for _ in range(kills):
        status = kill_generate_in_child(db, url, rng.choice(POINTS), rng.randint(1, max(2, contracts // kills)))
        killed += os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert killed >= kills // 2  # most runs died at their point (a run may finish before it)
    report = app.subscriptions.generate()
    assert report.held == []
    with app.sessions() as session:
        assert session.scalar(select(func.count(SubscriptionRound.id))) == contracts
        states = set(session.scalars(select(SubscriptionRound.state)))
    assert states == {"authorized"}
    for index in range(contracts):
        snapshot = backend.snapshot(backend.cp_for_order(f"T{index:03d}"))
        live = [c for c in snapshot["charges"] if c["statusDetails"]["state"] != "Declined"]
        assert len(live) == 2, f"T{index:03d}"  # the checkout and round 2, exactly once
    assert all(v.rounds_done == 2 for v in app.subscriptions.contracts())


def test_generate_killed_three_times_over_twenty_contracts_authorizes_each_round_once(
    world: tuple[Kanjo, str, Path, SandboxBackend, FixedClock],
) -> None:
    _run(world, 20, 3)


@pytest.mark.slow
def test_generate_killed_thirty_times_over_two_hundred_contracts_authorizes_each_round_once(
    world: tuple[Kanjo, str, Path, SandboxBackend, FixedClock],
) -> None:
    _run(world, 200, 30)
