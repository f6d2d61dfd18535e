"""Putting a backup back in place of the store (issue 14, item 6: ``kanjo restore FILE``).

Every check runs before anything is touched: the file must be a regular SQLite file, whole
(``PRAGMA integrity_check``), a Kanjo store (its tables and an ``alembic_version`` row) at a
schema revision this version knows. A newer revision is refused; an older one is migrated right
after the restore. The backup is first copied (backup API, 0600, checked) to a temporary file
beside the store; only then is the current store renamed aside to
``<store>.before-restore-<UTC time>`` (with its ``-wal``/``-shm``, nothing is deleted) and the
copy renamed into its place. The swap happens while this process holds SQLite's exclusive lock
on the current store, so a window or a command that has the store open makes the restore stop
with a message before anything changed.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.backup.online import _connect, _fsync_dir, copy_online, integrity_problem, read_snapshot
from core.db.errors import sqlite_file_problem
from core.errors import BadInput, UserError
from core.files import private_dir

_COMPANIONS = ("-wal", "-shm", "-journal")
_KANJO_TABLES = {"alembic_version", "orders", "journal", "settings"}


@dataclass(frozen=True)
class BackupInfo:
    file: Path
    revision: str
    head: str
    bytes: int
    orders: int
    journal_rows: int

    @property
    def needs_migration(self) -> bool:
        return self.revision != self.head


@dataclass(frozen=True)
class RestoreResult:
    store: Path
    source: Path
    revision: str
    migrated_to: str | None
    previous: Path | None

    def to_json(self) -> dict[str, Any]:
        return {
            "store": str(self.store),
            "from": str(self.source),
            "revision": self.revision,
            "migrated_to": self.migrated_to,
            "previous": None if self.previous is None else str(self.previous),
        }


def _known_revisions() -> tuple[set[str], str]:
    from alembic.script import ScriptDirectory

    from core.db.engine import MIGRATIONS_DIR

    scripts = ScriptDirectory(str(MIGRATIONS_DIR))
    head = scripts.get_current_head()
    assert head is not None
    return {s.revision for s in scripts.walk_revisions()}, head


def _unusable(file: Path, why: str) -> BadInput:
    return BadInput(f"{file} はKanjoのバックアップとして使えません({why})。何も変更していません。")


def _open_backup(file: Path) -> sqlite3.Connection:
    """Read-only; a WAL file whose -shm cannot be made is read as it lies on disk (immutable)."""
    try:
        connection = _connect(file, read_only=True)
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return connection
    except sqlite3.OperationalError:
        return _connect(file, immutable=True)


def inspect_backup(file: Path) -> BackupInfo:
    """Check that ``file`` can be restored by this version; raise a one-line ``BadInput`` if not."""
    if not os.path.lexists(file):
        raise BadInput(f"バックアップファイルが見つかりません: {file}")
    if file.is_dir():
        raise BadInput(f"{file} はフォルダです。バックアップファイルを指定してください。")
    problem = sqlite_file_problem(file)
    if problem is not None:
        if "壊れて" in problem.message and "SQLite" in problem.message:
            raise _unusable(file, "SQLiteのデータベースではありません")
        if "途中で切れて" in problem.message:
            raise _unusable(file, "ファイルが途中で切れています")
        if "壊れて" in problem.message:
            raise _unusable(file, "ファイルが壊れています")
        raise _unusable(file, "通常のファイルではないか、読めません")
    if file.stat().st_size == 0:
        raise _unusable(file, "空のファイルです")
    try:
        connection = _open_backup(file)
    except sqlite3.Error as exc:
        raise _unusable(file, "開けません") from exc
    try:
        try:
            tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if not tables >= _KANJO_TABLES:
                raise _unusable(file, "Kanjoのデータベースではありません")
            problem_text = integrity_problem(connection)
            if problem_text is not None:
                raise _unusable(file, "ファイルが壊れています。整合性検査で問題が見つかりました")
            snap = read_snapshot(connection)
            orders = int(connection.execute("SELECT count(*) FROM orders").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            raise _unusable(file, "ファイルが壊れています") from exc
    finally:
        connection.close()
    known, head = _known_revisions()
    if snap.revision is None:
        raise _unusable(file, "スキーマのバージョンが記録されていません")
    if snap.revision not in known:
        raise BadInput(
            f"{file} は新しいバージョンのKanjoで作成されたバックアップです(スキーマ {snap.revision}、"
            f"このKanjoは{head}まで)。新しいバージョンのKanjoで復元してください。何も変更していません。"
        )
    return BackupInfo(file, snap.revision, head, file.stat().st_size, orders, snap.journal_rows or 0)


def aside_path(store: Path, now: datetime) -> Path:
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    candidate = store.with_name(f"{store.name}.before-restore-{stamp}")
    seq = 2
    while os.path.lexists(candidate):
        candidate = store.with_name(f"{store.name}.before-restore-{stamp}.{seq}")
        seq += 1
    return candidate


def in_use(store: Path) -> UserError:
    return UserError(
        f"データベースは他のKanjo(画面または別のコマンド)が使用中のため復元できません: {store}。"
        "Kanjoの画面とコマンドをすべて終了してから、もう一度実行してください。何も変更していません。",
        code="store_in_use",
    )


@contextlib.contextmanager
def _exclusive(store: Path) -> Any:
    """Hold SQLite's exclusive lock on the current store (no other connection may have it open);
    a store SQLite cannot read at all (damaged) has nobody to lock out and yields None."""
    if not store.exists():
        yield None
        return
    guard = sqlite3.connect(str(store), timeout=0.5, isolation_level=None)
    try:
        try:
            guard.execute("PRAGMA locking_mode=EXCLUSIVE")
            guard.execute("BEGIN EXCLUSIVE")
            guard.execute("SELECT count(*) FROM sqlite_master").fetchone()
            guard.execute("COMMIT")
            # Fold the WAL into the file and leave rollback mode: the store set aside is one whole file.
            guard.execute("PRAGMA journal_mode=DELETE")
            guard.execute("BEGIN EXCLUSIVE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise in_use(store) from exc
            guard.close()
            yield None
            return
        except sqlite3.DatabaseError:
            guard.close()
            yield None
            return
        yield guard
    finally:
        with contextlib.suppress(sqlite3.Error):
            guard.close()


def restore(file: Path, store: Path, *, now: datetime, data_dir: Path | None) -> RestoreResult:
    """Put ``file`` in place of ``store`` (see the module docstring); migrate an older schema."""
    info = inspect_backup(file)
    private_dir(store.parent, tighten_existing=False)  # a fresh data directory is created 0700
    tmp = store.with_name(f".{store.name}.restore-{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    source = _open_backup(file)
    try:
        copy_online(source, tmp)
    finally:
        source.close()
    previous: Path | None = None
    try:
        with _exclusive(store) as guard:
            if store.exists():
                previous = aside_path(store, now)
                if guard is not None and os.name == "nt":  # Windows renames no open file
                    guard.close()
                os.replace(store, previous)
                for companion in _COMPANIONS:
                    with contextlib.suppress(FileNotFoundError):
                        os.replace(
                            store.with_name(store.name + companion), previous.with_name(previous.name + companion)
                        )
            os.replace(tmp, store)
            _fsync_dir(store.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    migrated_to = None
    if info.needs_migration:
        from core.db.engine import make_engine, migrate

        engine = make_engine(f"sqlite:///{store}")
        try:
            migrate(engine, now=now, data_dir=data_dir)
        finally:
            engine.dispose()
        migrated_to = info.head
    return RestoreResult(store, file, info.revision, migrated_to, previous)
