"""OrderTableModel: Qt's model contract, paging over SQL, a bounded cache, keyset reads."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, Qt
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from bench.store import NOW, build_store
from core.app import Kanjo
from core.clock import FixedClock
from core.domain import PaymentStatus, Tone
from core.order_pages import OrderFilter, OrderPages, OrderQuery, SortKey
from gui.orders.table_model import PLACEHOLDER, Column, OrderRole, OrderTableModel
from gui.tasks import ImmediateExecutor, TaskRunner
from tests.gui.conftest import ManualExecutor
from tests.helpers import place_order

ORDERS = 2_500


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrderPages]:
    """2,500 orders inserted with SQL, like the benchmark's million."""
    engine = build_store(tmp_path_factory.mktemp("store") / "orders.sqlite3", ORDERS, log=False)
    yield OrderPages(engine)
    engine.dispose()


def model_over(pages: OrderPages, runner: TaskRunner, **options: float) -> OrderTableModel:
    model = OrderTableModel(pages, FixedClock(NOW), runner, **options)
    model.set_query(OrderQuery())
    return model


def test_model_passes_qt_model_tester_over_the_real_core(
    app: Kanjo, runner: TaskRunner, qtmodeltester: ModelTester
) -> None:
    for i in range(7):
        place_order(app, f"M{i}", 1_000 + i)
    model = OrderTableModel(OrderPages(app.engine), app.clock, runner, page_size=3, max_pages=2)
    model.set_query(OrderQuery())
    qtmodeltester.check(model)  # Qt's own QAbstractItemModelTester (C++)
    qtmodeltester.check(model, force_py=True)  # and pytest-qt's Python port, which checks data() types
    assert model.rowCount() == 7
    model.set_query(OrderQuery(OrderFilter(text="M3")))
    qtmodeltester.check(model, force_py=True)
    assert model.rowCount() == 1


def test_model_tester_with_pages_arriving_later(
    big_store: OrderPages, qtbot: QtBot, qtmodeltester: ModelTester
) -> None:
    work = ManualExecutor()
    reads = ManualExecutor()
    runner = TaskRunner(work, reads)
    model = OrderTableModel(
        big_store, FixedClock(NOW), runner, page_size=50, max_pages=4, sync_offset_limit=100, sync_budget_ms=60_000
    )
    model.set_query(OrderQuery())
    reads.run_all()  # first page, then the count
    reads.run_all()
    assert model.rowCount() == ORDERS
    qtmodeltester.check(model, force_py=True)
    far = model.index(2_000, Column.NUMBER)
    assert far.data() == PLACEHOLDER and far.data(OrderRole.ROW) is None  # read on the worker
    with qtbot.waitSignal(model.dataChanged):
        reads.run_all()
    assert far.data() == big_store.page(OrderQuery(), 2_000, 1, NOW).rows[0].number
    runner.shutdown()


def test_first_page_then_count_and_memory_stays_bounded(big_store: OrderPages, runner: TaskRunner) -> None:
    # A budget no read misses, so the test does not depend on this machine's load.
    model = model_over(big_store, runner, page_size=100, max_pages=5, sync_budget_ms=10_000)
    assert model.rowCount() == ORDERS and model.count_exact
    expected = [r.number for r in big_store.page(OrderQuery(), 0, ORDERS, NOW).rows]
    seen = [model.index(row, Column.NUMBER).data() for row in range(ORDERS)]
    assert seen == expected  # every row, in SQL's order, through pages
    assert model.cached_rows <= 5 * 100  # never more than max_pages held
    assert model.async_reads == 0  # each page continued from the one before it (keyset)


def test_far_jump_goes_to_the_worker_then_neighbours_read_by_keyset(big_store: OrderPages, qtbot: QtBot) -> None:
    reads = ManualExecutor()
    runner = TaskRunner(ImmediateExecutor(), reads)
    model = OrderTableModel(
        big_store, FixedClock(NOW), runner, page_size=100, sync_offset_limit=500, prefetch=False, sync_budget_ms=60_000
    )
    model.set_query(OrderQuery())
    reads.run_all()
    reads.run_all()
    assert model.index(2_250, 0).data() == PLACEHOLDER
    assert len(reads.queue) == 1
    reads.run_all()
    sync_before = model.sync_reads
    assert model.index(2_350, 0).data() != PLACEHOLDER  # the next page: keyset from the page held
    assert model.sync_reads == sync_before + 1 and not reads.queue
    runner.shutdown()


def test_sort_and_filter_are_done_in_sql(big_store: OrderPages, runner: TaskRunner) -> None:
    model = model_over(big_store, runner)
    model.sort(Column.TOTAL, Qt.SortOrder.AscendingOrder)
    assert model.query.sort is SortKey.TOTAL and not model.query.descending
    totals = [model.index(row, Column.TOTAL).data(OrderRole.ROW).total for row in range(300)]
    assert totals == sorted(totals)
    model.set_query(OrderQuery(OrderFilter(payment_statuses=frozenset({PaymentStatus.AUTH_FAILED}))))
    count = model.rowCount()
    assert 0 < count < ORDERS
    assert {model.index(r, Column.PAYMENT_STATUS).data() for r in range(count)} == {"承認失敗"}
    assert count == big_store.count(model.query, NOW)


