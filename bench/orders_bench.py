"""Order list benchmark: Kanjo's paged model against the tutorial QSqlTableModel + proxy.

    .venv/bin/python -m bench.orders_bench                 # 1,000,000 orders (builds the store once)
    .venv/bin/python -m bench.orders_bench --orders 100000 --store /tmp/k100k.sqlite3
    .venv/bin/python -m bench.orders_bench --postgres      # the same on a throwaway PostgreSQL cluster
    .venv/bin/python -m bench.orders_bench --db postgresql+psycopg://USER@HOST/DB   # an empty or bench-built database

Runs offscreen, in one process. The store is a migrated Kanjo SQLite file with the orders
bulk-inserted by SQL (bench/store.py); it is built on the first run (a few minutes for a
million orders) and reused afterwards.

Kanjo: the real MainWindow (its QTableView, OrderTableModel and filter bar) over the store,
with real worker threads. Each step is timed from the action to the moment its rows are in
the model (``first page``), and, where the count is read separately, to the moment the row
count is known (``count``).

On PostgreSQL (issue 14: ``--db URL`` or ``--postgres``, which starts a throwaway cluster as the
tests do, tests/pg.py) the database is built the same way (bench.store.build_store_at) and the
same window is timed over it; the baseline is SQLite only (Qt's QPSQL driver is not shipped).

Baseline: what most PySide tutorials build, a ``QSqlRelationalTableModel`` (the customer's
name through a relation) behind a ``QSortFilterProxyModel`` in a ``QTableView``. Jumping to
row 900,000, sorting and filtering correctly need every row fetched first, which is timed
as its own step. The baseline runs after Kanjo, so Kanjo's peak memory is measured before
the baseline allocates anything.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QCoreApplication, QEventLoop, QSortFilterProxyModel, Qt, QTimer
from PySide6.QtSql import QSqlDatabase, QSqlRelation, QSqlRelationalTableModel
from PySide6.QtWidgets import QAbstractItemView, QTableView

from bench.store import NOW, build_store, build_store_at
from core.app import Kanjo, open_app
from core.clock import FixedClock
from core.domain import PaymentStatus
from core.order_pages import OrderPages, OrderQuery
from gui.app import application
from gui.main_window import MainWindow
from gui.orders.table_model import Column, OrderTableModel
from gui.settings_store import WindowSettings
from gui.tasks import TaskRunner

FAR_ROW = 900_000
STATUS = PaymentStatus.AUTH_FAILED  # one status, as the operator filters for it
NAME = "田中"  # a family name: two characters, a substring of the customer's name
DEFAULT_STORE = Path("/tmp/kanjo-bench/orders-{n}.sqlite3")
TARGET_MS = 100.0
MEMORY_TARGET_MB = 400.0
# The throwaway cluster's shared buffers: PostgreSQL's default is 128 MB, a server holding a
# shop's orders is usually given a quarter of its memory; the tests' clusters use 32 MB.
PG_SHARED_BUFFERS = "256MB"


@dataclass
class Step:
    name: str
    kanjo_ms: float | None = None
    kanjo_count_ms: float | None = None
    baseline_ms: float | None = None
    note: str = ""
    baseline_note: str = ""


@dataclass
class Results:
    orders: int
    far_row: int = FAR_ROW
    steps: list[Step] = field(default_factory=list)
    kanjo_peak_mb: float = 0.0
    kanjo_rss_mb: float = 0.0
    baseline_peak_mb: float | None = None
    baseline_growth_mb: float | None = None
    frame_ms: list[float] = field(default_factory=list)
    scroll_wait_ms: list[float] = field(default_factory=list)
    sync_pages: int = 0
    rows_per_screen: int = 0
    cached_rows: int = 0


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # KiB on Linux


def wait_until(condition: Callable[[], bool], timeout_s: float = 60.0) -> float:
    """Run the event loop until ``condition()``; milliseconds waited.

    ``QEventLoop.exec`` sleeps in Qt (the GIL released) like the real window does between
    events; a Python busy loop around ``processEvents`` would hold the GIL and slow the
    worker threads down to the interpreter's 5 ms switch interval.
    """
    started = time.perf_counter()
    if condition():
        return 0.0
    loop = QEventLoop()
    timed_out = False

    def check() -> None:
        nonlocal timed_out
        if condition():
            loop.quit()
        elif time.perf_counter() - started > timeout_s:
            timed_out = True
            loop.quit()

    timer = QTimer()
    timer.setInterval(1)
    timer.timeout.connect(check)
    timer.start()
    loop.exec()
    timer.stop()
    if timed_out:
        raise TimeoutError("the benchmark step did not finish")
    return (time.perf_counter() - started) * 1000


class Watch:
    """Times an action until the model has applied a new query and, separately, knows its count."""

    def __init__(self, model: OrderTableModel) -> None:
        self.model = model
        self.applied_at: float | None = None
        self.counted_at: float | None = None
        model.query_applied.connect(self._applied)
        model.count_changed.connect(self._counted)

    def _applied(self) -> None:
        self.applied_at = time.perf_counter()

    def _counted(self, _count: int) -> None:
        self.counted_at = time.perf_counter()

    def run(self, action: Callable[[], None]) -> tuple[float, float]:
        self.applied_at = self.counted_at = None
        started = time.perf_counter()
        action()
        wait_until(lambda: self.applied_at is not None and self.counted_at is not None and not self.model.loading)
        assert self.applied_at is not None and self.counted_at is not None
        return (self.applied_at - started) * 1000, (self.counted_at - started) * 1000


REPEAT = 3  # each step runs this many times; the table shows the median, the note the first (cold) run


def _median_step(name: str, runs: list[tuple[float, float | None]], note: str = "") -> Step:
    firsts = [r[0] for r in runs]
    counts = [r[1] for r in runs if r[1] is not None]
    cold = f"first run {fmt_ms(firsts[0])}"
    return Step(
        name,
        statistics.median(firsts),
        statistics.median(counts) if counts else None,
        note=", ".join(part for part in (note, cold) if part),
    )


def bench_kanjo(url: str, home: Path, results: Results) -> None:
    kanjo = open_app(url, clock=FixedClock(NOW), environ={"KANJO_HOME": str(home)}, daily_backup=False)
    runner = TaskRunner()
    window = MainWindow(kanjo, runner, WindowSettings(home / "bench-window.ini"))
    window.resize(1400, 900)
    window.show()
    QCoreApplication.processEvents()

    # 1. From model creation to the first page's rows read through data() (and to the row count).
    pages = OrderPages(kanjo.engine)
    runs: list[tuple[float, float | None]] = []
    for _ in range(REPEAT):
        runs.append(first_page_kanjo(pages, kanjo, runner))
    results.steps.append(_median_step("first page", runs, f"{FIRST_PAGE_ROWS} rows read"))

    # The window's own list from here on, so the view paints and asks for rows as it would.
    table = window.table
    model = window.model
    watch = Watch(model)
    watch.run(lambda: model.set_query(OrderQuery()))

    # 2. Jump to row 900,000 (scroll bar dragged there): the view asks, the worker reads.
    runs = []
    for attempt in range(REPEAT):
        far = results.far_row - attempt * 1_000  # a page not read before
        table.scrollToTop()
        watch.run(lambda: model.set_query(replace(model.query)))  # an empty cache

        def far_loaded(far: int = far) -> bool:
            return all(model.row_at(r) is not None for r in range(far, far + 30))

        started = time.perf_counter()
        table.scrollTo(model.index(far, 0), QAbstractItemView.ScrollHint.PositionAtTop)
        table.viewport().update()
        wait_until(far_loaded)
        runs.append(((time.perf_counter() - started) * 1000, None))
    results.steps.append(_median_step(scroll_step(results), runs))

    # Scrolling on from there, one screen per frame, as a mouse wheel does: each frame paints
    # (reading on the GUI thread what is cheap), then the event loop runs for 16 ms.
    visible = max(1, table.viewport().height() // table.verticalHeader().defaultSectionSize())
    sync_before = model.sync_reads
    for step in range(40):
        top = far + (step + 1) * visible
        if top + visible >= model.rowCount():
            break
        table.scrollTo(model.index(top, 0), QAbstractItemView.ScrollHint.PositionAtTop)
        started = time.perf_counter()
        table.viewport().repaint()  # the paint asks for the rows now
        results.frame_ms.append((time.perf_counter() - started) * 1000)

        def shown(top: int = top) -> bool:
            return all(model.row_at(r) is not None for r in range(top, top + visible))

        results.scroll_wait_ms.append(0.0 if shown() else wait_until(shown))
        pause = time.perf_counter()
        wait_until(lambda pause=pause: time.perf_counter() - pause > 0.016)
    results.sync_pages = model.sync_reads - sync_before
    results.rows_per_screen = visible
    table.scrollToTop()

    # 3. Sort by total (header click), 4. filter by one status, 5. search a name; then extras.
    def sort_total() -> None:
        table.sortByColumn(Column.TOTAL, Qt.SortOrder.DescendingOrder)

    def sort_back() -> None:
        table.sortByColumn(Column.ORDERED_AT, Qt.SortOrder.DescendingOrder)

    steps: list[tuple[str, Callable[[], None], Callable[[], None]]] = [
        ("sort by total", sort_total, sort_back),
        (f"filter by status {STATUS.value}", lambda: _status(window, {STATUS}), window.filter_bar.clear),
        (f"search customer name 「{NAME}」", lambda: _search(window, NAME), window.filter_bar.clear),
        ("(extra) search 3+ chars 「佐々木」", lambda: _search(window, "佐々木"), window.filter_bar.clear),
        (
            "(extra) filter 承認済 (R9 clock split)",
            lambda: _status(window, {PaymentStatus.AUTHORIZED}),
            window.filter_bar.clear,
        ),
        (
            "(extra) filter 承認完了 (R9 clock split)",
            lambda: _status(window, {PaymentStatus.AUTH_LAPSED}),
            window.filter_bar.clear,
        ),
        ("(extra) needs action", lambda: _needs_action(window), window.filter_bar.clear),
    ]
    for name, action, undo in steps:
        runs = []
        for _ in range(REPEAT):
            runs.append(watch.run(action))
            rows = model.rowCount()
            watch.run(undo)
        note = "" if name == "sort by total" else f"{rows:,} rows"
        results.steps.append(_median_step(name, runs, note))

    gc.collect()
    results.cached_rows = model.cached_rows
    results.kanjo_rss_mb = rss_mb()
    results.kanjo_peak_mb = peak_mb()
    window.close()
    runner.shutdown()
    kanjo.close()


FIRST_PAGE_ROWS = 100  # rows read through data() in the "first page" step, by both models


def first_page_kanjo(pages: OrderPages, kanjo: Kanjo, runner: TaskRunner) -> tuple[float, float]:
    """Model created, query set, first page's rows read; then the count (ms from creation)."""
    applied: list[float] = []
    counted: list[float] = []
    started = time.perf_counter()
    model = OrderTableModel(pages, kanjo.clock, runner)
    model.query_applied.connect(lambda: applied.append(time.perf_counter()))
    model.count_changed.connect(lambda _n: counted.append(time.perf_counter()))
    model.set_query(OrderQuery())
    wait_until(lambda: bool(applied))
    for row in range(FIRST_PAGE_ROWS):
        model.index(row, Column.NUMBER).data()
    first = (time.perf_counter() - started) * 1000
    wait_until(lambda: bool(counted) and not model.loading)
    return first, (counted[0] - started) * 1000


