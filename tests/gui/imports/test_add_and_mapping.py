"""注文を追加… and the column mapping editor (issue 11 items 3, 1 and 6), in the real window over a
real SQLite file and the real sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog

from core.app import Kanjo
from gui.imports.mapping_dialog import MappingDialog
from gui.imports.preview_model import PreviewColumn
from tests.gui.conftest import MakeWindow
from tests.gui.helpers import numbers_shown, payment_text
from tests.gui.imports.helpers import placed, preview_column


@pytest.fixture(autouse=True)
def _no_demo(app: Kanjo) -> None:
    app.settings.save(demo_seeded=True)


def test_add_order_by_charge_permission_selects_it_and_shows_errors_in_japanese(
    app: Kanjo, make_window: MakeWindow
) -> None:
    checkout = placed(app, "NS-1", 4_000)
    window = make_window()
    window.add_order_action.trigger()
    dialog = window.add_order_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.add_button.click()  # the required ID is missing
    assert dialog.message.text() == "Charge Permission IDを入力してください。" and dialog.isVisible()

    dialog.permission.setText("S03-0000000-0000000")
    dialog.add_button.click()
    assert "404" in dialog.message.text() and "Traceback" not in dialog.message.text()
    assert dialog.isVisible() and dialog.add_button.isEnabled()
    assert app.orders.count() == 0

    dialog.permission.setText(checkout["chargePermissionId"])
    dialog.charges.setText(f"  {checkout['chargeId']}  ")
    dialog.add_button.click()
    assert not dialog.isVisible()
    assert window.detail.number_shown == "NS-1"  # the new order is selected
    assert payment_text(window, "NS-1") == "承認済"
    assert "NS-1" in window.banner.text()
    assert window.last_error_box is None

    window.add_order_action.trigger()  # the same Charge Permission again: already registered
    again = window.add_order_dialog
    assert again is not None and again is not dialog
    again.permission.setText(checkout["chargePermissionId"])
    again.add_button.click()
    assert "すでに登録されています" in again.message.text() and again.isVisible()
    assert app.orders.count() == 1


def test_mapping_editor_saves_a_mapping_for_an_odd_csv_and_the_import_uses_it(
    app: Kanjo, make_window: MakeWindow, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    checkout = placed(app, "X-2", 2_400)
    path = tmp_path / "自社カート.csv"
    path.write_text(
        "伝票No,受付日,お支払い総額,品名,単価,個数,氏名,住所1,住所2,決済ID,取引ID\n"
        "X-1,2026/11/20 10:00:00,1000,緑茶,1000,1,山田 太郎,千代田区,1-1,,\n"
        f"X-2,2026/11/20 11:00:00,2400,湯のみ,1200,2,佐藤 花子,港区,2-2,{checkout['chargePermissionId']},"
        f"{checkout['chargeId']}\n",
        encoding="utf-8",
    )
    window = make_window()
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *_args, **_kw: (str(path), ""))
    window.import_action.trigger()
    dialog = window.import_dialog
    assert dialog is not None
    assert "必要な列がありません" in dialog.message.text() and "列の対応を編集" in dialog.message.text()

    dialog.mapping_button.click()
    editor = dialog.mapping_dialog
    assert isinstance(editor, MappingDialog) and editor.isVisible()
    assert editor.headers[:3] == ("伝票No", "受付日", "お支払い総額")
    assert editor.boxes["item_price"].currentText() == "単価"  # a column named like the field is guessed
    editor.save_button.click()
    assert editor.message.text() == "マッピングの名前を入力してください。"
    editor.name.setText("自社カート")
    editor.save_button.click()  # required columns missing: named, nothing saved
    assert "必要な項目の列が指定されていません" in editor.message.text() and "注文番号" in editor.message.text()
    assert app.imports.mappings() == {}
    for key, header in {
        "number": "伝票No",
        "ordered_at": "受付日",
        "total": "お支払い総額",
        "item_name": "品名",
        "item_quantity": "個数",
        "customer_name": "氏名",
        "ship_address": "住所1+住所2",  # typed: two columns joined
        "charge_permission_id": "決済ID",
        "charge_ids": "取引ID",
    }.items():
        editor.boxes[key].setCurrentText(header)
    editor.save_button.click()
    assert not editor.isVisible()
    assert app.imports.mappings()["自社カート"].columns["number"] == "伝票No"

    assert dialog.format_combo.currentData() == "自社カート"  # the dialog uses it at once
    assert dialog.detected_label.text() == "形式: 対応表「自社カート」 / 文字コード: UTF-8"
    assert preview_column(dialog, PreviewColumn.ACTION) == ["追加", "追加"]
    assert preview_column(dialog, PreviewColumn.LINK) == ["—", "連携"]
    dialog.import_button.click()
    assert "追加 2件" in dialog.result_frame.text() and "連携 1件" in dialog.result_frame.text()
    assert sorted(numbers_shown(window)) == ["X-1", "X-2"]
    assert app.orders.detail("X-1").ship_address == "千代田区 1-1"
    assert payment_text(window, "X-2") == "承認済"

    # A later file of the same shape: the saved mapping is a format choice from the start.
    window.import_action.trigger()
    later = window.import_dialog
    assert later is not None and later is not dialog
    assert later.format_combo.findData("自社カート") >= 0
