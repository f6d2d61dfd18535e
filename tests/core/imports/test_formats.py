"""Shop order files: recognition, encodings, refused rows, mappings, writers (issue 11, items 1, 2, 7; R57, R58)."""

from __future__ import annotations

import codecs
import os
import stat
import tracemalloc
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.errors import BadInput
from core.imports.mapping import ColumnMapping
from core.imports.model import DetectedFile, ImportedItem, ImportedOrder, RefusedRow
from core.imports.reader import detect, file_digest, read_orders
from core.imports.writers import write_export

AT = datetime(2026, 11, 21, 3, 34, 56, tzinfo=UTC)  # 12:34:56 in Tokyo
CPID = "S03-1234567-7654321"


def read_all(path: Path, **kwargs: object) -> tuple[DetectedFile, list[ImportedOrder | RefusedRow]]:
    mappings = kwargs.pop("mappings", None)
    detected = detect(path, mappings=mappings, **kwargs)  # type: ignore[arg-type]
    return detected, list(read_orders(path, detected, mappings=mappings))  # type: ignore[arg-type]


def write(path: Path, text: str, encoding: str) -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def order(number: str = "1001", **changes: object) -> ImportedOrder:
    values: dict[str, object] = {
        "number": number,
        "line": 2,
        "ordered_at": AT,
        "kind": "normal",
        "customer_name": "髙橋 一郎",
        "customer_email": "ichiro@example.jp",
        "customer_phone": "090-1234-5678",
        "ship_name": "㈱髙橋商店 ご担当者",
        "ship_postal_code": "150-0001",
        "ship_prefecture": "東京都",
        "ship_address": '渋谷区神宮前1-2-3, "A棟"\n①号室',
        "ship_phone": "03-1234-5678",
        "items": (ImportedItem("SKU-1", "緑茶, 100g", 1200, 2), ImportedItem("SKU-2", "湯のみ①", 800, 1)),
        "shipping_fee": 500,
        "total": 3700,
        "payment_method": "amazon_pay",
        "payment_label": "Amazon Pay",
        "charge_permission_id": CPID,
        "charge_ids": ("S03-1234567-7654321-C000001", "S03-1234567-7654321-C000002"),
        "tracking_number": "1234-5678-9012",
        "order_status": "新規受付",
    }
    values.update(changes)
    return ImportedOrder(**values)  # type: ignore[arg-type]


# --- round trip, every format and encoding ----------------------------------------------------------


def _orders_for(format: str) -> list[ImportedOrder]:
    second = order(
        "1002",
        items=(ImportedItem("SKU-3", "急須", 5000, 1),),
        shipping_fee=0,
        total=5000,
        payment_method="bank_transfer",
        payment_label="銀行振込",
        charge_permission_id=None,
        charge_ids=(),
        tracking_number=None,
    )
    orders = [order("1001"), second]
    if format == "amazon-orders":
        orders = [
            o.__class__(**{**o.__dict__, "kind": "marketplace", "payment_method": "other", "payment_label": ""})
            for o in orders
        ]
    if format in ("shopify", "amazon-orders"):  # neither export has a tracking number column
        orders = [o.__class__(**{**o.__dict__, "tracking_number": None}) for o in orders]
    return orders


def _expected_lines(orders: list[ImportedOrder], path: Path, format: str) -> list[ImportedOrder]:
    """Each order's first physical line, counting the quoted newline in the address."""
    result = []
    line = 2
    for o in orders:
        result.append(o.__class__(**{**o.__dict__, "line": line}))
        newlines = o.ship_address.count("\n")
        rows = max(1, len(o.items))
        per_row = newlines if format != "shopify" else 0
        line += rows * (1 + per_row) + (newlines if format == "shopify" else 0)
    return result


