"""The `kanjo` command line end to end: real processes, a sandbox server started by the test,
a real SQLite file, and crashes injected between "sent" and "recorded"."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-11-21T12:00:00+09:00"


def kanjo(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    if check and result.returncode != 0:
        raise AssertionError(f"kanjo {' '.join(args)} → {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def kanjo_json(env: dict[str, str], *args: str) -> object:
    return json.loads(kanjo(env, *args, "--json").stdout)


@pytest.fixture
def base_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KANJO_")}
    env.update({"KANJO_HOME": str(tmp_path / "home"), "KANJO_NOW": NOW, "PYTHONPATH": str(ROOT)})
    return env


@pytest.fixture
def env(base_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """A `kanjo sandbox serve` process outliving the commands (and their crashes)."""
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "sandbox", "serve", "--port", "0", "--json"],
        env=base_env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        lines = []
        while True:
            line = server.stdout.readline()
            assert line, f"sandbox did not start: {server.stderr.read() if server.stderr else ''}"
            lines.append(line)
            if line.strip() == "}":
                break
        info = json.loads("".join(lines))
        yield {**base_env, "KANJO_SANDBOX_URL": info["url"], "TEST_SANDBOX_SECRET_FILE": info["control_secret_file"]}
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


def show(env: dict[str, str], number: str) -> dict[str, object]:
    data = kanjo_json(env, "orders", "show", number)
    assert isinstance(data, dict)
    return data


def sandbox_captures(env: dict[str, str], number: str) -> list[dict[str, object]]:
    """Ask the sandbox itself what it holds for the order (not our ledger)."""
    import httpx

    secret = Path(env["TEST_SANDBOX_SECRET_FILE"]).read_text().strip()
    snapshot = httpx.get(
        f"{env['KANJO_SANDBOX_URL']}/_sandbox/snapshot",
        params={"number": number},
        headers={"X-Kanjo-Sandbox-Secret": secret},
    ).json()
    return [c for c in snapshot["charges"] if c["statusDetails"]["state"] == "Captured"]


def test_full_flow_through_the_command_line(env: dict[str, str]) -> None:
    kanjo(env, "init")
    placed = kanjo_json(env, "sandbox", "place-order", "--number", "1001", "--total", "１，２００円")
    assert isinstance(placed, dict) and placed["payment_status"] == "承認済" and placed["total"] == 1200
    order = show(env, "1001")
    for key in ("number", "kind", "order_status", "payment_status", "total", "authorized", "captured", "refunded"):
        assert key in order
    charges = order["charges"]
    assert isinstance(charges, list) and {"id", "amount", "state", "label"} <= set(charges[0])
    listed = kanjo_json(env, "orders", "list", "--status", "承認済")
    assert [o["number"] for o in listed] == ["1001"]  # type: ignore[index, union-attr]

    captured = kanjo_json(env, "capture", "1001")
    assert isinstance(captured, dict) and captured["payment_status"] == "請求済"
    kanjo(env, "sync", "1001")
    assert show(env, "1001")["payment_status"] == "請求完了"

    kanjo(env, "sandbox", "seller-central", "refund", "1001", "--amount", "200")
    kanjo(env, "sync")
    order = show(env, "1001")
    assert order["payment_status"] == "返金済"
    assert [(r["amount"], r["label"]) for r in order["refunds"]] == [(200, "返金済")]  # type: ignore[union-attr, index]


def test_reauthorization_and_r41_messages(env: dict[str, str]) -> None:
    kanjo(
        env,
        "sandbox",
        "place-order",
        "--number",
        "2001",
        "--total",
        "5000",
        "--ordered-at",
        "2026-10-01T10:00:00+09:00",
    )
    assert show(env, "2001")["payment_status"] == "承認完了"
    refused = kanjo(env, "capture", "2001", check=False)
    assert refused.returncode == 1 and "再与信" in refused.stderr
    kanjo(env, "sandbox", "buyer", "decline-next", "2001", "--hard")
    failed = kanjo(env, "reauth", "2001", check=False)
    assert failed.returncode == 1
    assert "決済方法を変更してください" in show(env, "2001")["reauth_message"]  # type: ignore[operator]
    kanjo(env, "sandbox", "buyer", "fix-payment", "2001")
    kanjo(env, "reauth", "2001")
    assert show(env, "2001")["payment_status"] == "承認済"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("capture", "9999"), "見つかりません"),
        (("sandbox", "place-order", "--number", "3001", "--total", "abc"), "--total"),
        (("sandbox", "place-order", "--number", "3001", "--total", "-100"), "マイナス"),
        (("sandbox", "place-order", "--number", "3001", "--total", "100.5"), "小数"),
        (("sandbox", "place-order", "--number", "3001", "--total", "10000001"), "10,000,000"),
        (("orders", "list", "--status", "不明"), "与信ステータス"),
    ],
)
def test_bad_input_is_one_japanese_line_and_changes_nothing(
    env: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    result = kanjo(env, *args, check=False)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert kanjo_json(env, "orders", "list") == []


def test_closed_charge_permission_is_refused_clearly(env: dict[str, str]) -> None:
    kanjo(
        env,
        "sandbox",
        "place-order",
        "--number",
        "4001",
        "--total",
        "3000",
        "--ordered-at",
        "2025-09-01T10:00:00+09:00",
    )
    result = kanjo(env, "reauth", "4001", check=False)
    assert result.returncode == 1 and "13か月" in result.stderr


def test_unreachable_sandbox_is_a_clear_message(base_env: dict[str, str]) -> None:
    env = {**base_env, "KANJO_SANDBOX_URL": "http://127.0.0.1:9"}
    result = kanjo(env, "sandbox", "place-order", "--number", "5001", "--total", "1000", check=False)
    assert result.returncode == 1 and "接続できません" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "point",
    # Every point is crashed in-process each day (test_crash_recovery.py); through the real
    # program, the riskiest point each day and the other two in the slow suite (CI).
    [
        pytest.param("capture:after_intent", marks=pytest.mark.slow),
        pytest.param("capture:before_send", marks=pytest.mark.slow),
        "capture:after_send",
    ],
)
def test_crash_during_capture_then_recover_captures_exactly_once(env: dict[str, str], point: str) -> None:
    kanjo(env, "sandbox", "place-order", "--number", "6001", "--total", "4000")
    crashed = kanjo({**env, "KANJO_CRASHPOINT": point}, "capture", "6001", check=False)
    assert crashed.returncode == -signal.SIGKILL
    assert show(env, "6001")["unsettled_operations"] == 1
    recovered = kanjo_json(env, "recover")
    assert [r["outcome"] for r in recovered] == ["succeeded"]  # type: ignore[union-attr, index]
    assert kanjo_json(env, "recover") == []
    order = show(env, "6001")
    assert order["captured"] == 4000 and order["payment_status"] == "請求済"
    assert [c["captureAmount"]["amount"] for c in sandbox_captures(env, "6001")] == ["4000"]


def test_crash_during_reauthorization_then_recover_authorizes_once(env: dict[str, str]) -> None:
    kanjo(
        env,
        "sandbox",
        "place-order",
        "--number",
        "7001",
        "--total",
        "2500",
        "--ordered-at",
        "2026-10-01T10:00:00+09:00",
    )
    crashed = kanjo({**env, "KANJO_CRASHPOINT": "authorize:after_send"}, "reauth", "7001", check=False)
    assert crashed.returncode == -signal.SIGKILL
    kanjo(env, "recover")
    order = show(env, "7001")
    assert order["payment_status"] == "承認済"
    assert [c["state"] for c in order["charges"]] == ["Canceled", "Authorized"]  # type: ignore[union-attr, index]


def test_in_process_sandbox_survives_a_crash_in_its_file(base_env: dict[str, str]) -> None:
    """With no sandbox server, each command starts one in-process over the same state file."""
    kanjo(base_env, "sandbox", "place-order", "--number", "8001", "--total", "1500")
    crashed = kanjo({**base_env, "KANJO_CRASHPOINT": "capture:after_send"}, "capture", "8001", check=False)
    assert crashed.returncode == -signal.SIGKILL
    kanjo(base_env, "recover")
    order = show(base_env, "8001")
    assert order["captured"] == 1500
    assert kanjo(base_env, "--version").stdout.startswith("kanjo ")


def test_payment_toolbox_through_the_command_line(env: dict[str, str]) -> None:
    """Issue 4 commands end to end: amount, refund, cancel (with --yes), change-method, clear-payment-date."""
    kanjo(env, "sandbox", "place-order", "--number", "9001", "--total", "5000")
    raised = kanjo_json(env, "amount", "9001", "６，０００円")
    assert isinstance(raised, dict) and raised["ok"] and raised["amount"] == 6000
    too_much = kanjo(env, "amount", "9001", "70001", check=False)
    assert too_much.returncode == 1 and "70,000円" in too_much.stderr
    assert kanjo_json(env, "capture", "9001")["ok"]  # type: ignore[index]
    assert show(env, "9001")["captured"] == 6000  # the 1,000 difference was authorized first (R28)
    refund = kanjo_json(env, "refund", "9001", "--amount", "1,000", "--reason", "一部返品")
    assert isinstance(refund, dict) and [a["amount"] for a in refund["allocation"]] == [1000]
    cleared = kanjo_json(env, "clear-payment-date", "9001")
    assert isinstance(cleared, dict) and cleared["ok"] and show(env, "9001")["payment_date"] is None
    refused = kanjo(env, "cancel", "9001", "--void-amazon", check=False)
    assert refused.returncode == 1 and "--yes" in refused.stderr and "元に戻せません" in refused.stderr
    assert show(env, "9001")["order_status"] != "キャンセル"  # nothing happened
    cancelled = kanjo_json(env, "cancel", "9001", "--void-amazon", "--yes")
    assert isinstance(cancelled, dict) and cancelled["ok"]
    order = show(env, "9001")
    assert order["order_status"] == "キャンセル" and sum(r["amount"] for r in order["refunds"]) == 6000  # type: ignore[union-attr]

    kanjo(env, "sandbox", "place-order", "--number", "9002", "--total", "3000")
    to_amazon = kanjo(env, "change-method", "9002", "amazon_pay", check=False)
    assert to_amazon.returncode == 1 and "Amazon Payへの変更" in to_amazon.stderr
    changed = kanjo_json(env, "change-method", "9002", "bank_transfer")
    assert isinstance(changed, dict) and changed["ok"] and show(env, "9002")["payment_status"] is None


def test_a_key_file_that_holds_no_private_key_is_refused_and_not_saved(
    base_env: dict[str, str], tmp_path: Path
) -> None:
    from core.amazonpay.signing import generate_key_pair

    private_pem, public_pem = generate_key_pair()
    public, private = tmp_path / "public.pem", tmp_path / "private.pem"
    public.write_bytes(public_pem)
    private.write_bytes(private_pem)
    refused = kanjo(base_env, "settings", "set", "amazon_private_key_path", str(public), check=False)
    assert refused.returncode == 1 and "秘密鍵ファイルの形式が違います" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert kanjo_json(base_env, "settings", "show")["amazon_private_key_path"] == ""  # type: ignore[index]
    kanjo(base_env, "settings", "set", "amazon_private_key_path", str(private))
    assert kanjo_json(base_env, "settings", "show")["amazon_private_key_path"] == str(private)  # type: ignore[index]


def test_place_order_chooses_the_permission_lifetime_r54(env: dict[str, str]) -> None:
    """Without the extension a one-time Charge Permission lives 180 days; the default asks for 13 months."""
    kanjo(env, "init")
    short = kanjo_json(env, "sandbox", "place-order", "--number", "5001", "--total", "3000", "--no-extended-expiry")
    assert isinstance(short, dict) and short["charge_permission"]["expires_in_days"] == 180  # type: ignore[index]
    long = kanjo_json(env, "sandbox", "place-order", "--number", "5002", "--total", "3000")
    assert isinstance(long, dict) and long["charge_permission"]["expires_in_days"] in (395, 396)  # type: ignore[index]
