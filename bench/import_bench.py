"""Import benchmark (issue 11): a shop's CP932 order export through the real ImportService.

    .venv/bin/python -m bench.import_bench                  # 100,000 orders, 150,000 lines
    .venv/bin/python -m bench.import_bench --orders 10000 --json

What it does, in one process, every store a fresh SQLite file under a temporary folder:

1. Writes a futureshop 受注データ export (CP932, CRLF) of N orders with 1.5 N lines (every
   second order has two items) through ``core.imports.writers.write_export``; names, addresses
   and items carry CP932-only characters (①, ㈱, 髙).
2. **File part**: those N orders are paid otherwise (銀行振込 / クレジットカード), so no
   Amazon read is needed; ``ImportService.import_file`` detects, reads, checks and writes them
   all. Timed, with the check and write phases split by ``ImportProgress``.
3. **Baseline**, same run: the same file by hand — ``csv`` over the CP932 text, grouped by
   order number, one ``executemany`` of the orders and one of the items into plain ``sqlite3``,
   one commit. The ratio is Kanjo's time over the baseline's.
4. **Amazon part**: a second export of M Amazon Pay orders (``--amazon-orders``, default
   10,000 or N if smaller), each linked to a Charge Permission and its Charge that exist in
   the built-in sandbox. Creating M checkouts over HTTP is setup, not the measured work: the
   sandbox's state is seeded with the rows a checkout writes (checked first against real
   checkouts, row for row, and each sample read back over HTTP). The import then reads every
   linked order from the sandbox over HTTP (Get Charge Permission, Get Charge); the sandbox's
   own request log counts the reads, reported as reads/s.
   Its baseline, same run: a plain loop of the same reads (Get Charge Permission, Get Charge)
   with the same client, one after the other: the rate the sandbox API itself allows here.
5. **Peak memory**: the file part again under ``tracemalloc`` at 10,000 and at N orders: flat
   means the peak does not grow with N.

Progress goes to stderr; the report (or ``--json``) to stdout.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.store import FAMILY, GIVEN, PREFECTURES
from core.app import Kanjo, open_app, sandbox_db_path
from core.clock import FixedClock, add_months
from core.imports.model import ImportedItem, ImportedOrder
from core.imports.service import READ_THREADS, ImportProgress
from core.imports.writers import write_export
from core.sandbox.backend import AUTH_VALIDITY, CHARGE_PERMISSION_MONTHS, SandboxBackend, _iso
from core.sandbox.people import person_for

NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
FILE_TARGET_S = 30.0
MEMORY_SMALL = 10_000
ITEMS = ("髙級緑茶 ①番摘み", "㈱髙田製菓 焼き菓子詰め合わせ", "有機ほうじ茶 ②", "急須（髙取焼）", "抹茶ラテの素")


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# --- the file ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Linked:
    cp_id: str
    charge_id: str


def cp_id_of(serial: int) -> str:
    """The sandbox's own Charge Permission id scheme (``SandboxBackend.checkout``)."""
    return f"S03-{7000000 + serial:07d}-{(serial * 7919) % 10_000_000:07d}"


def make_orders(count: int, prefix: str, *, amazon: bool, seed: int = 11) -> Iterator[ImportedOrder]:
    rng = random.Random(seed)
    for index in range(count):
        number = f"{prefix}{index + 1:07d}"
        family, given = rng.choice(FAMILY), rng.choice(GIVEN)
        items = tuple(
            ImportedItem(
                f"SKU-{rng.randrange(1000):04d}", rng.choice(ITEMS), rng.randrange(5, 200) * 100, rng.randint(1, 3)
            )
            for _ in range(1 if index % 2 else 2)
        )
        shipping = 0 if rng.random() < 0.4 else 600
        total = sum(i.unit_price * i.quantity for i in items) + shipping
        prefecture = rng.choice(PREFECTURES)
        address = f"中央区{rng.randint(1, 9)}-{rng.randint(1, 30)} ㈱髙島ビル{rng.randint(1, 9)}階"
        phone = f"090{rng.randrange(10**8):08d}"
        if amazon:
            cp = cp_id_of(index + 1)
            link: tuple[str | None, tuple[str, ...]] = (cp, (f"{cp}-C000001",))
            label = "Amazon Pay"
        else:
            link = (None, ())
            label = "銀行振込" if index % 3 else "クレジットカード"
        yield ImportedOrder(
            number=number,
            line=0,
            ordered_at=NOW - timedelta(days=rng.randint(0, 20), seconds=rng.randrange(86_400)),
            kind="normal",
            customer_name=f"{family} {given}",
            customer_email=f"user{index}@example.jp",
            customer_phone=phone,
            ship_name=f"{family} {given}",
            ship_postal_code=f"{rng.randrange(100, 999)}-{rng.randrange(10_000):04d}",
            ship_prefecture=prefecture,
            ship_address=address,
            ship_phone=phone,
            items=items,
            shipping_fee=shipping,
            total=total,
            payment_method="amazon_pay" if amazon else "bank_transfer",
            payment_label=label,
            charge_permission_id=link[0],
            charge_ids=link[1],
        )


