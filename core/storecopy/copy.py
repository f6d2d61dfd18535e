"""Copy a SQLite store into an empty PostgreSQL database and verify it (issue 14 item 5).

``kanjo store copy --to URL`` and the window's 「共有データベースへ移行…」 both call
:func:`copy_store`:

1. The source is opened **read-only** (``mode=ro``) and read inside one read transaction, so
   the copy is one consistent snapshot even while a window still writes (WAL), and nothing
   in the source can change. It must be at the newest schema (a store is migrated by opening
   it with this Kanjo, which backs it up first; the copy itself never migrates the source).
2. The target must be PostgreSQL, reachable, and empty: no Kanjo table with a row. It is
   migrated to the newest revision (the same revisions as every store; an empty schema counts
   as empty), then every Kanjo table is locked against writers for the copy.
3. Every table is copied in dependency order (``Base.metadata.sorted_tables``), rows in primary
   key order, in chunks of ``CHUNK_ROWS``: rows are streamed from the source cursor and
   inserted chunk by chunk, so memory stays flat whatever the store's size. Ids are kept. The
   journal is only ever INSERTed (its append-only triggers stay on; an intent's id precedes its
   outcome's, so id order satisfies the journal's self-reference).
4. Sequences of integer ids are set past the copied ids.
5. Verification, before anything is committed: each table's row count in the target equals the
   number of rows read, and the SHA-256 of the journal (its rows in id order, read back from
   the target) equals the one computed over the source's rows.

All of steps 3–5 are one PostgreSQL transaction: a cancel (checked between chunks), a failure
or a mismatch rolls it back and leaves the target as empty as it was (its schema stays; an
empty schema is what a new store is). Only ``setval`` is not transactional: a rolled-back
copy may leave sequences advanced, which is harmless.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, Engine, Integer, Table, create_engine, event, func, inspect, select, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from core.db.engine import make_engine, migrate
from core.db.errors import StoreError, sqlite_file_problem
from core.db.revision import head_from_files
from core.db.schema import Base, JournalEntry
from core.errors import BadInput, UserError
from core.settings import VERSION_KEY

CHUNK_ROWS: Final = 2_000
JOURNAL: Final = JournalEntry.__tablename__

# (table, rows copied so far over all tables, rows to copy over all tables)
Progress = Callable[[str, int, int], None]


class CopyCancelled(UserError):
    code = "store_copy_cancelled"


class CopyRefused(UserError):
    code = "store_copy_refused"


@dataclass(frozen=True)
class CopyResult:
    tables: dict[str, int]
    journal_sha256: str
    to: str  # the target URL, a password (if any) hidden
    source: str = ""
    rows: int = field(default=0)

    def to_json(self) -> dict[str, Any]:
        return {"tables": dict(self.tables), "journal_sha256": self.journal_sha256, "to": self.to}


def kanjo_tables() -> list[Table]:
    """Kanjo's tables in dependency order (a table after those it refers to)."""
    return list(Base.metadata.sorted_tables)


def display_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


# --- the journal's hash ----------------------------------------------------------------------


