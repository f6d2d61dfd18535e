"""Search in the window as Japanese operators type (issue 16 item 6): kana either way, the
reading, a phone number with or without hyphens."""

from __future__ import annotations

from pytestqt.qtbot import QtBot
from sqlalchemy import text

from core.app import Kanjo
from tests.gui.conftest import MakeWindow
from tests.gui.helpers import numbers_shown
from tests.helpers import place_order


def test_kana_and_phone_search_in_the_filter_bar(app: Kanjo, make_window: MakeWindow, qtbot: QtBot) -> None:
    place_order(app, "KS1", 1_000)
    place_order(app, "KS2", 2_000)
    with app.engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE customers SET name = '山田 花子', name_reading = 'ヤマダ ハナコ', phone = '03-1234-5678' "
                "WHERE id = (SELECT customer_id FROM orders WHERE number = 'KS1')"
            )
        )
    window = make_window(demo_orders=0)  # no demo orders: only what the test placed
    bar = window.filter_bar
    for typed, expected in (
        ("やまだ", ["KS1"]),  # hiragana finds the katakana reading
        ("ﾔﾏﾀﾞ", ["KS1"]),  # half-width katakana too
        ("はな", ["KS1"]),  # two characters of the reading
        ("0312345678", ["KS1"]),  # the phone without hyphens
        ("03-1234-5678", ["KS1"]),  # and with them
        ("1234-5678", ["KS1"]),
    ):
        bar.search.setText(typed)  # as an input method commits it
        bar.apply_now()
        assert numbers_shown(window) == expected, typed
    assert "フリガナ" in bar.search.placeholderText() and "電話番号" in bar.search.placeholderText()