def test_badge_roles_and_placeholders(app: Kanjo, runner: TaskRunner) -> None:
    place_order(app, "B1", 1_000)
    model = OrderTableModel(OrderPages(app.engine), app.clock, runner)
    model.set_query(OrderQuery())
    payment = model.index(0, Column.PAYMENT_STATUS)
    assert payment.data(OrderRole.BADGE_TEXT) == "承認済"
    assert Tone(payment.data(OrderRole.BADGE_TONE)) is Tone.SUCCESS
    assert model.index(0, Column.ORDER_STATUS).data(OrderRole.BADGE_TEXT) == "新規受付"
    assert model.index(0, Column.NUMBER).data(OrderRole.BADGE_TONE) is None
    assert model.headerData(Column.AUTH_EXPIRY, Qt.Orientation.Horizontal) == "与信期限"
    assert model.data(QModelIndex()) is None


def test_refresh_orders_repaints_only_that_row(app: Kanjo, runner: TaskRunner, qtbot: QtBot) -> None:
    place_order(app, "A1", 1_000, ordered_at=datetime(2026, 11, 20, tzinfo=UTC))
    place_order(app, "A2", 1_000, ordered_at=datetime(2026, 11, 19, tzinfo=UTC))
    model = OrderTableModel(OrderPages(app.engine), app.clock, runner)
    model.set_query(OrderQuery())
    app.payments.capture("A2")
    with qtbot.waitSignal(model.dataChanged) as blocker:
        model.refresh_orders(["A2"])
    top_left, bottom_right = blocker.args[0], blocker.args[1]
    assert top_left.row() == bottom_right.row() == 1
    assert model.index(1, Column.PAYMENT_STATUS).data() == "請求済"


def test_an_old_answer_is_dropped_when_the_query_changed(big_store: OrderPages, qtbot: QtBot) -> None:
    reads = ManualExecutor()
    runner = TaskRunner(ImmediateExecutor(), reads)
    model = OrderTableModel(big_store, FixedClock(NOW), runner)
    model.set_query(OrderQuery(OrderFilter(text="佐藤")))
    model.set_query(OrderQuery(OrderFilter(text="田中")))
    reads.run_all()
    reads.run_all()
    assert model.query.filter.text == "田中"
    names = {model.index(r, Column.CUSTOMER).data() for r in range(min(model.rowCount(), 100))}
    assert names and all("田中" in name for name in names)
    runner.shutdown()


def test_numbers_reader_resolves_rows_not_held(big_store: OrderPages, runner: TaskRunner) -> None:
    model = model_over(big_store, runner, page_size=100, max_pages=2)
    rows = [0, 1, 2_000, 2_001, 2_499]
    numbers = model.numbers_reader(rows)()
    expected = [big_store.page(OrderQuery(), r, 1, NOW).rows[0].number for r in rows]
    assert numbers == expected


def test_build_store_reuses_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    build_store(path, 10, log=False).dispose()
    build_store(path, 10, log=False).dispose()
    with pytest.raises(SystemExit):
        build_store(path, 11, log=False)


def test_scrolling_up_from_a_far_page_reads_backwards_on_the_gui_thread(big_store: OrderPages, qtbot: QtBot) -> None:
    reads = ManualExecutor()
    runner = TaskRunner(ImmediateExecutor(), reads)
    model = OrderTableModel(
        big_store, FixedClock(NOW), runner, page_size=100, sync_offset_limit=500, prefetch=False, sync_budget_ms=60_000
    )
    model.set_query(OrderQuery())
    reads.run_all()
    reads.run_all()
    model.index(2_250, 0).data()
    reads.run_all()  # page 22 arrives from the worker
    assert model.index(2_199, 0).data() != PLACEHOLDER  # page 21: keyset backwards from page 22's first row
    assert not reads.queue
    expected = big_store.page(OrderQuery(), 2_100, 100, NOW).rows
    assert [model.index(r, 0).data() for r in range(2_100, 2_200)] == [r.number for r in expected]
    runner.shutdown()


