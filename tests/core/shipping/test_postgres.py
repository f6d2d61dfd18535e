"""Migration 0013 and the desk on PostgreSQL (issue 15): ship, request, half refund, resale."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from core.app import Kanjo, open_app
from core.clock import FixedClock
from tests.conftest import NOW
from tests.helpers import place_order


@pytest.fixture
def pg_app(pg_url: str, home: Path) -> Iterator[Kanjo]:
    kanjo = open_app(
        pg_url,
        clock=FixedClock(NOW),
        environ={"KANJO_HOME": str(home)},
        gateway_options={"timeout": 2.0, "retry_delays": (0.0, 0.0, 0.0)},
    )
    try:
        yield kanjo
    finally:
        kanjo.close()


def test_the_desk_on_postgresql(pg_app: Kanjo) -> None:
    app = pg_app
    app.settings.save(shop_name="勘定商店", seller_token="A2KANJOTOKEN")
    place_order(app, "PG-1", 4_000, ordered_at=NOW - timedelta(days=2))
    app.shipping.set_item_cost("PG-1", "テスト商品", 1_000)
    app.shipping.ship("PG-1", "japanpost", "405548424886")
    app.shipping.open_request("PG-1")
    app.shipping.resolve("PG-1", "half", confirmed=True)
    assert app.shipping.needs_action() == ["PG-1"]
    app.shipping.return_received("PG-1")
    app.shipping.return_refund("PG-1", confirmed=True)
    app.shipping.resale("PG-1", 500, "ヤフオク")
    summary = app.shipping.summary("PG-1")
    assert summary["shipment"]["carrier"] == "japanpost"
    assert summary["net_result"] == 4_000 - 2_000 - 1_000 + 500
