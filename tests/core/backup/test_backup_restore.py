"""Issue 14 item 6: an online backup while another process writes, restore, and the restored
store equals its backup (every table's rows, the journal included)."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import core.backup.online as online
from core.app import open_app
from core.backup import list_backups, make_backup
from core.cli import main
from core.clock import FixedClock
from core.db.revision import head_from_files
from tests.core.test_cli_end_to_end import ROOT

NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def all_rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        tables = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return {t: sorted(connection.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in tables}


def count(path: Path, table: str) -> int:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as connection:
        return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_backup_while_another_process_writes_then_restore_equals_the_backup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    db = home / "kanjo.sqlite3"
    open_app(f"sqlite:///{db}", clock=FixedClock(NOW), environ={"KANJO_HOME": str(home)}).close()
    stop = tmp_path / "stop"
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("writer_child.py")), str(db), str(home), str(stop)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    monkeypatch.setattr(online, "STEP_PAGES", 2)  # many small steps, so the writer commits between them
    backups = []
    try:
        deadline = time.monotonic() + 30
        while count(db, "journal") < 6:
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.05)
        for i in range(3):
            before = count(db, "journal")
            result = make_backup(db, now=NOW + timedelta(seconds=i), data_dir=home)
            assert result is not None
            backups.append(result)
            assert child.poll() is None  # the writer was at work the whole time
            assert result.journal_rows >= before
        assert count(db, "journal") > backups[0].journal_rows  # it went on writing after the copy
    finally:
        stop.touch()
        _out, err = child.communicate(timeout=30)
    assert child.returncode == 0, err

    last = backups[-1]
    assert last.path.name == f"kanjo-20261121T030002Z-{head_from_files()}.sqlite3"  # named after the schema
    assert last.path.parent == home / "backups" and mode(last.path) == 0o600 and mode(home / "backups") == 0o700
    # rotation kept the newest of the day only
    assert [p.name for _b, p in list_backups(db, home)] == [last.path.name]
    with sqlite3.connect(last.path) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("PRAGMA foreign_key_check").fetchall() == []
        # a consistent snapshot: every order the copy holds has its captured charge and journal rows
        assert copy.execute(
            "SELECT count(*) FROM orders o WHERE o.number LIKE 'W%' AND NOT EXISTS "
            "(SELECT 1 FROM journal j WHERE j.order_number = o.number)"
        ).fetchone() == (0,)
    expected = all_rows(last.path)
    assert len(expected["journal"]) == last.journal_rows > 0

    fresh = tmp_path / "fresh"
    monkeypatch.setenv("KANJO_HOME", str(fresh))
    monkeypatch.setenv("KANJO_NOW", "2026-11-22T12:00:00+09:00")
    capsys.readouterr()
    assert main(["restore", str(last.path), "--yes", "--json"]) == 0
    assert '"previous": null' in capsys.readouterr().out
    restored = fresh / "kanjo.sqlite3"
    assert mode(restored) == 0o600
    assert all_rows(restored) == expected  # rows and journal, table by table
