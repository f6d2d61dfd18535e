"""Issue 11, "Done when" (second point): the sandbox takes the shop's road.

Orders are placed at the sandbox only (`place-order --no-store`), exported as each shop system
would (`sandbox shop-export`), imported (`kanjo import`), and then handled in Seller Central and
synced. A second data directory takes the direct road (`place-order` storing the order) with the
same orders and the same events. Both stores must show the same badges (R10) and amounts. Then a
re-import adds nothing, and a changed file updates only what the shop system owns (R57, R58).
Everything runs through the real `kanjo` entry point over real SQLite files and the sandbox.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from core.cli import main

NOW_TEXT = "2026-11-21T12:00:00+09:00"

# number, total, extra place-order arguments
ORDERS: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    ("R-1", 1200, ()),
    ("R-2", 8800, ("--pending",)),
    ("R-3", 5400, ("--instrument", "gift")),
    ("R-4", 3300, ()),
    ("R-5", 2750, ()),
    ("R-6", 6600, ("--kind", "reservation")),
    ("R-7", 4400, ("--kind", "subscription")),
)
# What happens to them in Seller Central afterwards (outside the product), then a sync.
EVENTS: tuple[tuple[str, ...], ...] = (
    ("capture", "R-4", "--amount", "3300"),
    ("capture", "R-5", "--amount", "2750"),
    ("refund", "R-5", "--amount", "750"),
)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any, str]:
    capsys.readouterr()
    code = main([*args, "--json"])
    out = capsys.readouterr()
    return code, (json.loads(out.out) if out.out.strip() else None), out.err


def ok(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    code, data, err = run(capsys, *args)
    assert code == 0, (args, err)
    return data


def state(capsys: pytest.CaptureFixture[str]) -> dict[str, tuple[Any, ...]]:
    shown: dict[str, tuple[Any, ...]] = {}
    for number, _total, _extra in ORDERS:
        order = ok(capsys, "orders", "show", number)
        shown[number] = (
            order["kind"],
            order["payment_status"],
            order["total"],
            order["authorized"],
            order["captured"],
            order["refunded"],
            sorted(c["label"] for c in order["charges"]),
        )
    return shown


def seller_central_then_sync(capsys: pytest.CaptureFixture[str]) -> None:
    for action, number, *rest in EVENTS:
        ok(capsys, "sandbox", "seller-central", action, number, *rest)
    code, _data, err = run(capsys, "sync")
    assert code == 0, err


def direct_road(capsys: pytest.CaptureFixture[str]) -> dict[str, tuple[Any, ...]]:
    for number, total, extra in ORDERS:
        ok(capsys, "sandbox", "place-order", "--number", number, "--total", str(total), *extra)
    seller_central_then_sync(capsys)
    return state(capsys)


def shop_road(capsys: pytest.CaptureFixture[str], fmt: str, out: Path) -> dict[str, tuple[Any, ...]]:
    for number, total, extra in ORDERS:
        placed = ok(capsys, "sandbox", "place-order", "--number", number, "--total", str(total), *extra, "--no-store")
        assert placed["number"] == number and placed["charge_permission_id"]
    assert ok(capsys, "orders", "list") == []  # nothing reached the store
    exported = ok(capsys, "sandbox", "shop-export", "--format", fmt, "--out", str(out))
    assert exported["orders"] == len(ORDERS)
    imported = ok(capsys, "import", str(out))
    assert (imported["format"], imported["added"], imported["refused"]) == (fmt, len(ORDERS), [])
    assert imported["linked"] == len(ORDERS) and imported["unlinked"] == 0
    seller_central_then_sync(capsys)
    return state(capsys)


@pytest.mark.parametrize(
    "fmt",
    # Every format reads back the basic road in test_cli.py each day; this long road runs one
    # format each day and all three in the slow suite (CI).
    ["futureshop", pytest.param("eccube", marks=pytest.mark.slow), pytest.param("shopify", marks=pytest.mark.slow)],
)
def test_the_shop_road_gives_the_same_badges_as_the_direct_road_and_reimports_safely(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    monkeypatch.setenv("KANJO_NOW", NOW_TEXT)
    monkeypatch.delenv("KANJO_SANDBOX_URL", raising=False)
    monkeypatch.setenv("KANJO_HOME", str(tmp_path / "direct"))
    direct = direct_road(capsys)
    monkeypatch.setenv("KANJO_HOME", str(tmp_path / "shop"))
    export = tmp_path / f"{fmt}.csv"
    shop = shop_road(capsys, fmt, export)

    assert shop == direct
    badges = {number: shown[1] for number, shown in shop.items()}
    assert len(set(badges.values())) >= 4, badges  # several badges, not one road's default
    for number in shop:
        assert ok(capsys, "orders", "show", number)["source"] == fmt, number

    again = ok(capsys, "import", str(export))
    assert (again["added"], again["updated"], again["unchanged"]) == (0, 0, len(ORDERS))

    # The shop changes R-1's address and, wrongly, its total; R-4 gets a tracking number.
    changed = tmp_path / f"{fmt}-changed.csv"
    rewrite(export, changed, fmt)
    before = state(capsys)
    update = ok(capsys, "import", str(changed))
    assert (update["added"], update["refused"]) == (0, [])
    assert update["updated"] >= 1
    after = state(capsys)
    assert after == before  # Amazon Pay's side (badge, amounts, charges) never comes from a file
    r1 = ok(capsys, "orders", "show", "R-1")
    assert "変更後町9-9" in json.dumps(r1, ensure_ascii=False)
    assert r1["total"] == 1200 and r1.get("shop_total_mismatch") == 1300


def _columns(fmt: str, header: list[str]) -> tuple[int, int, int]:
    """Where the order number, an address line and the total are in each format's header."""
    number, addresses, total = {
        "futureshop": ("受注コード", ("お届け先住所", "お届け先住所1"), "請求合計金額"),
        "eccube": ("注文番号", ("配送先_住所2", "住所2"), "支払合計"),
        "shopify": ("Name", ("Shipping Address1",), "Total"),
    }[fmt]
    address = next(name for name in addresses if name in header)
    return header.index(number), header.index(address), header.index(total)


def rewrite(source: Path, target: Path, fmt: str) -> None:
    """Change R-1's address and total in the shop's file, the way the shop system would export it."""
    raw = source.read_bytes()
    encoding = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else ("utf-8" if fmt == "shopify" else "cp932")
    text = raw.decode(encoding)
    rows = list(csv.reader(text.splitlines(keepends=True)))
    header = rows[0]
    number_col, address_col, total_col = _columns(fmt, header)
    first = True
    for row in rows[1:]:
        if row and row[number_col].lstrip("#") == "R-1":
            if first or row[address_col]:  # Shopify has the order's fields on its first line only
                row[address_col] = "変更後町9-9"
            if first or row[total_col]:
                row[total_col] = "1300"
            first = False
    with target.open("w", encoding=encoding, newline="") as handle:
        csv.writer(handle, lineterminator="\r\n" if b"\r\n" in raw else "\n").writerows(rows)
