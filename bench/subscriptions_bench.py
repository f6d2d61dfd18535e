"""Generation benchmark (issue 12): one day's 受注生成 for N subscription contracts.

    .venv/bin/python -m bench.subscriptions_bench                    # 10,000 contracts
    .venv/bin/python -m bench.subscriptions_bench --contracts 1000 --json

In one process, a fresh SQLite store under a temporary folder and the built-in sandbox over HTTP:

1. **Setup** (not measured): N buyers check out a monthly subscription on the sandbox
   (``place-order --kind subscription``) and each becomes a contract; the shared clock then
   moves one month on, so every contract's second round is due today.
2. **Kanjo**: ``SubscriptionService.generate()`` — for each contract: Get Charge Permission
   (``amountBalance``, R53), the generated order and its round written with the journaled
   intent, Create Charge, the outcome and the round applied in one transaction (R14, R17);
   ``GENERATION_THREADS`` contracts at once (``--threads`` overrides it; 1 = one after the
   other). Timed, with progress every 2 s.
3. **Baseline**, same run, same sandbox, same client: the same two calls per contract (Get
   Charge Permission, Create Charge with a fresh idempotency key) on as many threads as Kanjo
   uses, no store at all: the rate the gateway itself allows with that many calls in flight.
   The ratio is Kanjo's time over the baseline's; the target is "limited by the gateway" (a
   ratio near 1).

``--latency-ms L``: every Amazon Pay answer of the sandbox takes L ms more (the network and
Amazon's own work; the sandbox answers in ~1 ms of this process's CPU otherwise). At 0 the
"gateway" is this same Python process, so the run measures Kanjo's own bookkeeping against
a gateway that costs nothing, not whether the gateway sets the pace; a real Amazon Pay
answer takes tens to hundreds of milliseconds.

Progress goes to stderr; the report (or ``--json``) to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import core.subscriptions.service as subscriptions_service
from core.amazonpay.client import AmazonPayClient
from core.app import Kanjo, open_app
from core.clock import FixedClock
from core.domain import OrderKind
from core.services.orders import LineItem
from core.subscriptions.service import Progress

NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def setup(app: Kanjo, count: int) -> list[str]:
    control = app.gateway().control
    assert control is not None
    permissions = []
    started = time.perf_counter()
    for index in range(count):
        number = f"SUB{index:06d}"
        total = 1_000 + (index % 50) * 100
        placed = control.checkout(number=number, total=total, kind="subscription")
        app.orders.receive_checkout(
            number=number,
            kind=OrderKind.SUBSCRIPTION,
            charge_permission_id=placed["chargePermissionId"],
            charge_id=placed["chargeId"],
            items=[LineItem("定期便 コーヒー豆", total, 1, total // 2)],
        )
        app.subscriptions.create(number, "1m")
        permissions.append(str(placed["chargePermissionId"]))
        if (index + 1) % 1000 == 0:
            log(f"  setup: {index + 1:,} / {count:,} contracts ({time.perf_counter() - started:.0f} s)")
    return permissions


def kanjo_run(app: Kanjo) -> tuple[float, dict[str, Any]]:
    last = [time.perf_counter()]

    def progress(step: Progress) -> None:
        if time.perf_counter() - last[0] >= 2.0:
            last[0] = time.perf_counter()
            log(f"  generate: {step.done:,} / {step.total:,}")

    started = time.perf_counter()
    report = app.subscriptions.generate(progress=progress)
    return time.perf_counter() - started, report.to_json()


def baseline(app: Kanjo, permissions: list[str], threads: int) -> float:
    """The two gateway calls of each contract, ``threads`` contracts at a time (Kanjo's count)."""
    client = app.gateway().client

    def calls(cp_id: str) -> None:
        client.get_charge_permission(cp_id)
        client.send(AmazonPayClient.create_charge_request(cp_id, 100, idempotency_key=secrets.token_hex(16)))

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        for _ in pool.map(calls, permissions):
            pass
    return time.perf_counter() - started


def measure(count: int, folder: Path, latency_ms: float = 0.0) -> dict[str, Any]:
    clock = FixedClock(NOW)
    app = open_app(f"sqlite:///{folder / 'kanjo.sqlite3'}", clock=clock, environ={"KANJO_HOME": str(folder)})
    try:
        log(f"setup: {count:,} subscription checkouts on the sandbox (not measured)…")
        permissions = setup(app, count)
        clock.set(NOW + timedelta(days=30))  # 12/21 in Tokyo: every second round is due
        server = app.gateway().server
        assert server is not None
        server.latency_seconds = latency_ms / 1000  # after the setup: only the measured runs wait
        log("Kanjo: one day's generation run…")
        kanjo_s, report = kanjo_run(app)
        log(f"  Kanjo: {kanjo_s:.1f} s for {count:,} contracts ({count / kanjo_s:.1f}/s)")
        log(f"baseline: the same gateway calls on {subscriptions_service.GENERATION_THREADS} threads…")
        threads = subscriptions_service.GENERATION_THREADS
        base_s = baseline(app, permissions, threads)
    finally:
        app.close()
    return {
        "contracts": count,
        "kanjo_s": round(kanjo_s, 2),
        "kanjo_per_s": round(count / kanjo_s, 1),
        "baseline_s": round(base_s, 2),
        "baseline_per_s": round(count / base_s, 1),
        "ratio": round(kanjo_s / base_s, 2),
        "threads": subscriptions_service.GENERATION_THREADS,
        "baseline_threads": subscriptions_service.GENERATION_THREADS,
        "latency_ms": latency_ms,
        "report": {k: (len(v) if isinstance(v, list) else v) for k, v in report.items()},
        "cpus": os.cpu_count(),
        "load": round(os.getloadavg()[0], 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--contracts", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=None, help="contracts generated at once (default: Kanjo's)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every Amazon Pay answer")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.threads is not None:
        subscriptions_service.GENERATION_THREADS = max(1, args.threads)
    with tempfile.TemporaryDirectory(prefix="kanjo-subs-bench-") as folder:
        result = measure(args.contracts, Path(folder), args.latency_ms)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(
            f"{result['contracts']:,} contracts, one day's run: Kanjo {result['kanjo_s']} s "
            f"({result['kanjo_per_s']}/s), baseline {result['baseline_s']} s ({result['baseline_per_s']}/s), "
            f"ratio {result['ratio']}× ({result['threads']} threads both, gateway latency {result['latency_ms']:g} ms, load {result['load']}, {result['cpus']} CPUs); report {result['report']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
