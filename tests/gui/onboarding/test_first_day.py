"""はじめての設定 (issue 16 item 4): asked once at the first start, checked, saved, skippable, reopenable."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMenu
from pytestqt.qtbot import QtBot

from core.app import Kanjo, open_app
from gui import app as gui_app
from gui.menus import Menu
from gui.onboarding.first_day_dialog import FirstDayDialog
from gui.operator_dialog import OperatorNameDialog
from tests.gui.conftest import MakeWindow


def fill(dialog: FirstDayDialog, **values: str) -> None:
    for name, value in values.items():
        dialog.fields[name].setText(value)


def test_the_dialog_checks_each_value_and_saves_through_the_settings_service(
    app: Kanjo, make_window: MakeWindow
) -> None:
    window = make_window(demo_orders=0)  # no demo orders: only what the test placed
    dialog = window.open_first_day()
    assert dialog.isVisible()
    assert "Amazon Pay" in dialog.next_steps.text() and "取込" in dialog.next_steps.text()
    fill(
        dialog,
        shop_name="山田商店",
        operator_name="山田 花子",
        shop_domain="shop example",
        seller_token="A1B2C3D4E5F6G7",
    )
    dialog.accept()
    assert dialog.isVisible() and dialog.error.text().startswith("ショップのドメイン")
    assert app.settings.load().shop_name == ""  # nothing written
    fill(dialog, shop_domain="https://ｓｈｏｐ.example.jp/", seller_token="a1b2&")
    dialog.accept()
    assert dialog.isVisible() and "出品者トークン" in dialog.error.text()
    fill(dialog, seller_token="a1b2c3d4e5f6g7")
    dialog.accept()
    assert not dialog.isVisible()
    saved = app.settings.load()
    assert (saved.shop_name, saved.shop_domain, saved.seller_token) == ("山田商店", "shop.example.jp", "A1B2C3D4E5F6G7")
    assert app.operator_name == "山田 花子"
    assert window.shop_label.text() == "山田商店" and "はじめての設定" in window.banner.text()


def test_reopened_from_the_file_and_help_menus(make_window: MakeWindow) -> None:
    window = make_window(demo_orders=0)  # no demo orders: only what the test placed
    for which in (Menu.FILE, Menu.HELP):
        menu = window.menuBar().findChild(QMenu, which.value)
        assert menu is not None and window.first_day_action in menu.actions()
    window.first_day_action.trigger()
    assert isinstance(window.first_day_dialog, FirstDayDialog) and window.first_day_dialog.isVisible()
    window.first_day_dialog.reject()  # あとで: nothing saved
    assert not window.first_day_dialog.isVisible()


def test_the_first_start_offers_it_once_and_a_skip_leaves_the_operator_question_for_later(
    home: Path, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    with open_app(None, daily_backup=False) as prepared:
        prepared.settings.save(demo_seeded=True)
    launched = gui_app.launch(None)
    qtbot.addWidget(launched.window)
    try:
        qtbot.waitUntil(lambda: launched.kanjo._gateway is not None, timeout=30_000)
        dialog = launched.first_day_question
        assert isinstance(dialog, FirstDayDialog) and dialog.isVisible()
        assert launched.operator_question is None  # one question, not two
        dialog.reject()  # あとで
        assert launched.first_day_question is None
    finally:
        launched.window.close()
        launched.shutdown()
    again = gui_app.launch(None)
    qtbot.addWidget(again.window)
    try:
        qtbot.waitUntil(lambda: again.kanjo._gateway is not None, timeout=30_000)
        assert again.first_day_question is None  # offered once; reopened from the menus
        assert isinstance(again.operator_question, OperatorNameDialog)  # still nobody named at this PC
    finally:
        again.window.close()
        again.shutdown()