def _canonical(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


class JournalHash:
    """SHA-256 over the journal's rows in id order: one JSON line per row, columns in the
    schema's order, times as ISO 8601 UTC. Fed the same rows, SQLite and PostgreSQL give the
    same digest, since both are read through the same column types."""

    def __init__(self, columns: Sequence[str]) -> None:
        self._sha = hashlib.sha256()
        self._sha.update(json.dumps(list(columns), ensure_ascii=False).encode("utf-8") + b"\n")

    def add(self, rows: Iterable[Sequence[object]]) -> None:
        for row in rows:
            line = json.dumps([_canonical(v) for v in row], ensure_ascii=False, separators=(",", ":"))
            self._sha.update(line.encode("utf-8") + b"\n")

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


def _ordered(table: Table) -> Any:
    return select(table).order_by(*table.primary_key.columns)


def journal_sha256(connection: Connection) -> str:
    """The journal's hash in any store (read in id order, streamed)."""
    table = Base.metadata.tables[JOURNAL]
    digest = JournalHash([c.name for c in table.columns])
    # Per statement: Connection.execution_options would change the connection itself.
    result = connection.execute(_ordered(table), execution_options={"stream_results": True, "yield_per": CHUNK_ROWS})
    for chunk in result.partitions(CHUNK_ROWS):
        digest.add(chunk)
    return digest.hexdigest()


# --- source and target -------------------------------------------------------------------------


def open_source(path: Path) -> Engine:
    """A read-only engine over the SQLite file (``mode=ro``: no write can reach it)."""
    if not path.is_file():
        raise CopyRefused(f"コピー元のデータベースがありません: {path}")
    problem = sqlite_file_problem(path)
    if problem is not None:
        raise problem
    uri = f"{path.resolve().as_uri()}?mode=ro"

    def connect() -> sqlite3.Connection:
        # isolation_level=None: the explicit BEGIN below decides the one read snapshot.
        connection = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA busy_timeout=10000")
        return connection

    return create_engine("sqlite+pysqlite://", creator=connect, poolclass=StaticPool, hide_parameters=True)


def _source_revision(connection: Connection, path: Path) -> str:
    if not inspect(connection).has_table("alembic_version"):
        raise CopyRefused(f"コピー元はKanjoのデータベースではありません: {path}")
    rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    head = head_from_files()
    if len(rows) != 1 or rows[0] != head:
        found = rows[0] if len(rows) == 1 else "?"
        raise CopyRefused(
            f"コピー元のデータベースのスキーマ({found})がこのKanjoの最新({head})ではありません。"
            "先にこのKanjoで一度開いて(kanjo init)更新してから、もう一度コピーしてください。何も変更していません。"
        )
    return str(rows[0])


def open_target(url: str, password: str | None = None) -> Engine:
    """An engine over the PostgreSQL target; a URL of another kind is refused. ``password``
    (typed in the window, never part of the URL) goes to the driver at connect; without it the
    URL's, ``PGPASSWORD``, the keyring's or ``~/.pgpass`` is used (core.db_choice)."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise BadInput(f"コピー先のURLを読めません: {url}(例: postgresql+psycopg://USER@HOST:5432/DB)") from exc
    if parsed.get_backend_name() != "postgresql":
        raise BadInput(
            f"コピー先にはPostgreSQLのデータベースURLを指定してください: {display_url(url)}"
            "(例: postgresql+psycopg://USER@HOST:5432/DB)"
        )
    from core.db_choice import attach_keyring_password

    try:
        engine = make_engine(url)
    except Exception as exc:
        mapped = _target_error(exc, url)
        raise mapped from exc
    if password:

        def add_password(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
            cparams["password"] = password

        event.listen(engine, "do_connect", add_password)
    else:
        attach_keyring_password(engine)
    return engine


def _target_error(exc: BaseException, url: str) -> UserError:
    if isinstance(exc, UserError):
        return exc
    if isinstance(exc, ImportError):
        return StoreError(
            f"PostgreSQLのドライバー(psycopg)がインストールされていないため接続できません: {display_url(url)}"
        )
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        return CopyRefused(
            f"コピー先のPostgreSQLに接続できません: {display_url(url)}。サーバー・データベース名・ユーザー・"
            "パスワードを確認してください。何も変更していません。"
        )
    if isinstance(exc, sa_exc.ProgrammingError):  # e.g. no right to create the tables
        return CopyRefused(f"コピー先のデータベースに表を作成できません(権限を確認してください): {display_url(url)}。")
    return CopyRefused(f"コピー先のデータベースを使えません: {display_url(url)}({type(exc).__name__})")


def rows_in_target(connection: Connection) -> dict[str, int]:
    """Kanjo tables of the target that hold rows (a table that does not exist yet holds none)."""
    existing = set(inspect(connection).get_table_names())
    found: dict[str, int] = {}
    for table in kanjo_tables():
        if table.name not in existing:
            continue
        # The settings' version row is written by a migration (0008): an empty store has it.
        made = table.c.key == VERSION_KEY if table.name == "settings" else None
        statement = select(func.count()).select_from(table)
        count = int(connection.execute(statement.where(~made) if made is not None else statement).scalar_one())
        if count:
            found[table.name] = count
    return found


def _refuse_non_empty(found: dict[str, int], url: str) -> None:
    if found:
        listed = "、".join(f"{name} {count:,}行" for name, count in found.items())
        raise CopyRefused(
            f"コピー先のデータベースは空ではありません({listed}): {display_url(url)}。"
            "空のデータベースを指定してください。何も変更していません。"
        )


# --- the copy ------------------------------------------------------------------------------------


def copy_store(
    source: Path,
    target_url: str,
    *,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
    chunk_rows: int = CHUNK_ROWS,
    password: str | None = None,
) -> CopyResult:
    """Copy the SQLite store at ``source`` into the empty PostgreSQL database at ``target_url``.

    Raises ``UserError`` (one Japanese sentence) when it refuses or fails; the source is never
    written, and the target holds no row of the copy unless it all arrived and was verified.
    """
    target = open_target(target_url, password)
    source_engine: Engine | None = None
    try:
        source_engine = open_source(source)
        with source_engine.connect() as read:
            read.exec_driver_sql("BEGIN")  # one snapshot for every read below
            try:
                _source_revision(read, source)
                counts = {
                    t.name: int(read.execute(select(func.count()).select_from(t)).scalar_one()) for t in kanjo_tables()
                }
                try:
                    with target.connect() as check:
                        _refuse_non_empty(rows_in_target(check), target_url)
                    migrate(target)
                    with target.begin() as write:
                        return _copy(read, write, source, target_url, counts, progress, cancelled, chunk_rows)
                except UserError:
                    raise
                except sa_exc.DBAPIError as exc:
                    if getattr(exc.orig, "sqlstate", None) in ("55P03", "40P01"):
                        raise CopyRefused(
                            "コピー先のデータベースは他の処理で使用中です。Kanjoを閉じてからもう一度実行してください。"
                            "何も変更していません。"
                        ) from exc
                    if isinstance(exc, sa_exc.DataError | sa_exc.IntegrityError):
                        raise
                    raise _target_error(exc, target_url) from exc
            finally:
                read.exec_driver_sql("ROLLBACK")
    finally:
        if source_engine is not None:
            source_engine.dispose()
        target.dispose()


def _copy(
    read: Connection,
    write: Connection,
    source: Path,
    target_url: str,
    counts: dict[str, int],
    progress: Progress | None,
    cancelled: Callable[[], bool] | None,
    chunk_rows: int,
) -> CopyResult:
    tables = kanjo_tables()
    names = ", ".join(t.name for t in tables)
    write.exec_driver_sql(f"LOCK TABLE {names} IN EXCLUSIVE MODE")  # no other writer meanwhile
    _refuse_non_empty(rows_in_target(write), target_url)  # the same check, now under the lock
    # The migration's own settings version row gives way to the source's (copied with the rest).
    write.execute(text("DELETE FROM settings WHERE key = :key"), {"key": VERSION_KEY})
    total = sum(counts.values())
    done = 0
    copied: dict[str, int] = {}
    source_hash = ""
    for table in tables:
        digest = JournalHash([c.name for c in table.columns]) if table.name == JOURNAL else None
        rows_here = 0
        if progress is not None:
            progress(table.name, done, total)
        result = read.execute(_ordered(table))
        for chunk in result.partitions(chunk_rows):
            if cancelled is not None and cancelled():
                raise CopyCancelled("移行を中止しました。コピー先には何も書き込んでいません。")
            rows = [dict(row._mapping) for row in chunk]
            try:
                write.execute(table.insert(), rows)
            except (sa_exc.DataError, sa_exc.IntegrityError) as exc:
                key = ", ".join(str(rows[0].get(c.name)) for c in table.primary_key.columns)
                raise CopyRefused(
                    f"表 {table.name} の行(先頭のキー {key} から{len(rows)}行)をPostgreSQLに書き込めません"
                    f"({type(exc.orig).__name__}: 長すぎる値か、PostgreSQLで使えない文字があります)。"
                    "コピー先には何も残していません。"
                ) from exc
            if digest is not None:
                digest.add(chunk)
            rows_here += len(rows)
            done += len(rows)
            if progress is not None:
                progress(table.name, done, total)
        copied[table.name] = rows_here
        if digest is not None:
            source_hash = digest.hexdigest()
    _reset_sequences(write, tables)
    # Verify before committing: what the target holds now is exactly what will be committed.
    in_target = {t.name: int(write.execute(select(func.count()).select_from(t)).scalar_one()) for t in tables}
    target_hash = journal_sha256(write)
    if in_target != copied or copied != counts or target_hash != source_hash:
        differing = [n for n in counts if not (counts[n] == copied.get(n) == in_target.get(n))]
        raise CopyRefused(
            "コピーの検証に失敗しました("
            + ("行数が一致しない表: " + "、".join(differing) if differing else "記録(journal)のハッシュが一致しません")
            + ")。コピー先には何も残していません。"
        )
    if progress is not None:
        progress("", total, total)
    return CopyResult(
        tables=copied, journal_sha256=source_hash, to=display_url(target_url), source=str(source), rows=total
    )


def _reset_sequences(write: Connection, tables: Sequence[Table]) -> None:
    """PostgreSQL's id sequences continue after the copied ids (inserting ids does not move them)."""
    for table in tables:
        keys = list(table.primary_key.columns)
        if len(keys) != 1 or not isinstance(keys[0].type, Integer):
            continue
        column = keys[0].name
        sequence = write.execute(
            text("SELECT pg_get_serial_sequence(:table, :column)"), {"table": table.name, "column": column}
        ).scalar_one()
        if sequence is None:
            continue
        write.execute(
            text(
                f'SELECT setval(:seq, COALESCE((SELECT MAX("{column}") FROM "{table.name}"), 1), '
                f'(SELECT MAX("{column}") FROM "{table.name}") IS NOT NULL)'
            ),
            {"seq": sequence},
        )