@pytest.mark.parametrize(
    ("format", "encoding", "expected_encoding", "delimiter"),
    [
        ("futureshop", "", "cp932", ","),
        ("futureshop", "utf-8-sig", "utf-8-sig", ","),
        ("eccube", "", "cp932", ","),
        ("eccube", "utf-8", "utf-8", ","),
        ("shopify", "", "utf-8", ","),
        ("shopify", "utf-8-sig", "utf-8-sig", ","),
        ("amazon-orders", "", "utf-8", "\t"),
        ("amazon-orders", "cp932", "cp932", "\t"),
    ],
)
def test_writer_and_reader_round_trip_every_format_and_encoding(
    tmp_path: Path, format: str, encoding: str, expected_encoding: str, delimiter: str
) -> None:
    """One line per item, a quoted comma and newline, ①/㈱/髙, two Charge IDs, a BOM (items 1, 2, 7)."""
    path = tmp_path / f"{format}.csv"
    orders = _orders_for(format)
    write_export(path, format, orders, encoding=encoding)
    detected, read = read_all(path)
    assert detected == DetectedFile(format, expected_encoding, delimiter)
    assert read == _expected_lines(orders, path, format)


def test_native_encodings_of_the_writers(tmp_path: Path) -> None:
    for format, encoding in (("futureshop", "cp932"), ("eccube", "cp932"), ("shopify", "utf-8")):
        path = tmp_path / f"{format}.csv"
        write_export(path, format, [order()])
        assert detect(path).encoding == encoding
        assert not path.read_bytes().startswith(codecs.BOM_UTF8)


def test_writer_refuses_a_character_cp932_cannot_hold(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="1001"):
        write_export(tmp_path / "x.csv", "eccube", [order(customer_name="🍵 太郎")])
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_an_export_holds_customer_data_so_it_is_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_export(tmp_path / "x.csv", "shopify", [order()])
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "x.csv").st_mode) == 0o600


# --- hand-written files in each format ---------------------------------------------------------------


def test_futureshop_cp932_any_column_order_extra_columns_crlf(tmp_path: Path) -> None:
    text = (
        "購入数量,販売単価,商品名,商品番号,決済方法,送料,請求合計金額,注文日時,受注コード,メモ,お届け先氏名,お届け先住所\r\n"
        '2,"１，２００円",緑茶,T-1,Amazonペイ,￥500,"￥3,700",2026/11/21 12:34:56,FS-1,ギフト①,㈱髙島屋,"港区1-1\r\n2F"\r\n'
        "1,800,湯のみ,T-2,Amazonペイ,500,3700,2026/11/21 12:34:56,FS-1,,,\r\n"
        "1,5000,急須,T-3,代金引換,0,5000,2026-11-22 09:00,FS-2,,,\r\n"
    )
    detected, read = read_all(write(tmp_path / "fs.csv", text, "cp932"))
    assert detected == DetectedFile("futureshop", "cp932", ",")
    first, second = read
    assert isinstance(first, ImportedOrder) and isinstance(second, ImportedOrder)
    assert first.number == "FS-1" and first.line == 2
    assert first.items == (ImportedItem("T-1", "緑茶", 1200, 2), ImportedItem("T-2", "湯のみ", 800, 1))
    assert (first.total, first.shipping_fee) == (3700, 500)
    assert first.payment_method == "amazon_pay" and first.payment_label == "Amazonペイ"
    assert first.charge_permission_id is None  # 未連携: no link column
    assert first.extra == {"メモ": "ギフト①"}
    assert first.ship_name == "㈱髙島屋" and first.ship_address == "港区1-1\r\n2F"
    assert first.ordered_at == AT and first.kind == "normal"
    assert second.line == 5  # the quoted newline makes line 2 two physical lines
    assert second.payment_method == "cod"
    assert second.ordered_at == datetime(2026, 11, 22, 0, 0, tzinfo=UTC)


