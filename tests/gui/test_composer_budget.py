"""Issue 10 item 10 in the window: a template over its budget is shown inline in the template
editor (live preview and save), quickly, and nothing is saved."""

from __future__ import annotations

import time
from typing import Any

import pytest
from PySide6.QtCore import QTimer
from pytestqt.qtbot import QtBot

from core.app import Kanjo
from gui.composer.template_editor import TemplateEditorDialog
from tests.core.test_messages import SETTINGS, place
from tests.gui.conftest import MakeWindow
from tests.gui.helpers import select
from tests.gui.test_composer import composer_of


def test_the_editor_shows_a_budget_refusal_inline_and_saves_nothing(
    app: Kanjo, make_window: MakeWindow, qtbot: QtBot
) -> None:
    app.settings.save(**SETTINGS)
    place(app, "B-1")
    window = make_window()
    select(window, "B-1")
    window.detail.message_button.compose_action.trigger()
    dialog = composer_of(window)
    dialog.select_template("thanks")
    editor = dialog.open_template_editor()
    assert isinstance(editor, TemplateEditorDialog)
    editor.confirm = lambda _text: True
    copy = editor.copy_current()
    assert copy is not None

    for attack, budget in (
        ("{{ 'a'|center(10**9) }}", "上限100,000文字"),
        ("{% for i in range(10000) %}{{ 'x' * 10000 }}{% endfor %}", "上限"),
    ):
        editor.body.setPlainText("{{ customer_name }}\n" + attack)
        started = time.monotonic()
        editor.refresh_preview()
        assert time.monotonic() - started < 0.5  # rendered on the editor's worker: the window is not frozen
        qtbot.waitUntil(lambda b=budget: b in editor.preview_error.text(), timeout=5_000)
        assert editor.preview_error.isVisible() and time.monotonic() - started < 5.0
        editor.save_button.click()
        assert editor.error.isVisible() and budget in editor.error.text()
        assert [v.version for v in app.messages.versions(copy.id)] == [1]  # nothing saved
    editor.reject()
    dialog.reject()


def test_a_slow_preview_does_not_freeze_and_an_older_render_never_overwrites_a_newer_one(
    app: Kanjo, make_window: MakeWindow, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    app.settings.save(**SETTINGS)
    place(app, "B-2")
    window = make_window()
    select(window, "B-2")
    window.detail.message_button.compose_action.trigger()
    dialog = composer_of(window)
    dialog.select_template("thanks")
    editor = dialog.open_template_editor()
    editor.confirm = lambda _text: True
    assert editor.copy_current() is not None
    qtbot.waitUntil(lambda: not editor.preview_busy, timeout=5_000)

    real = app.messages.render_source

    def slow_render(subject: str, body: str, variables: Any) -> Any:
        if "遅い" in body:
            time.sleep(0.6)  # a template near its budget (a second or two at worst)
        return real(subject, body, variables)

    monkeypatch.setattr(editor.messages, "render_source", slow_render)
    editor.body.setPlainText("遅い {{ customer_name }}")
    started = time.monotonic()
    editor.refresh_preview()
    assert time.monotonic() - started < 0.3
    editor.body.setPlainText("{{ customer_name }} 新しい本文")
    editor.refresh_preview()  # typed on while the first render runs
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start(20)
    qtbot.waitUntil(lambda: not editor.preview_busy, timeout=10_000)
    timer.stop()
    assert len(ticks) >= 2  # the event loop ran while rendering
    assert "新しい本文" in editor.preview.toPlainText() and "遅い" not in editor.preview.toPlainText()
    editor.reject()
    dialog.reject()
