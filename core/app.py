"""Composition root of the core: store, settings, gateway and services for one database."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.clock import Clock, clock_from_env
from core.db.engine import make_engine, make_sessionmaker, migrate, sqlite_path
from core.db.errors import open_error
from core.db.revision import is_current
from core.environment import connection_environment
from core.errors import BadInput
from core.files import private_dir
from core.gateway import SANDBOX_URL_ENV, Gateway, open_gateway
from core.journal import Journal
from core.operator import normalize_operator_name, os_user_name
from core.services.orders import OrderService
from core.services.payments import PaymentService
from core.services.sync import SyncService
from core.settings import SettingsStore

if TYPE_CHECKING:
    from core.changes import ChangeFeed
    from core.imports.service import ImportService
    from core.services.messages import MessageService
    from core.shipping.service import ShippingService

DATA_DIR_ENV = "KANJO_HOME"
DB_FILE = "kanjo.sqlite3"


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Per-user data directory (``KANJO_HOME`` overrides it, e.g. for tests)."""
    env = os.environ if environ is None else environ
    if env.get(DATA_DIR_ENV):
        return Path(env[DATA_DIR_ENV]).expanduser()
    return platformdirs.user_data_path("kanjo", appauthor=False)


def secure_data_dir(environ: Mapping[str, str] | None = None, *, create: bool = True) -> Path:
    """The data directory, created 0700, or tightened to 0700 when an older Kanjo left it 0755.

    It holds customer data (the store, the sandbox's buyers, backups, the error log), so no
    other local user may list or read it (issue 10, item 5). No chmod on Windows (see core.files).
    """
    path = data_dir(environ)
    if create or path.exists():
        private_dir(path)
    return path


def default_db_url(environ: Mapping[str, str] | None = None) -> str:
    """The local SQLite store in the data directory."""
    return f"sqlite:///{data_dir(environ) / DB_FILE}"


def chosen_db_url(environ: Mapping[str, str] | None = None) -> str:
    """The store this PC opens without ``--db`` (issue 14 item 1): the shared PostgreSQL store
    chosen in 設定 → データベース (a per-PC file, core.db_choice), else the local SQLite store."""
    from core.db_choice import chosen_url

    return chosen_url(data_dir(environ)) or default_db_url(environ)


def sandbox_db_path(db_url: str, environ: Mapping[str, str] | None = None) -> Path:
    """Beside the store's file for a SQLite store, else in the data directory."""
    path = sqlite_path(db_url)
    if path is not None:
        return path.with_name(f"{path.stem}.sandbox.sqlite3")
    return data_dir(environ) / "sandbox.sqlite3"


