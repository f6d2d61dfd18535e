"""Issue 13 item 7: the settlement, export and sandbox commands, and their refusals (one
Japanese line, exit 1 for bad input, 2 for wrong arguments, nothing changed)."""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path

import pytest

from core.cli import main
from tests.helpers import run_cli as run

NOW = "2026-11-21T12:00:00+09:00"
LATER = "2026-12-08T12:00:00+09:00"  # past the first period of 16 days (R60)


@pytest.fixture
def shop(home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Path:
    monkeypatch.setenv("KANJO_NOW", NOW)
    assert run(capsys, "sandbox", "settlement", "fee-rate", "3.5")[0] == 0
    for number, total in (("C-1", 10_000), ("C-2", 2_000)):
        assert run(capsys, "sandbox", "place-order", "--number", number, "--total", str(total))[0] == 0
        assert run(capsys, "capture", number, "--json")[0] == 0
    assert run(capsys, "sandbox", "seller-central", "chargeback", "C-2", "--amount", "2000")[0] == 0
    return home


def test_fetch_list_show_fetch_again_and_export(
    shop: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("KANJO_NOW", LATER)
    code, out, err = run(capsys, "settlements", "fetch", "--json")
    assert code == 0, err
    assert json.loads(out)["reports_read"] == 1
    code, out, _ = run(capsys, "settlements", "list", "--json")
    (item,) = json.loads(out)
    # 3.5 % fee rate: 350 + 70; the chargeback is taken from the deposit.
    assert (item["captured"], item["fees"], item["deposit"], item["problems"]) == (12_000, 420, 9_580, 1)
    code, out, _ = run(capsys, "settlements", "show", item["id"])
    assert code == 0 and "チャージバック" in out and "C-2" in out
    code, out, _ = run(capsys, "settlements", "fetch", "--json")
    assert json.loads(out)["reports_read"] == 0

    out_file = tmp_path / "orders.xlsx"
    code, out, err = run(
        capsys, "export", "orders", "--from", "2026-11-01", "--to", "2026-11-30", "--out", str(out_file), "--json"
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["format"] == "xlsx" and data["rows"] == 2 and out_file.is_file()
    code, out, _ = run(
        capsys, "export", "payments", "--from", "2026-11-01", "--to", "2026-11-30", "--out", str(tmp_path / "p.csv")
    )
    assert code == 0 and "行を書き出しました" in out


def test_import_a_file_twice_adds_nothing_the_second_time(
    shop: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("KANJO_NOW", LATER)
    assert run(capsys, "sandbox", "settlement", "close")[0] == 0
    report = tmp_path / "report.csv"
    report.write_text(
        '"SellerId","A1"\n"SettlementStartDate","2026-11-07T00:00:00Z"\n"SettlementEndDate","2026-11-21T00:00:00Z"\n\n'
        "TransactionPostedDate,SettlementId,AmazonTransactionId,AmazonOrderReferenceId,SellerOrderId,"
        "TransactionType,TransactionAmount,TotalTransactionFee,NetTransactionAmount\n"
        "2026-11-10T00:00:00Z,999,X-R1,,C-1,Refund,-500,20,-480\n"
        "2026-11-21T00:00:00Z,999,,,,Transfer,480,0,480\n",
        encoding="utf-8",
    )
    code, out, err = run(capsys, "settlements", "import", str(report), "--json")
    assert code == 0, err
    first = json.loads(out)
    assert (first["rows_read"], first["rows_added"], first["problems"]) == (2, 2, 1)
    code, out, _ = run(capsys, "settlements", "import", str(report), "--json")
    assert json.loads(out)["already_read"] is True
    code, out, _ = run(capsys, "settlements", "show", "999", "--json")
    shown = json.loads(out)
    assert shown["rows"][0]["matched"] is True
    assert [p["kind"] for p in shown["problems"]] == ["seller_central_refund"]
    code, out, _ = run(capsys, "orders", "show", "C-1", "--json")
    assert json.loads(out)["net"] == -480


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("settlements", "import", "/nonexistent/report.csv"), 1, "ファイルがありません"),
        (("settlements", "show", "12345"), 1, "まだ読み込まれていません"),
        (("settlements",), 1, "fetch, import, list, show"),
        (("sandbox", "settlement", "fee-rate", "abc"), 1, "0から100"),
        (("sandbox", "settlement", "fee-rate", "150"), 1, "0から100"),
        (("sandbox", "seller-central", "chargeback", "NOPE", "--amount", "100"), 1, "NOPE"),
        (("export", "orders", "--from", "2026-13-01", "--to", "2026-12-01", "--out", "x.csv"), 1, "--from"),
        (("export", "orders", "--from", "2026-12-02", "--to", "2026-12-01", "--out", "x.csv"), 1, "--to"),
        (("export", "orders", "--from", "2026-12-01", "--to", "2026-12-01"), 2, "引数"),
    ],
)
def test_refusals_are_one_line(
    home: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], code: int, message: str
) -> None:
    with pytest.raises(SystemExit) if code == 2 else nullcontext() as raised:
        result = main(list(args))
    if code == 2:
        assert raised.value.code == 2  # type: ignore[union-attr]
    else:
        assert result == code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_bad_report_file_changes_nothing(home: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("SettlementId,TransactionType,TransactionAmount\n1,Capture,100\n1,Capture,12.5\n", encoding="utf-8")
    code, _out, err = run(capsys, "settlements", "import", str(bad))
    assert code == 1 and "3行目" in err
    code, out, _ = run(capsys, "settlements", "list", "--json")
    assert json.loads(out) == []
