"""Issue 11 (items 3, 7, 9): `kanjo orders add/link`, `sandbox place-order --no-store`,
`kanjo import`, and the new keys of `orders show --json`, over a real SQLite file and the
in-process sandbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.cli import main
from core.imports import writers

NOW_TEXT = "2026-11-21T12:00:00+09:00"


@pytest.fixture(autouse=True)
def _now(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KANJO_NOW", NOW_TEXT)


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    capsys.readouterr()
    code = main([*args, "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def test_place_order_no_store_leaves_the_store_empty(capsys: pytest.CaptureFixture[str]) -> None:
    placed = run_json(capsys, "sandbox", "place-order", "--number", "NS-1", "--total", "3000", "--no-store")
    assert placed["number"] == "NS-1"
    assert placed["charge_permission_id"].startswith("S03-") and len(placed["charge_ids"]) == 1
    assert run_json(capsys, "orders", "list") == []


def test_orders_add_by_charge_permission_and_show_json_keys(capsys: pytest.CaptureFixture[str]) -> None:
    placed = run_json(capsys, "sandbox", "place-order", "--number", "NS-2", "--total", "4000", "--no-store")
    added = run_json(
        capsys,
        "orders",
        "add",
        "--charge-permission",
        placed["charge_permission_id"],
        "--charge",
        placed["charge_ids"][0],
    )
    assert added["number"] == "NS-2"
    shown = run_json(capsys, "orders", "show", "NS-2")
    assert shown["source"] == "manual" and shown["environment"] == "builtin"  # issue 11 item 8
    assert shown["linked"] is True and shown["charge_permission_id"] == placed["charge_permission_id"]
    assert shown["payment_status"] == "承認済" and shown["total"] == 4000
    assert "can_capture" in shown and "journal" in shown  # existing keys stay


def test_orders_show_json_of_a_sandbox_order_has_the_new_keys(capsys: pytest.CaptureFixture[str]) -> None:
    run_json(capsys, "sandbox", "place-order", "--number", "SB-1", "--total", "2000")
    shown = run_json(capsys, "orders", "show", "SB-1")
    assert (shown["source"], shown["environment"], shown["linked"]) == ("sandbox", "builtin", True)  # issue 11 item 8
    assert shown["charge_permission_id"].startswith("S03-")


def test_orders_add_unknown_permission_is_one_line_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["orders", "add", "--charge-permission", "S03-0000000-0000000"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "404" in err and "Traceback" not in err


def test_orders_link_refuses_a_linked_order(capsys: pytest.CaptureFixture[str]) -> None:
    run_json(capsys, "sandbox", "place-order", "--number", "SB-2", "--total", "2000")
    placed = run_json(capsys, "sandbox", "place-order", "--number", "NS-3", "--total", "2000", "--no-store")
    code = main(["orders", "link", "SB-2", "--charge-permission", placed["charge_permission_id"]])
    err = capsys.readouterr().err
    assert code == 1 and "すでにCharge Permission" in err


def test_import_missing_file_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["import", str(tmp_path / "none.csv")])
    err = capsys.readouterr().err
    assert code == 1 and "見つかりません" in err


def test_import_end_to_end_through_the_reader(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from core.imports.model import ImportedItem, ImportedOrder

    placed = run_json(capsys, "sandbox", "place-order", "--number", "E2E-1", "--total", "5000", "--no-store")
    order = ImportedOrder(
        number="E2E-1",
        line=2,
        ordered_at=datetime(2026, 11, 20, 1, 0, tzinfo=UTC),
        kind="normal",
        customer_name="髙橋 ①",
        customer_email="t@example.jp",
        customer_phone="0312345678",
        ship_name="髙橋 ①",
        ship_postal_code="100-0001",
        ship_prefecture="東京都",
        ship_address="千代田区1-1 ㈱テスト",
        ship_phone="0312345678",
        items=(ImportedItem("S1", "お茶", 5000, 1),),
        shipping_fee=0,
        total=5000,
        payment_method="amazon_pay",
        payment_label="Amazon Pay",
        charge_permission_id=placed["charge_permission_id"],
        charge_ids=tuple(placed["charge_ids"]),
    )
    path = tmp_path / "orders.csv"
    writers.write_export(path, "futureshop", [order], encoding="cp932")
    dry = run_json(capsys, "import", str(path), "--dry-run")
    assert (dry["added"], dry["linked"]) == (1, 1)
    assert run_json(capsys, "orders", "list") == []
    done = run_json(capsys, "import", str(path))
    assert done["added"] == 1 and done["format"] == "futureshop"
    assert run_json(capsys, "orders", "show", "E2E-1")["payment_status"] == "承認済"
    assert run_json(capsys, "import", str(path))["added"] == 0


def test_the_sandbox_lists_its_checkouts_for_the_shop_export(capsys: pytest.CaptureFixture[str]) -> None:
    from core.app import open_app

    placed = run_json(capsys, "sandbox", "place-order", "--number", "LS-1", "--total", "3300", "--no-store")
    with open_app() as app:
        control = app.gateway().control
        assert control is not None
        (checkout,) = control.checkouts()
    assert checkout["number"] == "LS-1" and checkout["amount"] == 3300
    assert checkout["chargePermissionId"] == placed["charge_permission_id"]
    assert checkout["chargeIds"] == placed["charge_ids"]
    assert checkout["buyer"]["email"] and checkout["shippingAddress"]["postalCode"]


@pytest.mark.parametrize("fmt", ["futureshop", "eccube", "shopify"])
def test_no_store_then_shop_export_then_import_gives_the_badges(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str
) -> None:
    """checkout → shop export → import, offline."""
    for number, total in (("X-1", 1200), ("X-2", 8800)):
        run_json(capsys, "sandbox", "place-order", "--number", number, "--total", str(total), "--no-store")
    out = tmp_path / f"{fmt}.csv"
    exported = run_json(capsys, "sandbox", "shop-export", "--format", fmt, "--out", str(out))
    assert exported["orders"] == 2
    first = run_json(capsys, "import", str(out))
    assert (first["format"], first["added"], first["linked"], first["refused"]) == (fmt, 2, 2, [])
    assert {o["payment_status"] for o in run_json(capsys, "orders", "list")} == {"承認済"}
    again = run_json(capsys, "import", str(out))
    assert (again["added"], again["updated"], again["unchanged"]) == (0, 0, 2)


def test_a_saved_mapping_imports_any_other_csv_and_refused_rows_block(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`kanjo import-mapping save`, then `kanjo import --format NAME`; runs once the parsers are merged."""
    saved = run_json(
        capsys,
        "import-mapping",
        "save",
        "自社CSV",
        "number=伝票",
        "ordered_at=日付",
        "total=金額",
        "payment_label=支払",
    )
    assert saved["name"] == "自社CSV"
    assert [m["name"] for m in run_json(capsys, "import-mapping", "list")] == ["自社CSV"]
    path = tmp_path / "own.csv"
    path.write_text(
        "伝票,日付,金額,支払\nOWN-1,2026-11-20 10:00,1200,銀行振込\nOWN-2,昨日,900,銀行振込\n", encoding="utf-8"
    )
    capsys.readouterr()
    code = main(["import", str(path), "--format", "自社CSV"])
    err = capsys.readouterr().err
    assert code == 1 and "3行目" in err and "何も取り込みませんでした" in err
    assert run_json(capsys, "orders", "list") == []
    done = run_json(capsys, "import", str(path), "--format", "自社CSV", "--skip-bad")
    assert done["added"] == 1 and [r["line"] for r in done["refused"]] == [3]
    shown = run_json(capsys, "orders", "show", "OWN-1")
    assert (shown["source"], shown["linked"], shown["payment_status"]) == ("自社CSV", False, None)


