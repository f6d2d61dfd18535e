"""Issue 13 on the shared store: migration 0012, the bulk row writes (ON CONFLICT DO NOTHING),
the lookups and the sums on PostgreSQL (slow suite: it starts a throwaway cluster)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.app import Kanjo
from core.clock import FixedClock
from core.settlements import reconcile as rc
from core.settlements.service import service_for
from tests.helpers import place_order

pytestmark = pytest.mark.slow


@pytest.fixture
def store_url(pg_url: str) -> str:
    return pg_url


def test_fetch_reread_and_order_money_on_postgresql(app: Kanjo, clock: FixedClock) -> None:
    control = app.gateway().control
    assert control is not None
    place_order(app, "P-1", 10_000)
    assert app.payments.capture("P-1").ok
    control.seller_central("refund", "P-1", 1_000)
    clock.advance(timedelta(hours=1))
    control.close_settlement()
    service = service_for(app)
    (result,) = service.fetch().imported
    assert result.rows_added == result.rows_read == 3
    (summary,) = service.summaries()
    assert (summary.captured, summary.refunded, summary.fees, summary.deposit) == (10_000, 1_000, 360, 8_640)
    copy = service.report_copy(service.reports()[0]["id"])
    again = service.import_bytes(copy.replace(b"\r\n", b"\n"), name="again.csv")
    assert again.rows_added == 0
    assert [p.kind for p in service.show(summary.id).problems] == [rc.SELLER_CENTRAL_REFUND]
    money = service.order_money("P-1")
    assert (money.amazon_fee, money.net) == (360, 8_640)