def test_eccube_with_bom_and_link_columns(tmp_path: Path) -> None:
    text = (
        "注文番号,お名前(姓),お名前(名),メールアドレス,TEL,郵便番号,都道府県,住所1,住所2,小計,送料,合計,支払合計,支払方法,受注日,商品コード,商品名,価格,個数,出荷伝票番号,charge_permission_id,charge_id\n"
        f"EC-1,山田,花子,hanako@example.jp,0312345678,100-0001,東京都,千代田区,千代田1-1,2400,0,2400,2400,Amazon Pay,2026-11-21 12:34:56,A-1,りんご,1200,2,,{CPID},{CPID}-C000001\n"
    )
    detected, read = read_all(write(tmp_path / "ec.csv", text, "utf-8-sig"))
    assert detected == DetectedFile("eccube", "utf-8-sig", ",")
    (got,) = read
    assert isinstance(got, ImportedOrder)
    assert got.customer_name == "山田 花子" and got.ship_name == "山田 花子"  # no 配送先_ columns: the customer's
    assert got.ship_address == "千代田区 千代田1-1" and got.ship_prefecture == "東京都"
    assert got.charge_permission_id == CPID and got.charge_ids == (f"{CPID}-C000001",)
    assert got.tracking_number is None and got.total == 2400


def test_shopify_order_fields_on_first_line_only_payment_reference(tmp_path: Path) -> None:
    text = (
        "Name,Email,Financial Status,Created at,Subtotal,Shipping,Total,Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku,"
        "Shipping Name,Shipping Address1,Shipping City,Shipping Zip,Shipping Province,Shipping Phone,Payment Method,Payment Reference,Tags\n"
        f"#1001,a@example.com,paid,2026-11-21 12:34:56 +0900,3200.00,500.00,3700.00,2,Tea,1200.00,T-1,Sato Ken,1-2-3 Jingumae,Shibuya,150-0001,JP-13,0312345678,Amazon Pay,{CPID},vip\n"
        "#1001,,,,,,,1,Cup,800.00,T-2,,,,,,,,,\n"
        "#1002,b@example.com,paid,2026-11-21T12:00:00+09:00,1000,0,1000,1,Mug,1000,M-1,Sato Ken,,,,,,shopify_payments,c-123,\n"
    )
    detected, read = read_all(write(tmp_path / "orders_export.csv", text, "utf-8"))
    assert detected == DetectedFile("shopify", "utf-8", ",")
    first, second = read
    assert isinstance(first, ImportedOrder) and isinstance(second, ImportedOrder)
    assert first.items == (ImportedItem("T-1", "Tea", 1200, 2), ImportedItem("T-2", "Cup", 800, 1))
    assert first.total == 3700 and first.shipping_fee == 500 and first.ordered_at == AT
    assert first.charge_permission_id == CPID and first.payment_method == "amazon_pay"
    assert first.ship_address == "Shibuya 1-2-3 Jingumae" and first.order_status == "paid"
    assert first.extra == {"Tags": "vip"}
    assert second.charge_permission_id is None and second.payment_method == "credit_card"


def test_amazon_order_report_shift_jis_tab_separated_is_marketplace(tmp_path: Path) -> None:
    header = "order-id\torder-item-id\tpurchase-date\tbuyer-email\tbuyer-name\tsku\tproduct-name\tquantity-purchased\titem-price\tshipping-price\trecipient-name\tship-address-1\tship-address-2\tship-address-3\tship-city\tship-state\tship-postal-code\tship-phone-number\n"
    rows = (
        "250-1234567-1234567\t1\t2026-11-21T03:34:56+00:00\tx@marketplace.amazon.co.jp\t髙木 ①\tB-1\t本\t2\t3000\t500\t髙木\t1-1\t\t\t大阪市\t大阪府\t530-0001\t0600000000\n"
        "250-1234567-1234567\t2\t2026-11-21T03:34:56+00:00\tx@marketplace.amazon.co.jp\t髙木 ①\tB-2\t栞\t1\t200\t0\t髙木\t1-1\t\t\t大阪市\t大阪府\t530-0001\t0600000000\n"
    )
    detected, read = read_all(write(tmp_path / "report.txt", header + rows, "shift_jis" if False else "cp932"))
    assert detected == DetectedFile("amazon-orders", "cp932", "\t")
    (got,) = read
    assert isinstance(got, ImportedOrder)
    assert got.kind == "marketplace" and got.payment_method == "other"
    assert got.items == (ImportedItem("B-1", "本", 1500, 2), ImportedItem("B-2", "栞", 200, 1))
    assert (got.total, got.shipping_fee) == (3700, 500)
    assert got.ship_address == "大阪市 1-1" and got.customer_name == "髙木 ①"


