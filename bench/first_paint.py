"""Run a Python program and print ``KANJO_FIRST_PAINT <unix time> <CPU seconds>`` when its first
window has painted, then quit it (bench/startup_bench.py). The CPU seconds are the process's
user + system time up to then, all threads: a figure a busy machine barely changes.

    python -m bench.first_paint main.py [args…]
    python -m bench.first_paint -c "code"

Works on any PySide6 program, old checkouts included: it wraps ``QApplication.exec`` to watch
the application's events for the first paint of a top-level window. PySide6 is imported here
first, which the program does anyway, so the total work is the same.
"""

from __future__ import annotations

import os
import runpy
import sys
import time
from typing import Any

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget


class _FirstPaint(QObject):
    def __init__(self, qt_app: QApplication) -> None:
        super().__init__()
        self.qt_app = qt_app
        self.seen = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if (
            not self.seen
            and event.type() == QEvent.Type.Paint
            and isinstance(watched, QWidget)
            and watched.isWindow()
        ):
            self.seen = True
            QTimer.singleShot(0, self.report)  # after this paint has been handled
        return False

    def report(self) -> None:
        now = time.time()
        usage = os.times()
        print(f"KANJO_FIRST_PAINT {now:.6f} {usage.user + usage.system:.3f}", flush=True)
        self.qt_app.quit()


_original_exec = QApplication.exec


def _exec(self: QApplication, *args: Any) -> int:
    probe = _FirstPaint(self)
    self.installEventFilter(probe)
    return _original_exec(*args)  # static in PySide6


def main(argv: list[str]) -> None:
    QApplication.exec = _exec  # type: ignore[method-assign, assignment]
    if argv[0] == "-c":
        sys.argv = ["-c", *argv[2:]]
        exec(compile(argv[1], "<string>", "exec"), {"__name__": "__main__"})
    else:
        sys.argv = argv
        runpy.run_path(argv[0], run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