def scroll_step(results: Results) -> str:
    return f"scroll to row {results.far_row:,}"


def _search(window: MainWindow, text: str) -> None:
    window.filter_bar.search.setText(text)
    window.filter_bar.apply_now()


def _status(window: MainWindow, statuses: set[PaymentStatus]) -> None:
    window.filter_bar.payment.set_selected(statuses)


def _needs_action(window: MainWindow) -> None:
    window.filter_bar.needs_action.setChecked(True)


def bench_baseline(store: Path, results: Results, budget_s: float) -> None:
    """QSqlRelationalTableModel + QSortFilterProxyModel, as in most tutorials."""
    before = rss_mb()
    db = QSqlDatabase.addDatabase("QSQLITE", "baseline")
    db.setDatabaseName(str(store))
    if not db.open():
        raise SystemExit(f"baseline could not open {store}: {db.lastError().text()}")
    source = QSqlRelationalTableModel(None, db)
    source.setTable("orders")
    customer = source.fieldIndex("customer_id")
    source.setRelation(customer, QSqlRelation("customers", "id", "name"))
    proxy = QSortFilterProxyModel()
    proxy.setSourceModel(source)
    view = QTableView()
    view.setModel(proxy)
    view.resize(1400, 900)
    view.show()
    steps = {step.name: step for step in results.steps}

    # Model created, selected, first page's rows read: like Kanjo's step, median of REPEAT runs
    # (the first one on a new connection also reads the schema; the note gives it).
    firsts = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        fresh = QSqlRelationalTableModel(None, db)
        fresh.setTable("orders")
        fresh.setRelation(fresh.fieldIndex("customer_id"), QSqlRelation("customers", "id", "name"))
        fresh_proxy = QSortFilterProxyModel()
        fresh_proxy.setSourceModel(fresh)
        fresh.select()
        for row in range(min(FIRST_PAGE_ROWS, fresh_proxy.rowCount())):
            fresh_proxy.index(row, 0).data()
        firsts.append((time.perf_counter() - started) * 1000)
        fetched = fresh.rowCount()
        fresh_proxy.setSourceModel(None)
    steps["first page"].baseline_ms = statistics.median(firsts)
    steps["first page"].baseline_note = f"{fetched:,} rows fetched, count unknown; first run {fmt_ms(firsts[0])}"
    source.select()
    QCoreApplication.processEvents()

    # Row 900,000 exists for the view only once every row before it was fetched.
    started = time.perf_counter()
    finished = True
    far = results.far_row
    while source.canFetchMore() and source.rowCount() <= far:
        source.fetchMore()
        if time.perf_counter() - started > budget_s:
            finished = False
            break
    if finished:
        view.scrollTo(proxy.index(far, 0), QAbstractItemView.ScrollHint.PositionAtTop)
        QCoreApplication.processEvents()
        steps[scroll_step(results)].baseline_ms = (time.perf_counter() - started) * 1000
    else:
        steps[scroll_step(results)].baseline_note = f"did not finish in {budget_s:.0f} s"
        results.baseline_growth_mb = rss_mb() - before
        results.baseline_peak_mb = peak_mb()
        view.close()
        return

    # Sorting and filtering a proxy only see fetched rows: fetch the rest first (timed on its own).
    started = time.perf_counter()
    while source.canFetchMore():
        source.fetchMore()
    fetch_rest = (time.perf_counter() - started) * 1000
    status_column = source.fieldIndex("payment_status")
    total_column = source.fieldIndex("total")
    name_column = customer  # the relation shows the name in the customer_id column

    def timed(action: Callable[[], None]) -> float:
        started = time.perf_counter()
        action()
        QCoreApplication.processEvents()
        return (time.perf_counter() - started) * 1000

    sort = steps["sort by total"]
    sort.baseline_ms = timed(lambda: proxy.sort(total_column, Qt.SortOrder.DescendingOrder))
    sort.baseline_note = f"+ {fetch_rest / 1000:.1f} s to fetch the remaining rows first"
    proxy.sort(-1)
    proxy.setFilterKeyColumn(status_column)
    status = steps[f"filter by status {STATUS.value}"]
    status.baseline_ms = timed(lambda: proxy.setFilterFixedString(STATUS.value))
    status.baseline_note = f"{proxy.rowCount():,} rows"
    proxy.setFilterFixedString("")
    proxy.setFilterKeyColumn(name_column)
    name = steps[f"search customer name 「{NAME}」"]
    name.baseline_ms = timed(lambda: proxy.setFilterFixedString(NAME))
    name.baseline_note = f"{proxy.rowCount():,} rows"
    results.baseline_growth_mb = rss_mb() - before
    results.baseline_peak_mb = peak_mb()
    view.close()
    view.setModel(None)
    proxy.setSourceModel(None)
    source.clear()
    db.close()


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"