def write_file(path: Path, count: int, prefix: str, *, amazon: bool) -> tuple[int, float]:
    started = time.perf_counter()
    write_export(path, "futureshop", make_orders(count, prefix, amazon=amazon), encoding="cp932")
    with open(path, "rb") as stream:
        lines = sum(1 for _ in stream) - 1
    return lines, time.perf_counter() - started


# --- the sandbox's state, seeded -----------------------------------------------------------


def seed_sandbox(state: Path, orders: Iterator[ImportedOrder], clock: FixedClock) -> int:
    """Insert what ``SandboxBackend.checkout`` inserts for each order, in bulk (setup only).

    One-time permission with the extension, card, overcharge allowed, the buyer's authorized
    charge: the rows of ``checkout(number, total, ordered_at)``, ids in the same sequence.
    """
    SandboxBackend(state, clock)  # the schema, the file mode
    now = _iso(clock.now().astimezone(UTC))
    db = sqlite3.connect(state)
    count = 0
    try:
        db.execute("PRAGMA synchronous=OFF")
        serial = int((db.execute("SELECT value FROM counters WHERE name='cp'").fetchone() or (0,))[0])
        cps: list[tuple[Any, ...]] = []
        charges: list[tuple[Any, ...]] = []
        counters: list[tuple[str, int]] = []
        notes: list[tuple[str, str, str, str, str]] = []
        for order in orders:
            serial += 1
            cp_id = cp_id_of(serial)
            assert cp_id == order.charge_permission_id, (cp_id, order.charge_permission_id)
            person = person_for(order.number)
            buyer = {
                "buyerId": person.buyer_id,
                "name": person.name,
                "email": person.email,
                "phoneNumber": person.phone,
            }
            address = {
                "name": person.name,
                "addressLine1": person.address,
                "city": "",
                "stateOrRegion": person.prefecture,
                "postalCode": person.postal_code,
                "countryCode": "JP",
                "phoneNumber": person.phone,
            }
            at = order.ordered_at.astimezone(UTC)
            cps.append(
                (
                    cp_id,
                    "OneTime",
                    max(9 * order.total, 70_000),
                    order.total,
                    "card",
                    order.number,
                    json.dumps(buyer, ensure_ascii=False),
                    json.dumps(address, ensure_ascii=False),
                    _iso(at),
                    _iso(add_months(at, CHARGE_PERMISSION_MONTHS)),
                    _iso(at),
                )
            )
            charge_id = f"{cp_id}-C000001"
            charges.append(
                (charge_id, cp_id, order.total, "Authorized", "buyer", _iso(at), _iso(at + AUTH_VALIDITY), _iso(at))
            )
            counters.append((f"charge:{cp_id}", 1))
            notes.append(("CHARGE_PERMISSION", cp_id, cp_id, "STATE_CHANGE", now))
            notes.append(("CHARGE", charge_id, cp_id, "STATE_CHANGE", now))
            count += 1
        db.executemany(
            "INSERT INTO charge_permissions(id, type, state, reason, amount_limit, order_amount, instrument,"
            " reference_id, buyer, address, created_at, expires_at, updated_at)"
            " VALUES (?,?,'Chargeable',NULL,?,?,?,?,?,?,?,?,?)",
            cps,
        )
        db.executemany(
            "INSERT INTO charges(id, cp_id, amount, captured, refunded, state, reason, origin, created_at, expires_at,"
            " updated_at, settle_at, soft_descriptor, capture_now, can_handle_pending)"
            " VALUES (?,?,?,0,0,?,NULL,?,?,?,?,NULL,NULL,0,0)",
            charges,
        )
        db.executemany("INSERT INTO counters(name, value) VALUES (?,?)", counters)
        db.execute(
            "INSERT INTO counters(name, value) VALUES ('cp', ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (serial,),
        )
        db.executemany(
            "INSERT INTO notifications(object_type, object_id, cp_id, notification_type, created_at) VALUES (?,?,?,?,?)",
            notes,
        )
        db.commit()
    finally:
        db.close()
    return count


