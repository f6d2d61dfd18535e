"""Settlement benchmark (issue 13 item 6): reconcile 1,000,000 report rows with the real service.

    .venv/bin/python -m bench.settlements_bench                 # 1,000,000 rows
    .venv/bin/python -m bench.settlements_bench --rows 100000 --json

In one process, under a temporary folder:

1. Setup (not measured): a migrated SQLite store with ``--orders`` orders (``bench.store``), each
   with its Charge Permission and one captured Charge; then a settlement report of ``--rows``
   rows in 20 settlements (header block, then CSV): 80 % captures of those charges (every 50th
   settled for another amount than captured), 10 % refunds made in Seller Central, 5 %
   chargebacks, the rest adjustments, debts and the Transfer rows. A charge recurs across
   settlements (the store holds fewer orders than the report rows), never twice in one.
2. **Kanjo**: ``SettlementService.import_file`` — detect the encoding, parse the stream, match
   every row in batches of 5,000 (one query each for charges, refunds and orders), write rows and
   problems (on a writer thread, many rows per statement, while the next batch is parsed and
   matched), sum each settlement, keep the compressed copy; one transaction.
3. **Baseline**, same run: a plain ``csv`` read of the same file summing the amounts.
4. **Memory**: the process's resident set sampled every 50 ms during Kanjo's run, at 10 % of the
   rows and at all of them (flat: the growth does not scale with the rows).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import sessionmaker

from bench.store import NOW, build_store
from core.clock import FixedClock
from core.db.schema import Charge, ChargePermission, Order
from core.settlements.service import SettlementService

SETTLEMENTS = 20
COLUMNS = (
    "TransactionPostedDate,SettlementId,AmazonTransactionId,AmazonOrderReferenceId,SellerReferenceId,"
    "SellerOrderId,TransactionType,TransactionAmount,TotalTransactionFee,NetTransactionAmount,CurrencyCode\r\n"
)


def seed_charges(engine: Any, orders: int) -> list[tuple[str, str, str, int]]:
    """One captured charge per order: (charge id, permission id, order number, amount)."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(Order.id, Order.number, Order.total, Order.ordered_at).order_by(Order.id)
        ).all()
        have = connection.execute(select(Charge.id).limit(1)).first()
    facts = [
        (f"S03-{i:07d}-0000000-C000001", f"S03-{i:07d}-0000000", number, total)
        for i, (_id, number, total, _at) in enumerate(rows)
    ]
    if have:
        return facts
    with engine.begin() as connection:
        for start in range(0, len(rows), 20_000):
            part = rows[start : start + 20_000]
            connection.execute(
                insert(ChargePermission),
                [
                    {
                        "id": facts[start + k][1],
                        "type": "OneTime",
                        "state": "Chargeable",
                        "instrument": "card",
                        "created_at": at,
                    }
                    for k, (_id, _n, _t, at) in enumerate(part)
                ],
            )
            connection.execute(
                insert(Charge),
                [
                    {
                        "id": facts[start + k][0],
                        "seq": 1,
                        "order_id": order_id,
                        "charge_permission_id": facts[start + k][1],
                        "purpose": "initial",
                        "origin": "buyer",
                        "amount": total,
                        "captured_amount": total,
                        "state": "Captured",
                        "created_at": at,
                        "capture_requested_at": at,
                    }
                    for k, (order_id, _n, total, at) in enumerate(part)
                ],
            )
        # bench.store numbers orders from id 1 in insertion order: order id k has permission k - 1.
        connection.exec_driver_sql(
            "UPDATE orders SET charge_permission_id = 'S03-' || printf('%07d', id - 1) || '-0000000'"
        )
        # bench.store's ANALYZE saw every charge_permission_id NULL: left so, SQLite would scan all
        # orders for each batch's look-up by Charge Permission instead of using its index.
        connection.exec_driver_sql("ANALYZE orders")
        connection.exec_driver_sql("ANALYZE charges")
    return facts