@dataclass
class Kanjo:
    """Everything one running product needs; build with :func:`open_app`, close when done."""

    db_url: str
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock
    settings: SettingsStore
    orders: OrderService
    payments: PaymentService
    sync: SyncService
    sandbox_db: Path
    sandbox_url: str | None
    gateway_options: dict[str, object] = field(default_factory=dict)
    _gateway: Gateway | None = None
    _gateway_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _messages: MessageService | None = field(default=None, repr=False)
    _messages_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _imports: ImportService | None = field(default=None, repr=False)
    _shipping: ShippingService | None = field(default=None, repr=False)
    _backup_thread: threading.Thread | None = field(default=None, repr=False)
    _feeds: list[ChangeFeed] = field(default_factory=list, repr=False)
    journal: Journal = field(default_factory=Journal, repr=False)

    # --- who works at this PC (issue 14 item 3) ----------------------------------------------

    @property
    def operator_name(self) -> str:
        """The name recorded on every journal entry and message this app writes."""
        return self.journal.operator

    def operator_chosen(self) -> bool:
        """Whether this PC has its own operator name yet (the window asks at the first start)."""
        return self.settings.local is not None and self.settings.local.load() is not None

    def suggested_operator_name(self) -> str:
        """The first start's suggestion: a name an older version kept in the shared table, else
        the OS user name."""
        return _recorded_name(self.settings.load().operator_name)

    def set_operator_name(self, text: str) -> str:
        """Keep ``text`` as this PC's operator name (``BadInput`` in Japanese when blank or with a
        control character); what is written from now on carries it."""
        name = normalize_operator_name(text)
        if self.settings.local is not None:
            self.settings.local.save(name)
        self.journal.operator = name
        return name

    @property
    def imports(self) -> ImportService:
        """Orders from the shop's export, by Charge Permission ID, and linking (issue 11)."""
        with self._messages_lock:
            if self._imports is None:
                from core.imports.service import ImportService

                self._imports = ImportService(self.sessions, self.clock, self.gateway, self.settings, self.journal)
            return self._imports

    @property
    def shipping(self) -> ShippingService:
        """Shipping, the cancellation desk, returns and resale (issue 15)."""
        with self._messages_lock:
            if self._shipping is None:
                from core.shipping.service import ShippingService

                self._shipping = ShippingService(
                    self.sessions, self.clock, self.payments, lambda: self.messages, self.journal
                )
            return self._shipping

    @property
    def messages(self) -> MessageService:
        """Templates, composing and sending messages to customers (issue 5). Made on first use:
        its Jinja2 and mail modules are not needed for the window's first paint (issue 10 item 16)."""
        with self._messages_lock:
            if self._messages is None:
                from core.services.messages import MessageService

                journal = self.journal
                self._messages = MessageService(
                    self.sessions, self.clock, self.settings, operator=lambda: journal.operator
                )
            return self._messages

    def gateway(self) -> Gateway:
        """The connection for the settings as saved, opened on first use (any thread)."""
        with self._gateway_lock:
            if self._gateway is None:
                self._gateway = open_gateway(
                    self.settings.load(),
                    clock=self.clock,
                    sandbox_db=self.sandbox_db,
                    sandbox_url=self.sandbox_url,
                    **self.gateway_options,  # type: ignore[arg-type]
                )
            return self._gateway

    def connection_environment(self) -> str:
        """Where Amazon Pay calls go now (issue 11 item 8): the open connection's environment, or,
        before one is open, the one the saved settings will open (core.environment). While the
        window switches connections the old one stays open until the work queued on it is done,
        and that work is checked against it, not against the settings just saved."""
        with self._gateway_lock:
            gateway = self._gateway
        if gateway is not None:
            return gateway.environment
        return connection_environment(self.settings.load())

    def reset_gateway(self) -> Gateway:
        """Close the current connection and open one for the settings as saved now.

        Call it where money calls run (the window's work lane) so a call in flight finishes on
        the connection it started with. Raises ``UserError`` when the new settings cannot be
        used (an unreadable key file); the next call then tries again.
        """
        with self._gateway_lock:
            old, self._gateway = self._gateway, None
        if old is not None:
            old.close()
        return self.gateway()

    def start_daily_backup(self, data_directory: Path | None) -> threading.Thread | None:
        """Issue 14 item 6: back up a SQLite store once a day, on a thread of its own (never the
        window's GUI thread, never in a command's way). ``close`` waits for a backup under way:
        it reads one snapshot and never blocks a writer, and usually takes well under a second."""
        path = sqlite_path(self.db_url)
        if path is None:
            return None
        clock = self.clock

        def run() -> None:
            from core.backup import backup_if_due

            try:
                backup_if_due(path, now=clock.now(), data_dir=data_directory)
            except Exception as exc:  # a failed daily backup (a full disk) must not stop the app or a
                # command, nor print on its stderr: it is tried again at the next start. The type
                # only, never the text (it may carry a path or values; see core/bug_log.py).
                logging.getLogger(__name__).info("daily backup failed (%s)", type(exc).__name__)

        self._backup_thread = threading.Thread(target=run, name="kanjo-daily-backup", daemon=True)
        self._backup_thread.start()
        return self._backup_thread

    def change_feed(self, *, interval: float = 1.0) -> ChangeFeed:
        """Issue 14 item 4: a feed of the orders changed in the store by anyone (core/changes),
        not started yet. ``close`` stops every feed made here."""
        from core.changes import open_change_feed

        feed = open_change_feed(self.engine, interval=interval)
        self._feeds.append(feed)
        return feed

    def close(self) -> None:
        for feed in self._feeds:
            feed.stop()
        self._feeds.clear()
        if self._backup_thread is not None:
            self._backup_thread.join()
        with self._gateway_lock:
            old, self._gateway = self._gateway, None
        if old is not None:
            old.close()
        self.engine.dispose()

    def __enter__(self) -> Kanjo:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def open_app(
    db_url: str | None = None,
    *,
    clock: Clock | None = None,
    environ: Mapping[str, str] | None = None,
    gateway_options: dict[str, object] | None = None,
    daily_backup: bool = True,
) -> Kanjo:
    env = os.environ if environ is None else environ
    url = db_url or chosen_db_url(env)
    clock = clock or clock_from_env(dict(env))
    engine, new_store = _open_store(url, env, clock)
    sessions = make_sessionmaker(engine)
    settings = SettingsStore(sessions, local_dir=data_dir(env))
    # Issue 14 item 3: this PC's name, else (not chosen yet) one an older version kept in the
    # shared table, else the OS user's name: every entry says who wrote it.
    journal = Journal(operator=_recorded_name(settings.load().operator_name))

    def operator_changed(name: str) -> None:
        journal.operator = name

    settings.on_operator_changed = operator_changed
    holder: dict[str, Kanjo] = {}

    def gateway() -> Gateway:
        return holder["app"].gateway()

    def connection() -> str:
        return holder["app"].connection_environment()

    payments = PaymentService(sessions, clock, gateway, settings, journal, connection)
    app = Kanjo(
        db_url=url,
        engine=engine,
        sessions=sessions,
        clock=clock,
        settings=settings,
        orders=OrderService(sessions, clock, gateway, journal, connection),
        payments=payments,
        sync=SyncService(sessions, clock, gateway, payments, settings, journal, connection),
        sandbox_db=sandbox_db_path(url, env),
        sandbox_url=env.get(SANDBOX_URL_ENV) or None,
        gateway_options=dict(gateway_options or {}),
        journal=journal,
    )
    holder["app"] = app
    if daily_backup and not new_store:  # a store created just now holds nothing to back up yet
        app.start_daily_backup(data_dir(env))
    return app


