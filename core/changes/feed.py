"""The change feed: LISTEN/NOTIFY on PostgreSQL, a cheap poll of ``order_changes`` on SQLite.

The triggers of migration 0009 record every change of an order (its row, charges, refunds,
messages, journal entries) in the writer's own transaction, so a change is reported only once
it is committed, whichever program made it (a window, ``kanjo`` on the command line, another PC).

* :class:`PostgresChangeFeed` keeps one connection of its own that ``LISTEN``s on
  ``kanjo_orders``; each notification's payload is an order number. Notifications arriving
  within ``settle`` seconds of each other are reported together. A lost connection is opened
  again (every ``interval`` seconds) and then reports :data:`ALL`: what changed meanwhile is
  not known.
* :class:`SqliteChangeFeed` keeps one connection of its own and asks it every ``interval``
  seconds for ``PRAGMA data_version``, which moves only when another connection committed
  (nothing is read otherwise); then it reads the order numbers logged in ``order_changes``
  past the last ``seq`` seen (a rowid range). If the log was pruned past that point (more than
  10,000 changes since), it reports :data:`ALL`.

More than ``max_numbers`` orders at once (an import, a sync of everything) are reported as
:data:`ALL`: the window then re-reads its pages instead of each order. The callback runs on
the feed's thread; an exception in it is logged (its type only) and the feed goes on.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Final, Literal

from sqlalchemy import Engine

log = logging.getLogger(__name__)

ALL: Final = "all"
CHANNEL: Final = "kanjo_orders"  # migration 0009's triggers notify on it
ChangedOrders = frozenset[str] | Literal["all"]
ChangeCallback = Callable[[ChangedOrders], None]


class ChangeFeed(ABC):
    """Reports the orders changed in the store, on a background thread (see the module)."""

    def __init__(self, engine: Engine, *, interval: float = 1.0, max_numbers: int = 500) -> None:
        self.engine = engine
        self.interval = interval
        self.max_numbers = max_numbers
        self._callback: ChangeCallback | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, callback: ChangeCallback) -> None:
        """Report every change committed from now on to ``callback`` (on the feed's thread)."""
        if self._thread is not None:
            raise RuntimeError("change feed already started")
        self._callback = callback
        self._prepare()  # here, so a change committed right after start() returns is not missed
        self._thread = threading.Thread(target=self._guarded_run, name="kanjo-change-feed", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop reporting; once the thread has ended (within ``timeout``) no callback runs any more."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        if thread is None or not thread.is_alive():
            self._release()  # else the thread releases on its way out

    def _guarded_run(self) -> None:
        try:
            self._run()
        except Exception as exc:  # never a traceback on the operator's console from a helper thread
            log.warning("change feed stopped (%s)", type(exc).__name__)
        finally:
            self._release()

    def _deliver(self, numbers: set[str] | Literal["all"]) -> None:
        if self._stop.is_set() or not numbers:
            return
        changed: ChangedOrders = ALL if numbers == ALL or len(numbers) > self.max_numbers else frozenset(numbers)
        callback = self._callback
        if callback is None:
            return
        try:
            callback(changed)
        except Exception as exc:  # the window may be gone; the feed stays quiet and goes on
            log.info("change feed callback failed (%s)", type(exc).__name__)

    @abstractmethod
    def _prepare(self) -> None:
        """Set the starting point (on the caller's thread)."""

    @abstractmethod
    def _run(self) -> None:
        """The thread's loop, until ``self._stop`` is set."""

    @abstractmethod
    def _release(self) -> None:
        """Close what the feed opened (idempotent)."""


class SqliteChangeFeed(ChangeFeed):
    """Polls ``PRAGMA data_version`` on a connection of its own; reads ``order_changes`` after a commit."""

    def __init__(self, engine: Engine, *, interval: float = 1.0, max_numbers: int = 500) -> None:
        super().__init__(engine, interval=interval, max_numbers=max_numbers)
        self._last_seq = 0
        self._lock = threading.Lock()
        self._raw: Any = None

    def _prepare(self) -> None:
        raw = self.engine.raw_connection()
        raw.detach()  # its own connection: data_version counts the commits of every other one
        self._raw = raw
        cursor = raw.cursor()
        try:
            cursor.execute("SELECT COALESCE(MAX(seq), 0) FROM order_changes")
            self._last_seq = int(_first(cursor.fetchone()))
        finally:
            cursor.close()
            raw.rollback()

    def _run(self) -> None:
        version: int | None = None
        while not self._stop.is_set():
            try:
                now = self._data_version()
                if now != version:  # the first round always reads: a commit may have come after start()
                    version = now
                    changed = self._read_changes()
                    if changed:
                        self._deliver(changed)
            except Exception as exc:  # a busy or briefly unreadable store: try again next round
                log.info("change check failed (%s)", type(exc).__name__)
            self._stop.wait(self.interval)

    def _data_version(self) -> int:
        with self._lock:
            cursor = self._raw.cursor()
            try:
                cursor.execute("PRAGMA data_version")
                return int(_first(cursor.fetchone()))
            finally:
                cursor.close()

    def _read_changes(self) -> set[str] | Literal["all"]:
        with self._lock:
            cursor = self._raw.cursor()
            try:
                cursor.execute("SELECT MIN(seq), MAX(seq) FROM order_changes")
                first, newest = cursor.fetchone() or (None, None)
                if first is None or newest is None or int(newest) <= self._last_seq:
                    return set()
                last = int(newest)
                if int(first) > self._last_seq + 1:  # changes this feed had not read were pruned
                    self._last_seq = last
                    return ALL
                cursor.execute(
                    "SELECT DISTINCT order_number FROM order_changes WHERE seq > ? AND seq <= ? LIMIT ?",
                    (self._last_seq, last, self.max_numbers + 1),
                )
                numbers = {str(number) for (number,) in cursor.fetchall()}
            finally:
                cursor.close()
                self._raw.rollback()  # never hold a read snapshot (it would keep the WAL from checkpointing)
        self._last_seq = last
        return ALL if len(numbers) > self.max_numbers else numbers

    def _release(self) -> None:
        with self._lock:
            raw, self._raw = self._raw, None
        if raw is not None:
            try:
                raw.close()
            except Exception as exc:  # closing a connection of a store already gone
                log.info("change feed close failed (%s)", type(exc).__name__)


class PostgresChangeFeed(ChangeFeed):
    """``LISTEN kanjo_orders`` on a connection of its own (psycopg ``notifies``)."""

    def __init__(self, engine: Engine, *, interval: float = 1.0, max_numbers: int = 500, settle: float = 0.1) -> None:
        super().__init__(engine, interval=interval, max_numbers=max_numbers)
        self.settle = settle
        self._connection: Any = None
        self._lock = threading.Lock()

    def _prepare(self) -> None:
        self._connection = self._listen()

    def _listen(self) -> Any:
        """A connection made like every other of the store (same URL, password source and session
        settings), taken out of the pool for good, in autocommit, listening."""
        raw = self.engine.raw_connection()
        connection: Any = raw.driver_connection
        raw.detach()
        connection.rollback()
        connection.autocommit = True
        connection.execute(f"LISTEN {CHANNEL}")
        return connection

    def _run(self) -> None:
        while not self._stop.is_set():
            connection = self._connection
            if connection is None or connection.closed:
                if not self._reconnect():
                    continue
                self._deliver(ALL)  # changes made while it was away are not known one by one
                continue
            try:
                numbers: set[str] = set()
                for note in connection.notifies(timeout=self.interval, stop_after=1):
                    numbers.add(note.payload)
                if numbers:
                    deadline = time.monotonic() + self.settle
                    while (left := deadline - time.monotonic()) > 0 and len(numbers) <= self.max_numbers:
                        got = [note.payload for note in connection.notifies(timeout=left, stop_after=100)]
                        if not got:
                            break
                        numbers.update(got)
                    self._deliver(numbers)
            except Exception as exc:  # the server went away: listen again on a new connection
                log.info("change feed connection lost (%s)", type(exc).__name__)
                self._close_connection()

    def _reconnect(self) -> bool:
        try:
            connection = self._listen()
        except Exception as exc:
            log.info("change feed cannot listen (%s)", type(exc).__name__)
            self._stop.wait(self.interval)
            return False
        with self._lock:
            self._connection = connection
        return True

    def _close_connection(self) -> None:
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception as exc:
                log.info("change feed close failed (%s)", type(exc).__name__)

    def _release(self) -> None:
        self._close_connection()


def _first(row: Any) -> Any:
    """The first column of a row that a one-row query always returns."""
    assert row is not None
    return row[0]


def open_change_feed(engine: Engine, *, interval: float = 1.0, max_numbers: int = 500) -> ChangeFeed:
    """The feed for this store's kind (not started)."""
    if engine.dialect.name == "postgresql":
        return PostgresChangeFeed(engine, interval=interval, max_numbers=max_numbers)
    if engine.dialect.name == "sqlite":
        return SqliteChangeFeed(engine, interval=interval, max_numbers=max_numbers)
    raise ValueError(f"no change feed for {engine.dialect.name}")
