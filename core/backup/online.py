"""Online backups of a SQLite store with SQLite's backup API (issue 14, item 6).

The copy reads one snapshot of the store: the source connection opens a read transaction and
the backup runs inside it in steps of ``STEP_PAGES`` pages. On a WAL store (Kanjo's are) a
reader never blocks a writer, so the window and other ``kanjo`` processes keep writing while
the copy is made, and the copy is the store exactly as it was at one commit. (Without the held
snapshot SQLite would restart the copy whenever another process commits, which a busy store
does all the time.) A store in rollback-journal mode is copied in one step, so its shared lock
is held once, for the copy's length.

Each backup is written private (0600) under a temporary name, synced, checked and renamed:
``PRAGMA integrity_check`` on the copy, the same schema revision, the same number of journal
rows and the same last journal row as the snapshot it was read from. Only then does it get its
real name, so a file with a backup's name is always a whole, checked copy.

Backups of the default store live in ``<data dir>/backups/``; a store elsewhere keeps them
beside it in ``<store>.backups/``. Writing into that folder is serialised between processes
by a lock file, so two starts on the same morning make one daily backup, not two.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from core.backup.rotation import SUFFIX, BackupName, backup_name, parse_backup_name, plan_rotation
from core.errors import UserError
from core.files import PRIVATE_FILE_MODE, create_private_file, private_dir

log = logging.getLogger(__name__)

STEP_PAGES = 1024  # 4 MiB per step with 4 KiB pages
DAILY = timedelta(days=1)
LOCK_NAME = ".lock"
BUSY_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class BackupResult:
    path: Path
    bytes: int
    revision: str
    at: datetime
    journal_rows: int

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "bytes": self.bytes, "revision": self.revision, "at": self.at.isoformat()}


@dataclass(frozen=True)
class Snapshot:
    """What the copy must hold: read from the source inside the snapshot that was copied."""

    revision: str | None
    journal_rows: int | None
    last_journal: tuple[Any, ...] | None


class BackupFailed(UserError):
    code = "backup_failed"


def backup_dir_for(store: Path, data_dir: Path | None) -> Path:
    """``<data dir>/backups`` for a store in the data directory, else ``<store>.backups`` beside it."""
    if data_dir is not None:
        with contextlib.suppress(OSError):
            if store.parent.resolve() == data_dir.resolve():
                return data_dir / "backups"
    return store.with_name(store.name + ".backups")


def list_backups(store: Path, data_dir: Path | None) -> list[tuple[BackupName, Path]]:
    """The store's backups, newest first."""
    folder = backup_dir_for(store, data_dir)
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    parsed = [p for p in (parse_backup_name(n, store.stem) for n in names) if p is not None]
    return [(p, folder / p.name) for p in sorted(parsed, reverse=True)]


def _connect(path: Path, *, read_only: bool = False, immutable: bool = False) -> sqlite3.Connection:
    query = "?immutable=1" if immutable else ("?mode=ro" if read_only else "")
    connection = sqlite3.connect(
        f"file:{quote(str(path))}{query}", uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None
    )
    connection.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
    return connection


def read_snapshot(connection: sqlite3.Connection) -> Snapshot:
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    revision: str | None = None
    if "alembic_version" in tables:
        rows = connection.execute("SELECT version_num FROM alembic_version").fetchall()
        revision = rows[0][0] if len(rows) == 1 else None
    if "journal" not in tables:
        return Snapshot(revision, None, None)
    count = connection.execute("SELECT count(*) FROM journal").fetchone()[0]
    last = connection.execute("SELECT * FROM journal ORDER BY id DESC LIMIT 1").fetchone()
    return Snapshot(revision, int(count), tuple(last) if last is not None else None)


def integrity_problem(connection: sqlite3.Connection) -> str | None:
    rows = connection.execute("PRAGMA integrity_check").fetchall()
    return None if [tuple(r) for r in rows] == [("ok",)] else "; ".join(str(r[0]) for r in rows[:3])


