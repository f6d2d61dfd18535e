"""A separate process that keeps placing and capturing sandbox orders until told to stop
(tests/core/backup/test_backup_restore.py). Usage: python writer_child.py DB HOME STOPFILE"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from core.app import open_app
from core.clock import FixedClock
from core.domain import OrderKind
from core.services.orders import LineItem


def main() -> None:
    db, home, stop = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    app = open_app(
        f"sqlite:///{db}",
        clock=FixedClock(datetime(2026, 11, 21, 3, 0, tzinfo=UTC)),
        environ={"KANJO_HOME": home},
        gateway_options={"timeout": 5.0, "retry_delays": (0.0, 0.0, 0.0)},
        daily_backup=False,
    )
    try:
        control = app.gateway().control
        assert control is not None
        n = 0
        while not stop.exists() and n < 2000:
            n += 1
            number = f"W{n:05d}"
            placed = control.checkout(number=number, total=1000 + n)
            app.orders.receive_checkout(
                number=number,
                kind=OrderKind.NORMAL,
                charge_permission_id=placed["chargePermissionId"],
                charge_id=placed["chargeId"],
                items=[LineItem("ご注文商品", 1000 + n, 1, 0)],
            )
            app.payments.capture(number)
            print(n, flush=True)
    finally:
        app.close()


if __name__ == "__main__":
    main()
