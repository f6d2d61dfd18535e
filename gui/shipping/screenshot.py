"""Render the cancellation desk (issue 15) over a throwaway store into a PNG.

QT_QPA_PLATFORM=offscreen .venv/bin/python -m gui.shipping.screenshot docs/shipping-desk.png
"""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QCoreApplication

from core.app import open_app
from core.clock import FixedClock
from core.domain import OrderKind
from core.services.orders import LineItem
from core.shipping.cancellation import Option
from gui.app import application
from gui.shipping.desk_dialog import CancellationDesk
from gui.tasks import TaskRunner

NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)


def render(path: Path) -> None:
    qt_app = application()
    with tempfile.TemporaryDirectory() as home:
        kanjo = open_app(
            f"sqlite:///{Path(home) / 'kanjo.sqlite3'}",
            clock=FixedClock(NOW),
            environ={"KANJO_HOME": home},
            gateway_options={"timeout": 5.0, "retry_delays": (0.0,)},
        )
        kanjo.settings.save(shop_name="山田商店", seller_token="A2KANJOTOKEN", operator_name="山田")
        control = kanjo.gateway().control
        assert control is not None
        ordered = NOW - timedelta(days=3)
        placed = control.checkout(number="A-1024", total=6_600, kind="normal", instrument="card", ordered_at=ordered)
        kanjo.orders.receive_checkout(
            number="A-1024",
            kind=kanjo_kind(),
            charge_permission_id=placed["chargePermissionId"],
            charge_id=placed["chargeId"],
            items=[LineItem("藍染ストール", 4_800, 1, 1_900), LineItem("藍染てぬぐい", 1_800, 1, 600)],
            ordered_at=ordered,
        )
        kanjo.shipping.set_costs("A-1024", shipping_cost=800, payment_fee=260, resale_estimate=1_500)
        kanjo.shipping.ship("A-1024", "yamato", "444413758703")
        kanjo.shipping.open_request("A-1024", channel="mail", note="やっぱりキャンセルしたいです")
        runner = TaskRunner.immediate()
        desk = CancellationDesk(kanjo.shipping, runner, "A-1024")
        desk.resize(1200, 700)
        desk.show()
        desk.refresh()
        desk.select_option(Option.HALF)
        for _ in range(5):
            QCoreApplication.processEvents()
        path.parent.mkdir(parents=True, exist_ok=True)
        if not desk.grab().toImage().save(str(path)):
            raise SystemExit(f"could not write {path}")
        desk.close()
        runner.shutdown()
        kanjo.close()
    del qt_app
    print(f"wrote {path}")


def kanjo_kind() -> OrderKind:
    return OrderKind.NORMAL


if __name__ == "__main__":
    render(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/shipping-desk.png"))
