"""Issue 11 item 8 through the real `kanjo` entry: orders of another environment are marked,
refused and skipped, and the sandbox's orders can be removed in one step when going live.

Real processes, a real SQLite file, the built-in sandbox started by each command.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from core.amazonpay.signing import generate_key_pair
from core.app import open_app
from core.clock import FixedClock
from tests.conftest import NOW as NOW_UTC
from tests.core.test_cli_end_to_end import NOW, kanjo
from tests.helpers import place_order

REFUSAL = "この受注は本番の受注です。現在の接続先は内蔵サンドボックスのため、Amazon Payへは送信しません。"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    from tests.core.test_cli_end_to_end import ROOT

    values = {k: v for k, v in os.environ.items() if not k.startswith("KANJO_")}
    values.update({"KANJO_HOME": str(tmp_path / "home"), "KANJO_NOW": NOW, "PYTHONPATH": str(ROOT)})
    return values


def store(env: dict[str, str]) -> Path:
    return Path(env["KANJO_HOME"]) / "kanjo.sqlite3"


def place(env: dict[str, str], *numbers: str) -> None:
    """Orders placed in the built-in sandbox of this data directory, in this process (faster
    than one `kanjo sandbox place-order` each; the commands below read the same store)."""
    home = Path(env["KANJO_HOME"])
    app = open_app(f"sqlite:///{store(env)}", clock=FixedClock(NOW_UTC), environ={"KANJO_HOME": str(home)})
    try:
        for number in numbers:
            place_order(app, number, 2_000)
    finally:
        app.close()


def test_another_environments_order_is_marked_refused_and_skipped(env: dict[str, str]) -> None:
    place(env, "L-1", "L-2")
    with sqlite3.connect(store(env)) as db:
        db.execute("UPDATE orders SET environment = 'live' WHERE number = 'L-1'")
    listing = {row["number"]: row for row in json.loads(kanjo(env, "orders", "list", "--json").stdout)}
    assert (listing["L-1"]["environment"], listing["L-1"]["other_environment"]) == ("live", True)
    assert (listing["L-2"]["environment"], listing["L-2"]["other_environment"]) == ("builtin", False)
    text = kanjo(env, "orders", "list").stdout
    assert "[本番・送信しません]" in text and "kanjo orders remove-sandbox" in text
    capture = kanjo(env, "capture", "L-1", check=False)
    assert (capture.returncode, capture.stdout) == (1, "")
    assert capture.stderr == f"kanjo: {REFUSAL}\n"
    synced = json.loads(kanjo(env, "sync", "--json").stdout)
    by_number = {r["number"]: r for r in synced}
    assert by_number["L-1"]["skipped"] is True and by_number["L-1"]["ok"] is True
    assert by_number["L-2"]["skipped"] is False
    single = kanjo(env, "sync", "L-1", check=False)
    assert (single.returncode, single.stderr) == (1, f"kanjo: L-1: {REFUSAL}\n")
    with sqlite3.connect(store(env)) as db:
        assert db.execute("SELECT sync_error FROM orders WHERE number = 'L-1'").fetchone() == (None,)


def test_going_live_names_the_command_and_remove_sandbox_needs_yes(env: dict[str, str], tmp_path: Path) -> None:
    place(env, "D-1", "D-2")
    key = tmp_path / "live.pem"
    key.write_bytes(generate_key_pair()[0])
    went_live = kanjo(
        env,
        "settings",
        "set",
        "amazon_public_key_id",
        "LIVE-AB12",
        "amazon_private_key_path",
        str(key),
        "amazon_merchant_id",
        "A1B2C3D4E5",
        "amazon_environment",
        "live",
        "--json",
    )
    assert json.loads(went_live.stdout)["amazon_environment"] == "live"
    assert "サンドボックスの受注が2件残っています" in went_live.stderr
    assert "kanjo orders remove-sandbox --yes" in went_live.stderr
    asked = kanjo(env, "orders", "remove-sandbox", check=False)
    assert asked.returncode == 1
    assert "内蔵サンドボックス2件" in asked.stdout and "D-1" in asked.stdout
    assert "--yes" in asked.stderr and "まだ何も削除していません" in asked.stderr
    with sqlite3.connect(store(env)) as db:
        assert db.execute("SELECT count(*) FROM orders").fetchone() == (2,)
    removed = json.loads(kanjo(env, "orders", "remove-sandbox", "--yes", "--json").stdout)
    assert (removed["removed"], sorted(removed["numbers"]), removed["kept"]) == (2, ["D-1", "D-2"], [])
    with sqlite3.connect(store(env)) as db:
        assert db.execute("SELECT count(*) FROM orders").fetchone() == (0,)
        kept = db.execute("SELECT count(*) FROM journal WHERE order_number IN ('D-1', 'D-2')").fetchone()[0]
        removals = db.execute("SELECT count(*) FROM journal WHERE action = 'order_removed'").fetchone()[0]
    assert kept > 2 and removals == 2
    again = kanjo(env, "orders", "remove-sandbox", check=False)
    assert (again.returncode, again.stderr) == (1, "kanjo: 削除するサンドボックスの受注はありません。\n")
