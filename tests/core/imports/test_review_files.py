"""Issue 11, open review findings on reading a shop's file (items 4, 6, 7, 9, 10, 11): each bad
file is refused with a Japanese reason naming the line or column (R58)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.errors import BadInput
from core.imports.mapping import ColumnMapping
from core.imports.model import ImportedOrder, RefusedRow
from core.imports.reader import detect, read_orders

NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)  # 12:00 in Tokyo
HEAD = "注文番号,支払合計,送料,支払方法,受注日,商品名,価格,個数"


@pytest.fixture(autouse=True)
def _now(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader's default clock is the injectable one (the service passes its own)."""
    monkeypatch.setenv("KANJO_NOW", NOW.isoformat())


def read(path: Path, **kwargs: object) -> list[ImportedOrder | RefusedRow]:
    mappings = kwargs.pop("mappings", None)
    detected = detect(path, mappings=mappings, **kwargs)  # type: ignore[arg-type]
    return list(read_orders(path, detected, mappings=mappings))  # type: ignore[arg-type]


def refused(rows: list[ImportedOrder | RefusedRow]) -> list[tuple[int, str | None, str]]:
    return [(r.line, r.column, r.reason) for r in rows if isinstance(r, RefusedRow)]


def test_a_mapping_without_price_or_quantity_is_refused_in_japanese() -> None:
    """Item 4: the message names 単価/数量, never item_price; an unknown field lists the valid ones."""
    with pytest.raises(BadInput) as missing:
        ColumnMapping("own", {"number": "No", "ordered_at": "日付", "total": "計", "item_name": "品名"})
    assert "単価と数量" in missing.value.message and "item_price" not in missing.value.message.split("例")[0]
    with pytest.raises(BadInput) as unknown:
        ColumnMapping("own", {"number": "No", "ordered_at": "日付", "total": "計", "price": "単価"})
    assert "price" in unknown.value.message and "item_price(単価)" in unknown.value.message
    assert "item_quantity(数量)" in unknown.value.message


def test_a_stale_saved_mapping_still_loads_and_its_rows_name_the_field_in_japanese(tmp_path: Path) -> None:
    """Item 4: a mapping saved before the check loads (other imports keep working); its rows say
    which column the mapping lacks, in Japanese."""
    stale = ColumnMapping.from_json(
        '{"name": "old", "columns": {"number": "No", "ordered_at": "日付", "total": "計", "item_name": "品名"}}'
    )
    path = tmp_path / "own.csv"
    path.write_text("No,日付,計,品名\nA-1,2026/11/20 10:00,1000,茶\n", encoding="utf-8")
    rows = read(path, format="old", mappings={"old": stale})
    reasons = [reason for _line, _column, reason in refused(rows)]
    assert reasons and all("item_" not in reason for reason in reasons)
    assert any("単価の列がありません" in reason for reason in reasons)


def test_a_duplicated_column_that_is_read_is_refused_naming_it(tmp_path: Path) -> None:
    """Item 6: two 価格 columns: which one is the price is not guessed."""
    path = tmp_path / "dup.csv"
    path.write_text(HEAD + ",価格\n1,1000,0,銀行振込,2026/11/20 10:00,茶,1000,1,2000\n", encoding="utf-8")
    with pytest.raises(BadInput, match="「価格」が7列目と9列目"):
        read(path)
    # A repeated column that no format reads is harmless (kept aside like any extra column).
    ok = tmp_path / "ok.csv"
    ok.write_text(HEAD + ",メモ,メモ\n1,1000,0,銀行振込,2026/11/20 10:00,茶,1000,1,a,b\n", encoding="utf-8")
    (order,) = read(ok)
    assert isinstance(order, ImportedOrder) and order.total == 1000


