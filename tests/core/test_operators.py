"""Issue 14 item 3: who did what. Each PC keeps its operator's name in a private local file
(never in the shared store); every journal entry and every message records it, and
``kanjo orders show --json`` gives it per journal entry.

Real SQLite files, the built-in sandbox over HTTP, ``core.cli.main`` in process.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import select

from core.app import Kanjo, open_app
from core.clock import FixedClock
from core.db.schema import JournalEntry, Message, Setting
from core.operator import OPERATOR_FILE
from tests.helpers import place_order
from tests.helpers import run_cli as run

NOW = "2026-11-21T12:00:00+09:00"


@pytest.fixture
def cli_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KANJO_NOW", NOW)
    return home


def test_operator_name_is_kept_per_pc_in_a_private_file_not_in_the_store(
    cli_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """R-free product rule of issue 14 item 3: two PCs share one database, so the name is local."""
    code, _out, err = run(capsys, "settings", "set", "operator_name", "山田 花子")
    assert code == 0, err
    path = cli_home / OPERATOR_FILE
    assert json.loads(path.read_text(encoding="utf-8")) == {"operator_name": "山田 花子"}
    if os.name != "nt":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    code, out, _err = run(capsys, "settings", "show", "--json")
    assert json.loads(out)["operator_name"] == "山田 花子"

    # The shared table has no row for it: another PC on the same store keeps its own name.
    store = f"sqlite:///{cli_home / 'kanjo.sqlite3'}"
    other_home = tmp_path / "other-pc"
    with open_app(store, environ={"KANJO_HOME": str(other_home)}, daily_backup=False) as other:
        with other.sessions() as session:
            assert session.get(Setting, "operator_name") is None
        assert other.settings.load().operator_name == ""
        assert not other.operator_chosen()
        other.set_operator_name("佐藤")
        assert other.settings.load().operator_name == "佐藤"
    code, out, _err = run(capsys, "settings", "show", "--json")
    assert json.loads(out)["operator_name"] == "山田 花子"


@pytest.mark.parametrize("name", ["", "   ", "\u3000", "山田\n", "山\t田", "\x1b[31m赤", "山田\u200b"])
def test_blank_or_control_characters_are_refused(cli_home: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    assert run(capsys, "settings", "set", "operator_name", "山田")[0] == 0
    code, _out, err = run(capsys, "settings", "set", "operator_name", name)
    assert code == 1
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("kanjo: 担当者名"), err
    assert "予期しない" not in err and "Traceback" not in err
    assert json.loads((cli_home / OPERATOR_FILE).read_text(encoding="utf-8")) == {"operator_name": "山田"}


def test_too_long_a_name_is_refused(cli_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run(capsys, "settings", "set", "operator_name", "山" * 65)
    assert code == 1 and "64文字" in err
    assert not (cli_home / OPERATOR_FILE).exists()


def test_every_journal_entry_and_message_records_the_operator(
    app: Kanjo, home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app.set_operator_name("山田")
    place_order(app, "OP-1", 5_000)
    assert app.payments.change_amount("OP-1", total=4_000).ok
    assert app.payments.capture("OP-1").ok
    app.messages.record_manual(
        "OP-1", template_id="thanks", template_version=None, subject="ありがとうございました", body="本文"
    )
    with app.sessions() as session:
        entries = session.scalars(select(JournalEntry).where(JournalEntry.order_number == "OP-1")).all()
        messages = session.scalars(select(Message)).all()
    assert {e.phase for e in entries} >= {"intent", "outcome", "event"}
    assert {e.operator for e in entries} == {"山田"}
    assert [m.operator for m in messages] == ["山田"]
    history = app.messages.history("OP-1")
    assert history[0].operator == "山田"

    # orders show --json: every journal entry carries ``operator`` (added; ``actor`` stays the role).
    app.close()
    monkeypatch.setenv("KANJO_NOW", NOW)
    code, out, err = run(capsys, "--db", app.db_url, "orders", "show", "OP-1", "--json")
    assert code == 0, err
    journal = json.loads(out)["journal"]
    assert journal and all(entry["operator"] == "山田" for entry in journal)
    assert "operator" in {entry["actor"] for entry in journal}
    assert json.loads(out)["messages"][0]["operator"] == "山田"


def test_two_pcs_on_one_store_each_record_their_own_name(app: Kanjo, tmp_path: Path, clock: FixedClock) -> None:
    app.set_operator_name("山田")
    place_order(app, "OP-2", 6_000)
    with open_app(app.db_url, clock=clock, environ={"KANJO_HOME": str(tmp_path / "pc2")}, daily_backup=False) as other:
        other.set_operator_name("佐藤")
        assert other.payments.change_amount("OP-2", total=5_500).ok
    assert app.payments.change_amount("OP-2", total=5_000).ok
    detail = app.orders.detail("OP-2")
    changes = [j for j in detail.journal if j.action == "amount_change"]
    assert [j.operator for j in changes] == ["佐藤", "山田"]


def test_a_name_changed_in_the_settings_is_recorded_from_then_on(app: Kanjo, home: Path) -> None:
    """The window saves 設定 through SettingsStore.save: the journal follows the new name at once."""
    app.set_operator_name("山田")
    place_order(app, "OP-3", 3_000)
    app.settings.save(operator_name="鈴木")
    assert json.loads((home / OPERATOR_FILE).read_text(encoding="utf-8")) == {"operator_name": "鈴木"}
    assert app.payments.change_amount("OP-3", total=2_000).ok
    change = [j for j in app.orders.detail("OP-3").journal if j.action == "amount_change"]
    assert change[-1].operator == "鈴木"


def test_before_a_name_is_chosen_an_older_shared_name_or_the_os_user_is_recorded(app: Kanjo) -> None:
    assert not app.operator_chosen()
    assert app.operator_name  # never blank: the OS user's name (or 'operator')
    app.settings.set_raw("operator_name", "旧担当")  # what an older Kanjo kept in the shared table
    assert app.suggested_operator_name() == "旧担当"
