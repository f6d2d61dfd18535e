"""WAL checkpoints of a long SQLite write, on a thread beside the writer (issue 11's import).

By default the connection that commits also checkpoints: once the write-ahead log holds more
than 1,000 pages, the commit copies them into the database file before it returns. A bulk
write commits a chunk every fraction of a second, so it waits for those copies: about a third
of a 100,000-order import's write time (bench/import_bench.py). :class:`BackgroundCheckpoints`
turns that off for the writer's connection and copies the committed pages on a thread of its
own, with its own connection, while the writer goes on with the next chunk. SQLite leaves
Python's GIL while it copies, so the two run on two cores.

A PASSIVE checkpoint never waits for, nor blocks, a reader or a writer: what it cannot copy now
is copied by its next round, or by any later commit of another connection (theirs keep the
default). On leaving, the writer's connection gets its setting back and a last round runs, so
the log the write leaves behind is no longer than a normal commit leaves it.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

DEFAULT_AUTOCHECKPOINT = 1000  # SQLite's own default, in pages


class BackgroundCheckpoints:
    """Checkpoint ``path``'s write-ahead log on a thread while ``writer`` (a DBAPI
    ``sqlite3.Connection``) commits chunk after chunk; call :meth:`committed` after each commit."""

    def __init__(self, path: Path, writer: Any) -> None:
        self._path = path
        self._writer = writer
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._restore = DEFAULT_AUTOCHECKPOINT
        self.rounds = 0  # checkpoints run (for tests and the benchmark's log)

    def __enter__(self) -> BackgroundCheckpoints:
        row = self._writer.execute("PRAGMA wal_autocheckpoint").fetchone()
        self._restore = int(row[0]) if row else DEFAULT_AUTOCHECKPOINT
        self._writer.execute("PRAGMA wal_autocheckpoint=0")
        self._thread = threading.Thread(target=self._run, name="kanjo-checkpoints", daemon=True)
        self._thread.start()
        return self

    def committed(self) -> None:
        """A chunk was committed: its pages may be copied now."""
        self._wake.set()

    def __exit__(
        self, _type: type[BaseException] | None, _exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self._stop = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        with contextlib.suppress(sqlite3.Error):  # a closed or broken connection keeps nothing
            self._writer.execute(f"PRAGMA wal_autocheckpoint={self._restore}")

    def _run(self) -> None:
        try:
            db = sqlite3.connect(self._path, timeout=10, check_same_thread=True)
        except sqlite3.Error:
            return  # the writer's own next autocheckpoint (restored on exit) copies the pages
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                stopping = self._stop
                with contextlib.suppress(sqlite3.Error):  # busy or locked: the next round copies
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.rounds += 1
                if stopping:
                    return
        finally:
            db.close()