# --- refused rows and refused files ------------------------------------------------------------------

ECCUBE_HEAD = "注文番号,支払合計,送料,支払方法,受注日,商品名,価格,個数\n"


def test_refused_rows_carry_line_column_and_reason(tmp_path: Path) -> None:
    text = ECCUBE_HEAD + (
        '1,1000,0,銀行振込,2026/11/21 10:00,"説明\n2行目",1000,1\n'  # lines 2-3: fine
        "2,１０００円,0,銀行振込,2026/11/21 10:00,A,abc,1\n"  # line 4: bad price
        "3,1000,0,銀行振込,2026/13/45 10:00,A,1000,1\n"  # line 5: bad date
        "4,1000,0,銀行振込,2026/11/21 10:00,A,500,1\n"  # line 6
        "4,1200,0,銀行振込,2026/11/21 10:00,B,500,1\n"  # line 7: a second total
        "5,,0,銀行振込,2026/11/21 10:00,A,1000,1\n"  # line 8: no total
        "6,1000,0,銀行振込,2026/11/21 10:00,A,1000,0\n"  # line 9: quantity 0
        '7,"1,000",0,銀行振込,2026/11/21 10:00,A,"￥1,000",１\n'  # line 10: fine
    )
    _, read = read_all(write(tmp_path / "bad.csv", text, "cp932"))
    refused = [r for r in read if isinstance(r, RefusedRow)]
    assert [(r.line, r.column) for r in refused] == [
        (4, "価格"),
        (5, "受注日"),
        (7, "支払合計"),
        (8, "支払合計"),
        (9, "個数"),
    ]
    assert "価格" in refused[0].reason and "数字" in refused[0].reason
    assert "2026/13/45" in refused[1].reason
    assert "1,000円" in refused[2].reason and "1,200円" in refused[2].reason and "6行目" in refused[2].reason
    assert "空" in refused[3].reason
    imported = [r for r in read if isinstance(r, ImportedOrder)]
    assert [(o.number, o.line, o.total) for o in imported] == [("1", 2, 1000), ("7", 10, 1000)]
    assert imported[0].items[0].name == "説明\n2行目"


def test_a_missing_required_column_is_named_for_the_whole_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "x.csv", "注文番号,送料,支払方法,受注日,商品名,価格,個数\n1,0,x,2026/11/21,A,1,1\n", "utf-8"
    )
    with pytest.raises(BadInput, match="支払合計"):
        detect(path)
    with pytest.raises(BadInput, match="支払合計"):
        detect(path, format="eccube")


def test_unknown_headers_format_name_and_encoding_are_refused_in_japanese(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="形式を判別できません"):
        detect(write(tmp_path / "a.csv", "a,b,c\n1,2,3\n", "utf-8"))
    path = write(tmp_path / "b.csv", ECCUBE_HEAD, "utf-8")
    with pytest.raises(BadInput, match="形式「magento」は不明"):
        detect(path, format="magento")
    with pytest.raises(BadInput, match="文字コード「latin-1」"):
        detect(path, encoding="latin-1")
    with pytest.raises(BadInput, match="文字コードを判別できません"):
        bad = tmp_path / "c.csv"
        bad.write_bytes(b"\x81\x20\xff\xfe,\x80\n")
        detect(bad)
    with pytest.raises(BadInput, match="空"):
        detect(write(tmp_path / "d.csv", "", "utf-8"))
    with pytest.raises(BadInput, match="見つかりません"):
        detect(tmp_path / "nothing.csv")