def write_report(path: Path, rows: int, facts: list[tuple[str, str, str, int]], seed: int = 13) -> None:
    rng = random.Random(seed)
    per = rows // SETTLEMENTS
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write('"SellerId","A1BENCH"\r\n"SettlementStartDate","2026-01-01T00:00:00Z"\r\n')
        handle.write(f'"SettlementEndDate","{(start + timedelta(days=14 * SETTLEMENTS)):%Y-%m-%dT%H:%M:%SZ}"\r\n\r\n')
        handle.write(COLUMNS)
        written = 0
        for s in range(SETTLEMENTS):
            settlement = f"{8_000_000_000 + s}"
            count = per if s < SETTLEMENTS - 1 else rows - written
            posted = start + timedelta(days=14 * s)
            stamp = posted.strftime("%Y-%m-%dT%H:%M:%SZ")
            offset = rng.randrange(len(facts))
            for i in range(count - 1):
                charge, permission, number, total = facts[(offset + i) % len(facts)]
                pick = rng.random()
                if pick < 0.80:
                    amount = total if i % 50 else total - 1
                    fee = -(amount * 4 // 100)
                    kind, txid = "Capture", charge
                elif pick < 0.90:
                    amount, fee, kind, txid = -(total // 2), total * 2 // 100, "Refund", f"{permission}-R{i:06d}"
                elif pick < 0.95:
                    amount, fee, kind, txid = -total, 0, "Chargeback", charge
                else:
                    amount, fee, kind, txid = rng.choice((300, -200)), 0, rng.choice(("Adjustment", "Debt")), ""
                    if kind == "Debt":
                        permission_cell, number_cell = "", ""
                    else:
                        permission_cell, number_cell = permission, number
                    handle.write(
                        f"{stamp},{settlement},{txid},{permission_cell},,{number_cell},{kind},{amount},{fee},{amount + fee},JPY\r\n"
                    )
                    continue
                handle.write(
                    f"{stamp},{settlement},{txid},{permission},{number},{number},{kind},{amount},{fee},{amount + fee},JPY\r\n"
                )
            handle.write(f"{stamp},{settlement},,,,,Transfer,-1000,0,-1000,JPY\r\n")
            written += count


def baseline(path: Path) -> tuple[float, int]:
    started = time.perf_counter()
    total = 0
    with open(path, encoding="utf-8", newline="") as handle:
        for _ in range(4):  # the header block and its blank line
            next(handle)
        reader = csv.DictReader(handle)
        for row in reader:
            total += int(row["NetTransactionAmount"])
    return time.perf_counter() - started, total


class RssSampler:
    """The process's resident set (from /proc), sampled every 50 ms; ``at(fraction)`` reads it back."""

    def __init__(self) -> None:
        self.samples: list[tuple[int, int]] = []  # (rows done, kB)
        self.rows = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def rss_kb() -> int:
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.samples.append((self.rows, self.rss_kb()))

    def __enter__(self) -> RssSampler:
        self.base = self.rss_kb()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak_until(self, rows: int) -> int:
        return max((kb for done, kb in self.samples if done <= rows), default=self.base) - self.base


def run(rows: int, orders: int, folder: Path) -> dict[str, Any]:
    print(f"setup: store of {orders:,} orders with charges …", file=sys.stderr, flush=True)
    engine = build_store(folder / "bench.sqlite3", orders, log=False)
    facts = seed_charges(engine, orders)
    report = folder / "report.csv"
    print(f"setup: report of {rows:,} rows …", file=sys.stderr, flush=True)
    write_report(report, rows, facts)
    base_seconds, _ = baseline(report)
    service = SettlementService(sessionmaker(engine), FixedClock(NOW))
    print("kanjo: import_file …", file=sys.stderr, flush=True)
    started = time.perf_counter()
    cpu = time.process_time()
    with RssSampler() as sampler:

        def progress(done: int) -> None:
            sampler.rows = done
            if done % 100_000 == 0:
                print(
                    f"  {done:,} rows, {time.perf_counter() - started:.1f} s, cpu {time.process_time() - cpu:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )

        started = time.perf_counter()
        cpu = time.process_time()
        result = service.import_file(report, progress=progress)
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu
    summaries = service.summaries()
    engine.dispose()
    return {
        "rows": rows,
        "orders": orders,
        "file_mb": round(report.stat().st_size / 1e6, 1),
        "kanjo_seconds": round(seconds, 1),
        "kanjo_cpu_seconds": round(cpu_seconds, 1),
        "rows_per_second": int(rows / seconds),
        "baseline_seconds": round(base_seconds, 2),
        "ratio": round(seconds / base_seconds, 1),
        "rows_added": result.rows_added,
        "problems": result.problems,
        "settlements": len(summaries),
        "rss_growth_mb_at_10_percent": round(sampler.peak_until(rows // 10) / 1024, 1),
        "rss_growth_mb_at_all": round(sampler.peak_until(rows) / 1024, 1),
        "load": Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=50_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.orders * SETTLEMENTS < args.rows:
        parser.error(f"--orders must be at least rows / {SETTLEMENTS}: a charge may not recur within one settlement")
    with tempfile.TemporaryDirectory(prefix="kanjo-settlements-bench-") as folder:
        figures = run(args.rows, args.orders, Path(folder))
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            print(f"{key:>28}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
