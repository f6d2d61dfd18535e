"""Issue 14 item 2 (second half): edits that are not money calls use optimistic versions.

Two app instances (two PCs, each with its own data directory) on ONE store, SQLite and
PostgreSQL: both read the same values, the first saves, and the second's save, based on what
it read before, is refused with 「他の担当者が先に変更しました」 and the current values; nothing of
the second is written. Amount change before capture, templates and settings.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.app import Kanjo, open_app
from core.clock import FixedClock
from core.errors import STALE_EDIT_MESSAGE, StaleEdit
from core.services.payments import detail_amount_version
from tests.helpers import place_order


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, home: Path) -> str:
    """Both stores; the PostgreSQL variant adds a second or two (one fresh database)."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    return f"sqlite:///{home / 'kanjo.sqlite3'}"


@pytest.fixture
def other(app: Kanjo, tmp_path: Path, clock: FixedClock) -> Iterator[Kanjo]:
    """A second PC on the same store."""
    kanjo = open_app(
        app.db_url,
        clock=clock,
        environ={"KANJO_HOME": str(tmp_path / "pc2")},
        daily_backup=False,
        gateway_options={"timeout": 2.0, "retry_delays": (0.0, 0.0, 0.0)},
    )
    try:
        yield kanjo
    finally:
        kanjo.close()


def test_a_stale_amount_change_is_refused_with_the_current_amounts(app: Kanjo, other: Kanjo) -> None:
    place_order(app, "OPT-1", 8_000)
    seen_here = detail_amount_version(app.orders.detail("OPT-1"))
    seen_there = detail_amount_version(other.orders.detail("OPT-1"))
    assert seen_here == seen_there
    assert app.payments.amount_preview("OPT-1", 7_000).version == seen_here

    assert app.payments.change_amount("OPT-1", total=7_000, expected_version=seen_here).ok
    with pytest.raises(StaleEdit) as refused:
        other.payments.change_amount("OPT-1", total=6_000, shipping_fee=500, expected_version=seen_there)
    assert refused.value.message.startswith(STALE_EDIT_MESSAGE)
    assert "7,000円" in refused.value.message  # the current total
    assert refused.value.current_values["total"] == 7_000

    detail = other.orders.detail("OPT-1")
    assert (detail.total, detail.shipping_fee) == (7_000, app.orders.detail("OPT-1").shipping_fee)
    assert [j.amount for j in detail.journal if j.action == "amount_change"] == [7_000]
    # Read again, the same edit goes through.
    fresh = detail_amount_version(detail)
    assert other.payments.change_amount("OPT-1", total=6_000, expected_version=fresh).ok


def test_a_stale_template_save_is_refused_with_the_current_version(app: Kanjo, other: Kanjo) -> None:
    created = app.messages.save_template(None, title="お礼", subject="ご注文ありがとうございます", body="本文1")
    seen_there = other.messages.template(created.id)
    assert seen_there.version == 1

    saved = app.messages.save_template(
        created.id, title="お礼", subject="ご注文ありがとうございます", body="本文2", expected_version=1
    )
    assert saved.version == 2
    with pytest.raises(StaleEdit) as refused:
        other.messages.save_template(
            created.id, title="お礼(佐藤)", subject=seen_there.subject, body="本文3", expected_version=1
        )
    assert refused.value.message.startswith(STALE_EDIT_MESSAGE)
    assert "第2版" in refused.value.message
    assert refused.value.current_values["body"] == "本文2"
    assert [v.version for v in app.messages.versions(created.id)] == [1, 2]
    assert app.messages.template(created.id).body == "本文2"

    with pytest.raises(StaleEdit):  # restoring an old version is an edit too
        other.messages.restore_version(created.id, 1, expected_version=1)
    assert other.messages.restore_version(created.id, 1, expected_version=2).version == 3


def test_a_stale_settings_save_is_refused_with_the_current_values(app: Kanjo, other: Kanjo) -> None:
    seen_here = app.settings.load()
    seen_there = other.settings.load()
    assert seen_here.version == seen_there.version

    saved = app.settings.save(shop_name="山田商店", sync_interval_minutes=15, version=seen_here.version)
    assert saved.version == seen_here.version + 1
    with pytest.raises(StaleEdit) as refused:
        other.settings.save(shop_name="佐藤商店", sync_interval_minutes=30, version=seen_there.version)
    assert refused.value.message.startswith(STALE_EDIT_MESSAGE)
    assert "shop_name = 山田商店" in refused.value.message
    assert "sync_interval_minutes = 15" in refused.value.message
    now = other.settings.load()
    assert (now.shop_name, now.sync_interval_minutes, now.version) == ("山田商店", 15, saved.version)

    # Saved again on what was just read, it goes through; a save that changes nothing bumps nothing.
    assert other.settings.save(shop_name="佐藤商店", version=now.version).version == now.version + 1
    assert app.settings.save(shop_name="佐藤商店").version == now.version + 1


def test_the_window_save_of_every_field_is_checked_too(app: Kanjo, other: Kanjo) -> None:
    """The main window hands back every field of the AppSettings it loaded, ``version`` included."""
    from dataclasses import asdict, replace

    seen = other.settings.load()
    app.settings.save(auto_sync=False)
    edited = replace(seen, shop_name="佐藤商店")
    with pytest.raises(StaleEdit):
        other.settings.save(**{k: v for k, v in asdict(edited).items() if k != "demo_seeded"})
    assert other.settings.load().auto_sync is False
    assert other.settings.load().shop_name == ""
