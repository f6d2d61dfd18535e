"""gui.app: ``kanjo`` with no subcommand opens the window at once and seeds the sandbox behind it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from core.domain import PaymentStatus
from gui import app as gui_app
from gui.errors import BUG_MESSAGE, error_message, install_excepthooks, show_error
from gui.orders.table_model import Column
from tests.gui.helpers import sandbox_indicator_shown


def test_first_start_opens_on_the_sandbox_and_seeds_demo_orders_in_the_background(
    home: Path, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys
    import threading

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # launch() installs its own; restore after
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    launched = gui_app.launch(None)  # KANJO_HOME (the home fixture) holds the new store
    window = launched.window
    qtbot.addWidget(window)
    try:
        assert window.isVisible()
        assert sandbox_indicator_shown(window)
        qtbot.waitUntil(lambda: launched.kanjo.settings.load().demo_seeded, timeout=60_000)
        qtbot.waitUntil(lambda: window.model.rowCount() == 26 and not window.model.loading, timeout=10_000)
        labels = {window.model.index(r, Column.PAYMENT_STATUS).data() for r in range(26)}
        assert {status.value for status in PaymentStatus} <= labels
        assert (home / "window.ini").parent == home
    finally:
        window.close()
        launched.shutdown()
    assert (home / "window.ini").exists()  # geometry saved on close


def test_run_reports_a_store_it_cannot_open_in_japanese(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    shown: list[str] = []
    monkeypatch.setattr(gui_app.QMessageBox, "critical", lambda _parent, _title, text: shown.append(text))
    assert gui_app.run("nosuchdriver://x") == 1
    assert shown and shown[0].startswith("データを開けませんでした。")
    assert "Traceback" not in shown[0]


def test_run_shows_why_a_damaged_store_cannot_be_opened_and_keeps_it(
    monkeypatch: pytest.MonkeyPatch, home: Path, tmp_path: Path
) -> None:
    """Issue 10, item 9: the window says what the command line says (not the bug dialog)."""
    shown: list[str] = []
    monkeypatch.setattr(gui_app.QMessageBox, "critical", lambda _parent, _title, text: shown.append(text))
    bad = tmp_path / "damaged.sqlite3"
    bad.write_bytes(b"this is not SQLite" * 200)
    assert gui_app.run(f"sqlite:///{bad}") == 1
    assert len(shown) == 1 and "データベースファイルが壊れています" in shown[0] and str(bad) in shown[0]
    assert shown[0] != f"データを開けませんでした。{BUG_MESSAGE}"
    assert bad.read_bytes() == b"this is not SQLite" * 200
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("damaged")) == ["damaged.sqlite3"]


def test_error_texts_and_excepthook(qtbot: QtBot) -> None:
    from core.errors import RuleViolation

    reason = "与信の有効期限(30日)が切れています。"
    assert error_message(RuleViolation(reason)) == reason
    assert error_message(KeyError("x")) == BUG_MESSAGE
    box = show_error(None, RuleViolation("だめです。"))
    assert box.text() == "だめです。" and not box.detailedText()
    box.close()
    import sys
    import threading

    saved = sys.excepthook, threading.excepthook
    try:
        install_excepthooks(None)
        try:
            raise ValueError("boom")
        except ValueError as exc:
            sys.excepthook(type(exc), exc, exc.__traceback__)
    finally:
        sys.excepthook, threading.excepthook = saved
