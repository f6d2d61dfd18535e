"""`kanjo ship`, `cancellation`, `returns`, `resale`, `orders set-cost` and the new keys of
`orders show --json` (issue 15 item 8), over a real SQLite file and the in-process sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli import main
from tests.helpers import run_cli as run
from tests.helpers import run_cli_json as run_json

NOW_TEXT = "2026-11-21T12:00:00+09:00"
YAMATO = "444413758703"


@pytest.fixture(autouse=True)
def _now(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KANJO_NOW", NOW_TEXT)


def test_ship_cancel_half_return_refund_resale_by_command(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    run_json(capsys, "sandbox", "place-order", "--number", "K-1", "--total", "6000", "--ordered-at", "2026-11-18T10:00")
    run_json(capsys, "settings", "set", "shop_name", "勘定商店")
    run_json(capsys, "settings", "set", "seller_token", "A2KANJOTOKEN")
    assert run_json(capsys, "ship", "K-1", "--mark", "preparing")["label"] == "発送準備中"
    assert run_json(capsys, "orders", "set-cost", "K-1", "--sku", "1", "--cost", "2500")["items"] == 1
    run_json(capsys, "orders", "set-cost", "K-1", "--shipping-cost", "800", "--payment-fee", "240")
    shipped = run_json(capsys, "ship", "K-1", "--carrier", "yamato", "--tracking", YAMATO)
    assert shipped["captured"] is True and shipped["tracking_url"].endswith(YAMATO)
    shown = run_json(capsys, "orders", "show", "K-1")
    assert shown["shipment"]["carrier"] == "yamato" and shown["shipment"]["tracking"] == YAMATO
    assert shown["shipment"]["shipped_at"].startswith("2026-11-21T03:00")
    assert shown["cancellation"] is None and shown["resale"] == 0 and shown["net_result"] == 6000 - 240 - 2500
    assert shown["order_status"] == "発送済" and "journal" in shown  # existing keys stay
    opened = run_json(capsys, "cancellation", "open", "K-1", "--channel", "mail", "--note", "キャンセルしたい")
    assert opened["proposal"]["rule"] == "R45"
    options = run_json(capsys, "cancellation", "options", "K-1")
    assert [(o["option"], o["refund"], o["shop_result"]) for o in options] == [
        ("full", 6000, -3540),
        ("half", 3000, -540),
        ("refuse", 0, 2460),
    ]
    code, _out, err = run(capsys, "cancellation", "resolve", "K-1", "--option", "half")
    assert code == 1 and "--yes" in err
    resolved = run_json(capsys, "cancellation", "resolve", "K-1", "--option", "half", "--yes")
    assert resolved["state"] == "awaiting_return" and resolved["mail"] == "manual"  # no SMTP: kept to copy
    code, _out, err = run(capsys, "returns", "refund", "K-1", "--yes")
    assert code == 1 and "届くまで" in err
    run_json(capsys, "returns", "received", "K-1")
    refunded = run_json(capsys, "returns", "refund", "K-1", "--yes")
    assert refunded["refund"] == 3000
    resale = run_json(capsys, "resale", "K-1", "--amount", "1,200", "--channel", "ヤフオク")
    assert resale["net_result"] == 6000 - 3000 - 240 - 2500 + 1200
    shown = run_json(capsys, "orders", "show", "K-1")
    assert shown["cancellation"]["state"] == "refunded" and shown["cancellation"]["option"] == "half"
    assert shown["resale"] == 1200 and shown["net_result"] == 1460


def test_bulk_from_csv_json_and_bad_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    run_json(capsys, "sandbox", "place-order", "--number", "K-2", "--total", "1000")
    path = tmp_path / "ship.csv"
    path.write_text(f"受注番号,配送会社,送り状番号\nK-2,ヤマト運輸,{YAMATO}\nK-9,佐川急便,1\n", encoding="utf-8")
    code, out, err = run(capsys, "ship", "--from-csv", str(path), "--dry-run", "--json")
    preview = json.loads(out)
    assert code == 1 and preview["shipped"] == 0 and [p["number"] for p in preview["planned"]] == ["K-2"]
    assert "3行目" in err
    code, out, _err = run(capsys, "ship", "--from-csv", str(path), "--json")
    data = json.loads(out)
    assert {k: data[k] for k in ("shipped", "captured", "notified", "skipped")} == {
        "shipped": 1,
        "captured": 1,
        "notified": 0,
        "skipped": 0,
    }
    assert data["refused"][0]["line"] == 3
    for args in (
        ("ship", "K-2"),
        ("ship", "K-2", "--carrier", "ufo", "--tracking", "1"),
        ("ship", "--from-csv", str(tmp_path / "missing.csv")),
        ("cancellation", "open", "K-2", "--at", "yesterday"),
        ("cancellation", "open", "K-2", "--channel", "fax"),
        ("cancellation", "resolve", "K-2", "--option", "half"),  # no request recorded
        ("resale", "K-2", "--amount", "-5"),
        ("orders", "set-cost", "K-2", "--sku", "NOPE", "--cost", "100"),
    ):
        code, _out, err = run(capsys, *args)
        assert code == 1, args
        assert err.startswith("kanjo: ") and err.count("\n") == 1 and "Traceback" not in err, (args, err)
    with pytest.raises(SystemExit) as usage:
        main(["cancellation", "resolve", "K-2"])
    assert usage.value.code == 2
