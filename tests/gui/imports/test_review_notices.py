"""Issue 11 review item 1 in the window: the result and the preview name what the import did not
do by itself (a キャンセル of an order whose money is at Amazon, R35)."""

from __future__ import annotations

from core.imports.model import ImportNotice
from core.imports.service import ImportSummary, cancel_notice
from gui.imports.import_dialog import notice_lines, result_text


def summary(notices: int) -> ImportSummary:
    shown = tuple(ImportNotice(n + 2, f"CN-{n}", cancel_notice(f"CN-{n}")) for n in range(min(notices, 5)))
    return ImportSummary("futureshop", "cp932", 0, 1, 0, 0, 0, (), notices=shown, notices_total=notices)


def test_the_result_names_each_order_to_cancel_by_hand() -> None:
    text = result_text(summary(1))
    assert "要対応 1件" in text and "受注 CN-0(2行目)" in text and "kanjo cancel CN-0" in text


def test_many_notices_are_counted_not_all_spelled_out() -> None:
    lines = notice_lines(summary(40))
    assert lines[0] == "要対応 40件:" and lines[-1] == "ほか37件"
    assert notice_lines(summary(0)) == []