def _dump(state: Path) -> dict[str, list[tuple[Any, ...]]]:
    tables = ("charge_permissions", "charges", "counters", "notifications")
    db = sqlite3.connect(state)
    try:
        return {t: sorted(tuple(r) for r in db.execute(f"SELECT * FROM {t}")) for t in tables}
    finally:
        db.close()


def verify_seed(folder: Path, clock: FixedClock) -> None:
    """The bulk seed writes exactly the rows real checkouts write (a small sample, compared)."""
    sample = list(make_orders(5, "AP", amazon=True))
    real = SandboxBackend(folder / "real.sqlite3", clock)
    for order in sample:
        real.checkout(number=order.number, total=order.total, ordered_at=order.ordered_at)
    seed_sandbox(folder / "seeded.sqlite3", iter(sample), clock)
    if _dump(folder / "real.sqlite3") != _dump(folder / "seeded.sqlite3"):
        raise SystemExit("the bulk seed differs from real checkouts: fix bench/import_bench.py seed_sandbox")


def plain_reads(app: Kanjo, orders: list[ImportedOrder]) -> float:
    """Reads per second of a plain sequential loop of the same reads (the API's rate here)."""
    client = app.gateway().client
    started = time.perf_counter()
    for order in orders:
        assert order.charge_permission_id is not None
        client.get_charge_permission(order.charge_permission_id)
        client.get_charge(order.charge_ids[0])
    return 2 * len(orders) / (time.perf_counter() - started)


def verify_reads(app: Kanjo, orders: list[ImportedOrder]) -> None:
    """Get Charge Permission and Get Charge over HTTP return the seeded orders."""
    client = app.gateway().client
    for order in orders:
        assert order.charge_permission_id is not None
        cp = client.get_charge_permission(order.charge_permission_id)
        charge = client.get_charge(order.charge_ids[0])
        if cp.merchant_reference_id != order.number or charge.amount != order.total:
            raise SystemExit(f"seeded order {order.number} does not read back over HTTP")


# --- Kanjo ---------------------------------------------------------------------------------


@dataclass
class Run:
    orders: int
    lines: int
    seconds: float = 0.0
    check_s: float = 0.0
    write_s: float = 0.0
    added: int = 0
    linked: int = 0
    peak_mb: float | None = None
    requests: dict[str, int] = field(default_factory=dict)


def open_store(folder: Path, name: str, clock: FixedClock) -> Kanjo:
    store = folder / f"{name}.sqlite3"
    return open_app(f"sqlite:///{store}", clock=clock, environ={"KANJO_HOME": str(folder)})


def run_import(app: Kanjo, path: Path, label: str, *, traced: bool = False) -> Run:
    marks: dict[str, float] = {}
    last = [0.0]

    def progress(step: ImportProgress) -> None:
        moment = time.perf_counter()
        marks.setdefault(step.phase, moment)
        if moment - last[0] >= 2.0:
            last[0] = moment
            total = f"/{step.total:,}" if step.total else ""
            log(f"  {label}: {step.phase} {step.done:,}{total} orders ({moment - started:,.1f} s)")

    gc.collect()
    if traced:
        tracemalloc.start()
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    summary = app.imports.import_file(path, progress=progress)
    ended = time.perf_counter()
    run = Run(orders=summary.added + summary.updated + summary.unchanged, lines=0)
    if traced:
        run.peak_mb = (tracemalloc.get_traced_memory()[1] - base) / 1e6
        tracemalloc.stop()
    run.seconds = ended - started
    write_at = marks.get("write", ended)
    run.check_s = write_at - started
    run.write_s = ended - write_at
    run.added, run.linked = summary.added, summary.linked
    if summary.refused:
        raise SystemExit(f"{label}: {len(summary.refused)} rows refused, first: {summary.refused[0]}")
    return run


