"""The process dies at each point of a capture and of a refund, 5 times over (50 in the slow suite); `recover` then
finishes the work and the sandbox holds every operation exactly once.

Each run forks a child that opens the app on the same SQLite file, points it at the sandbox
server of this process, and is killed (SIGKILL, no cleanup) at the crash point: just after
the intent is journaled, just before the request is sent, or after Amazon processed it but
before the outcome was recorded. The parent then recovers, as `kanjo recover` or the next
start would.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.app import Kanjo, open_app, sandbox_db_path
from core.clock import FixedClock
from core.gateway import SANDBOX_PUBLIC_KEY_ID, ensure_sandbox_key
from core.sandbox.backend import SandboxBackend
from core.sandbox.control import SandboxControl, read_control_secret
from core.sandbox.server import SandboxServer
from tests.conftest import NOW
from tests.helpers import place_order

ROUNDS = 5  # the slow suite (CI) runs 50
POINTS = ("after_intent", "before_send", "after_send")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Kanjo, str, Path]]:
    clock = FixedClock(NOW)
    # The state file the app of this data directory uses, so it finds the control secret beside it.
    backend = SandboxBackend(sandbox_db_path(f"sqlite:///{tmp_path / 'kanjo.sqlite3'}"), clock)
    _private, public = ensure_sandbox_key(tmp_path / "sandbox-key.pem")
    backend.register_public_key(SANDBOX_PUBLIC_KEY_ID, public.decode("ascii"))
    server = SandboxServer(backend).start()
    env = {"KANJO_HOME": str(tmp_path), "KANJO_SANDBOX_URL": server.url}
    app = open_app(f"sqlite:///{tmp_path / 'kanjo.sqlite3'}", clock=clock, environ=env)
    try:
        yield app, server.url, tmp_path
    finally:
        app.close()
        server.stop()


def crash_in_child(db: Path, url: str, action: str, point: str, number: str) -> int:
    """Run one operation in a forked child that is killed at ``action:point``; its wait status."""
    pid = os.fork()
    if pid == 0:  # the child: a fresh app, as a second start of the program would have
        try:
            os.environ["KANJO_CRASHPOINT"] = f"{action}:{point}"
            env = {"KANJO_HOME": str(db.parent), "KANJO_SANDBOX_URL": url}
            child = open_app(f"sqlite:///{db}", clock=FixedClock(NOW), environ=env)
            if action == "capture":
                child.payments.capture(number)
            else:
                child.payments.refund(number, 700, reason="crash test")
        finally:
            os._exit(99)  # reaching here means the crash point was never hit
    _pid, status = os.waitpid(pid, 0)
    return status


@pytest.mark.parametrize("rounds", [ROUNDS, pytest.param(50, marks=pytest.mark.slow)], ids=["everyday", "slow"])
@pytest.mark.parametrize("action", ["capture", "refund"])
def test_crash_at_every_point_then_recover_moves_money_exactly_once(
    world: tuple[Kanjo, str, Path], action: str, rounds: int
) -> None:
    app, url, home = world
    secret = read_control_secret(sandbox_db_path(f"sqlite:///{home / 'kanjo.sqlite3'}"))
    control = SandboxControl(url, secret=secret)
    numbers = [f"{action[0].upper()}{i:03d}-{p}" for i in range(rounds) for p in range(len(POINTS))]
    for number in numbers:
        place_order(app, number, 2_000)
        if action == "refund":
            assert app.payments.capture(number).ok
    for index, number in enumerate(numbers):
        point = POINTS[index % len(POINTS)]
        status = crash_in_child(home / "kanjo.sqlite3", url, action, point, number)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (number, point, status)
        assert len(app.payments.pending(number)) == 1
        assert [r.outcome for r in app.payments.recover(number)] == ["succeeded"]
        assert app.payments.pending(number) == []
        snapshot = control.snapshot(number)
        detail = app.orders.detail(number)
        if action == "capture":
            assert [c["captureAmount"]["amount"] for c in snapshot["charges"]] == ["2000"]
            assert detail.captured == 2_000
        else:
            assert [r["refundAmount"]["amount"] for r in snapshot["refunds"]] == ["700"]
            assert [r.amount for r in detail.refunds] == [700]
    processed = [
        c
        for c in control.calls()
        if not c["replayed"]
        and c["status"] == 200
        and c["path"].endswith("/capture" if action == "capture" else "/refunds")
    ]
    assert len(processed) == len(numbers)  # one processed request per operation, replays aside
    control.close()