def test_import_mapping_with_a_bad_pair_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["import-mapping", "save", "x", "number"])
    assert code == 1 and "項目=列名" in capsys.readouterr().err


def test_orders_show_text_names_the_source_and_the_link(capsys: pytest.CaptureFixture[str]) -> None:
    run_json(capsys, "sandbox", "place-order", "--number", "TX-1", "--total", "2000")
    capsys.readouterr()
    assert main(["orders", "show", "TX-1"]) == 0
    out = capsys.readouterr().out
    assert "取込元: sandbox  環境: 内蔵サンドボックス  Amazon Pay: 連携済 S03-" in out


@pytest.mark.parametrize("fmt", ["futureshop", "eccube", "shopify", "amazon-orders"])
def test_shop_export_keeps_every_kind_the_sandbox_places(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str
) -> None:
    """Item 3 of the bench brief: normal, reservation and subscription checkouts (R2) come back
    as the same kinds through each shop format; the Amazon order report's are マーケットプレイス."""
    kinds = {"K-N": "normal", "K-R": "reservation", "K-S": "subscription"}
    for number, kind in kinds.items():
        run_json(capsys, "sandbox", "place-order", "--number", number, "--total", "2400", "--kind", kind, "--no-store")
    out = tmp_path / "export.csv"
    run_json(capsys, "sandbox", "shop-export", "--format", fmt, "--out", str(out))
    done = run_json(capsys, "import", str(out))
    assert (done["added"], done["refused"]) == (3, [])
    shown = {number: run_json(capsys, "orders", "show", number) for number in kinds}
    if fmt == "amazon-orders":
        assert {s["kind"] for s in shown.values()} == {"marketplace"}
        return
    assert {number: s["kind"] for number, s in shown.items()} == kinds
    assert shown["K-R"]["order_status"] == "予約" and shown["K-R"]["payment_status"] == "承認済"


