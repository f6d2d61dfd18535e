"""Issue 14 items 2 and 3 in the window: the first start asks who works at this PC, the
timeline shows who did what, and an amount dialog left open while another operator changes
the order says so, reloads the current amounts, and hands back the new version."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from core.app import Kanjo, open_app
from core.clock import FixedClock
from core.errors import STALE_EDIT_MESSAGE
from core.operator import OPERATOR_FILE
from core.services.payments import detail_amount_version
from gui import app as gui_app
from gui.dialogs.amount_dialog import AmountChangeDialog
from gui.operator_dialog import OperatorNameDialog
from gui.tasks import TaskRunner
from tests.gui.conftest import MakeWindow
from tests.helpers import place_order


def test_the_first_start_asks_the_operator_name_and_keeps_it_for_this_pc(
    home: Path, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # launch() installs its own; restore after
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    with open_app(None, daily_backup=False) as prepared:  # a store whose demo is done: no seeding behind
        # A shop already set up (a second PC): only the operator's name is asked, not はじめての設定.
        prepared.settings.save(demo_seeded=True, shop_name="山田商店")
    launched = gui_app.launch(None)
    qtbot.addWidget(launched.window)
    try:
        qtbot.waitUntil(lambda: launched.kanjo._gateway is not None, timeout=30_000)  # the start's work is done
        dialog = launched.operator_question
        assert isinstance(dialog, OperatorNameDialog) and dialog.isVisible()
        assert dialog.field.text() == launched.kanjo.suggested_operator_name()  # the OS user name
        for bad in ("", "山田\t花子"):
            dialog.field.setText(bad)
            dialog.accept()
            assert dialog.isVisible() and dialog.error.text().startswith("担当者名")
            assert not (home / OPERATOR_FILE).exists()
        dialog.field.setText("山田 花子")
        dialog.accept()
        assert not dialog.isVisible()
        assert json.loads((home / OPERATOR_FILE).read_text(encoding="utf-8")) == {"operator_name": "山田 花子"}
        assert launched.kanjo.operator_name == "山田 花子"
        assert launched.window.settings.operator_name == "山田 花子"
    finally:
        launched.window.close()
        launched.shutdown()

    again = gui_app.launch(None)  # the next start does not ask again
    qtbot.addWidget(again.window)
    try:
        qtbot.waitUntil(lambda: again.kanjo._gateway is not None, timeout=30_000)
        assert again.operator_question is None
    finally:
        again.window.close()
        again.shutdown()


def test_the_timeline_shows_who_did_what(app: Kanjo, make_window: MakeWindow, qtbot: QtBot) -> None:
    app.set_operator_name("山田")
    place_order(app, "TL-1", 4_000)
    app.payments.change_amount("TL-1", total=3_500)
    window = make_window(demo_orders=0)
    window.detail.set_detail(app.orders.detail("TL-1"))
    table = window.detail.timeline
    assert table.horizontalHeaderItem(4).text() == "担当者"
    rows = {table.item(r, 1).text(): table.item(r, 4).text() for r in range(table.rowCount())}
    assert any("金額" in what and who == "山田" for what, who in rows.items()), rows


def test_a_stale_amount_dialog_says_so_and_reloads_the_current_amounts(
    qtbot: QtBot, app: Kanjo, runner: TaskRunner, tmp_path: Path, clock: FixedClock
) -> None:
    place_order(app, "ST-1", 5_000)
    dialog = AmountChangeDialog(app.orders.detail("ST-1"), app.payments, runner)
    qtbot.addWidget(dialog)
    loaded = dialog.version

    with open_app(app.db_url, clock=clock, environ={"KANJO_HOME": str(tmp_path / "pc2")}, daily_backup=False) as other:
        other.set_operator_name("佐藤")
        assert other.payments.change_amount("ST-1", shipping_fee=600).ok  # the other PC, meanwhile

    dialog.rows[0].price.setText("４，５００")  # the next check finds the amounts changed
    qtbot.waitUntil(lambda: not dialog.stale_label.isHidden(), timeout=5_000)
    note = dialog.stale_label.text()
    assert note.startswith(STALE_EDIT_MESSAGE) and "送料 600円" in note and "5,600円" in note
    assert dialog.shipping.value() == 600 and dialog.rows[0].price.value() == 5_000  # reloaded
    assert dialog.version != loaded
    assert dialog.version == detail_amount_version(app.orders.detail("ST-1"))

    dialog.rows[0].price.setText("４，５００")
    qtbot.waitUntil(lambda: dialog.ok_button.isEnabled(), timeout=5_000)
    dialog.accept()
    request = dialog.result_request
    assert request is not None and request.expected_version == dialog.version
    assert app.payments.change_amount(
        "ST-1", items=request.items, shipping_fee=request.shipping_fee, expected_version=request.expected_version
    ).ok
    assert app.orders.detail("ST-1").total == 5_100


def test_a_stale_settings_dialog_says_so_and_shows_the_current_values(app: Kanjo, qtbot: QtBot) -> None:
    from gui.settings_dialog import SettingsDialog

    seen = app.settings.load()
    dialog = SettingsDialog(seen, reload=app.settings.load)
    qtbot.addWidget(dialog)
    app.settings.save(shop_name="山田商店")  # another operator, meanwhile
    dialog.shop_name.setText("佐藤商店")
    dialog.buttons.accepted.emit()
    assert dialog.result_settings is None
    assert dialog.error.text().startswith(STALE_EDIT_MESSAGE) and "shop_name = 山田商店" in dialog.error.text()
    assert dialog.shop_name.text() == "山田商店"  # reloaded
    dialog.shop_name.setText("佐藤商店")
    dialog.buttons.accepted.emit()
    assert dialog.result_settings is not None and dialog.result_settings.version == seen.version + 1
