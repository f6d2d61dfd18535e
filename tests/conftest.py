"""Shared fixtures: a fixed clock, a fresh data directory, an app on a real SQLite file and sandbox."""

from __future__ import annotations

import os
import tempfile

if not os.environ.get("QT_QPA_PLATFORM"):  # before anything imports Qt (an empty value counts as unset)
    os.environ["QT_QPA_PLATFORM"] = "offscreen"

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.app import Kanjo, open_app
from core.clock import FixedClock

NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)  # 12:00 in Tokyo


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true", help="also run tests marked slow (packaging)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with `python3 dev.py test --slow -m slow`")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    """Where a test sandbox keeps its SQLite file: in RAM (/dev/shm) when there is one, which spares
    the disk sync of every commit; otherwise pytest's tmp_path."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    with tempfile.TemporaryDirectory(dir=shm, prefix="kanjo-test-sandbox-") as path:
        yield Path(path)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh per-test data directory; nothing leaks into the user's real one."""
    path = tmp_path / "home"
    monkeypatch.setenv("KANJO_HOME", str(path))
    monkeypatch.delenv("KANJO_NOW", raising=False)
    monkeypatch.delenv("KANJO_SANDBOX_URL", raising=False)
    monkeypatch.delenv("KANJO_CRASHPOINT", raising=False)
    return path


@pytest.fixture
def app(home: Path, clock: FixedClock) -> Iterator[Kanjo]:
    """The real core over a real SQLite file and the in-process sandbox, with fast retries."""
    kanjo = open_app(
        f"sqlite:///{home / 'kanjo.sqlite3'}",
        clock=clock,
        environ={"KANJO_HOME": str(home)},
        gateway_options={"timeout": 2.0, "retry_delays": (0.0, 0.0, 0.0)},
    )
    try:
        yield kanjo
    finally:
        kanjo.close()
