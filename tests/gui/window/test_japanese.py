"""Japanese throughout (issue 16 item 3): Qt's own buttons, every journal action's label."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QMessageBox
from pytestqt.qtbot import QtBot

from core.app import Kanjo
from gui.app import install_japanese_translation
from gui.orders.detail_panel import ACTION_LABELS
from tests.gui.conftest import MakeWindow
from tests.gui.helpers import select
from tests.helpers import place_order

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def japanese(qtbot: QtBot) -> Iterator[None]:
    qt_app = QApplication.instance()
    assert isinstance(qt_app, QApplication)
    translator = install_japanese_translation(qt_app)
    assert translator is not None, "qtbase_ja.qm ships with PySide6"
    yield
    qt_app.removeTranslator(translator)
    qt_app.setProperty("kanjo_translator", None)


def test_standard_buttons_read_japanese(japanese: None, qtbot: QtBot) -> None:
    box = QMessageBox(QMessageBox.Icon.Question, "確認", "よろしいですか?")
    box.setStandardButtons(
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No | QMessageBox.StandardButton.Close
    )
    qtbot.addWidget(box)
    texts = {
        which: box.button(which).text().replace("&", "")
        for which in (QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.No, QMessageBox.StandardButton.Close)
    }
    assert texts[QMessageBox.StandardButton.Yes].startswith("はい")
    assert texts[QMessageBox.StandardButton.No].startswith("いいえ")
    assert texts[QMessageBox.StandardButton.Close].startswith("閉じる")
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
    qtbot.addWidget(buttons)
    assert buttons.button(QDialogButtonBox.StandardButton.Cancel).text().replace("&", "").startswith("キャンセル")


def journal_actions() -> set[str]:
    """Every action name core can write into the journal: the ``action=`` of each
    ``journal.event(...)``/``intent(...)`` call and the first argument of each ``Step(...)``."""
    found: set[str] = set()
    for path in (ROOT / "core").rglob("*.py"):
        if "cli" in path.parts or "sandbox" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in ("event", "intent"):
                for keyword in node.keywords:
                    if keyword.arg == "action" and isinstance(keyword.value, ast.Constant):
                        found.add(str(keyword.value.value))
            if name == "Step" and node.args and isinstance(node.args[0], ast.Constant):
                found.add(str(node.args[0].value))
    return found


def test_every_journal_action_has_a_japanese_label() -> None:
    actions = journal_actions()
    assert {"capture", "authorize", "refund", "cancel", "close", "amount_change", "reconciled"} <= actions
    missing = sorted(a for a in actions if a not in ACTION_LABELS)
    assert not missing, f"journal actions without a label on the timeline: {missing}"
    for label in ACTION_LABELS.values():
        assert not label.isascii(), label  # Japanese, not the raw name


def test_timeline_shows_the_label_not_the_raw_action(app: Kanjo, make_window: MakeWindow) -> None:
    place_order(app, "J1", 5_000)
    app.payments.change_amount("J1", total=4_000)  # writes an amount_change event
    window = make_window(demo_orders=0)  # no demo orders: only what the test placed
    select(window, "J1")
    timeline = window.detail.timeline
    texts = [timeline.item(row, 1).text() for row in range(timeline.rowCount())]
    heads = [t.split(":")[0] for t in texts]
    assert "受注" in heads and "金額変更" in heads  # not 「amount_change・記録」
    assert not any("_" in t or "・記録" in t for t in texts), texts
