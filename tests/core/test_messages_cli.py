"""`kanjo message …` and the SMTP settings on the command line (in process, over the test's store)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.app import Kanjo
from tests.core.test_messages import SETTINGS, place
from tests.core.test_messages_smtp import (  # noqa: F401 - fixtures
    PASSWORD,
    USER,
    Inbox,
    MemoryKeyring,
    certificate,
    memory_keyring,
    smtp_server,
)
from tests.helpers import run_cli as run

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def shop(app: Kanjo) -> Kanjo:
    app.settings.save(**SETTINGS)
    place(app, "C-1")
    return app


def test_templates_lists_ids_and_titles(shop: Kanjo, capsys: pytest.CaptureFixture[str]) -> None:
    shop.messages.save_template(None, title="当店のお知らせ", subject="{{ shop_name }}", body="{{ customer_name }}")
    code, out, _ = run(capsys, "message", "templates")
    assert code == 0
    assert "cancel-reply" in out and "[標準] 発送後のキャンセル依頼への返信" in out and "当店のお知らせ" in out
    code, out, _ = run(capsys, "message", "templates", "--json")
    data = json.loads(out)
    assert any(d["id"] == "cancel-reply" and d["rule"] == "R45" and d["builtin"] for d in data)
    assert data[-1]["id"] == "user-1" and data[-1]["title"] == "当店のお知らせ" and data[-1]["version"] == 1


def test_render_prints_the_filled_message(shop: Kanjo, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "message", "render", "payment-amazon", "C-1")
    assert code == 0
    assert "件名: 【藍染の店 かんじょう】お支払い設定のご確認をお願いします(受注番号 C-1)" in out
    assert "https://payments.amazon.co.jp/jr/your-account/orders/" in out and "¥5,500" in out
    code, out, _ = run(capsys, "--json", "message", "render", "cancel-reply", "C-1")
    data = json.loads(out)
    assert data["template"] == "cancel-reply" and "seller=A2KANJOTOKEN" in data["body"]


def test_a_missing_setting_is_one_japanese_line(shop: Kanjo, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "settings", "set", "seller_token", "")
    code, out, err = run(capsys, "message", "render", "cancel-reply", "C-1")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "出品者トークン" in err and "seller_token" in err
    code, _, err = run(capsys, "message", "render", "no-such", "C-1")
    assert code == 1 and "no-such" in err


def test_send_needs_yes_and_without_smtp_records_a_manual_send(shop: Kanjo, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "message", "send", "thanks", "C-1")
    assert code == 1 and "件名:" in out and "--yes" in err
    assert shop.messages.history("C-1") == []
    code, _, err = run(capsys, "message", "send", "thanks", "C-1", "--yes")
    assert code == 1 and "SMTPサーバーが設定されていない" in err
    code, out, _ = run(capsys, "message", "send", "thanks", "C-1", "--manual", "--json")
    assert code == 0 and json.loads(out)["message"]["status_label"] == "手動送信"
    code, out, _ = run(capsys, "message", "history", "C-1")
    assert code == 0 and "手動送信" in out and "ご注文ありがとうございます" in out
    code, out, _ = run(capsys, "orders", "show", "C-1", "--json")
    assert json.loads(out)["messages"][0]["status"] == "manual"
    code, out, _ = run(capsys, "orders", "show", "C-1")
    assert "メッセージ" in out and "手動送信" in out


def test_smtp_settings_and_password_then_send_for_real(
    shop: Kanjo,
    capsys: pytest.CaptureFixture[str],
    memory_keyring: MemoryKeyring,  # noqa: F811
    certificate: tuple[Path, Path],  # noqa: F811
    smtp_server: tuple[Inbox, int, str],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inbox, port, _security = smtp_server
    for key, value in (("smtp_host", "127.0.0.1"), ("smtp_port", str(port)), ("smtp_user", USER)):
        assert run(capsys, "settings", "set", key, value)[0] == 0
    code, _, err = run(capsys, "settings", "set", "smtp_security", "tls")
    assert code == 1 and "starttls または ssl" in err
    code, _, err = run(capsys, "settings", "set", "smtp_port", "70000")
    assert code == 1 and "65535" in err
    code, _, err = run(capsys, "settings", "set", "smtp_from", "not an address")
    assert code == 1 and "メールアドレス" in err
    assert run(capsys, "settings", "set", "smtp_security", "STARTTLS")[0] == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    code, out, _ = run(capsys, "message", "password", "--stdin")
    assert code == 0 and "キーチェーン" in out and PASSWORD not in out
    assert PASSWORD in memory_keyring.items.values()
    code, out, _ = run(capsys, "settings", "show", "--json")
    shown = json.loads(out)
    assert shown["smtp_port"] == port and shown["smtp_security"] == "starttls" and PASSWORD not in out

    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # trust the test server like a corporate CA
    code, out, err = run(capsys, "message", "send", "shipping", "C-1", "--yes")
    assert code == 0, err
    assert "送信しました" in out
    mail = inbox.received()
    assert mail["Subject"] == "【藍染の店 かんじょう】ご注文の商品を発送しました(受注番号 C-1)"
    assert "送り状番号: 4455-6677-8899" in mail.get_content()
    assert shop.messages.history("C-1")[-1].status_label == "送信済"

    code, out, _ = run(capsys, "message", "password", "--delete")
    assert code == 0 and memory_keyring.items == {}


def test_the_installed_entry_point_lists_templates(tmp_path: Path) -> None:
    env = {"KANJO_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "message", "templates", "--json"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert [t["id"] for t in json.loads(result.stdout)][:2] == ["thanks", "shipping"]
