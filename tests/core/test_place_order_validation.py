"""`kanjo sandbox place-order` checks the order number before the buyer's checkout reaches the
sandbox (issue 10, item 12): a number refused afterwards would leave an authorized Charge
Permission that no order points to. The sandbox state is read straight from its SQLite file.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from core.errors import BadInput
from core.order_numbers import validate_order_number

NOW_TEXT = "2026-11-21T12:00:00+09:00"


def charge_permissions(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as db:
        (count,) = db.execute("SELECT count(*) FROM charge_permissions").fetchone()
        return int(count)


# --- item 12: place-order validates the number before the sandbox sees it -------------------


def cli(*args: str) -> int:
    from core.cli import main

    return main(list(args))


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("", "受注番号"),
        ("   ", "受注番号"),
        ("\u3000", "受注番号"),
        ("10\n01", "制御文字"),
        ("10\t01", "制御文字"),
        ("10\x0001", "制御文字"),
        ("A" * 65, "64文字"),
    ],
)
def test_place_order_refuses_a_bad_number_before_anything_reaches_the_sandbox(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], number: str, message: str
) -> None:
    monkeypatch.setenv("KANJO_NOW", NOW_TEXT)
    assert cli("sandbox", "place-order", "--number", number, "--total", "1000") == 1
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    state = home / "kanjo.sandbox.sqlite3"
    assert not state.exists() or charge_permissions(state) == 0  # no orphan Charge Permission


def test_place_order_refuses_a_number_the_store_already_has_before_the_sandbox(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KANJO_NOW", NOW_TEXT)
    assert cli("sandbox", "place-order", "--number", "1001", "--total", "1000") == 0
    state = home / "kanjo.sandbox.sqlite3"
    assert charge_permissions(state) == 1
    # The sandbox is reset (a new state file): only the store still knows order 1001.
    for leftover in home.glob("kanjo.sandbox.sqlite3*"):
        leftover.unlink()
    capsys.readouterr()
    assert cli("sandbox", "place-order", "--number", " 1001 ", "--total", "1000") == 1
    assert "すでに登録されています" in capsys.readouterr().err
    assert not state.exists() or charge_permissions(state) == 0


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (" 1001 ", "1001"),
        ("\u30001001\u3000", "1001"),
        ("ABC-1 2", "ABC-1 2"),
        ("受注-１", "受注-１"),
        ("A" * 64, "A" * 64),
    ],
)
def test_valid_order_numbers_are_stripped(number: str, expected: str) -> None:
    assert validate_order_number(number) == expected


@pytest.mark.parametrize("number", ["", " ", "a\rb", "a\u2028b", "a\u202eb", "x" * 65, "a\x7fb"])
def test_invalid_order_numbers_are_refused(number: str) -> None:
    with pytest.raises(BadInput):
        validate_order_number(number)
