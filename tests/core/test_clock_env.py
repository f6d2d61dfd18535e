"""A bad KANJO_NOW is one Japanese line, exit 1, never a traceback (issue 10 review)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.cli import main


@pytest.mark.parametrize("value", ["garbage", "0001-01-01T00:00:00+09:00", "2026-13-01T00:00:00+09:00"])
def test_a_bad_clock_setting_is_refused_in_one_line(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    monkeypatch.setenv("KANJO_NOW", value)
    assert main(["orders", "list"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "KANJO_NOW" in err and "予期しない" not in err
