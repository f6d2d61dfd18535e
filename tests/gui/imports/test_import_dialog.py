"""取込… in the window (issue 11 item 6): file choice or a dropped file → the import dialog with
its detected format and encoding → the preview (nothing written) → 取り込む → the summary and the
list. Real SQLite file, the real sandbox over HTTP; only Qt's file dialog is patched."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QTableView
from pytestqt.qtbot import QtBot

import core.imports.service
from core.app import Kanjo
from core.imports.model import ImportedItem
from gui.imports.drop import NOT_A_FOLDER, ONE_FILE_ONLY
from gui.imports.import_dialog import ImportDialog
from gui.imports.preview_model import PreviewColumn, PreviewModel, PreviewRow
from gui.main_window import MainWindow
from gui.tasks import TaskRunner
from tests.gui.conftest import MakeWindow
from tests.gui.helpers import numbers_shown, payment_text
from tests.gui.imports.helpers import export, placed, preview_column, shop_order


@pytest.fixture(autouse=True)
def _no_demo(app: Kanjo) -> None:
    app.settings.save(demo_seeded=True)  # the list holds only what the tests import


def open_by_file_dialog(window: MainWindow, path: Path, monkeypatch: pytest.MonkeyPatch) -> ImportDialog:
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *_args, **_kw: (str(path), ""))
    window.import_action.trigger()
    dialog = window.import_dialog
    assert dialog is not None and dialog.isVisible()
    return dialog


def drop(widget: object, urls: list[QUrl]) -> bool:
    """Send a drop of ``urls``; whether it was accepted (the event does not own its mime data)."""
    mime = QMimeData()
    mime.setUrls(urls)
    # Qt delivers a drop only to the widget that accepted the drag's entry, as a real drag does.
    enter = QDragEnterEvent(
        QPoint(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, enter)  # type: ignore[arg-type]
    if not enter.isAccepted():
        return False
    event = QDropEvent(
        QPointF(20, 20),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, event)  # type: ignore[arg-type]
    return event.isAccepted()


def test_import_from_file_choice_to_summary(
    app: Kanjo, make_window: MakeWindow, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first, second = placed(app, "FS-1", 5_000), placed(app, "FS-2", 3_000)
    path = export(
        tmp_path / "受注データ.csv",
        [
            shop_order("FS-1", amazon=first),
            shop_order("FS-2", total=3_000, amazon=second),
            shop_order("FS-3", total=2_000),
        ],
    )
    window = make_window()
    assert numbers_shown(window) == []
    dialog = open_by_file_dialog(window, path, monkeypatch)
    assert dialog.detected_label.text() == "形式: futureshop / 文字コード: CP932（Shift_JIS）"
    assert preview_column(dialog, PreviewColumn.NUMBER) == ["FS-1", "FS-2", "FS-3"]
    assert preview_column(dialog, PreviewColumn.ACTION) == ["追加"] * 3
    assert preview_column(dialog, PreviewColumn.LINK) == ["連携", "連携", "—"]
    assert "まだ何も書き込んでいません" in dialog.counts_label.text()
    assert app.orders.count() == 0  # the preview wrote nothing
    assert dialog.import_button.isEnabled() and not dialog.skip_check.isEnabled()

    dialog.import_button.click()
    result = dialog.result_frame.text()
    # FS-3 is paid by bank transfer: neither 連携 nor 未連携 (outside review)
    assert "追加 3件 / 更新 0件 / 変更なし 0件 / 連携 2件 / 未連携 0件 / 除外 0件" in result
    assert "中止" not in result
    assert not dialog.import_button.isEnabled()
    assert sorted(numbers_shown(window)) == ["FS-1", "FS-2", "FS-3"]  # the list followed
    assert payment_text(window, "FS-1") == "承認済"  # read from Amazon Pay, not the file
    assert "受注ファイルを取り込みました" in window.banner.text()

    # The same file again: nothing to add, every order unchanged.
    again = open_by_file_dialog(window, path, monkeypatch)
    assert preview_column(again, PreviewColumn.ACTION) == ["変更なし"] * 3
    again.import_button.click()
    assert "追加 0件 / 更新 0件 / 変更なし 3件" in again.result_frame.text()
    assert app.orders.count() == 3


def test_changed_file_shows_what_changes_and_format_can_be_chosen(
    app: Kanjo, make_window: MakeWindow, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    export(tmp_path / "first.csv", [shop_order("EC-1")], "eccube", "utf-8")
    app.imports.import_file(tmp_path / "first.csv")
    changed = export(
        tmp_path / "changed.csv", [shop_order("EC-1", ship_address="千代田区丸の内2-2")], "eccube", "utf-8"
    )
    window = make_window()
    dialog = open_by_file_dialog(window, changed, monkeypatch)
    assert dialog.detected_label.text() == "形式: EC-CUBE / 文字コード: UTF-8"
    assert preview_column(dialog, PreviewColumn.ACTION) == ["更新"]
    assert preview_column(dialog, PreviewColumn.CHANGES) == ["お届け先住所"]
    # Another format or encoding is checked again at once: a wrong one says why, in Japanese.
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("shopify"))
    assert "Shopify" in dialog.message.text() and "必要な列がありません" in dialog.message.text()
    assert dialog.model.rowCount() == 0 and not dialog.import_button.isEnabled()
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("eccube"))
    dialog.encoding_combo.setCurrentIndex(dialog.encoding_combo.findData("cp932"))
    assert "CP932" in dialog.message.text() and "Traceback" not in dialog.message.text()
    dialog.encoding_combo.setCurrentIndex(dialog.encoding_combo.findData("utf-8"))
    assert dialog.import_button.isEnabled()


def test_drop_one_file_on_the_list_starts_the_import(app: Kanjo, make_window: MakeWindow, tmp_path: Path) -> None:
    path = export(tmp_path / "orders.txt", [shop_order("AM-1")], "amazon-orders")
    window = make_window()
    assert drop(window.table.viewport(), [QUrl.fromLocalFile(str(path))])
    dialog = window.import_dialog
    assert dialog is not None and dialog.path == path
    assert dialog.detected_label.text() == "形式: Amazon注文レポート / 文字コード: UTF-8"
    dialog.import_button.click()
    assert "追加 1件" in dialog.result_frame.text()
    assert numbers_shown(window) == ["AM-1"]


def test_dropping_several_files_or_a_folder_is_refused_in_japanese(make_window: MakeWindow, tmp_path: Path) -> None:
    one, two = export(tmp_path / "a.csv", [shop_order("A-1")]), export(tmp_path / "b.csv", [shop_order("B-1")])
    window = make_window()
    drop(window.table.viewport(), [QUrl.fromLocalFile(str(one)), QUrl.fromLocalFile(str(two))])
    assert window.import_dialog is None and window.banner.text() == ONE_FILE_ONLY
    drop(window.table.viewport(), [QUrl.fromLocalFile(str(tmp_path))])
    assert window.import_dialog is None and window.banner.text() == NOT_A_FOLDER


def test_refused_rows_show_line_column_reason_and_block_until_skipped(
    app: Kanjo, make_window: MakeWindow, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = export(tmp_path / "bad.csv", [shop_order("R-1"), shop_order("R-2", line=4), shop_order("R-3")])
    text = path.read_bytes().decode("cp932")
    lines = text.split("\r\n")
    header = lines[0].split(",")
    row = lines[3].split(",")  # R-2's first line (R-1 has two item lines)
    assert row[0] == "R-2"
    row[header.index("請求合計金額")] = "abc"
    lines[3] = ",".join(row)
    path.write_bytes("\r\n".join(lines).encode("cp932"))
    window = make_window()
    dialog = open_by_file_dialog(window, path, monkeypatch)
    assert preview_column(dialog, PreviewColumn.ACTION) == ["取込不可", "追加", "追加"]
    assert preview_column(dialog, PreviewColumn.LINE)[0] == "4"
    assert preview_column(dialog, PreviewColumn.COLUMN)[0] == "請求合計金額"
    assert preview_column(dialog, PreviewColumn.REASON)[0].startswith("請求合計金額は数字で入力してください")
    assert "取り込めない行が1件" in dialog.message.text()
    assert not dialog.import_button.isEnabled()  # nothing while a row is refused
    dialog.import_button.click()
    assert app.orders.count() == 0
    dialog.skip_check.setChecked(True)
    assert dialog.import_button.isEnabled()
    dialog.import_button.click()
    assert "追加 2件" in dialog.result_frame.text() and "除外 1件" in dialog.result_frame.text()
    assert sorted(numbers_shown(window)) == ["R-1", "R-3"]


def test_unknown_format_is_a_japanese_message_in_the_dialog(
    app: Kanjo, make_window: MakeWindow, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "other.csv"
    path.write_text("伝票,日付,金額\nX-1,2026/11/20 10:00:00,1000\n", encoding="utf-8")
    window = make_window()
    dialog = open_by_file_dialog(window, path, monkeypatch)
    assert "形式を判別できません" in dialog.message.text() and "列の対応を編集" in dialog.message.text()
    assert dialog.detected_label.text() == "形式・文字コード: 判別できませんでした"
    assert not dialog.import_button.isEnabled()
    assert window.last_error_box is None


def test_cancel_mid_file_leaves_whole_orders_and_the_rest_untouched(
    app: Kanjo, make_window: MakeWindow, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, qtbot: QtBot
) -> None:
    """1,500 orders, written 100 at a time on a real worker thread; 中止 after the first chunk."""
    monkeypatch.setattr(core.imports.service, "CHUNK_ORDERS", 100)
    orders = [
        shop_order(f"C-{i:04d}", items=tuple(ImportedItem(f"S{k}", f"商品{k}", 1_000, 1) for k in range(1 + i % 3)))
        for i in range(1_500)
    ]
    orders = [o.__class__(**{**o.__dict__, "total": 1_000 * len(o.items)}) for o in orders]
    path = export(tmp_path / "large.csv", orders)
    threaded = TaskRunner()
    try:
        window = make_window(task_runner=threaded)
        qtbot.waitUntil(lambda: not threaded.busy, timeout=10_000)
        monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *_args, **_kw: (str(path), ""))
        window.import_action.trigger()
        dialog = window.import_dialog
        assert dialog is not None
        assert dialog.busy == "preview" and dialog.cancel_button.isEnabled()  # the GUI thread did not wait
        qtbot.waitUntil(lambda: dialog.preview is not None, timeout=30_000)
        assert dialog.preview is not None and dialog.preview.added == 1_500
        values: list[int] = []

        visible_after_close: list[bool] = []

        def on_value(value: int) -> None:
            if value <= 0:
                return
            values.append(value)
            if dialog.cancel_button.isEnabled():
                dialog.cancel_button.click()  # after the first chunk was written
                dialog.reject()  # closing while writing: the window stays until the orders are whole
                visible_after_close.append(dialog.isVisible())

        dialog.progress_bar.valueChanged.connect(on_value)
        with qtbot.waitSignal(dialog.imported, timeout=30_000) as blocker:
            dialog.import_button.click()
            assert dialog.busy == "apply" and not dialog.close_button.isEnabled()
        summary = blocker.args[0]
        qtbot.waitUntil(lambda: not threaded.busy, timeout=10_000)  # the list's reads after the import
    finally:
        threaded.shutdown()
    assert summary.cancelled and values[0] == 100 and visible_after_close == [True]
    assert "取込を中止しました" in dialog.result_frame.text()
    assert "中止" in window.banner.text()
    written = app.orders.count()
    assert written == summary.added and written % 100 == 0 and 0 < written < 1_500
    by_number = {o.number: o for o in orders}
    for plan in summary.orders:  # each imported order is whole: every item is there
        detail = app.orders.detail(plan.number)
        assert len(detail.items) == len(by_number[plan.number].items)
    imported = {plan.number for plan in summary.orders}
    rest = [o.number for o in orders if o.number not in imported]
    assert len(rest) == 1_500 - written
    with app.engine.connect() as connection:
        from sqlalchemy import text

        stored = {row[0] for row in connection.execute(text("SELECT number FROM orders"))}
    assert stored == imported  # the rest are untouched


def test_preview_table_model_holds_100000_rows_without_hanging(qtbot: QtBot, qtmodeltester: object) -> None:
    rows = [PreviewRow(i + 2, f"N-{i:06d}", "add", "", i % 2 == 0) for i in range(100_000)]
    small = PreviewModel()
    small.set_rows([*rows[:50], PreviewRow(60, "", "refused", column="合計", reason="金額を読めません。")])
    qtmodeltester.check(small, force_py=True)  # type: ignore[attr-defined]
    started = time.perf_counter()
    model = PreviewModel()
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.verticalHeader().setDefaultSectionSize(20)
    view.show()
    model.set_rows(rows)
    view.scrollToBottom()
    QApplication.processEvents()
    assert time.perf_counter() - started < 2.0
    assert model.index(99_999, PreviewColumn.NUMBER).data() == "N-099999"
