"""Issue 11, open review findings on the command line (items 2, 5, 11, 12, 13): one Japanese
line on stderr, the right exit code, nothing changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli import main
from tests.helpers import run_cli as run
from tests.helpers import run_cli_json as run_json

NOW_TEXT = "2026-11-21T12:00:00+09:00"
HEAD = "注文番号,支払合計,送料,支払方法,受注日,商品名,価格,個数"


@pytest.fixture(autouse=True)
def _now(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KANJO_NOW", NOW_TEXT)


def test_import_json_with_refused_rows_prints_the_summary_and_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Item 5: stdout holds the summary JSON (with ``refused``), stderr the one-line refusal."""
    path = tmp_path / "x.csv"
    path.write_text(
        f"{HEAD}\n1,1000,0,銀行振込,2026/11/20 10:00,茶,1000,1\n2,abc,0,銀行振込,2026/11/20 10:00,茶,1000,1\n",
        encoding="utf-8",
    )
    code, out, err = run(capsys, "import", str(path), "--json")
    assert code == 1
    data = json.loads(out)
    assert [(r["line"], r["column"]) for r in data["refused"]] == [(3, "支払合計")]
    assert (data["format"], data["added"], data["blocked"]) == ("eccube", 0, True)
    assert err.count("\n") == 1 and "何も取り込みませんでした" in err
    assert run_json(capsys, "orders", "list") == []


def test_an_unknown_format_is_a_usage_error_listing_formats_and_mappings(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Item 12: exit 2, with the built-in formats and the saved mapping names."""
    run_json(capsys, "import-mapping", "save", "自社CSV", "number=伝票", "ordered_at=日付", "total=金額")
    path = tmp_path / "x.csv"
    path.write_text(f"{HEAD}\n", encoding="utf-8")
    code, out, err = run(capsys, "import", str(path), "--format", "nosuch")
    assert (code, out) == (2, "")
    assert "nosuch" in err and "futureshop" in err and "amazon-orders" in err and "自社CSV" in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("import",), "次の引数を指定してください: file"),
        (("import", "x.csv", "--encoding", "latin-1"), "引数 --encoding: 'latin-1' は選べません"),
        (("orders", "list", "--bogus"), "認識できない引数があります: --bogus"),
        (("orders", "add", "--charge-permission"), "引数 --charge-permission: 値を1つ指定してください"),
        (("orders", "add"), "次の引数を指定してください: --charge-permission"),
    ],
)
def test_argparse_speaks_japanese_keeping_the_argument_names(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...], words: str
) -> None:
    """Item 13."""
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    err = capsys.readouterr().err
    assert exited.value.code == 2 and words in err and err.count("\n") == 1
    for english in ("required", "invalid choice", "unrecognized", "expected"):
        assert english not in err


def test_an_unknown_argparse_message_is_kept() -> None:
    from core.cli.output import japanese_usage_message

    assert japanese_usage_message("argument --x: something new") == "引数 --x: something new"


def test_orders_add_without_charge_says_what_is_missing(capsys: pytest.CaptureFixture[str]) -> None:
    """Item 2 on the command line: exit 1, one line, no order."""
    placed = run_json(capsys, "sandbox", "place-order", "--number", "NA-1", "--total", "3000", "--no-store")
    code, out, err = run(capsys, "orders", "add", "--charge-permission", placed["charge_permission_id"])
    assert (code, out) == (1, "") and "Charge ID" in err and err.count("\n") == 1
    assert run_json(capsys, "orders", "list") == []


@pytest.mark.parametrize(
    "args",
    [
        ("orders", "add", "--charge-permission", "S01-1234567-123456", "--charge", "S01-1234567-1234567-C000001"),
        ("orders", "add", "--charge-permission", "S01-1234567-1234567", "--charge", "S01-1234567-1234567-C1"),
        ("orders", "link", "L-1", "--charge-permission", "S03-1234567-1234567/../x"),
        ("orders", "link", "L-1", "--charge-permission", "S03-1234567-1234567", "--charge", "nope"),
    ],
)
def test_malformed_ids_on_the_command_line_are_refused_locally(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: tuple[str, ...]
) -> None:
    """Item 11: exit 1, the shape named, before any call to Amazon Pay."""
    path = tmp_path / "unlinked.csv"
    path.write_text(f"{HEAD}\nL-1,1000,0,Amazon Pay,2026/11/20 10:00,茶,1000,1\n", encoding="utf-8")
    assert run_json(capsys, "import", str(path))["unlinked"] == 1  # L-1: 未連携, to be linked
    code, out, err = run(capsys, *args)
    assert (code, out) == (1, "") and "形が正しくありません" in err and err.count("\n") == 1
