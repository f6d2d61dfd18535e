"""Issue 10 items 3, 4, 8 and 9 on the command line: every bad input and every refusal is one
Japanese line on stderr, never a traceback or 予期しないエラー, and changes nothing.

The commands run in process (``core.cli.main``) over a real SQLite store in a fresh data
directory and the built-in sandbox over HTTP; one test starts the real program.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import update

from core.amazonpay.signing import generate_key_pair
from core.app import open_app
from core.db.schema import Customer, Order
from tests.helpers import run_cli as run

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-11-21T12:00:00+09:00"


@pytest.fixture
def cli_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KANJO_NOW", NOW)
    return home


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "予期しない" not in err and "Traceback" not in err, err
    assert lines[0].startswith("kanjo: "), err
    return lines[0]


def settings_now(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    code, out, _ = run(capsys, "--json", "settings", "show")
    assert code == 0
    data = json.loads(out)
    assert isinstance(data, dict)
    return data


def orders_now(capsys: pytest.CaptureFixture[str]) -> list[object]:
    code, out, _ = run(capsys, "--json", "orders", "list")
    assert code == 0
    data = json.loads(out)
    assert isinstance(data, list)
    return data


def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "private.pem"
    path.write_bytes(generate_key_pair()[0])
    return path


# --- item 9: arguments typed on the command line ----------------------------------------------


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("sandbox", "place-order", "--number", "B1", "--total", "1000", "--ordered-at", "yesterday"), "--ordered-at"),
        (("sandbox", "place-order", "--number", "B1", "--total", "10000001"), "10,000,000円"),
        (
            (
                "sandbox",
                "place-order",
                "--number",
                "B1",
                "--total",
                "1000",
                "--ordered-at",
                "0001-01-01T00:00:00+09:00",
            ),
            "--ordered-at",
        ),
        (
            (
                "sandbox",
                "place-order",
                "--number",
                "B1",
                "--total",
                "1000",
                "--ordered-at",
                "2999-01-01T00:00:00+09:00",
            ),
            "--ordered-at",
        ),
        (("sandbox", "fault", "add", "500", "--rate", "nan"), "--rate"),
        (("sandbox", "fault", "add", "500", "--rate", "1.5"), "--rate"),
        (("sandbox", "fault", "add", "500", "--rate", "inf"), "--rate"),
        (("sandbox", "fault", "add", "500", "--count", "99999999999999999999"), "--count"),
        (("sandbox", "fault", "add", "500", "--count", "0"), "--count"),
        (("sandbox", "fault", "add", "500", "--count", "x"), "--count"),
        (("settings", "set", "sync_interval_minutes", "①"), "sync_interval_minutes"),
        (("settings", "set", "sync_interval_minutes", "²"), "sync_interval_minutes"),
        (("settings", "set", "sync_interval_minutes", "٣"), "sync_interval_minutes"),
        (("settings", "set", "sync_interval_minutes", "40000"), "1440"),
        (("settings", "set", "sync_interval_minutes", "0"), "sync_interval_minutes"),
        (("settings", "set", "smtp_port", "①"), "smtp_port"),
        (("settings", "set", "smtp_port", "70000"), "65535"),
        (("settings", "set", "seller_token", "X&seller=evil#"), "出品者トークン"),
        (("settings", "set", "seller_token", "A1B2"), "出品者トークン"),
        (("message", "render", "user-²", "B1"), "user-²"),
        (("message", "render", "user-999999999999999999999", "B1"), "user-999999999999999999999"),
        (("orders", "list", "--limit", "99999999999999999999x"), "--limit"),
        (("orders", "list", "--limit", "-1"), "--limit"),
        (("orders", "list", "--limit", "0"), "--limit"),
        (("orders", "list", "--limit", "²"), "--limit"),
        (("demo", "--orders", "99999999999999999999"), "--orders"),
        (("demo", "--orders", "-5"), "--orders"),
        (("demo", "--orders", "1e3"), "--orders"),
        (("demo", "--seed", "x"), "--seed"),
        (("sandbox", "serve", "--port", "70000"), "--port"),
        (("sandbox", "serve", "--port", "http"), "--port"),
    ],
)
def test_bad_input_is_one_japanese_line_and_writes_nothing(
    cli_home: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], says: str
) -> None:
    before = settings_now(capsys)
    code, out, err = run(capsys, *args)
    assert code == 1, (out, err)
    assert says in one_line(err)
    assert out == ""
    assert settings_now(capsys) == before
    assert orders_now(capsys) == []


def test_unicode_digits_other_than_full_width_are_never_read_as_numbers(
    cli_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "settings", "set", "sync_interval_minutes", "１５")[0] == 0
    assert run(capsys, "settings", "set", "smtp_port", "４６５")[0] == 0
    saved = settings_now(capsys)
    assert saved["sync_interval_minutes"] == 15 and saved["smtp_port"] == 465


def test_a_huge_list_limit_is_capped_not_an_error(cli_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "sandbox", "place-order", "--number", "L1", "--total", "1000")[0] == 0
    code, out, err = run(capsys, "--json", "orders", "list", "--limit", "99999999999999999999")
    assert code == 0 and err == "" and [o["number"] for o in json.loads(out)] == ["L1"]


def test_a_port_in_use_is_a_clear_message(cli_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = run(capsys, "sandbox", "serve", "--port", str(port))
    assert code == 1 and out == ""
    assert str(port) in one_line(err)


def test_terminal_escapes_and_newlines_from_outside_stay_out_of_text_output(
    cli_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # place-order refuses such a number before checkout (issue 10 item 12); a shop system's
    # order could still carry one, so it is written into the store directly.
    assert run(capsys, "sandbox", "place-order", "--number", "N1", "--total", "1000")[0] == 0
    with open_app() as app, app.sessions.begin() as session:  # a name as Amazon could send it
        session.execute(update(Customer).values(name="山田\x1b[2J\x1b]0;pwned\x07太郎\x9b31m\r"))
        session.execute(update(Order).values(number="N1\nN2", ship_address="東京都\n千代田区\x1b[31m1-1"))
    code, out, _ = run(capsys, "orders", "list")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 3, out  # header, the one order, the count
    assert "山田" in lines[1] and "太郎" in lines[1]
    code, shown, _ = run(capsys, "orders", "show", "N1\nN2")
    assert code == 0 and "東京都" in shown
    for text in (out, shown):
        assert not any((ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) <= 0x9F for c in text), repr(text)
        assert "pwned" not in text
    assert any(line.startswith("受注番号: N1") and "N2" in line for line in shown.splitlines())
    code, out, _ = run(capsys, "--json", "orders", "show", "N1\nN2")
    assert json.loads(out)["number"] == "N1\nN2"  # JSON keeps the value as it is (escaped)


# --- item 8: settings that would lock the operator out -----------------------------------------


def test_a_private_key_path_must_be_a_small_regular_file(
    cli_home: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fifo = tmp_path / "key.fifo"
    os.mkfifo(fifo)
    big = tmp_path / "big.pem"
    with big.open("wb") as handle:
        handle.truncate(1024 * 1024)
    results: dict[str, tuple[int, str, str]] = {}

    def attempt(name: str, path: str) -> None:
        results[name] = run(capsys, "settings", "set", "amazon_private_key_path", path)

    for name, path in (("fifo", str(fifo)), ("big", str(big)), ("dir", str(tmp_path)), ("zero", "/dev/zero")):
        worker = threading.Thread(target=attempt, args=(name, path), daemon=True)
        worker.start()
        worker.join(timeout=10)
        assert not worker.is_alive(), f"{name}: reading the key file hangs"
        code, _out, err = results[name]
        assert code == 1 and "秘密鍵ファイル" in one_line(err), name
    assert settings_now(capsys)["amazon_private_key_path"] == ""


# --- item 3: live without keys, and a key for the other environment ------------------------------


def test_live_without_keys_is_refused_on_the_command_line(cli_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "settings", "set", "amazon_environment", "live")
    assert code == 1 and out == "" and "公開鍵ID" in one_line(err)
    assert settings_now(capsys)["amazon_environment"] == "sandbox"


def test_a_key_for_the_other_environment_is_refused(
    cli_home: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    key = key_file(tmp_path)
    assert run(capsys, "settings", "set", "amazon_private_key_path", str(key))[0] == 0
    assert run(capsys, "settings", "set", "amazon_merchant_id", "A1MERCHANT")[0] == 0
    # A LIVE- key under サンドボックス would send real requests while the window says none happen.
    code, _, err = run(capsys, "settings", "set", "amazon_public_key_id", "LIVE-AHJ1234")
    assert code == 1 and "LIVE-" in one_line(err)
    assert settings_now(capsys)["amazon_public_key_id"] == ""
    # Both at once is how the operator switches to live.
    code, _, err = run(capsys, "settings", "set", "amazon_public_key_id", "LIVE-AHJ1234", "amazon_environment", "live")
    assert code == 0, err
    saved = settings_now(capsys)
    assert (saved["amazon_public_key_id"], saved["amazon_environment"]) == ("LIVE-AHJ1234", "live")
    code, _, err = run(capsys, "settings", "set", "amazon_public_key_id", "SANDBOX-AHJ1234")
    assert code == 1 and "SANDBOX-" in one_line(err)
    code, _, err = run(capsys, "settings", "set", "amazon_environment", "sandbox", "amazon_public_key_id")
    assert code == 1 and "組" in one_line(err)
    assert settings_now(capsys)["amazon_public_key_id"] == "LIVE-AHJ1234"


@pytest.mark.parametrize(
    "stored",
    [
        {"amazon_environment": "live"},
        {"amazon_environment": "sandbox", "amazon_public_key_id": "LIVE-1"},
        {"amazon_environment": "live", "amazon_public_key_id": "SANDBOX-1"},
    ],
)
def test_a_stored_mismatch_refuses_to_connect(
    cli_home: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path, stored: dict[str, str]
) -> None:
    key = key_file(tmp_path)
    with open_app() as app:  # as an older version (or a hand-edited database) left them
        values = {"amazon_merchant_id": "M1", **stored}
        if values.get("amazon_public_key_id"):
            values["amazon_private_key_path"] = str(key)
        app.settings.save(**values)
    code, out, err = run(capsys, "sandbox", "place-order", "--number", "S1", "--total", "1000")
    assert code == 1 and out == ""
    assert "設定" in one_line(err)
    code, out, err = run(capsys, "sync")
    assert code == 1 and "設定" in one_line(err)


# --- item 4: a refused or failed operation says why on stderr --------------------------------------


def test_a_declined_reauthorization_says_why_on_stderr(cli_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ordered = ("--ordered-at", "2026-10-01T10:00:00+09:00")
    assert run(capsys, "sandbox", "place-order", "--number", "R1", "--total", "5000", *ordered)[0] == 0
    assert run(capsys, "sandbox", "buyer", "decline-next", "R1", "--hard")[0] == 0
    code, out, err = run(capsys, "reauth", "R1")
    assert code == 1 and out == ""
    assert "決済方法" in one_line(err)
    assert run(capsys, "sandbox", "buyer", "decline-next", "R1", "--soft")[0] == 0
    code, out, err = run(capsys, "--json", "reauth", "R1")
    assert code == 1 and json.loads(out)["ok"] is False
    one_line(err)


def test_an_unknown_outcome_and_an_unsettled_recovery_say_so_on_stderr(
    cli_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "sandbox", "place-order", "--number", "U1", "--total", "4000")[0] == 0
    assert run(capsys, "sandbox", "fault", "add", "timeout", "--count", "20")[0] == 0
    code, out, err = run(capsys, "--json", "capture", "U1")
    assert code == 3 and json.loads(out)["outcome"] == "unknown"
    one_line(err)
    code, out, err = run(capsys, "recover")
    assert code == 1
    one_line(err)
    code, out, err = run(capsys, "--json", "recover")
    assert code == 1 and isinstance(json.loads(out), list)
    one_line(err)


def test_a_failed_sync_is_one_line_on_stderr_with_json_too(
    cli_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import core.amazonpay.client as client

    monkeypatch.setattr(client, "RETRY_DELAYS", (0.01, 0.01, 0.01))  # the message is tested here, not the backoff
    assert run(capsys, "sandbox", "place-order", "--number", "Y1", "--total", "1000")[0] == 0
    assert run(capsys, "sandbox", "place-order", "--number", "Y2", "--total", "1000")[0] == 0
    assert run(capsys, "sandbox", "fault", "add", "500", "--count", "100")[0] == 0
    code, out, err = run(capsys, "--json", "sync")
    assert code == 1 and len(json.loads(out)) == 2
    assert "2件" in one_line(err)
    code, out, err = run(capsys, "sync", "Y1")
    assert code == 1 and "Y1" in one_line(err)


def test_the_real_program_keeps_stdout_clean_on_refusal(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KANJO_")}
    env.update({"KANJO_HOME": str(tmp_path / "home"), "KANJO_NOW": NOW, "PYTHONPATH": str(ROOT)})
    result = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "orders", "list", "--limit", "-1"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and result.stdout == ""
    assert "--limit" in one_line(result.stderr)