def test_rows_refused_while_writing_make_the_import_exit_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outside review: every row passed the check, then another import took one of the numbers
    before it was written. The rest is imported, but without --skip-bad that is not success."""
    from dataclasses import replace

    from core.imports.service import ImportService
    from tests.core.imports.test_service import FILE, shop_order

    path = tmp_path / "orders.csv"
    writers.write_export(path, "futureshop", [shop_order("RC-1", 2), shop_order("RC-2", 3)], encoding="cp932")
    original = ImportService._write_chunk
    raced: list[bool] = []

    def racing(self: ImportService, chunk: Any, *args: Any) -> int:
        if not raced:
            raced.append(True)  # another desk imports RC-1 as a marketplace order first
            self.apply(FILE, [replace(shop_order("RC-1", 2), kind="marketplace", payment_method="other")])
        return original(self, chunk, *args)

    monkeypatch.setattr(ImportService, "_write_chunk", racing)
    capsys.readouterr()
    assert main(["import", str(path)]) == 1
    err = capsys.readouterr().err
    assert "競合したため、1件を取り込めませんでした" in err and "Traceback" not in err
    assert {o["number"] for o in run_json(capsys, "orders", "list")} == {"RC-1", "RC-2"}
    assert run_json(capsys, "orders", "show", "RC-1")["kind"] == "marketplace"  # the other desk's


def test_the_dry_run_names_a_total_amazon_disagrees_with_and_the_files_hash(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Outside review: the preview showed no mismatch and an empty sha256 where the import then
    flagged one; the plan must tell before anything is written."""
    from tests.core.imports.test_service import shop_order

    placed = run_json(capsys, "sandbox", "place-order", "--number", "DM-1", "--total", "5000", "--no-store")
    row = shop_order("DM-1", 2, total=5_500, cp=placed["charge_permission_id"], charge_ids=tuple(placed["charge_ids"]))
    path = tmp_path / "orders.csv"
    writers.write_export(path, "futureshop", [row], encoding="cp932")
    dry = run_json(capsys, "import", str(path), "--dry-run")
    assert dry["mismatches"] == ["DM-1"] and dry["dry_run"] is True
    assert len(dry["sha256"]) == 64 and run_json(capsys, "orders", "list") == []
    done = run_json(capsys, "import", str(path))
    assert done["mismatches"] == ["DM-1"] and done["sha256"] == dry["sha256"]


def test_a_folder_or_a_pipe_is_named_as_such(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Outside review: a folder and a FIFO were told ファイルが見つかりません."""
    import os

    capsys.readouterr()
    assert main(["import", str(tmp_path)]) == 1
    assert "フォルダーではなく" in capsys.readouterr().err
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "orders.csv"
        os.mkfifo(fifo)
        assert main(["import", str(fifo)]) == 1
        err = capsys.readouterr().err
        assert "通常のファイルではありません" in err and err.count("\n") == 1
