"""Render the window over a fresh sandbox store with demo orders into a PNG (docs/screenshot.png).

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m gui.screenshot docs/screenshot.png

Uses a temporary data directory and a fixed clock, so the picture only changes when the
window or the demo data does. Japanese fonts must be installed (fonts-noto-cjk).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QCoreApplication

from core.app import open_app
from core.clock import FixedClock
from core.domain import PaymentStatus
from gui.app import application
from gui.main_window import MainWindow
from gui.orders.table_model import Column
from gui.settings_store import WindowSettings
from gui.tasks import TaskRunner

NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)  # 12:00 in Tokyo


def render(path: Path, *, width: int = 1680, height: int = 1050, orders: int = 20) -> None:
    small = width < 1440
    qt_app = application()
    with tempfile.TemporaryDirectory() as home:
        kanjo = open_app(
            f"sqlite:///{Path(home) / 'kanjo.sqlite3'}",
            clock=FixedClock(NOW),
            environ={"KANJO_HOME": home},
            gateway_options={"timeout": 5.0, "retry_delays": (0.0,)},
        )
        kanjo.settings.save(shop_name="山田商店", shop_domain="shop.example.jp", operator_name="山田")
        runner = TaskRunner.immediate()
        window = MainWindow(kanjo, runner, WindowSettings(Path(home) / "window.ini"), demo_orders=orders)
        if small:  # a small screen: the window as its first start lays itself out (issue 16 item 2)
            window.lay_out(width, height, wide=False)
        else:
            window.resize(width, height)
            window.splitter.setSizes([int(width * 0.61), int(width * 0.39)])
        window.show()
        window.start()  # first start: demo orders covering every badge
        failed = _row_with(window, PaymentStatus.AUTH_FAILED.value)
        if failed is not None:
            window.select_row(failed)  # shows the R41 message in the detail panel
        window.table.scrollToTop()
        for _ in range(5):
            QCoreApplication.processEvents()
        image = window.grab().toImage()
        path.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(path)):
            raise SystemExit(f"could not write {path}")
        shown = {window.model.index(row, Column.PAYMENT_STATUS).data() for row in range(window.model.rowCount())}
        missing = [status.value for status in PaymentStatus if status.value not in shown]
        window.close()
        runner.shutdown()
        kanjo.close()
    del qt_app
    print(f"wrote {path} ({image.width()}x{image.height()})" + (f"; badges missing: {missing}" if missing else ""))


def _row_with(window: MainWindow, label: str) -> int | None:
    for row in range(window.model.rowCount()):
        if window.model.index(row, Column.PAYMENT_STATUS).data() == label:
            return row
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path, nargs="?", default=Path("docs/screenshot.png"))
    parser.add_argument("--width", type=int, default=1680)
    parser.add_argument("--height", type=int, default=1050)
    args = parser.parse_args(argv)
    render(args.path, width=args.width, height=args.height)
    return 0


if __name__ == "__main__":
    sys.exit(main())
