"""Render the money view (issue 13 item 6) over a fresh sandbox month into a PNG.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m gui.settlements.screenshot docs/money-view.png

A temporary store and sandbox, a fixed clock: orders captured over November 2026 (some refunded,
one in Seller Central, one charged back), the settlement closed on 11/21 and its report fetched,
one bar selected.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QCoreApplication

from core.app import open_app
from core.clock import FixedClock
from core.domain import OrderKind
from core.services.orders import LineItem
from core.settlements.service import service_for
from gui.app import application
from gui.settlements.money_view import MoneyView
from gui.tasks import TaskRunner

START = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo


def render(path: Path) -> None:
    qt_app = application()
    rng = random.Random(13)
    with tempfile.TemporaryDirectory() as home:
        clock = FixedClock(START)
        kanjo = open_app(
            f"sqlite:///{Path(home) / 'kanjo.sqlite3'}",
            clock=clock,
            environ={"KANJO_HOME": home},
            gateway_options={"timeout": 5.0, "retry_delays": (0.0,)},
        )
        control = kanjo.gateway().control
        assert control is not None
        number = 0
        for day in range(26):
            for _ in range(rng.randint(1, 3)):
                number += 1
                order = f"2026-{number:04d}"
                total = rng.randrange(2_000, 30_000, 100)
                placed = control.checkout(number=order, total=total)
                kanjo.orders.receive_checkout(
                    number=order,
                    kind=OrderKind.NORMAL,
                    charge_permission_id=placed["chargePermissionId"],
                    charge_id=placed["chargeId"],
                    items=[LineItem("ご注文商品", total, 1, 0)],
                )
                if day < 24 or rng.random() < 0.3:
                    kanjo.payments.capture(order)
                if rng.random() < 0.15 and day < 24:
                    kanjo.payments.refund(order, total // 2, "一部返品")
            if day == 12:
                control.seller_central("chargeback", "2026-0003", 1_000)
            if day == 19:
                control.close_settlement()
            clock.advance(timedelta(days=1))
        service = service_for(kanjo)
        service.fetch()
        runner = TaskRunner.immediate()
        view = MoneyView(service, runner, date(2026, 11, 27))
        view.resize(1200, 780)
        view.show()
        view.start()
        view.chart.selected = (date(2026, 11, 9), "captured")
        view.show_bar(date(2026, 11, 9), "captured")
        for _ in range(5):
            QCoreApplication.processEvents()
        image = view.grab().toImage()
        path.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(path)):
            raise SystemExit(f"could not write {path}")
        view.close()
        runner.shutdown()
        kanjo.close()
    del qt_app
    print(f"wrote {path} ({image.width()}x{image.height()})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("path", nargs="?", default="docs/money-view.png", type=Path)
    render(parser.parse_args(argv).path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
