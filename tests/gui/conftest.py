"""GUI fixtures: an immediate task runner, a main-window factory that owns cleanup."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

import devsetup
from core.app import Kanjo
from gui.main_window import MainWindow
from gui.settings_store import WindowSettings
from gui.tasks import ImmediateExecutor, TaskRunner


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.gui)


@pytest.fixture(scope="session", autouse=True)
def japanese_font() -> None:
    """Without a Japanese font Qt draws every Japanese text as nothing: say so once, with the
    command that installs one, instead of two dozen failed pixel counts (issue 10 item 15)."""
    problem = devsetup.font_problem()
    if problem is not None:
        pytest.exit(problem, returncode=1)


class ManualExecutor(Executor):
    """Holds tasks until the test runs them: an operation 'in flight' for as long as the test wants."""

    def __init__(self) -> None:
        self.queue: list[tuple[Future[Any], Callable[[], Any]]] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self.queue.append((future, lambda: fn(*args, **kwargs)))
        return future

    def run_all(self) -> None:
        while self.queue:
            future, fn = self.queue.pop(0)
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)


@pytest.fixture
def runner(qtbot: QtBot) -> Iterator[TaskRunner]:
    task_runner = TaskRunner.immediate()
    yield task_runner
    task_runner.shutdown()


@pytest.fixture
def manual_runner(qtbot: QtBot) -> Iterator[tuple[TaskRunner, ManualExecutor]]:
    work = ManualExecutor()
    task_runner = TaskRunner(work, ImmediateExecutor())
    yield task_runner, work
    task_runner.shutdown()


MakeWindow = Callable[..., MainWindow]


@pytest.fixture
def make_window(qtbot: QtBot, app: Kanjo, runner: TaskRunner, tmp_path: Path) -> MakeWindow:
    """Build the real window over the real core and sandbox; confirmations answer yes."""

    def make(
        *,
        task_runner: TaskRunner | None = None,
        start: bool = True,
        demo_orders: int = 13,
        settings_dir: Path | None = None,
    ) -> MainWindow:
        window = MainWindow(
            app, task_runner or runner, WindowSettings.in_dir(settings_dir or tmp_path / "qt"), demo_orders=demo_orders
        )
        qtbot.addWidget(window)
        window.confirm = lambda _text: True
        window.show()
        if start:
            window.start()
        return window

    return make
