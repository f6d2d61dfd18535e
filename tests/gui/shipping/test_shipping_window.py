"""The window's 発送, 一括発送 and キャンセル対応 (issue 15 item 7) over the real core, store and
sandbox; the desk is driven from the reply to the refund."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pytestqt.qtbot import QtBot

from core.app import Kanjo
from core.clock import FixedClock
from core.shipping.cancellation import Option
from gui.shipping.bulk_dialog import BulkShipDialog
from gui.shipping.desk_dialog import CancellationDesk
from gui.shipping.ship_dialog import ShipDialog
from tests.gui.conftest import MakeWindow
from tests.helpers import place_order

YAMATO = "444413758703"


def refunds_at_sandbox(app: Kanjo, number: str) -> list[str]:
    control = app.gateway().control
    assert control is not None
    return [r["refundAmount"]["amount"] for r in control.snapshot(number)["refunds"]]


def test_ship_dialog_checks_the_number_as_typed_then_captures_and_ships(
    app: Kanjo, make_window: MakeWindow, qtbot: QtBot
) -> None:
    place_order(app, "W-1", 3_000)
    window = make_window(demo_orders=0)
    dialog = window.open_shipping("ship", "W-1")
    assert isinstance(dialog, ShipDialog)
    dialog.tracking.setText("444413758704")
    assert not dialog.ship_button.isEnabled() and "最後の桁" in dialog.check.text()
    dialog.tracking.setText("4444-1375-8703")
    assert dialog.ship_button.isEnabled() and "kuronekoyamato" in dialog.check.text()
    dialog.ship_button.click()
    assert dialog.result_value is not None and dialog.result_value.captured
    detail = app.orders.detail("W-1")
    assert detail.order_status == "発送済" and detail.tracking_number == YAMATO and detail.captured == 3_000


def test_bulk_dialog_previews_then_ships_with_a_result_list(
    app: Kanjo, make_window: MakeWindow, tmp_path: Path
) -> None:
    place_order(app, "W-2", 1_000)
    path = tmp_path / "b2.csv"
    path.write_bytes(("お客様管理番号,送り状種類,伝票番号\n" + f"W-2,0,{YAMATO}\nW-404,0,{YAMATO}\n").encode("cp932"))
    window = make_window(demo_orders=0)
    dialog = window.open_shipping("bulk", path=str(path))
    assert isinstance(dialog, BulkShipDialog)
    assert dialog.preview is not None and [p["number"] for p in dialog.preview.planned] == ["W-2"]
    assert app.orders.detail("W-2").tracking_number is None  # the preview changed nothing
    assert dialog.table.rowCount() == 2
    dialog.ship_button.click()
    assert dialog.result_value is not None and dialog.result_value.shipped == 1
    assert "発送 1件" in dialog.status.text()
    assert app.orders.detail("W-2").tracking_number == YAMATO


def test_desk_from_the_reply_to_the_refund(
    app: Kanjo, make_window: MakeWindow, clock: FixedClock, qtbot: QtBot, tmp_path: Path
) -> None:
    app.settings.save(shop_name="勘定商店", seller_token="A2KANJOTOKEN")
    place_order(app, "W-3", 6_000, ordered_at=clock.now() - timedelta(days=3))
    app.shipping.set_item_cost("W-3", "1", 2_500)
    app.shipping.ship("W-3", "yamato", YAMATO)
    window = make_window(demo_orders=0)
    desk = window.open_shipping("desk", "W-3")
    assert isinstance(desk, CancellationDesk)
    desk.confirm = lambda _text: True
    assert desk.record_box.isVisible()
    desk.note.setText("やっぱりキャンセルしたいです")
    desk.record_button.click()
    assert "受付" in desk.request_label.text() and "24時間を過ぎた" in desk.proposal_label.text()
    # The calculator beside the reply: the one cushion (R45) is proposed first.
    assert desk.options_table.rowCount() == 3 and "seller=A2KANJOTOKEN" in desk.body.toPlainText()
    assert desk.reply_button.isEnabled()
    desk.reply_button.click()
    assert "返信済" in desk.request_label.text()
    desk.select_option(Option.HALF)
    assert "返品手続き" in desk.subject.text() and "¥3,000" in desk.body.toPlainText()
    desk.resolve_button.click()
    assert "返品待ち" in desk.request_label.text() and not desk.refund_button.isEnabled()
    assert refunds_at_sandbox(app, "W-3") == []
    desk.received_button.click()
    assert desk.refund_button.isEnabled()
    desk.refund_button.click()
    assert "返金済" in desk.request_label.text() and refunds_at_sandbox(app, "W-3") == ["3000"]
    assert "3,000円を返金しました" in desk.status.text()
    (tmp_path / "shot").mkdir()
    assert desk.grab().save(str(tmp_path / "shot" / "desk.png"))


def test_needs_action_shows_open_requests_and_awaited_returns(
    app: Kanjo, make_window: MakeWindow, clock: FixedClock
) -> None:
    place_order(app, "W-4", 2_000, ordered_at=clock.now() - timedelta(days=3))
    place_order(app, "W-5", 2_000, ordered_at=clock.now() - timedelta(days=3))
    app.shipping.ship("W-4", "yamato", YAMATO)
    app.shipping.ship("W-5", "yamato", YAMATO)
    app.shipping.open_request("W-4")
    window = make_window(demo_orders=0)
    window.filter_bar.needs_action.setChecked(True)
    numbers = {window.model.index(r, 0).data() for r in range(window.model.rowCount())}
    assert "W-4" in numbers and "W-5" not in numbers


def test_the_toolbar_s_shipping_menu_opens_each_view(app: Kanjo, make_window: MakeWindow) -> None:
    place_order(app, "W-6", 1_000)
    window = make_window(demo_orders=0)
    assert [a.text() for a in window.shipping_menu.actions()] == ["発送…", "一括発送…", "キャンセル対応…"]
    window.load_detail("W-6")
    window.shipping_menu.actions()[0].trigger()
    assert isinstance(window.shipping_dialog, ShipDialog) and window.shipping_dialog.number == "W-6"
    window.shipping_dialog.reject()
    window.shipping_menu.actions()[2].trigger()
    assert isinstance(window.shipping_dialog, CancellationDesk)
    assert window.shipping_dialog.request_label.text() == "キャンセル依頼はまだ記録されていません。"