def sandbox_requests(app: Kanjo) -> dict[str, int]:
    counts: dict[str, int] = {}
    db = sqlite3.connect(app.sandbox_db)
    try:
        for path, n in db.execute("SELECT path, COUNT(*) FROM calls GROUP BY 1"):
            kind = (
                "get_charge_permission"
                if "/chargePermissions/" in path
                else "get_charge"
                if "/charges/" in path
                else path
            )
            counts[kind] = counts.get(kind, 0) + int(n)
    finally:
        db.close()
    return counts


# --- the baseline --------------------------------------------------------------------------


def baseline(path: Path, folder: Path) -> float:
    """The same file by hand: csv + one executemany per table into plain sqlite3."""
    target = folder / "baseline.sqlite3"
    started = time.perf_counter()
    db = sqlite3.connect(target)
    db.executescript(
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, number TEXT UNIQUE NOT NULL, ordered_at TEXT, customer TEXT,"
        " email TEXT, ship_name TEXT, ship_postal_code TEXT, ship_prefecture TEXT, ship_address TEXT,"
        " ship_phone TEXT, shipping_fee INTEGER, total INTEGER, payment TEXT);"
        "CREATE TABLE items (order_number TEXT NOT NULL, position INTEGER, sku TEXT, name TEXT,"
        " unit_price INTEGER, quantity INTEGER);"
    )
    with open(path, encoding="cp932", newline="") as stream:
        reader = csv.reader(stream)
        header = {name: i for i, name in enumerate(next(reader))}
        h = header.__getitem__
        orders: list[tuple[Any, ...]] = []
        items: list[tuple[Any, ...]] = []
        current, position = "", 0
        for row in reader:
            number = row[h("受注コード")]
            if number != current:
                current, position = number, 0
                orders.append(
                    (
                        number,
                        row[h("注文日時")],
                        row[h("注文者氏名")],
                        row[h("注文者メールアドレス")],
                        row[h("お届け先氏名")],
                        row[h("お届け先郵便番号")],
                        row[h("お届け先都道府県")],
                        row[h("お届け先住所")],
                        row[h("お届け先電話番号")],
                        int(row[h("送料")]),
                        int(row[h("請求合計金額")]),
                        row[h("決済方法")],
                    )
                )
            items.append(
                (
                    number,
                    position,
                    row[h("商品番号")],
                    row[h("商品名")],
                    int(row[h("販売単価")]),
                    int(row[h("購入数量")]),
                )
            )
            position += 1
    db.executemany(
        "INSERT INTO orders(number, ordered_at, customer, email, ship_name, ship_postal_code, ship_prefecture,"
        " ship_address, ship_phone, shipping_fee, total, payment) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        orders,
    )
    db.executemany("INSERT INTO items VALUES (?,?,?,?,?,?)", items)
    db.commit()
    db.close()
    return time.perf_counter() - started


# --- the run -------------------------------------------------------------------------------


