"""Search as Japanese operators type (issue 16 item 6): one fold for index and query, the
customer's reading, a phone number with or without hyphens; on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from core.app import Kanjo
from core.clock import FixedClock
from core.imports.model import ImportedOrder
from core.order_pages import OrderFilter, OrderPages, OrderQuery
from core.search_text import fold, phone_digits, phone_query
from tests.core.imports.test_formats import read_all
from tests.core.imports.test_service import FILE, shop_order
from tests.helpers import place_order


@pytest.fixture
def store_url(any_store_url: str) -> str:
    return any_store_url


def found(app: Kanjo, search: str) -> set[str]:
    query = OrderQuery(filter=OrderFilter(text=search))
    return {row.number for row in OrderPages(app.engine).page(query, 0, 100, app.clock.now()).rows}


def customer(app: Kanjo, number: str, name: str, reading: str = "", phone: str = "") -> None:
    with app.engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE customers SET name = :name, name_reading = :reading, phone = :phone "
                "WHERE id = (SELECT customer_id FROM orders WHERE number = :number)"
            ),
            {"name": name, "reading": reading, "phone": phone, "number": number},
        )


def test_the_fold() -> None:
    assert fold("ヤマダ ﾊﾅｺ") == "やまだ はなこ"
    assert fold("㈱ＡＢＣ①") == "(株)ABC1"
    assert phone_digits("０３-1234-5678") == "0312345678"
    assert phone_query("03-1234") == "031234" and phone_query("(03) 1234") == "031234"
    assert phone_query("山田") is None and phone_query("K0100") is None and phone_query("12") is None


def test_kana_reading_compatibility_forms_and_phone(app: Kanjo, clock: FixedClock) -> None:
    for index, number in enumerate(("F1", "F2", "F3", "F4")):
        place_order(app, number, ordered_at=clock.now() - timedelta(minutes=index))
    customer(app, "F1", "山田 花子", "ヤマダ ハナコ", "03-1234-5678")
    customer(app, "F2", "タナカ商店", "", "090 8765 4321")
    customer(app, "F3", "㈱ＡＢＣ①", "", "")
    customer(app, "F4", "佐藤 一郎", "さとう いちろう", "")
    # Hiragana and katakana fold into each other, and match the reading.
    assert found(app, "やまだ") == {"F1"} and found(app, "ヤマダ") == {"F1"} and found(app, "ﾔﾏﾀﾞ") == {"F1"}
    assert found(app, "やまだはなこ") == {"F1"}  # the reading without its space
    assert found(app, "はな") == {"F1"} and found(app, "ハ") >= {"F1"}  # 1–2 characters
    assert found(app, "たなか") == {"F2"} and found(app, "サトウ") == {"F4"} and found(app, "イチ") == {"F4"}
    # ①, ㈱ and ＡＢＣ in a name are found however they are typed.
    assert found(app, "ABC") == {"F3"} and found(app, "ＡＢＣ") == {"F3"} and found(app, "abc1") == {"F3"}
    assert found(app, "㈱") == {"F3"} and found(app, "(株)") == {"F3"}
    # A phone number with or without hyphens, spaces or full-width digits.
    for typed in ("03-1234-5678", "0312345678", "1234-5678", "５６７８", "(03)1234"):
        assert found(app, typed) == {"F1"}, typed
    assert found(app, "090-8765-4321") == {"F2"} and found(app, "87654321") == {"F2"}
    assert found(app, "山田") == {"F1"} and found(app, "F1") == {"F1"}  # as before


def test_postgresql_fold_is_the_python_fold(app: Kanjo) -> None:
    if app.engine.dialect.name != "postgresql":
        pytest.skip("the SQL fold is PostgreSQL's; SQLite calls the Python one itself")
    samples = ["ヤマダ ﾊﾅｺ", "㈱ＡＢＣ①", "ｶﾞｷﾞｸﾞ ヴ ー", "髙橋　一郎", "Ｅｍａｉｌ＠ｅｘａｍｐｌｅ．ｊｐ"]
    with app.engine.connect() as connection:
        for sample in samples:
            assert connection.scalar(text("SELECT kanjo_fold(:s)"), {"s": sample}) == fold(sample), sample
            assert connection.scalar(text("SELECT kanjo_digits(:s)"), {"s": "０３-12"}) == "0312"


def test_eccube_reading_is_imported_and_searched(app: Kanjo, tmp_path: Path) -> None:
    path = tmp_path / "ec.csv"
    path.write_text(
        "注文番号,お名前(姓),お名前(名),お名前(セイ),お名前(メイ),メールアドレス,TEL,郵便番号,都道府県,住所1,住所2,"
        "小計,送料,合計,支払合計,支払方法,受注日,商品コード,商品名,価格,個数\n"
        "EC-9,山田,花子,ヤマダ,ハナコ,hanako@example.jp,03-1111-2222,100-0001,東京都,千代田区,1-1,"
        "2400,0,2400,2400,銀行振込,2026-11-21 12:34:56,A-1,りんご,1200,2\n",
        encoding="utf-8",
    )
    _detected, rows = read_all(path)
    (order,) = [r for r in rows if isinstance(r, ImportedOrder)]
    assert order.customer_reading == "ヤマダ ハナコ"
    imported = replace(
        shop_order("EC-9", 1),
        customer_name=order.customer_name,
        customer_reading=order.customer_reading,
        customer_phone=order.customer_phone,
    )
    summary = app.imports.apply(FILE, [imported])
    assert summary.added == 1
    assert found(app, "はなこ") == {"EC-9"} and found(app, "0311112222") == {"EC-9"}


def test_python_pairs_are_the_sql_pairs_of_the_folded_name(app: Kanjo) -> None:
    from core.db.search_index import _pairs, folded_name_pairs

    if app.engine.dialect.name != "sqlite":
        pytest.skip("the bigram table is SQLite's")
    with app.engine.connect() as connection:
        for name, reading in (("林", ""), ("山田 花子", "ヤマダ ハナコ"), ("長" * 45, "ｱ")):
            sql = connection.scalar(
                text(f"SELECT {_pairs('kanjo_fold(:n)')} || ' ' || {_pairs('kanjo_fold(:r)')}"),
                {"n": name, "r": reading},
            )
            assert folded_name_pairs(name, reading) == sql, name
