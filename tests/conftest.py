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
from tests.pg import PgCluster, find_bindir, pg_required, unavailable_reason

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


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """One throwaway PostgreSQL cluster for the whole session (tests/pg.py); skipped without the
    server programs, except in CI (``CI`` / ``KANJO_REQUIRE_PG``), where that is a failure."""
    reason = unavailable_reason()
    if reason is not None:
        if pg_required():
            pytest.fail(f"PostgreSQL is required here (CI / KANJO_REQUIRE_PG): {reason}", pytrace=False)
        pytest.skip(reason)
    bindir = find_bindir()
    assert bindir is not None
    cluster = PgCluster.start(bindir)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> Iterator[str]:
    """A fresh PostgreSQL database at the newest schema, dropped after the test."""
    url = pg_cluster.new_database()
    try:
        yield url
    finally:
        pg_cluster.drop_database(url)


STORES = ("sqlite", "postgresql")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def any_store_url(request: pytest.FixtureRequest, home: Path) -> str:
    """The store URL, once for each kind of store: a SQLite file in ``home``, and a fresh
    PostgreSQL database. A module runs its ``app`` tests on both by overriding ``store_url``
    with this fixture (issue 14). The PostgreSQL runs of whole modules (about 2 minutes for
    test_operations and test_order_pages) belong to the slow suite, which CI runs; the
    everyday suite keeps tests/core/test_postgres_store.py and the lighter PostgreSQL races."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    return f"sqlite:///{home / 'kanjo.sqlite3'}"


@pytest.fixture
def store_url(home: Path) -> str:
    """The store the ``app`` fixture opens: a SQLite file in ``home`` (modules may override it)."""
    return f"sqlite:///{home / 'kanjo.sqlite3'}"


@pytest.fixture
def app(home: Path, clock: FixedClock, store_url: str) -> Iterator[Kanjo]:
    """The real core over a real store (SQLite file, or PostgreSQL where a module asks for both)
    and the in-process sandbox, with fast retries."""
    kanjo = open_app(
        store_url,
        clock=clock,
        environ={"KANJO_HOME": str(home)},
        gateway_options={"timeout": 2.0, "retry_delays": (0.0, 0.0, 0.0)},
    )
    try:
        yield kanjo
    finally:
        kanjo.close()
