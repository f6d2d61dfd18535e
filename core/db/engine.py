"""Engine, pragmas, migrations and sessions for the store."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from core import __version__
from core.db.errors import StoreError, check_writable, sqlite_file_problem
from core.db.search_index import folded_name_pairs
from core.files import create_private_file, private_dir, tighten
from core.search_text import fold, phone_digits

# Alembic is imported where a migration is read or run, not at start-up (issue 10 item 16):
# the app checks the revision cheaply (core/db/revision.py) and loads alembic only to migrate.
if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL, or None for another database or an in-memory one."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def make_engine(url: str) -> Engine:
    path = sqlite_path(url)
    if path is not None and not make_url(url).query.get("uri"):
        prepare_sqlite_file(path)
    # hide_parameters: an error's text never carries the values of a statement (customer data).
    options: dict[str, Any] = {}
    if make_url(url).get_backend_name() == "postgresql":
        # A shared server: connections dropped by the server or a network blip are replaced.
        options["pool_pre_ping"] = True
    engine = create_engine(url, future=True, hide_parameters=True, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    elif engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _postgresql_session)
    return engine


# How long a statement waits for another operator's lock before the store is reported busy
# (SQLite's busy_timeout is the same 10 s). The per-order lock is held for milliseconds.
LOCK_TIMEOUT_MS = 10_000


def _postgresql_session(dbapi_connection: Any, _record: Any) -> None:
    """Every connection works in UTC (times are stored as naive UTC, as on SQLite) and gives up
    waiting for a lock after ``LOCK_TIMEOUT_MS``."""
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'UTC'")
            cursor.execute(f"SET lock_timeout = {LOCK_TIMEOUT_MS}")
            # The desk's queries read a page or a count through an index: compiling them (JIT)
            # costs more than it saves (16 ms on a 1,000,000-order list read).
            with contextlib.suppress(Exception):  # a server without the setting (before 11)
                cursor.execute("SET jit = off")
    finally:
        dbapi_connection.autocommit = autocommit


def prepare_sqlite_file(path: Path) -> None:
    """Before SQLite opens ``path``: refuse a damaged or read-only file, create a new one 0600.

    SQLite creates its ``-wal`` and ``-shm`` files with the main file's permissions, so making
    the main file 0600 before SQLite first opens it keeps all three private under any umask;
    an older, too-open store and its companions are tightened (issue 10, items 5 and 9).
    The file is only read here (its header), never written or "repaired".
    """
    private_dir(path.parent, tighten_existing=False)
    problem = sqlite_file_problem(path) or check_writable(path)
    if problem is not None:
        raise problem
    create_private_file(path)
    for companion in ("-wal", "-shm", "-journal"):
        tighten(path.with_name(path.name + companion))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The order list's search fold (issue 16 item 6): the index triggers call these, so every
    # connection that writes orders or customers must be made here (core.search_text).
    dbapi_connection.create_function("kanjo_fold", 1, fold, deterministic=True)
    dbapi_connection.create_function("kanjo_digits", 1, phone_digits, deterministic=True)
    dbapi_connection.create_function("kanjo_pairs", 2, folded_name_pairs, deterministic=True)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # REPLACE conflict resolution deletes the old row; only with recursive triggers does that
    # delete fire the journal's DELETE trigger, so INSERT OR REPLACE cannot rewrite it (issue 10).
    cursor.execute("PRAGMA recursive_triggers=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    # 32 MiB of page cache per connection (SQLite's default is 2 MiB): a large import or list
    # page then finds its index pages in memory instead of reading them again.
    cursor.execute("PRAGMA cache_size=-32768")
    cursor.close()


def _alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(engine: Engine) -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config(engine)).get_current_head()
    assert head is not None
    return head


FIRST_RELEASED_REVISION = "0001"  # the schema of the first release (0.1.0); upgrades start here


def migrate_to(engine: Engine, revision: str) -> None:
    """Bring the schema to ``revision`` exactly (tests build older databases with it)."""
    from alembic import command

    command.upgrade(_alembic_config(engine), revision)


def known_revisions(engine: Engine) -> set[str]:
    from alembic.script import ScriptDirectory

    return {script.revision for script in ScriptDirectory.from_config(_alembic_config(engine)).walk_revisions()}


def newer_database(path_or_url: object, revision: str) -> StoreError:
    return StoreError(
        f"このデータベースは新しいバージョンのKanjoで作成されています(スキーマ {revision}、このKanjo {__version__} は"
        f"{FIRST_RELEASED_REVISION}〜の既知のスキーマのみ扱えます): {path_or_url}。"
        "ファイルには手を加えていません。新しいバージョンのKanjoで開いてください。",
        code="store_newer",
    )


def migrate(engine: Engine, *, now: datetime | None = None, data_dir: Path | None = None) -> Path | None:
    """Bring the schema to the newest revision.

    A store whose revision this version does not know was made by a newer Kanjo: it is refused
    (``StoreError``) before anything is copied or changed. An existing SQLite file on an older
    revision is backed up first, once per migration, with SQLite's backup API into its backup
    folder (``core.backup``: ``<data dir>/backups/kanjo-<UTC>-<from>-to-<to>.sqlite3``, 0600,
    checked; for a store outside ``data_dir``, ``<store>.backups/``). If that backup already
    exists (an earlier start was interrupted), it is kept and no other is made, so starts never
    pile up copies of a large store. Returns the backup's path when this call made one.
    """
    backup: Path | None = None
    current = current_revision(engine)
    head = head_revision(engine)
    if current == head:
        return None
    path = sqlite_path(str(engine.url))
    if current is not None and current not in known_revisions(engine):
        raise newer_database(path or engine.url.render_as_string(hide_password=True), current)
    if current is not None and path is not None and path.exists():
        from core.backup import before_migration

        moment = now or datetime.now(UTC)
        backup = before_migration(path, now=moment, data_dir=data_dir, current=current, head=head)
    from alembic import command

    command.upgrade(_alembic_config(engine), "head")
    return backup


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
