"""`kanjo amount N 0` names what a total of 0 does and needs --yes (issue 10 item 2, R34)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import run_cli as run


def test_a_total_of_0_without_yes_is_refused_on_stderr_and_changes_nothing(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "sandbox", "place-order", "--number", "Z-CLI", "--total", "3000")[0] == 0
    code, out, err = run(capsys, "amount", "Z-CLI", "0")
    assert code == 1 and out == ""
    assert err.startswith("kanjo: ") and "--yes" in err and "決済不要" in err and err.count("\n") == 1
    code, out, _err = run(capsys, "--json", "orders", "show", "Z-CLI")
    shown = json.loads(out)
    assert shown["total"] == 3000 and shown["can_capture"] is True
    assert not [j for j in shown["journal"] if j["action"] == "amount_change"]

    code, out, err = run(capsys, "--json", "amount", "Z-CLI", "0", "--yes")
    assert code == 0, err
    assert json.loads(out)["ok"] is True
    code, out, _err = run(capsys, "--json", "orders", "show", "Z-CLI")
    assert json.loads(out)["total"] == 0

    # Amazon still holds the authorization: raising the total again needs no --yes and can be captured.
    assert run(capsys, "amount", "Z-CLI", "1500")[0] == 0
    code, out, err = run(capsys, "--json", "capture", "Z-CLI")
    assert code == 0, err
    assert json.loads(out)["amount"] == 1500


def test_a_voided_total_of_0_without_yes_names_the_void(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "sandbox", "place-order", "--number", "Z-VOID", "--total", "3000")[0] == 0
    code, out, err = run(capsys, "amount", "Z-VOID", "0", "--void-amazon")
    assert code == 1 and out == ""
    assert "取り消せない" in err and "削除" in err and "残ります" not in err, err
    code, out, _err = run(capsys, "--json", "orders", "show", "Z-VOID")
    assert json.loads(out)["total"] == 3000
