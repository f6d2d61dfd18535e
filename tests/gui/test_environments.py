"""Issue 11 item 8 in the window: orders of another Amazon Pay environment are marked in the
list and the detail with their actions off, and going live offers to remove the sandbox's
orders in one step (the journal keeps the record). Real core, real SQLite, real sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import func, select, update

from core.amazonpay.signing import generate_key_pair
from core.app import Kanjo
from core.db.schema import JournalEntry, Order
from gui.dialogs.operation_bar import Operation
from gui.orders.table_model import Column, OrderRole
from tests.gui.conftest import MakeWindow
from tests.gui.helpers import numbers_shown
from tests.gui.helpers import select as select_order
from tests.gui.test_main_window import LIVE, NO_CREDENTIALS, answer_settings
from tests.helpers import place_order

REFUSAL = "この受注は本番の受注です。現在の接続先は内蔵サンドボックスのため、Amazon Payへは送信しません。"


def test_an_order_of_another_environment_is_marked_and_its_actions_are_off(app: Kanjo, make_window: MakeWindow) -> None:
    place_order(app, "G-1")
    place_order(app, "G-2")
    with app.sessions.begin() as session:
        session.execute(update(Order).where(Order.number == "G-2").values(environment="live"))
    window = make_window()
    model = window.model
    other = model.row_of("G-2")
    same = model.row_of("G-1")
    assert other is not None and same is not None
    kind = model.index(other, Column.KIND)
    assert kind.data() == "通常商品 [本番]"
    assert kind.data(OrderRole.OTHER_ENVIRONMENT) is True
    assert REFUSAL in model.index(other, Column.NUMBER).data(Qt.ItemDataRole.ToolTipRole)
    assert REFUSAL in model.index(other, Column.CUSTOMER).data(Qt.ItemDataRole.ToolTipRole)  # after its own tip
    assert model.index(other, Column.TOTAL).data(Qt.ItemDataRole.ForegroundRole) is not None  # greyed
    assert model.index(same, Column.KIND).data() == "通常商品"
    assert model.index(same, Column.TOTAL).data(Qt.ItemDataRole.ForegroundRole) is None
    assert model.index(same, Column.NUMBER).data(Qt.ItemDataRole.ToolTipRole) is None

    select_order(window, "G-2")
    detail = window.detail
    assert not detail.environment_notice.isHidden()
    assert detail.environment_notice.title.text() == "本番の受注です"
    assert REFUSAL in detail.environment_notice.body.text()
    for button in (detail.capture_button, detail.reauthorize_button, detail.sync_button):
        assert not button.isEnabled() and button.toolTip().startswith(REFUSAL)  # then its shortcut (issue 16)
    for operation in (Operation.AMOUNT, Operation.REFUND, Operation.CANCEL, Operation.CHANGE_METHOD):
        button = detail.operation_bar.button(operation)
        assert not button.isEnabled() and REFUSAL in button.toolTip()
    select_order(window, "G-1")
    assert detail.environment_notice.isHidden() and detail.capture_button.isEnabled()
    window.sync_all()  # すべて同期: the other environment's order is skipped, not marked failed
    assert "うち1件は接続先と別の環境の受注のため送信していません" in window.banner.text()
    assert "取得できませんでした" not in window.banner.text()


def journal_rows(app: Kanjo) -> int:
    with app.sessions() as session:
        return int(session.scalar(select(func.count(JournalEntry.id))) or 0)


def answer(window: object, text: str) -> None:
    box = window.sandbox_question  # type: ignore[attr-defined]
    assert box is not None
    [button] = [b for b in box.buttons() if b.text() == text]
    button.click()


def test_going_live_offers_to_remove_the_sandbox_orders(
    app: Kanjo, make_window: MakeWindow, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    place_order(app, "G-3")
    place_order(app, "G-4")
    window = make_window()
    key = tmp_path / "live.pem"
    key.write_bytes(generate_key_pair()[0])
    answer_settings(monkeypatch, **LIVE, amazon_private_key_path=str(key))
    window.open_settings()
    box = window.sandbox_question
    assert box is not None and box.text() == "サンドボックスの受注2件を一覧から削除しますか?(記録は残ります)"
    assert sorted(b.text() for b in box.buttons()) == sorted(["削除する", "残す"])
    model = window.model
    row = model.row_of("G-3")
    assert row is not None and model.index(row, Column.KIND).data() == "通常商品 [内蔵サンドボックス]"  # now marked
    answer(window, "残す")
    assert sorted(numbers_shown(window)) == ["G-3", "G-4"]  # kept: nothing removed

    answer_settings(monkeypatch, **NO_CREDENTIALS)  # back to the built-in sandbox: no question
    window.open_settings()
    assert window.sandbox_question is None
    answer_settings(monkeypatch, **LIVE, amazon_private_key_path=str(key))
    window.open_settings()
    select_order(window, "G-3")
    before = journal_rows(app)
    answer(window, "削除する")
    assert numbers_shown(window) == []
    assert "サンドボックスの受注2件を一覧から削除しました" in window.banner.text()
    assert window.detail.number_shown is None
    assert journal_rows(app) == before + 2  # the journal keeps everything and says what went