def test_a_cp932_byte_after_an_ascii_megabyte_is_still_detected(tmp_path: Path) -> None:
    rows = "".join(f"{n},1000,0,bank,2026/11/21 10:00,A,1000,1\n" for n in range(1, 30_000))
    path = write(tmp_path / "late.csv", ECCUBE_HEAD + rows + "99999,1000,0,銀行振込,2026/11/21,髙,1000,1\n", "cp932")
    detected, read = read_all(path)
    assert detected.encoding == "cp932"
    last = read[-1]
    assert isinstance(last, ImportedOrder) and last.items[0].name == "髙"


@pytest.mark.parametrize("encoding", ["utf-8", "cp932"])
def test_a_file_whose_sample_ends_inside_a_character_is_detected(tmp_path: Path, encoding: str) -> None:
    """A file shorter than one read chunk but longer than the sample: the sample cut after
    64 KiB ends inside a character here (3 bytes in UTF-8, 2 in CP932). That cut is not the
    file's end, so it must not be read as a truncated last character (a 370 KB UTF-8 export
    was refused as of unknown encoding)."""
    rows = "".join(f"{n},1000,0,銀行振込,2026/11/21 10:00,山田花子,1000,1\n" for n in range(1, 6_000))
    for padding in range(80):  # ASCII padding moves the cut until it falls inside a character
        data = (ECCUBE_HEAD + "x" * padding + rows).encode(encoding)
        first = next(i for i, byte in enumerate(data) if byte >= 0x80)
        try:
            data[first : first + 65_536].decode(encoding)
        except UnicodeDecodeError:
            break
    else:
        pytest.fail("no padding put the sample's end inside a character")
    path = tmp_path / "mid.csv"
    path.write_bytes(data)
    assert 65_536 < path.stat().st_size < 1024 * 1024
    assert detect(path).encoding == encoding


def test_forced_encoding_that_does_not_fit_names_the_line(tmp_path: Path) -> None:
    head = "Name,Created at,Total,Lineitem quantity,Lineitem name,Lineitem price\n"
    path = write(tmp_path / "x.csv", head + "#1,2026/11/21,1000,1,髙,1000\n", "cp932")
    detected = detect(path, encoding="utf-8")
    with pytest.raises(BadInput, match="2行目"):
        list(read_orders(path, detected))


# --- a saved mapping -----------------------------------------------------------------------------


def test_a_saved_mapping_reads_any_other_csv(tmp_path: Path) -> None:
    mapping = ColumnMapping(
        "mystore",
        {
            "number": "伝票No",
            "ordered_at": "日付",
            "total": "お支払い金額",
            "payment_label": "決済",
            "ship_address": "市区町村+番地",
            "item_name": "品名",
            "item_price": "単価",
            "item_quantity": "数",
            "charge_permission_id": "AmazonリファレンスID",
        },
    )
    assert ColumnMapping.from_json(mapping.to_json()) == mapping
    text = (
        "日付\t伝票No\tお支払い金額\t決済\t市区町村\t番地\t品名\t単価\t数\tAmazonリファレンスID\n"
        f"2026年11月21日 12:34:56\tM-1\t2,000\tAmazon Pay\t札幌市\t北1条\t鮭\t1000\t2\t{CPID}\n"
    )
    path = write(tmp_path / "mine.tsv", text, "cp932")
    mappings = {"mystore": mapping}
    detected, read = read_all(path, format="mystore", mappings=mappings)
    assert detected == DetectedFile("mystore", "cp932", "\t")
    (got,) = read
    assert isinstance(got, ImportedOrder)
    assert got.number == "M-1" and got.total == 2000 and got.ordered_at == AT
    assert got.ship_address == "札幌市 北1条" and got.charge_permission_id == CPID
    assert got.items == (ImportedItem("", "鮭", 1000, 2),)
    # auto finds the saved mapping too
    assert detect(path, mappings=mappings).format == "mystore"