def _fsync_dir(folder: Path) -> None:
    if os.name == "nt":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def copy_online(source: sqlite3.Connection, target: Path, *, final: Path | None = None) -> Snapshot:
    """Copy the database open on ``source`` into the new file ``target`` (0600), check it, and
    rename it to ``final`` (when given). Returns the snapshot the copy equals.

    ``target`` must not exist. On any failure it is removed and the error raised.
    """
    if not create_private_file(target):
        raise FileExistsError(target)
    try:
        wal = str(source.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal"
        source.execute("BEGIN")  # one snapshot for the copy and for what it is checked against
        try:
            expected = read_snapshot(source)
            destination = sqlite3.connect(str(target), isolation_level=None)
            try:
                source.backup(destination, pages=STEP_PAGES if wal else -1)
                # A self-contained file: no -wal beside it is needed to read it, wherever it is moved.
                destination.execute("PRAGMA journal_mode=DELETE")
                problem = integrity_problem(destination)
                got = read_snapshot(destination)
            finally:
                destination.close()
        finally:
            source.execute("ROLLBACK")
        if problem is not None:
            raise BackupFailed(f"バックアップの検査で問題が見つかりました({problem}): {target}")
        if got != expected:
            raise BackupFailed(f"バックアップの内容が元のデータベースと一致しません(記録の件数・最後の記録): {target}")
        with open(target, "rb+") as handle:
            os.fsync(handle.fileno())
        if os.name != "nt":
            os.chmod(target, PRIVATE_FILE_MODE)
        if final is not None:
            os.replace(target, final)
            _fsync_dir(final.parent)
        return expected
    except BaseException:
        for leftover in (target, target.with_name(target.name + "-journal")):
            with contextlib.suppress(OSError):
                leftover.unlink()
        raise


@contextlib.contextmanager
def _folder_lock(folder: Path, *, wait: bool) -> Iterator[bool]:
    """An exclusive lock on ``folder/.lock`` between processes; yields False when ``wait`` is
    False and another process holds it."""
    create_private_file(folder / LOCK_NAME)
    fd = os.open(folder / LOCK_NAME, os.O_RDWR)
    try:
        if sys.platform == "win32":
            import msvcrt

            try:
                msvcrt.locking(fd, msvcrt.LK_LOCK if wait else msvcrt.LK_NBLCK, 1)
            except OSError:
                yield False
                return
            try:
                yield True
            finally:
                os.lseek(fd, 0, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            yield True
    finally:
        os.close(fd)


def _remove_stale_temporaries(folder: Path) -> None:
    """Temporary copies left by a process that died mid-backup (only the lock holder writes here)."""
    for name in os.listdir(folder):
        if (name.startswith(".") and name.endswith(".tmp")) or name.endswith(".tmp-journal"):
            with contextlib.suppress(OSError):
                (folder / name).unlink()


def _free_name(folder: Path, stem: str, at: datetime, revision: str, to_revision: str | None) -> Path:
    seq = 1
    while True:
        candidate = folder / backup_name(stem, at, revision, to_revision=to_revision, seq=seq)
        if not os.path.lexists(candidate):
            return candidate
        seq += 1


def make_backup(
    store: Path,
    *,
    now: datetime,
    data_dir: Path | None = None,
    out: Path | None = None,
    to_revision: str | None = None,
    wait: bool = True,
    only_if_due: bool = False,
) -> BackupResult | None:
    """Back up ``store`` now: into ``out`` (a new file) or into the store's backup folder, then
    rotate that folder. With ``only_if_due`` nothing is done when the newest backup is less than
    a day old or another process is backing up right now; returns None then."""
    source = _connect(store)
    try:
        if out is not None:
            if os.path.lexists(out):
                raise UserError(f"出力先のファイルがすでにあります: {out}。別の名前を指定してください。")
            tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
            snap = copy_online(source, tmp, final=out)
            return _result(out, snap, now)
        folder = private_dir(backup_dir_for(store, data_dir))
        with _folder_lock(folder, wait=wait) as locked:
            if not locked:
                return None
            if only_if_due and not is_due(store, data_dir, now):
                return None
            _remove_stale_temporaries(folder)
            revision = read_snapshot(source).revision or "none"
            final = _free_name(folder, store.stem, now, revision, to_revision)
            snap = copy_online(source, folder / f".{final.name}.{os.getpid()}.tmp", final=final)
            rotate(folder, store.stem, now, just_written=final.name)
            return _result(final, snap, now)
    finally:
        source.close()


def _result(path: Path, snap: Snapshot, now: datetime) -> BackupResult:
    return BackupResult(path, path.stat().st_size, snap.revision or "", now, snap.journal_rows or 0)


def rotate(folder: Path, stem: str, now: datetime, *, just_written: str | None = None) -> list[Path]:
    plan = plan_rotation(os.listdir(folder), now, stem=stem, just_written=just_written)
    removed = []
    for name in plan.remove:
        with contextlib.suppress(OSError):
            (folder / name).unlink()
            removed.append(folder / name)
    return removed


def is_due(store: Path, data_dir: Path | None, now: datetime) -> bool:
    """True when the store has no backup younger than a day (one dated over a day ahead of
    ``now`` does not count: the clock was set back and backups must not stop for it)."""
    return not any(now - DAILY < parsed.at <= now + DAILY for parsed, _path in list_backups(store, data_dir))


def backup_if_due(store: Path, *, now: datetime, data_dir: Path | None) -> BackupResult | None:
    """The daily backup: made when due, skipped when another process is making it."""
    if not is_due(store, data_dir, now):
        return None
    return make_backup(store, now=now, data_dir=data_dir, wait=False, only_if_due=True)


def before_migration(store: Path, *, now: datetime, data_dir: Path | None, current: str, head: str) -> Path | None:
    """The copy of a store about to be migrated from ``current`` to ``head``: one per migration.

    If one was made already (an earlier start was interrupted after it), it is kept and no other
    is made, so repeated starts never pile up copies of a large store."""
    if any(p.revision == current and p.to_revision == head for p, _path in list_backups(store, data_dir)):
        return None
    result = make_backup(store, now=now, data_dir=data_dir, to_revision=head)
    return None if result is None else result.path


__all__ = [
    "SUFFIX",
    "BackupFailed",
    "BackupResult",
    "backup_dir_for",
    "backup_if_due",
    "before_migration",
    "copy_online",
    "is_due",
    "list_backups",
    "make_backup",
    "rotate",
]