def _recorded_name(name: str) -> str:
    try:
        return normalize_operator_name(name)
    except BadInput:  # none yet, or one an older version let through (a newline, too long)
        return os_user_name()


def _open_store(url: str, env: Mapping[str, str], clock: Clock) -> tuple[Engine, bool]:
    """The engine over a migrated store; a store that cannot be used raises a Japanese ``StoreError``.

    A bad URL, a missing driver, a read-only, full, damaged or newer-version store are told
    apart in ``core.db.errors`` (issue 10, items 6 and 9); nothing is written in those cases.
    """
    engine: Engine | None = None
    path: Path | None = None
    new_store = False
    try:
        path = sqlite_path(url)
        # Only a file this very start creates may be removed again below: never anything the
        # operator pointed --db at (a device, a FIFO, a file of theirs).
        new_store = path is not None and not os.path.lexists(path)
        engine = make_engine(url)  # creates a missing SQLite folder 0700 and the file 0600
        if path is None:  # PostgreSQL: the password kept in the keyring, never in the URL (core.db_choice)
            from core.db_choice import attach_keyring_password

            attach_keyring_password(engine, env)
        # Kanjo's own data directory is tightened if an older version left it open; a folder
        # chosen with --db elsewhere (it may be shared on purpose) is left as it is.
        secure_data_dir(env, create=False)
        if not is_current(engine):  # the cheap check spares loading Alembic at each start (issue 10 item 16)
            migrate(engine, now=clock.now(), data_dir=data_dir(env))
        return engine, new_store
    except Exception as exc:
        if engine is not None:
            engine.dispose()
        if new_store and path is not None:
            # SQLite runs Alembic's DDL outside a transaction: a first migration cut short (a
            # full disk) would leave half a schema that no later start can migrate. The store
            # was empty a moment ago, so it goes, and the next start begins afresh.
            for leftover in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))):
                with contextlib.suppress(OSError):
                    leftover.unlink()
        mapped = open_error(exc, url)
        if mapped is None:
            raise
        raise mapped from exc
