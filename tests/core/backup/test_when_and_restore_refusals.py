"""Issue 14 item 6: the daily backup at start (KANJO_NOW), the backup before a migration, the
`kanjo backup` command and every refusal of `kanjo restore` (one line, exit 1, nothing changed)."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.app import open_app
from core.backup import list_backups
from core.cli import main
from core.clock import FixedClock
from core.db.engine import head_revision, make_engine, migrate_to

NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def names(home: Path) -> list[str]:
    return [p.name for _b, p in list_backups(home / "kanjo.sqlite3", home)]


@pytest.fixture
def store(home: Path) -> Path:
    """An existing store with one order row's worth of settings (not new: the daily backup applies)."""
    open_app(None, clock=FixedClock(NOW)).close()  # created now: nothing to back up yet
    assert names(home) == []
    return home / "kanjo.sqlite3"


def test_the_daily_backup_is_made_at_start_once_a_day_with_kanjo_now(
    store: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KANJO_NOW", "2026-11-21T12:00:00+09:00")
    open_app(None).close()  # close waits for the background backup
    head = head_revision(make_engine(f"sqlite:///{store}"))
    assert names(home) == [f"kanjo-20261121T030000Z-{head}.sqlite3"]
    assert mode(home / "backups" / names(home)[0]) == 0o600
    monkeypatch.setenv("KANJO_NOW", "2026-11-22T11:00:00+09:00")  # 23 hours later: not due
    open_app(None).close()
    assert len(names(home)) == 1
    monkeypatch.setenv("KANJO_NOW", "2026-11-22T12:30:00+09:00")  # over a day: due
    open_app(None).close()
    assert names(home)[0] == f"kanjo-20261122T033000Z-{head}.sqlite3" and len(names(home)) == 2
    for day in range(2, 40):  # rotation over weeks: at most 7 daily + 4 weekly remain
        open_app(None, clock=FixedClock(NOW + timedelta(days=day, hours=1))).close()
    assert 7 <= len(names(home)) <= 11


def test_a_backup_is_made_before_a_migration_of_an_existing_store(home: Path) -> None:
    home.mkdir(mode=0o700)
    db = home / "kanjo.sqlite3"
    old = make_engine(f"sqlite:///{db}")
    migrate_to(old, "0004")
    head = head_revision(old)
    old.dispose()
    for _start in range(2):
        open_app(None, clock=FixedClock(NOW)).close()
    assert names(home) == [f"kanjo-20261121T030000Z-0004-to-{head}.sqlite3"]  # one per migration
    copy = home / "backups" / names(home)[0]
    assert mode(copy) == 0o600
    with sqlite3.connect(copy) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchone() == ("0004",)


def test_kanjo_backup_prints_where_size_and_revision_and_lists(
    store: Path, home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KANJO_NOW", "2026-11-21T12:00:00+09:00")
    assert main(["backup", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= {"path", "bytes", "revision", "at"} and Path(data["path"]).parent == home / "backups"
    out = home / "copy.sqlite3"
    assert main(["backup", "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out and mode(out) == 0o600
    assert main(["backup", "list", "--json"]) == 0
    assert [Path(b["path"]).name for b in json.loads(capsys.readouterr().out)] == [Path(data["path"]).name]
    assert main(["backup", "--out", str(out)]) == 1  # never overwrites
    assert "すでにあります" in capsys.readouterr().err


def _snapshot(home: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(home.rglob("*")) if p.is_file() and p.name != ".lock"}


def _refused(argv: list[str], home: Path, capsys: pytest.CaptureFixture[str], needle: str) -> None:
    before = _snapshot(home)
    capsys.readouterr()
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("kanjo: ") and needle in err, err
    assert "Traceback" not in err and "予期しない" not in err
    assert _snapshot(home) == before


def test_restore_refuses_bad_files_busy_stores_and_postgresql(
    store: Path, home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.sqlite3"
    assert main(["backup", "--out", str(good)]) == 0
    _refused(["restore", str(tmp_path / "missing.sqlite3"), "--yes"], home, capsys, "見つかりません")
    text = tmp_path / "notes.txt"
    text.write_text("これはデータベースではありません\n" * 20, encoding="utf-8")
    _refused(["restore", str(text), "--yes"], home, capsys, "SQLiteのデータベースではありません")
    damaged = tmp_path / "damaged.sqlite3"
    raw = bytearray(good.read_bytes())
    raw[4096 * 2 : 4096 * 2 + 200] = b"\xff" * 200  # a b-tree page scribbled over
    damaged.write_bytes(bytes(raw))
    _refused(["restore", str(damaged), "--yes"], home, capsys, "壊れています")
    cut = tmp_path / "cut.sqlite3"
    cut.write_bytes(good.read_bytes()[:5000])
    _refused(["restore", str(cut), "--yes"], home, capsys, "途中で切れています")
    foreign = tmp_path / "foreign.sqlite3"
    with sqlite3.connect(foreign) as connection:
        connection.execute("CREATE TABLE t(x)")
    _refused(["restore", str(foreign), "--yes"], home, capsys, "Kanjoのデータベースではありません")
    newer = tmp_path / "newer.sqlite3"
    newer.write_bytes(good.read_bytes())
    with sqlite3.connect(newer) as connection:
        connection.execute("UPDATE alembic_version SET version_num='0099'")
    _refused(["restore", str(newer), "--yes"], home, capsys, "新しいバージョンのKanjo")
    _refused(
        ["--db", "postgresql+psycopg://kanjo@localhost/shop", "restore", str(good), "--yes"], home, capsys, "pg_dump"
    )
    _refused(["--db", "postgresql+psycopg://kanjo@localhost/shop", "backup"], home, capsys, "pg_dump")
    _refused(["restore", str(good)], home, capsys, "--yes")  # without --yes: says what it would do
    app = open_app(None, clock=FixedClock(NOW), daily_backup=False)  # a window or command has it open
    try:
        app.orders.count()
        _refused(["restore", str(good), "--yes"], home, capsys, "使用中")
    finally:
        app.close()


def test_restore_keeps_the_current_store_aside_and_migrates_an_older_backup(
    store: Path, home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KANJO_NOW", "2026-11-21T12:00:00+09:00")
    current = store.read_bytes()
    old = tmp_path / "old.sqlite3"
    engine = make_engine(f"sqlite:///{old}")
    migrate_to(engine, "0004")
    engine.dispose()
    os.chmod(old, 0o644)
    assert main(["restore", str(old), "--yes", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    aside = home / "kanjo.sqlite3.before-restore-20261121T030000Z"
    assert result["previous"] == str(aside) and result["revision"] == "0004"
    assert aside.read_bytes()[100:] == current[100:] or aside.stat().st_size >= len(current)
    assert mode(store) == 0o600
    head = result["migrated_to"]
    with sqlite3.connect(store) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchone() == (head,)
    open_app(None).close()  # the restored store opens
