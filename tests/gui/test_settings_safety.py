"""Issue 10 items 3 and 8 in the window: the settings dialog refuses what `kanjo settings set`
refuses (the same core check), and a stored out-of-range sync interval cannot stop the window."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from core.amazonpay.signing import generate_key_pair
from core.app import Kanjo
from core.settings import AppSettings
from gui.settings_dialog import MAX_SYNC_MINUTES, SettingsDialog
from tests.gui.conftest import MakeWindow


def test_the_dialog_refuses_a_key_for_the_other_environment(qtbot: QtBot, tmp_path: Path) -> None:
    key = tmp_path / "private.pem"
    key.write_bytes(generate_key_pair()[0])
    dialog = SettingsDialog(AppSettings())
    qtbot.addWidget(dialog)
    dialog.merchant_id.setText("A1MERCHANT")
    dialog.private_key_path.setText(str(key))
    dialog.public_key_id.setText("LIVE-AHJ1234")  # with サンドボックス: real requests, "no real payment"
    dialog.environment.setCurrentIndex(0)
    dialog.buttons.accepted.emit()
    assert "本番用" in dialog.error.text() and dialog.result_settings is None
    dialog.public_key_id.setText("SANDBOX-AHJ1234")
    dialog.environment.setCurrentIndex(1)
    dialog.buttons.accepted.emit()
    assert "サンドボックス用" in dialog.error.text() and dialog.result_settings is None
    dialog.public_key_id.setText("LIVE-AHJ1234")
    dialog.buttons.accepted.emit()
    assert dialog.result_settings is not None and dialog.result_settings.amazon_environment == "live"


def test_the_dialog_refuses_a_seller_token_that_would_change_the_url(qtbot: QtBot) -> None:
    dialog = SettingsDialog(AppSettings())
    qtbot.addWidget(dialog)
    dialog.seller_token.setText("X&seller=evil#")
    dialog.buttons.accepted.emit()
    assert "出品者トークン" in dialog.error.text() and dialog.result_settings is None
    dialog.seller_token.setText("ａ２ｋａｎｊｏｔｏｋｅｎ")
    dialog.buttons.accepted.emit()
    assert dialog.result_settings is not None and dialog.result_settings.seller_token == "A2KANJOTOKEN"


def test_a_stored_sync_interval_out_of_range_still_opens_the_window(app: Kanjo, make_window: MakeWindow) -> None:
    app.settings.save(sync_interval_minutes=40000)  # as an older version could store it
    window = make_window(start=False)
    assert window.sync_timer.interval() == MAX_SYNC_MINUTES * 60_000
