"""The journal cannot be rewritten (issue 10, item 7): not by UPDATE or DELETE (0001), and not
by the paths SQLite offers around those triggers: INSERT OR REPLACE / REPLACE INTO on an
existing id or idempotency key (REPLACE deletes without firing DELETE triggers unless
recursive_triggers is on), an upsert's DO UPDATE, UPDATE OR REPLACE. Checked through the app's
engine and through a bare sqlite3 connection (another tool, without our pragmas)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from core.app import Kanjo
from core.db.engine import head_revision, make_engine, migrate, migrate_to
from core.db.revision import head_from_files

KEY = "a" * 32

REWRITES = {
    "update": "UPDATE journal SET detail = 'rewritten' WHERE id = 1",
    "delete": "DELETE FROM journal WHERE id = 1",
    "insert or replace (id)": (
        "INSERT OR REPLACE INTO journal(id, at, actor, action, phase, detail) "
        "VALUES (1, '2026-11-21 03:00:00', 'x', 'capture', 'intent', 'rewritten')"
    ),
    "replace into (id)": (
        "REPLACE INTO journal(id, at, actor, action, phase, detail) "
        "VALUES (1, '2026-11-21 03:00:00', 'x', 'capture', 'intent', 'rewritten')"
    ),
    "insert or replace (idempotency key)": (
        "INSERT OR REPLACE INTO journal(at, actor, action, phase, idempotency_key, detail) "
        f"VALUES ('2026-11-21 03:00:00', 'x', 'capture', 'intent', '{KEY}', 'rewritten')"
    ),
    "upsert on id": (
        "INSERT INTO journal(id, at, actor, action, phase, detail) "
        "VALUES (1, '2026-11-21 03:00:00', 'x', 'capture', 'intent', 'n') "
        "ON CONFLICT(id) DO UPDATE SET detail = 'rewritten'"
    ),
    "upsert on idempotency key": (
        "INSERT INTO journal(at, actor, action, phase, idempotency_key, detail) "
        f"VALUES ('2026-11-21 03:00:00', 'x', 'capture', 'intent', '{KEY}', 'n') "
        "ON CONFLICT(idempotency_key) DO UPDATE SET detail = 'rewritten'"
    ),
    "update or replace": "UPDATE OR REPLACE journal SET detail = 'rewritten' WHERE id = 1",
    "update or replace onto another id": "UPDATE OR REPLACE journal SET id = 1 WHERE id = 2",
}


def _seed(execute: Callable[[str], object]) -> None:
    execute(
        "INSERT INTO journal(id, at, actor, action, phase, idempotency_key, detail) "
        f"VALUES (1, '2026-11-21 03:00:00', 'operator', 'capture', 'intent', '{KEY}', 'original')"
    )
    execute(
        "INSERT INTO journal(id, at, actor, action, phase, detail) "
        "VALUES (2, '2026-11-21 03:00:01', 'operator', 'capture', 'outcome', 'second')"
    )


def _rows(path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT id, idempotency_key, detail FROM journal ORDER BY id").fetchall()


ORIGINAL = [(1, KEY, "original"), (2, None, "second")]


@pytest.mark.parametrize("name", list(REWRITES))
def test_every_rewrite_is_refused_through_the_app_engine(app: Kanjo, home: Path, name: str) -> None:
    with app.engine.begin() as connection:
        _seed(lambda sql: connection.execute(text(sql)))
    with app.engine.begin() as connection, pytest.raises(DatabaseError, match="append-only"):
        connection.execute(text(REWRITES[name]))
    assert _rows(home / "kanjo.sqlite3") == ORIGINAL


@pytest.mark.parametrize("name", list(REWRITES))
def test_every_rewrite_is_refused_by_another_tool_without_our_pragmas(tmp_path: Path, name: str) -> None:
    path = tmp_path / "kanjo.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    db = sqlite3.connect(path, isolation_level=None)  # recursive_triggers off, as in the sqlite3 shell
    try:
        assert db.execute("PRAGMA recursive_triggers").fetchone() == (0,)
        _seed(db.execute)
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute(REWRITES[name])
    finally:
        db.close()
    assert _rows(path) == ORIGINAL


def test_appending_still_works_and_an_existing_store_gets_the_guard_on_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "kanjo.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    migrate_to(engine, "0003")
    engine.dispose()
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)  # 0003 → head, as a store of an earlier release is upgraded
    engine.dispose()
    db = sqlite3.connect(path, isolation_level=None)
    try:
        triggers = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        assert {"journal_no_update", "journal_no_delete", "journal_no_replace"} <= triggers
        _seed(db.execute)
        db.execute(  # a plain append with a fresh id and key is still fine
            "INSERT INTO journal(at, actor, action, phase, idempotency_key, detail) "
            f"VALUES ('2026-11-21 03:00:02', 'operator', 'capture', 'intent', '{'b' * 32}', 'third')"
        )
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute(REWRITES["replace into (id)"])
    finally:
        db.close()
    assert [row[2] for row in _rows(path)] == ["original", "second", "third"]
    assert head_revision(make_engine(f"sqlite:///{path}")) == head_from_files()


def test_a_fresh_store_has_the_guard_and_recursive_triggers(app: Kanjo) -> None:
    with app.engine.connect() as connection:
        assert connection.execute(text("PRAGMA recursive_triggers")).scalar() == 1
        names = set(connection.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())
    assert "journal_no_replace" in names
