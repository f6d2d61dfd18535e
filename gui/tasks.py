"""Background work: run core calls off the GUI thread and hand the result back on it.

Two lanes, each a single worker thread (Anki ``taskman.py``):

* ``work``: gateway calls (capture, re-authorize, sync, demo seeding). One at a time, in
  order, so two operations on the same order can never overlap.
* ``read``: store reads for the window (counts, far pages, order details), so a slow capture
  never delays the list.

Results come back through a queued signal, so callbacks always run on the GUI thread. Tests
pass :class:`ImmediateExecutor` to run everything inline and deterministically; one test per
path uses real threads and ``qtbot.waitSignal``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

log = logging.getLogger(__name__)

WORK = "work"
READ = "read"


class CancelToken:
    """Checked by long operations between steps; never interrupts a money call midway."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    def cancelled(self) -> bool:
        return self._event.is_set()


class ImmediateExecutor(Executor):
    """Runs each task at once on the caller's thread (tests; napari ``single_threaded_executor``)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


@dataclass
class _Callbacks:
    on_success: Callable[[Any], None] | None
    on_failure: Callable[[BaseException], None] | None


class TaskRunner(QObject):
    """Runs callables on the worker lanes; callbacks run on the GUI thread.

    Signals:
        finished(object): a task finished (its Future), after its callback ran.
        busy_changed(bool): whether any task is running or queued.
    """

    finished = Signal(object)
    busy_changed = Signal(bool)
    _done = Signal(object, object)  # (Future, _Callbacks), queued from a worker thread
    _progress = Signal(object, object)  # (callback, args)

    def __init__(
        self,
        work: Executor | None = None,
        read: Executor | None = None,
        *,
        default_failure: Callable[[BaseException], None] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._executors: dict[str, Executor] = {
            WORK: work or ThreadPoolExecutor(max_workers=1, thread_name_prefix="kanjo-work"),
            READ: read or ThreadPoolExecutor(max_workers=1, thread_name_prefix="kanjo-read"),
        }
        self._shut_down = False
        self._pending = 0
        self.default_failure = default_failure
        self._done.connect(self._on_done)
        self._progress.connect(self._on_progress)

    @classmethod
    def immediate(cls, parent: QObject | None = None) -> TaskRunner:
        return cls(ImmediateExecutor(), ImmediateExecutor(), parent=parent)

    @property
    def busy(self) -> bool:
        return self._pending > 0

    def run(
        self,
        fn: Callable[[], Any],
        on_success: Callable[[Any], None] | None = None,
        on_failure: Callable[[BaseException], None] | None = None,
        *,
        lane: str = WORK,
    ) -> Future[Any]:
        """Run ``fn()`` on ``lane``; then ``on_success(result)`` or ``on_failure(exc)`` on the GUI thread.

        After :meth:`shutdown` (the window is closing) nothing runs: a timer or a queued signal
        that fires late gets a cancelled future, and neither callback is called."""
        if self._shut_down:
            late: Future[Any] = Future()
            late.cancel()
            return late
        callbacks = _Callbacks(on_success, on_failure)
        self._pending += 1
        if self._pending == 1:
            self.busy_changed.emit(True)
        future = self._executors[lane].submit(fn)
        future.add_done_callback(lambda f: self._done.emit(f, callbacks))
        return future

    def progress_callback(self, callback: Callable[..., None]) -> Callable[..., None]:
        """Wrap ``callback`` so a worker can call it; it then runs on the GUI thread."""

        def relay(*args: Any) -> None:
            self._progress.emit(callback, args)

        return relay

    def shutdown(self, *, wait: bool = True) -> None:
        self._shut_down = True
        for executor in self._executors.values():
            executor.shutdown(wait=wait, cancel_futures=True)

    @Slot(object, object)
    def _on_done(self, future: Future[Any], callbacks: _Callbacks) -> None:
        try:
            if future.cancelled():
                return
            exc = future.exception()
            if exc is None:
                if callbacks.on_success is not None:
                    callbacks.on_success(future.result())
            else:
                handler = callbacks.on_failure or self.default_failure
                if handler is None:
                    log.error("background task failed", exc_info=exc)
                else:
                    handler(exc)
        finally:
            self._pending -= 1
            if self._pending == 0:
                self.busy_changed.emit(False)
            self.finished.emit(future)

    @Slot(object, object)
    def _on_progress(self, callback: Callable[..., None], args: tuple[Any, ...]) -> None:
        callback(*args)