def test_a_mapping_needs_its_required_fields_and_a_free_name() -> None:
    with pytest.raises(BadInput, match="合計金額"):
        ColumnMapping("x", {"number": "a", "ordered_at": "b"})
    with pytest.raises(BadInput, match="組み込み"):
        ColumnMapping("shopify", {"number": "a", "ordered_at": "b", "total": "c"})
    with pytest.raises(BadInput):
        ColumnMapping.from_json("{not json")


def test_file_digest_is_sha256_of_the_bytes(tmp_path: Path) -> None:
    import hashlib

    path = write(tmp_path / "x.csv", ECCUBE_HEAD, "cp932")
    assert file_digest(path) == hashlib.sha256(path.read_bytes()).hexdigest()


# --- streaming -----------------------------------------------------------------------------------


def _big_orders(count: int) -> Iterator[ImportedOrder]:
    for n in range(count):
        if n % 2:
            yield order(f"{100000 + n}", items=(ImportedItem("A", "緑茶①", 1000, 1),), total=1500)
        else:
            yield order(f"{100000 + n}")


def _read_peak(path: Path) -> tuple[int, int]:
    detected = detect(path)
    tracemalloc.start()
    try:
        count = sum(1 for r in read_orders(path, detected) if isinstance(r, ImportedOrder))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return count, peak


def test_reading_is_streamed_memory_stays_flat(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    write_export(path, "eccube", _big_orders(8_000))  # 12,000 item lines, CP932
    count, peak = _read_peak(path)
    assert count == 8_000
    assert peak < 2_000_000, peak


@pytest.mark.slow
def test_150000_lines_cp932_stay_flat(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    write_export(path, "futureshop", _big_orders(100_000))
    count, peak = _read_peak(path)
    assert count == 100_000
    assert peak < 2_000_000, peak


@pytest.mark.parametrize("fmt", ["futureshop", "eccube", "shopify"])
def test_every_kind_is_written_and_read_back(tmp_path: Path, fmt: str) -> None:
    """R2: the 注文種別 column carries 通常商品 / 予約商品 / 定期・頒布会 through each shop format."""
    base = ImportedOrder(
        number="K-1",
        line=2,
        ordered_at=datetime(2026, 11, 20, 1, 0, tzinfo=UTC),
        kind="normal",
        customer_name="髙橋 一郎",
        customer_email="k@example.jp",
        customer_phone="0312345678",
        ship_name="髙橋 一郎",
        ship_postal_code="100-0001",
        ship_prefecture="東京都",
        ship_address="千代田区1-1 ㈱ビル①",
        ship_phone="0312345678",
        items=(ImportedItem("S-1", "お茶", 1200, 1),),
        shipping_fee=0,
        total=1200,
        payment_method="bank_transfer",
        payment_label="銀行振込",
        charge_permission_id=None,
    )
    orders = [
        replace(base, number=f"K-{i}", line=2 + i, kind=k)
        for i, k in enumerate(("normal", "reservation", "subscription"))
    ]
    path = tmp_path / f"{fmt}.csv"
    write_export(path, fmt, orders)
    read = list(read_orders(path, detect(path)))
    assert [(o.number, o.kind) for o in read] == [(o.number, o.kind) for o in orders]  # type: ignore[union-attr]


def test_an_unknown_kind_word_refuses_the_row(tmp_path: Path) -> None:
    path = tmp_path / "fs.csv"
    path.write_text(
        "受注コード,注文日時,請求合計金額,決済方法,商品名,販売単価,購入数量,注文種別\n"
        "A-1,2026/11/20 10:00:00,1200,銀行振込,お茶,1200,1,予約\n"
        "A-2,2026/11/20 10:00:00,1200,銀行振込,お茶,1200,1,福袋\n",
        encoding="utf-8",
    )
    rows = list(read_orders(path, detect(path)))
    assert rows[0].kind == "reservation"  # type: ignore[union-attr]
    assert rows[1] == RefusedRow(
        3, "注文種別", "注文種別「福袋」は不明です（通常商品・予約商品・定期・頒布会 のいずれか）。"
    )
