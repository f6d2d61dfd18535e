"""Customer data is readable only by the user who runs Kanjo (issue 10, item 5): under the usual
umask 022 the data directory is 0700 and the store, its WAL and shared memory, the sandbox's
state, the sandbox key, backups and the error log are 0600 from creation; an older, too-open
data directory is tightened at start; the error log holds no customer data."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.app import open_app
from core.clock import FixedClock
from core.db.engine import FIRST_RELEASED_REVISION, make_engine, migrate_to
from core.gateway import ensure_sandbox_key
from core.sandbox.people import person_for
from tests.conftest import NOW
from tests.helpers import place_order

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(autouse=True)
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_a_new_data_directory_and_every_file_in_it_are_private(home: Path) -> None:
    app = open_app(
        None,  # the default store in the data directory (KANJO_HOME)
        clock=FixedClock(NOW),
        gateway_options={"timeout": 2.0, "retry_delays": (0.0, 0.0, 0.0)},
    )
    try:
        place_order(app, "P1")  # starts the in-process sandbox: its state file and key pair
        files = {p.name: mode(p) for p in home.iterdir()}
        # checked while the app is open, so the -wal and -shm files exist
        assert {"kanjo.sqlite3", "kanjo.sqlite3-wal", "kanjo.sqlite3-shm"} <= set(files)
        assert {"kanjo.sandbox.sqlite3", "sandbox-key.pem", "sandbox-key.pub.pem"} <= set(files)
    finally:
        app.close()
    assert mode(home) == 0o700
    assert {name: m for name, m in files.items() if m != 0o600} == {}
    assert not [p for p in home.iterdir() if p.name.endswith(".tmp")]


def test_an_open_data_directory_and_store_left_by_an_older_version_are_tightened(home: Path) -> None:
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    db = home / "kanjo.sqlite3"
    engine = make_engine(f"sqlite:///{db}")
    migrate_to(engine, FIRST_RELEASED_REVISION)
    engine.dispose()
    for path in (db, home / "sandbox-key.pem", home / "sandbox-key.pub.pem"):
        path.touch()
        os.chmod(path, 0o644)
    (home / "sandbox-key.pem").write_bytes(ensure_sandbox_key(home / "other-key.pem")[0])
    os.chmod(home / "sandbox-key.pem", 0o644)

    app = open_app(None, clock=FixedClock(NOW))
    try:
        app.gateway()  # reads the key pair: an open private key is tightened too
    finally:
        app.close()
    assert mode(home) == 0o700
    assert mode(db) == 0o600
    assert mode(home / "sandbox-key.pem") == 0o600
    backups = list((home / "backups").glob("kanjo-*-to-*.sqlite3"))  # the upgrade's copy of the store (issue 14)
    assert len(backups) == 1 and mode(backups[0]) == 0o600 and mode(home / "backups") == 0o700


def test_a_folder_chosen_with_db_is_created_private_but_an_existing_one_is_left_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o755)
    open_app(
        f"sqlite:///{shared / 'shop.sqlite3'}", clock=FixedClock(NOW), environ={"KANJO_HOME": str(tmp_path / "home")}
    ).close()
    assert mode(shared) == 0o755  # the operator's folder (it might be /tmp) is not ours to chmod
    assert mode(shared / "shop.sqlite3") == 0o600
    open_app(
        f"sqlite:///{tmp_path / 'new' / 'deeper' / 'shop.sqlite3'}",
        clock=FixedClock(NOW),
        environ={"KANJO_HOME": str(tmp_path / "home")},
    ).close()
    assert mode(tmp_path / "new") == 0o700 and mode(tmp_path / "new" / "deeper") == 0o700


def test_the_sandbox_key_is_created_private_without_a_window(tmp_path: Path) -> None:
    key = tmp_path / "keys" / "sandbox-key.pem"
    private, public = ensure_sandbox_key(key)
    assert private.startswith(b"-----BEGIN") and public.startswith(b"-----BEGIN PUBLIC KEY")
    assert mode(key) == 0o600 and mode(tmp_path / "keys") == 0o700
    assert sorted(p.name for p in key.parent.iterdir()) == ["sandbox-key.pem", "sandbox-key.pub.pem"]
    assert ensure_sandbox_key(key) == (private, public)  # made once


def test_the_error_log_is_private_and_names_no_customer(tmp_path: Path) -> None:
    """A bug while a customer's row is written: the log says what and where, not whose data."""
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KANJO_")}
    env.update({"KANJO_HOME": str(home), "KANJO_NOW": "2026-11-21T12:00:00+09:00", "PYTHONPATH": str(ROOT)})

    def kanjo(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(ROOT / "main.py"), *args],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert kanjo("init").returncode == 0
    import sqlite3

    with sqlite3.connect(home / "kanjo.sqlite3") as db:  # a bug: something refuses every new customer
        db.execute("CREATE TRIGGER bug BEFORE INSERT ON customers BEGIN SELECT RAISE(ABORT, 'bug'); END")
    result = kanjo("sandbox", "place-order", "--number", "PRIV-1", "--total", "1200")
    assert result.returncode == 70, result.stderr
    assert "予期しないエラー" in result.stderr and "Traceback" not in result.stderr
    log = home / "kanjo-error.log"
    assert mode(log) == 0o600 and mode(home) == 0o700
    text = log.read_text(encoding="utf-8")
    person = person_for("PRIV-1")
    assert "IntegrityError" in text and "core/services/orders.py" in text  # what and where
    for value in (person.name, person.email, person.phone, person.address, person.postal_code):
        assert value not in text
    assert "[parameters:" not in text and "[SQL:" not in text