def measure(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    clock = FixedClock(NOW)
    n = args.orders
    m = min(args.amazon_orders, n)
    result: dict[str, Any] = {"orders": n, "amazon_orders": m, "machine": machine()}

    log(f"writing the futureshop export of {n:,} orders (CP932)…")
    big = folder / "futureshop-big.csv"
    lines, seconds = write_file(big, n, "FS", amazon=False)
    result["lines"] = lines
    result["file_mb"] = round(big.stat().st_size / 1e6, 1)
    log(f"  {lines:,} lines, {result['file_mb']} MB in {seconds:.1f} s")

    log("file part: Kanjo's import into a fresh store…")
    with open_store(folder, "file", clock) as app:
        run = run_import(app, big, "file part")
    log("file part: the baseline (csv + executemany in plain sqlite3)…")
    base_s = baseline(big, folder)
    result["file_part"] = {
        "seconds": round(run.seconds, 2),
        "check_seconds": round(run.check_s, 2),
        "write_seconds": round(run.write_s, 2),
        "orders_per_second": round(run.orders / run.seconds),
        "baseline_seconds": round(base_s, 2),
        "ratio": round(run.seconds / base_s, 1),
        "target_seconds": FILE_TARGET_S,
        "target_met": run.seconds < FILE_TARGET_S * n / 100_000 if n < 100_000 else run.seconds < FILE_TARGET_S,
    }

    log(f"Amazon part: seeding the sandbox with {m:,} checkouts (setup, checked against real checkouts)…")
    verify_seed(folder, clock)
    small_store = folder / "amazon.sqlite3"
    state = sandbox_db_path(f"sqlite:///{small_store}")
    seed_sandbox(state, make_orders(m, "AP", amazon=True), clock)
    linked_file = folder / "futureshop-amazon.csv"
    write_file(linked_file, m, "AP", amazon=True)
    with open_store(folder, "amazon", clock) as app:
        verify_reads(app, list(make_orders(3, "AP", amazon=True)))
        log("Amazon part: the baseline, a plain loop of the same reads…")
        loop_rate = plain_reads(app, list(make_orders(min(m, 1_000), "AP", amazon=True)))
        before = sandbox_requests(app)
        log("Amazon part: Kanjo's import of the linked orders…")
        run = run_import(app, linked_file, "Amazon part")
        after = sandbox_requests(app)
    requests = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    reads = requests.get("get_charge_permission", 0) + requests.get("get_charge", 0)
    result["amazon_part"] = {
        "orders": m,
        "linked": run.linked,
        "seconds": round(run.seconds, 2),
        "requests": requests,
        "reads_per_order": round(reads / max(m, 1), 2),
        "reads_per_second": round(reads / run.seconds),
        "orders_per_second": round(m / run.seconds),
        "baseline_reads_per_second": round(loop_rate),
        "ratio": round(reads / run.seconds / loop_rate, 2),
        "read_threads": READ_THREADS,
        "sample_note": "" if m == n else f"measured on {m:,} linked orders, not {n:,}",
    }

    log("peak memory (tracemalloc), file part at two sizes…")
    sizes = sorted({min(MEMORY_SMALL, n), n})
    memory: dict[str, Any] = {}
    for size in sizes:
        path = big if size == n else folder / f"futureshop-{size}.csv"
        if size != n:
            write_file(path, size, "FS", amazon=False)
        with open_store(folder, f"memory-{size}", clock) as app:
            traced = run_import(app, path, f"memory {size:,}", traced=True)
        memory[str(size)] = round(traced.peak_mb or 0.0, 1)
    result["peak_mb"] = memory
    if len(sizes) == 2:
        result["peak_ratio"] = round(memory[str(sizes[1])] / max(memory[str(sizes[0])], 0.1), 2)
    return result


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    version = ".".join(map(str, sys.version_info[:2]))
    return f"{os.cpu_count()} CPUs, Python {version}, SQLite {sqlite3.sqlite_version}, load {load:.1f}"


def report(result: dict[str, Any]) -> str:
    f, a = result["file_part"], result["amazon_part"]
    lines = [
        f"import benchmark: {result['orders']:,} orders, {result['lines']:,} lines, futureshop CP932, "
        f"{result['file_mb']} MB ({result['machine']})",
        "",
        "| part | Kanjo | baseline | ratio |",
        "| --- | ---: | ---: | ---: |",
        f"| file part: detect + read + check + write, {result['orders']:,} orders | {f['seconds']:,.1f} s "
        f"(check {f['check_seconds']:,.1f} s, write {f['write_seconds']:,.1f} s; {f['orders_per_second']:,} orders/s) "
        f"| {f['baseline_seconds']:,.1f} s (csv + executemany) | {f['ratio']}× |",
        f"| Amazon part: {a['orders']:,} linked orders, reads over HTTP | {a['seconds']:,.1f} s "
        f"({a['reads_per_second']:,} reads/s, {a['reads_per_order']} reads/order, {a['read_threads']} threads) "
        f"| {a['baseline_reads_per_second']:,} reads/s (plain loop of the same reads) "
        f"| {a['ratio']}× the loop's rate |",
        "",
        f"sandbox requests: {a['requests']}" + (f" ({a['sample_note']})" if a["sample_note"] else ""),
        "peak memory (tracemalloc, file part): "
        + ", ".join(f"{int(k):,} orders {v} MB" for k, v in result["peak_mb"].items())
        + (f" → ratio {result['peak_ratio']}" if "peak_ratio" in result else ""),
        f"target: file part under {FILE_TARGET_S:.0f} s for 100,000 orders: "
        + ("met" if f["target_met"] else "missed"),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--amazon-orders", type=int, default=10_000, help="linked orders read from the sandbox")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    args = parser.parse_args(argv)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="kanjo-import-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        result = measure(args, folder)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(result, ensure_ascii=False, indent=2) if args.json else report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
