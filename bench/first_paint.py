"""Run a Python program and print ``KANJO_FIRST_PAINT <unix time> <CPU seconds>`` when its first
window has painted, then quit it (bench/startup_bench.py). The CPU seconds are the process's
user + system time up to then, all threads: a figure a busy machine barely changes.

    python bench/first_paint.py main.py [args…]
    python bench/first_paint.py -c "code"

Works on any PySide6 program, old checkouts included, and changes nothing in the order the
program imports its modules (PySide6 makes every later import dearer, so importing it here
first would distort the figures): an import hook waits until the program has imported
``PySide6.QtWidgets``, then wraps ``QApplication.exec`` to watch the application's events for
the first paint of a top-level window.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import runpy
import sys
import time
from collections.abc import Sequence
from types import ModuleType
from typing import Any

WATCHED = "PySide6.QtWidgets"


def _install_probe(qt_widgets: ModuleType) -> None:
    from PySide6.QtCore import QEvent, QObject, QTimer

    application = qt_widgets.QApplication
    widget = qt_widgets.QWidget
    original_exec = application.exec

    class FirstPaint(QObject):
        def __init__(self, qt_app: Any) -> None:
            super().__init__()
            self.qt_app = qt_app
            self.seen = False

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
            if (
                not self.seen
                and event.type() == QEvent.Type.Paint
                and isinstance(watched, widget)
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

    def exec_with_probe(self: Any, *args: Any) -> int:
        probe = FirstPaint(self)
        self.installEventFilter(probe)
        result: int = original_exec(*args)  # static in PySide6
        return result

    application.exec = exec_with_probe


class _Loader(importlib.abc.Loader):
    def __init__(self, inner: importlib.abc.Loader) -> None:
        self.inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.inner.exec_module(module)
        _install_probe(module)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != WATCHED:
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)
        return spec


def main(argv: list[str]) -> None:
    sys.meta_path.insert(0, _Finder())
    if argv[0] == "-c":
        sys.argv = ["-c", *argv[2:]]
        sys.path[0] = ""  # as `python -c` would
        exec(compile(argv[1], "<string>", "exec"), {"__name__": "__main__"})
    else:
        sys.argv = argv
        sys.path[0] = os.path.dirname(os.path.abspath(argv[0]))  # as `python main.py` would
        runpy.run_path(argv[0], run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
