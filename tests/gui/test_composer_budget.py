"""Issue 10 item 10 in the window: a template over its budget is shown inline in the template
editor (live preview and save), quickly, and nothing is saved."""

from __future__ import annotations

import time

from core.app import Kanjo
from gui.composer.template_editor import TemplateEditorDialog
from tests.core.test_messages import SETTINGS, place
from tests.gui.conftest import MakeWindow
from tests.gui.helpers import select
from tests.gui.test_composer import composer_of


def test_the_editor_shows_a_budget_refusal_inline_and_saves_nothing(app: Kanjo, make_window: MakeWindow) -> None:
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
        assert time.monotonic() - started < 3.0  # the window is not frozen
        assert editor.preview_error.isVisible() and budget in editor.preview_error.text()
        editor.save_button.click()
        assert editor.error.isVisible() and budget in editor.error.text()
        assert [v.version for v in app.messages.versions(copy.id)] == [1]  # nothing saved
    editor.reject()
    dialog.reject()