def test_an_unterminated_quote_is_refused_with_the_line_it_opened_on(tmp_path: Path) -> None:
    """Item 7: the rest of the file is not swallowed into one cell."""
    path = tmp_path / "quote.csv"
    path.write_text(
        HEAD + "\n"
        "1,1000,0,銀行振込,2026/11/20 10:00,茶,1000,1\n"
        '2,1000,0,銀行振込,2026/11/20 10:00,"茶,1000,1\n'  # line 3: the quote never closes
        "3,1000,0,銀行振込,2026/11/20 10:00,茶,1000,1\n"
        "4,1000,0,銀行振込,2026/11/20 10:00,茶,1000,1\n",
        encoding="utf-8",
    )
    with pytest.raises(BadInput, match="3行目で始まる引用符"):
        read(path)
    # A quoted newline that closes is still one cell (not mistaken for this).
    fine = tmp_path / "fine.csv"
    fine.write_text(HEAD + '\n1,1000,0,銀行振込,2026/11/20 10:00,"茶\n葉",1000,1\n', encoding="utf-8")
    (order,) = read(fine)
    assert isinstance(order, ImportedOrder) and order.items[0].name == "茶\n葉"


@pytest.mark.parametrize(
    ("cells", "column", "words"),
    [
        ("1,1000,0,銀行振込,1900/01/01 10:00,茶,1000,1", "受注日", "2000/01/01から2026/11/22 12:00"),
        ("1,1000,0,銀行振込,2026/11/23 10:00,茶,1000,1", "受注日", "ありえない日時"),
        ("1,1000,0,銀行振込,2026/11/20 10:00,茶,1,10000000", "個数", "99,999まで"),
        ("1,10000001,0,銀行振込,2026/11/20 10:00,茶,1000,1", "支払合計", "10,000,000円"),
        ("1,1000,0,銀行振込,2026/11/20 10:00,茶,10000001,1", "価格", "上限"),
        ("1,1000,10000001,銀行振込,2026/11/20 10:00,茶,1000,1", "送料", "上限"),
    ],
)
def test_impossible_dates_quantities_and_amounts_are_refused_with_line_and_column(
    tmp_path: Path, cells: str, column: str, words: str
) -> None:
    """Item 9: dates between 2000-01-01 and the clock's now + 1 day, quantity ≤ 99,999, amounts ≤
    MAX_ORDER_TOTAL (R5)."""
    path = tmp_path / "x.csv"
    path.write_text(f"{HEAD}\n{cells}\n", encoding="utf-8")
    ((line, got_column, reason),) = refused(read(path))
    assert (line, got_column) == (2, column) and words in reason


def test_the_day_after_now_and_the_first_day_of_2000_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text(
        f"{HEAD}\n1,1000,0,銀行振込,2000/01/01 00:00,茶,1000,1\n2,1000,0,銀行振込,2026/11/22 11:59,茶,1,99999\n",
        encoding="utf-8",
    )
    assert refused(read(path)) == []


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00[Content_Types].xml", "Excel"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00", "Excel"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG"),
        (b"\x1f\x8b\x08\x00", "gzip"),
    ],
)
def test_spreadsheets_archives_pdfs_and_images_are_named_not_an_encoding_problem(
    tmp_path: Path, head: bytes, kind: str
) -> None:
    """Item 10."""
    path = tmp_path / "orders.csv"
    path.write_bytes(head + bytes(range(256)) * 4)
    with pytest.raises(BadInput) as exc:
        detect(path)
    assert "CSV/TSVファイルではありません" in exc.value.message and kind in exc.value.message
    assert "CSV" in exc.value.message.split("Excelの場合は")[1]
    assert "文字コード" not in exc.value.message


@pytest.mark.parametrize(
    ("cp", "charge", "column"),
    [
        ("S03-123456-1234567", "", "chargePermissionId"),
        ("S03-1234567-1234567 x", "", "chargePermissionId"),
        ("S03-1234567-1234567", "S03-1234567-1234567-C01", "chargeId"),
        ("S03-1234567-1234567", "1234", "chargeId"),
    ],
)
def test_malformed_ids_in_a_file_are_refused_before_any_call(tmp_path: Path, cp: str, charge: str, column: str) -> None:
    """Item 11: the reader refuses them (the service then reads Amazon Pay for none of them)."""
    path = tmp_path / "ids.csv"
    path.write_text(
        f"{HEAD},chargePermissionId,chargeId\n1,1000,0,Amazon Pay,2026/11/20 10:00,茶,1000,1,{cp},{charge}\n",
        encoding="utf-8",
    )
    ((line, got_column, reason),) = refused(read(path))
    assert (line, got_column) == (2, column) and "形が正しくありません" in reason and "例:" in reason
