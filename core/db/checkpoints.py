"""WAL checkpoints of a long SQLite write, on a thread beside the writer (issue 11's import).

By default the connection that commits also checkpoints: once the write-ahead log holds more
than 1,000 pages, the commit copies them into the database file before it returns. A bulk
write commits a chunk every fraction of a second, so it waits for those copies: about a third
of a 100,000-order import's write time (bench/import_bench.py). :class:`BackgroundCheckpoints`
turns that off for the writer's connection and copies the committed pages on a thread of its
own, with its own connection, while the writer goes on with the next chunk. SQLite leaves
Python's GIL while it copies, so the two run on two cores.

A PASSIVE checkpoint never waits for, nor blocks, a reader or a writer. The log itself starts
over only when a write begins after everything in it was copied; a writer that never waits
would grow it by every chunk (hundreds of MB for a large import, left on disk). So once the
last round found the log longer than :data:`RESTART_FRAMES`, a commit waits for the round that
copies it, and the next chunk's write starts the log over. On leaving, the writer's connection
gets its setting back and a last round runs.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from pathlib import Path
from types import TracebackType
from typing import Any, Final

DEFAULT_AUTOCHECKPOINT: Final = 1000  # SQLite's own default, in pages
RESTART_FRAMES: Final = 4096  # pages (16 MiB of 4 KiB pages) the log may reach before a commit waits
WAIT_SECONDS: Final = 30.0  # a commit never waits longer for a round (a stuck reader): it goes on


class BackgroundCheckpoints:
    """Checkpoint ``path``'s write-ahead log on a thread while ``writer`` (a DBAPI
    ``sqlite3.Connection``) commits chunk after chunk; call :meth:`committed` after each commit."""

    def __init__(self, path: Path, writer: Any) -> None:
        self._path = path
        self._writer = writer
        self._state = threading.Condition()
        self._requested = 0  # commits announced
        self._covered = 0  # commits whose pages a finished round has copied
        self._stop = False
        self._alive = False
        self._thread: threading.Thread | None = None
        self._restore = DEFAULT_AUTOCHECKPOINT
        self.log_frames = 0  # the log's length at the last round
        self.rounds = 0  # checkpoint rounds run (for tests and the benchmark's log)
        self.waits = 0  # commits that waited for a round (the log was long)

    def __enter__(self) -> BackgroundCheckpoints:
        row = self._writer.execute("PRAGMA wal_autocheckpoint").fetchone()
        self._restore = int(row[0]) if row else DEFAULT_AUTOCHECKPOINT
        self._writer.execute("PRAGMA wal_autocheckpoint=0")
        self._alive = True
        self._thread = threading.Thread(target=self._run, name="kanjo-checkpoints", daemon=True)
        self._thread.start()
        return self

    def committed(self) -> None:
        """A chunk was committed: its pages may be copied now. When the log has grown long,
        this waits until they are, so the next write starts the log over."""
        with self._state:
            self._requested += 1
            target = self._requested
            self._state.notify_all()
            if self.log_frames > RESTART_FRAMES:
                self.waits += 1
                self._state.wait_for(lambda: self._covered >= target or not self._alive, timeout=WAIT_SECONDS)

    def __exit__(
        self, _type: type[BaseException] | None, _exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        with self._state:
            self._stop = True
            self._requested += 1  # one last round
            self._state.notify_all()
        if self._thread is not None:
            self._thread.join()
        with contextlib.suppress(sqlite3.Error):  # a closed or broken connection keeps nothing
            self._writer.execute(f"PRAGMA wal_autocheckpoint={self._restore}")

    def _run(self) -> None:
        try:
            db = sqlite3.connect(self._path, timeout=10, check_same_thread=True)
        except sqlite3.Error:
            self._finish()
            return  # the writer's own autocheckpoint (restored on exit) copies the pages
        try:
            while True:
                with self._state:
                    self._state.wait_for(lambda: self._requested > self._covered)
                    target, stopping = self._requested, self._stop
                with contextlib.suppress(sqlite3.Error):  # busy or locked: the next round copies
                    _busy, frames, _copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    self.log_frames = int(frames)
                    self.rounds += 1
                with self._state:
                    self._covered = target
                    self._state.notify_all()
                if stopping:
                    return
        finally:
            db.close()
            self._finish()

    def _finish(self) -> None:
        with self._state:
            self._alive = False
            self._state.notify_all()
