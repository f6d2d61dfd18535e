"""``kanjo subscriptions …`` and the sandbox's subscription commands, in process on a real store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli import main


def run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, now: str, *args: str
) -> tuple[int, str, str]:
    monkeypatch.setenv("KANJO_NOW", now)
    code = main([*args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, now: str, *args: str) -> object:
    code, out, err = run(capsys, monkeypatch, now, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_subscription_desk_on_the_command_line(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    day1 = "2026-11-21T12:00:00+09:00"
    placed = run_json(
        capsys,
        monkeypatch,
        day1,
        "sandbox",
        "place-order",
        "--number",
        "A100",
        "--total",
        "4000",
        "--kind",
        "subscription",
        "--every",
        "1m",
        "--rounds",
        "3",
    )
    assert isinstance(placed, dict) and placed["subscription_id"] == 1
    listed = run_json(capsys, monkeypatch, day1, "subscriptions", "list")
    assert listed == [
        {
            "id": 1,
            "order_number": "A100",
            "state": "継続",
            "every": "1m",
            "next_date": "2026-12-21",
            "rounds_done": 1,
            "rounds_total": 3,
            "month_amount": 4000,
            "charge_permission_id": listed[0]["charge_permission_id"],  # type: ignore[index]
        }
    ]
    day2 = "2026-12-21T09:00:00+09:00"
    run(capsys, monkeypatch, day2, "sandbox", "buyer", "decline-next", "A100", "--hard")
    report = run_json(capsys, monkeypatch, day2, "subscriptions", "generate")
    assert isinstance(report, dict)
    assert report["generated"] == 1 and report["authorized"] == 0 and report["skipped"] == 0
    assert [h["order_number"] for h in report["held"]] == ["A100-2"]
    assert "決済方法を変更" in report["held"][0]["reason"]  # R41
    held = run_json(capsys, monkeypatch, day2, "orders", "list", "--status", "保留")
    assert [o["number"] for o in held] == ["A100-2"]  # type: ignore[index, union-attr]
    shown = run_json(capsys, monkeypatch, day2, "orders", "show", "A100-2")
    assert isinstance(shown, dict) and shown["subscription_id"] == 1 and shown["round"] == 2
    run(capsys, monkeypatch, day2, "sandbox", "buyer", "fix-payment", "A100-2")
    retried = run_json(capsys, monkeypatch, day2, "subscriptions", "retry", "A100-2")
    assert retried == {"generated": 0, "authorized": 1, "held": [], "skipped": 0}
    # Run again the same day: nothing twice.
    again = run_json(capsys, monkeypatch, day2, "subscriptions", "generate")
    assert again == {"generated": 0, "authorized": 0, "held": [], "skipped": 0}
    # Bad input: one Japanese line, exit 1, nothing changed.
    code, _out, err = run(capsys, monkeypatch, day2, "subscriptions", "cancel", "1")
    assert code == 1 and "--yes" in err and "元に戻せ" in err and "Traceback" not in err
    code, _out, err = run(capsys, monkeypatch, day2, "subscriptions", "generate", "--until", "12/31")
    assert code == 1 and "日付" in err
    code, _out, err = run(capsys, monkeypatch, day2, "subscriptions", "show", "99")
    assert code == 1 and "見つかりません" in err
    code, _out, err = run(
        capsys, monkeypatch, day2, "sandbox", "place-order", "--number", "X1", "--total", "100", "--every", "1y"
    )
    assert code == 1 and "--kind subscription" in err
    code, _out, err = run(capsys, monkeypatch, day2, "subscriptions", "pause", "1")
    assert code == 0
    code, _out, err = run(capsys, monkeypatch, day2, "subscriptions", "resume", "1")
    assert code == 0
    canceled = run_json(capsys, monkeypatch, day2, "subscriptions", "cancel", "1", "--yes")
    assert isinstance(canceled, dict) and canceled["state"] == "申込取消"
    shown = run_json(capsys, monkeypatch, day2, "orders", "show", "A100")
    assert isinstance(shown, dict) and shown["subscription_id"] == 1 and shown["round"] == 1


def test_buyer_closes_a_subscription_and_the_next_run_stops_it(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    day1 = "2026-11-21T12:00:00+09:00"
    run_json(
        capsys,
        monkeypatch,
        day1,
        "sandbox",
        "place-order",
        "--number",
        "B7",
        "--total",
        "3000",
        "--kind",
        "subscription",
        "--every",
        "2w",
    )
    code, _out, err = run(capsys, monkeypatch, day1, "sandbox", "buyer", "close-subscription", "B7")
    assert code == 0, err
    day2 = "2026-12-05T09:00:00+09:00"
    code, out, err = run(capsys, monkeypatch, day2, "subscriptions", "generate")
    assert code == 0 and "購入者" in out
    listed = run_json(capsys, monkeypatch, day2, "subscriptions", "list")
    assert listed[0]["state"] == "Amazon側で終了"  # type: ignore[index]