def store_size_mb(url: str) -> float:
    from sqlalchemy import text

    from core.db.engine import make_engine, sqlite_path

    path = sqlite_path(url)
    if path is not None:
        return path.stat().st_size / 1e6
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return float(connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one()) / 1e6
    finally:
        engine.dispose()


def report(results: Results, url: str) -> str:
    from sqlalchemy.engine import make_url

    lines = [
        f"Order list benchmark: {results.orders:,} orders, offscreen, one process "
        f"(Python {sys.version.split()[0]}, {os.cpu_count()} CPUs)",
        f"store: {make_url(url).render_as_string(hide_password=True)} ({store_size_mb(url):,.0f} MB)",
        "",
        f"Kanjo: median of {REPEAT} runs of each step (the note gives the first, cold one); "
        f"baseline: one run (first page: median of {REPEAT}).",
        "",
        "| step | Kanjo: first page | Kanjo: row count known | baseline (QSqlTableModel + proxy) | ratio |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for step in results.steps:
        ratio = "—"
        if step.baseline_ms is not None and step.kanjo_ms:
            value = step.baseline_ms / step.kanjo_ms
            ratio = f"{value:,.0f}×" if value >= 10 else f"{value:.1f}×"
        baseline = fmt_ms(step.baseline_ms) + (f" ({step.baseline_note})" if step.baseline_note else "")
        name = step.name + (f" ({step.note})" if step.note else "")
        lines.append(f"| {name} | {fmt_ms(step.kanjo_ms)} | {fmt_ms(step.kanjo_count_ms)} | {baseline} | {ratio} |")
    waits = results.scroll_wait_ms
    lines += [
        "",
        f"scrolling on from the jump, one screen ({results.rows_per_screen} rows) per frame for "
        f"{len(waits)} frames: rows already there on {sum(1 for w in waits if w == 0)} frames, "
        f"longest wait for rows {max(waits):.1f} ms; longest frame {max(results.frame_ms):.1f} ms "
        f"(painting, with {results.sync_pages} page reads on the GUI thread in all)",
        f"memory, whole app (window, model, store connection): peak RSS {results.kanjo_peak_mb:,.0f} MB "
        f"(target {MEMORY_TARGET_MB:.0f} MB); rows held by the model: {results.cached_rows:,}",
    ]
    if results.baseline_peak_mb is not None:
        lines.append(
            f"memory, baseline: +{results.baseline_growth_mb or 0:,.0f} MB RSS for its model "
            f"(process peak afterwards {results.baseline_peak_mb:,.0f} MB)"
        )
    misses = [s.name for s in results.steps if s.kanjo_ms is not None and s.kanjo_ms > TARGET_MS]
    lines.append(
        f"targets: first page, sort, filter and search under {TARGET_MS:.0f} ms: "
        + ("met" if not misses else "missed by " + ", ".join(misses))
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--store", type=Path, default=None, help="SQLite file to build or reuse")
    parser.add_argument(
        "--db",
        metavar="URL",
        default=None,
        help="a PostgreSQL database to build (when empty) or reuse, instead of the SQLite file",
    )
    parser.add_argument(
        "--postgres", action="store_true", help="start a throwaway PostgreSQL cluster (tests/pg.py) and measure there"
    )
    parser.add_argument("--baseline-budget", type=float, default=600.0, help="seconds before the baseline gives up")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args(argv)
    cluster = None
    if args.postgres:
        from tests.pg import PgCluster, find_bindir, unavailable_reason

        reason = unavailable_reason()
        if reason is not None:
            raise SystemExit(reason)
        bindir = find_bindir()
        assert bindir is not None
        print("starting a throwaway PostgreSQL cluster…", flush=True)
        cluster = PgCluster.start(bindir, shared_buffers=PG_SHARED_BUFFERS)
        args.db = cluster.new_database()
    try:
        return _measure(args)
    finally:
        if cluster is not None:
            cluster.stop()


def _measure(args: argparse.Namespace) -> int:
    if args.db:
        url = args.db
        home = Path(str(DEFAULT_STORE).format(n=args.orders)).parent / "postgresql-home"
        home.mkdir(parents=True, exist_ok=True)
        print(f"store: {url}", flush=True)
        build_store_at(url, args.orders).dispose()
    else:
        store = args.store or Path(str(DEFAULT_STORE).format(n=args.orders))
        store.parent.mkdir(parents=True, exist_ok=True)
        print(f"store: {store}", flush=True)
        build_store(store, args.orders).dispose()
        url, home = f"sqlite:///{store}", store.parent
    application()
    # A smaller store jumps to 90 % of its rows.
    results = Results(args.orders, far_row=FAR_ROW if args.orders > FAR_ROW + 100 else int(args.orders * 0.9))
    print("measuring Kanjo…", flush=True)
    bench_kanjo(url, home, results)
    if not args.no_baseline and not args.db:
        print("measuring the baseline (QSqlRelationalTableModel + QSortFilterProxyModel)…", flush=True)
        bench_baseline(Path(url.removeprefix("sqlite:///")), results, args.baseline_budget)
    print()
    print(report(results, url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