@pytest.mark.parametrize(("sync_first_page", "reads_left"), [(False, 1), (True, 0)])
def test_page_reads_queued_for_an_old_query_are_skipped(
    big_store: OrderPages, qtbot: QtBot, sync_first_page: bool, reads_left: int
) -> None:
    reads = ManualExecutor()
    runner = TaskRunner(ImmediateExecutor(), reads)
    model = OrderTableModel(
        big_store,
        FixedClock(NOW),
        runner,
        page_size=100,
        sync_offset_limit=0,
        prefetch=False,
        sync_first_page=sync_first_page,
        sync_budget_ms=60_000,
    )
    model.set_query(OrderQuery())
    reads.run_all()
    reads.run_all()
    model.index(1_500, 0).data()
    model.set_query(OrderQuery(sort=SortKey.TOTAL))
    calls: list[int] = []
    original = big_store.page

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    big_store.page = counting  # type: ignore[method-assign]
    try:
        reads.run_all()
    finally:
        del big_store.page
    # Only the new query's first page (unless it was read at once); the old far page was skipped.
    assert len(calls) == reads_left
    assert model.query.sort is SortKey.TOTAL
    runner.shutdown()


def held_reads_model(pages: OrderPages) -> tuple[OrderTableModel, ManualExecutor, TaskRunner]:
    """A model whose worker reads wait for the test; its budget lets every GUI-thread read finish."""
    reads = ManualExecutor()
    runner = TaskRunner(ImmediateExecutor(), reads)
    model = OrderTableModel(pages, FixedClock(NOW), runner, page_size=100, sync_budget_ms=60_000)
    model.set_query(OrderQuery())
    return model, reads, runner


def test_a_quick_first_page_is_shown_at_once_and_only_the_count_waits(big_store: OrderPages) -> None:
    model, reads, runner = held_reads_model(big_store)
    expected = big_store.page(OrderQuery(), 0, 100, NOW).rows
    assert [model.index(r, 0).data() for r in range(100)] == [r.number for r in expected]  # no worker ran
    assert not model.count_exact and model.loading and len(reads.queue) == 1  # the count, on the worker
    reads.run_all()
    assert model.rowCount() == ORDERS and model.count_exact and not model.loading
    runner.shutdown()


def test_a_first_page_over_the_budget_is_read_on_the_worker_and_old_rows_stay(big_store: OrderPages) -> None:
    model, reads, runner = held_reads_model(big_store)
    reads.run_all()
    shown = model.index(0, 0).data()
    model.sync_budget_ms = 0.0  # every read now runs over: SQLite stops it at the first check
    by_customer = OrderQuery(sort=SortKey.CUSTOMER)
    model.set_query(by_customer)
    assert model.first_pages_on_worker == 1 and model.loading
    assert model.query == OrderQuery() and model.index(0, 0).data() == shown  # the old rows, until the new arrive
    reads.run_all()  # the first page
    reads.run_all()  # the count
    expected = big_store.page(by_customer, 0, 3, NOW).rows
    assert model.query == by_customer
    assert [model.index(r, 0).data() for r in range(3)] == [r.number for r in expected]
    assert model.rowCount() == ORDERS
    runner.shutdown()


def test_a_read_measured_slow_sends_later_reads_to_the_worker(big_store: OrderPages, runner: TaskRunner) -> None:
    model = model_over(big_store, runner, page_size=100, sync_budget_ms=0.0, prefetch=False)  # all "too slow"
    model.index(150, 0).data()  # measured by the first page: read on the worker
    assert model.async_reads == 1
    assert model.index(150, Column.NUMBER).data() != PLACEHOLDER


def test_the_pages_beside_a_far_jump_are_prefetched_on_the_worker(big_store: OrderPages, qtbot: QtBot) -> None:
    reads = ManualExecutor()
    runner = TaskRunner(ImmediateExecutor(), reads)
    model = OrderTableModel(big_store, FixedClock(NOW), runner, page_size=100, sync_offset_limit=500)
    model.set_query(OrderQuery())
    reads.run_all()  # first page, count, then page 1 prefetched
    assert model.row_at(150) is not None and model.prefetch_reads == 1
    assert model.index(2_250, 0).data() == PLACEHOLDER
    with qtbot.waitSignals([model.dataChanged, model.dataChanged, model.dataChanged]):
        reads.run_all()  # page 22 arrives, then the pages beside it, before the view needs them
    assert model.prefetch_reads == 3 and model.row_at(2_150) is not None and model.row_at(2_350) is not None
    sync_before = model.sync_reads
    expected = big_store.page(OrderQuery(), 2_100, 300, NOW).rows
    assert [model.index(r, 0).data() for r in range(2_100, 2_400)] == [r.number for r in expected]
    assert model.sync_reads == sync_before  # all three were held
    assert len(reads.queue) == 2  # the view moved onto pages 21 and 23: pages 20 and 24 come next
    runner.shutdown()


def test_a_task_started_after_shutdown_is_cancelled_not_an_error(qtbot: QtBot) -> None:
    """A late timer or queued signal after the window closed (its runner shut down) starts
    nothing and raises nothing (an everyday-suite failure: the live refresh timer fired late)."""
    from gui.tasks import TaskRunner as Runner

    late = Runner()
    late.shutdown()
    called: list[object] = []
    future = late.run(lambda: called.append("ran"), called.append, called.append)
    qtbot.wait(20)
    assert future.cancelled() and called == []
