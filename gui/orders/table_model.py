"""OrderTableModel: the order list as SQL pages in a bounded cache (style.md, issue 3).

The model never holds every order. It keeps the row count and at most ``max_pages`` pages of
``page_size`` immutable :class:`~core.order_pages.OrderRow` (least recently used first out),
so its memory stays flat whether the store holds a hundred orders or a million.

Reading policy ("measure, then choose"; figures from bench/orders_bench.py at 1,000,000
orders):

* A new query (filter, search, sort) reads its first page on the GUI thread when SQLite
  finishes it within ``sync_budget_ms`` (its progress handler stops a read that runs over;
  an indexed first page takes a few milliseconds), else on the ``read`` lane, the old rows
  staying on screen until the new ones arrive; the model then resets once (no flash of empty
  rows). The count, when there is more than one page, is always read on the ``read`` lane.
  A generation counter drops answers that arrive after the query changed again (napari's
  histogram idea).
* A page the view asks for is read synchronously inside ``data()`` when it is cheap: a keyset
  read continuing from a page already held (about 1 ms), or an OFFSET read near the top
  (``sync_offset_limit`` rows). Anything else (a jump to row 900,000 before its neighbours
  are known, or a query measured slower than ``sync_budget_ms``) goes to the ``read`` lane
  and shows placeholders until it arrives.
* After an operation, :meth:`refresh_orders` re-reads just those orders and emits
  ``dataChanged`` for their rows; :meth:`refresh` re-reads the held pages and the count
  (after a sync), resetting only when the number of rows changed.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from enum import IntEnum
from functools import lru_cache
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QGuiApplication, QPalette

from core.clock import Clock, format_jst
from core.environment import label as environment_label
from core.order_pages import OrderPages, OrderQuery, OrderRow, Page, SortKey
from core.payment_rules import environment_message
from gui.labels import order_status_tone, payment_label, payment_tone, yen
from gui.tasks import READ, TaskRunner

PLACEHOLDER = "…"
_Index = QModelIndex | QPersistentModelIndex


class Column(IntEnum):
    NUMBER = 0
    ORDERED_AT = 1
    CUSTOMER = 2
    KIND = 3
    TOTAL = 4
    PAYMENT_STATUS = 5
    ORDER_STATUS = 6
    AUTH_EXPIRY = 7


HEADERS: dict[Column, str] = {
    Column.NUMBER: "受注番号",
    Column.ORDERED_AT: "受注日時",
    Column.CUSTOMER: "顧客",
    Column.KIND: "種別",
    Column.TOTAL: "合計",
    Column.PAYMENT_STATUS: "与信ステータス",
    Column.ORDER_STATUS: "受注ステータス",
    Column.AUTH_EXPIRY: "与信期限",
}

# The order a first click on a header sorts in (issue 16 item 5): the soonest expiry, the newest order.
INITIAL_ORDER: dict[Column, Qt.SortOrder] = {
    Column.AUTH_EXPIRY: Qt.SortOrder.AscendingOrder,
    Column.ORDERED_AT: Qt.SortOrder.DescendingOrder,
}
SORT_KEYS: dict[Column, SortKey] = {
    Column.NUMBER: SortKey.NUMBER,
    Column.ORDERED_AT: SortKey.ORDERED_AT,
    Column.CUSTOMER: SortKey.CUSTOMER,
    Column.KIND: SortKey.KIND,
    Column.TOTAL: SortKey.TOTAL,
    Column.PAYMENT_STATUS: SortKey.PAYMENT_STATUS,
    Column.ORDER_STATUS: SortKey.ORDER_STATUS,
    Column.AUTH_EXPIRY: SortKey.AUTH_EXPIRY,
}
BADGE_COLUMNS = (Column.PAYMENT_STATUS, Column.ORDER_STATUS)
_COLUMNS = len(Column)


class OrderRole(IntEnum):
    """Roles beyond Qt's (qutebrowser ``ModelRole``)."""

    ROW = Qt.ItemDataRole.UserRole + 1  # the OrderRow, or None while its page loads
    NUMBER = Qt.ItemDataRole.UserRole + 2
    BADGE_TEXT = Qt.ItemDataRole.UserRole + 3  # badge columns: the exact label
    BADGE_TONE = Qt.ItemDataRole.UserRole + 4  # badge columns: core.domain.Tone
    OTHER_ENVIRONMENT = Qt.ItemDataRole.UserRole + 5  # True: the order lives in another Amazon Pay (issue 11 item 8)


class OrderTableModel(QAbstractTableModel):
    """Pages of the order list read from SQL into a bounded cache.

    Signals:
        query_applied(): the first page of a new query is in the model.
        count_changed(int): the number of matching orders is known (exactly).
        loading_changed(bool): a query, count or refresh is being read.
        refreshed(): a :meth:`refresh` finished.
        read_failed(object): a background read raised (the exception).
    """

    query_applied = Signal()
    count_changed = Signal(int)
    loading_changed = Signal(bool)
    refreshed = Signal()
    read_failed = Signal(object)

    def __init__(
        self,
        pages: OrderPages,
        clock: Clock,
        runner: TaskRunner,
        *,
        page_size: int = 100,
        max_pages: int = 40,
        sync_offset_limit: int = 20_000,
        sync_budget_ms: float = 8.0,
        prefetch: bool = True,
        sync_first_page: bool = True,
        parent: Any = None,
    ) -> None:
        super().__init__(parent)
        self._pages_source = pages
        self._clock = clock
        self._runner = runner
        self.page_size = page_size
        self.max_pages = max_pages
        self.sync_offset_limit = sync_offset_limit
        self.sync_budget_ms = sync_budget_ms
        self._query = OrderQuery()
        self._wanted = self._query  # the query being read (equal to _query once it arrived)
        self._generation = 0
        self._count = 0
        self._count_exact = True
        self._pages: OrderedDict[int, tuple[OrderRow, ...]] = OrderedDict()
        self._keys: dict[int, tuple[Any, ...]] = {}  # page -> sort key of its last row (keyset anchor)
        self._first_keys: dict[int, tuple[Any, ...]] = {}  # page -> sort key of its first row
        self._requested: set[int] = set()
        self._slow = False
        self._in_data = False
        self._last_touched = -1
        self._loading = 0
        self.prefetch = prefetch
        self.sync_first_page = sync_first_page
        self.first_pages_on_worker = 0
        # Where Amazon Pay calls go now (core.environment); an order of another environment is
        # tagged, greyed and explained (issue 11 item 8). "" until the window knows it.
        self.connection_environment = ""
        self.sync_reads = 0  # counters for tests and the benchmark
        self.async_reads = 0
        self.prefetch_reads = 0

    # --- query ---------------------------------------------------------------------------

    @property
    def query(self) -> OrderQuery:
        return self._query

    @property
    def wanted_query(self) -> OrderQuery:
        """The query asked for last (it may still be being read)."""
        return self._wanted

    @property
    def count_exact(self) -> bool:
        return self._count_exact

    @property
    def cached_rows(self) -> int:
        return sum(len(rows) for rows in self._pages.values())

    def set_query(self, query: OrderQuery) -> None:
        """Show the orders matching ``query``.

        The first page is read here, on the GUI thread, when SQLite finishes it within
        ``sync_budget_ms`` (an indexed read: a few milliseconds); SQLite stops a read that
        runs over, and the page is then read on the worker while the current rows stay on
        screen. Either way the count follows from the worker.
        """
        self._generation += 1
        generation = self._generation
        self._wanted = query
        size = self.page_size
        if self.sync_first_page:
            started = time.perf_counter()
            page = self._pages_source.page_within(query, 0, size + 1, self._clock.now(), self.sync_budget_ms)
            if page is not None:
                self.sync_reads += 1
                self._apply_first_page(query, generation, page, (time.perf_counter() - started) * 1000)
                return
            self.first_pages_on_worker += 1
        self._set_loading(+1)

        def read() -> tuple[Page, float]:
            started = time.perf_counter()
            page = self._pages_source.page(query, 0, size + 1, self._clock.now())
            return page, (time.perf_counter() - started) * 1000

        def arrived(result: tuple[Page, float]) -> None:
            if generation == self._generation:
                self._apply_first_page(query, generation, *result)
            self._set_loading(-1)

        self._runner.run(read, arrived, self._failed_read, lane=READ)

    def _apply_first_page(self, query: OrderQuery, generation: int, page: Page, took_ms: float) -> None:
        """Swap in the new query's first page (one reset) and read its count on the worker."""
        size = self.page_size
        more = len(page.rows) > size
        rows = page.rows[:size]
        self.beginResetModel()
        self._query = query
        self._pages = OrderedDict()
        self._keys, self._first_keys = {}, {}
        self._requested = set()
        # The first read also pays for compiling the statement, so only a clearly slow one
        # (a search whose matches SQLite must sort) marks the query's pages as worker reads.
        self._slow = took_ms > 3 * self.sync_budget_ms
        self._store(0, rows)
        self._count = len(rows)
        self._count_exact = not more
        self.endResetModel()
        self.query_applied.emit()
        if more:
            self._read_count(generation)
        else:
            self.count_changed.emit(self._count)

    def refresh(self) -> None:
        """Re-read the count and the pages held (after a sync changed orders)."""
        self._generation += 1
        generation = self._generation
        query = self._query
        held = sorted(self._pages)
        size = self.page_size
        self._set_loading(+1)

        def read() -> tuple[int, dict[int, tuple[OrderRow, ...]]]:
            now = self._clock.now()
            count = self._pages_source.count(query, now)
            return count, {i: self._pages_source.page(query, i * size, size, now).rows for i in held}

        def arrived(result: tuple[int, dict[int, tuple[OrderRow, ...]]]) -> None:
            self._set_loading(-1)
            if generation != self._generation:
                return
            count, pages = result
            moved = any(
                [row.number for row in rows] != [row.number for row in self._pages.get(i, ())]
                for i, rows in pages.items()
                if i in self._pages
            )
            if count != self._count or moved:
                # Rows changed places (a sync changed a sorted column, or orders came or went):
                # reset, so that a selection or current row never points at another order.
                self.beginResetModel()
                self._pages, self._keys, self._first_keys, self._requested = OrderedDict(), {}, {}, set()
                for i, rows in pages.items():
                    self._store(i, rows)
                self._count, self._count_exact = count, True
                self.endResetModel()
            else:
                self._keys, self._first_keys, self._requested = {}, {}, set()
                for i, rows in pages.items():
                    self._store(i, rows)
                if count:
                    self.dataChanged.emit(self.index(0, 0), self.index(count - 1, len(Column) - 1))
            self.count_changed.emit(count)
            self.refreshed.emit()

        self._runner.run(read, arrived, self._failed_read, lane=READ)

    def refresh_orders(self, numbers: Iterable[str]) -> None:
        """Re-read these orders (one indexed query) and repaint only their rows."""
        wanted = set(numbers)
        if not wanted:
            return
        fresh = self._pages_source.rows_by_number(wanted, self._clock.now())
        for page_index, rows in list(self._pages.items()):
            updated = list(rows)
            changed_rows = []
            for offset, row in enumerate(rows):
                new = fresh.get(row.number)
                if new is not None:
                    updated[offset] = replace(new, sort_key=row.sort_key)  # keeps its place in this query
                    changed_rows.append(page_index * self.page_size + offset)
            if changed_rows:
                self._pages[page_index] = tuple(updated)
                for top in changed_rows:
                    self.dataChanged.emit(self.index(top, 0), self.index(top, len(Column) - 1))

    def _read_count(self, generation: int) -> None:
        query = self._query
        self._set_loading(+1)

        def arrived(count: int) -> None:
            self._set_loading(-1)
            if generation != self._generation:
                return
            if count > self._count:
                self.beginInsertRows(QModelIndex(), self._count, count - 1)
                self._count = count
                self.endInsertRows()
            elif count < self._count:
                self.beginRemoveRows(QModelIndex(), count, self._count - 1)
                self._count = count
                self.endRemoveRows()
            self._count_exact = True
            self.count_changed.emit(count)
            self._prefetch_neighbours(0)  # the second page, before the operator scrolls to it

        self._runner.run(
            lambda: self._pages_source.count(query, self._clock.now()), arrived, self._failed_read, lane=READ
        )

    def _failed_read(self, exc: BaseException) -> None:
        self._set_loading(-1)
        self.read_failed.emit(exc)

    def _set_loading(self, delta: int) -> None:
        before = self._loading > 0
        self._loading = max(0, self._loading + delta)
        if (self._loading > 0) != before:
            self.loading_changed.emit(self._loading > 0)

    @property
    def loading(self) -> bool:
        return self._loading > 0

    # --- pages ---------------------------------------------------------------------------

    def _store(self, page_index: int, rows: tuple[OrderRow, ...]) -> None:
        self._pages[page_index] = rows
        self._pages.move_to_end(page_index)
        if len(rows) == self.page_size:
            self._keys[page_index] = rows[-1].sort_key
        if rows:
            self._first_keys[page_index] = rows[0].sort_key
        while len(self._pages) > self.max_pages:
            self._pages.popitem(last=False)
        if len(self._keys) + len(self._first_keys) > 50_000:  # anchors are small; keep them bounded too
            self._keys = {k: v for k, v in self._keys.items() if abs(k - page_index) < 100}
            self._first_keys = {k: v for k, v in self._first_keys.items() if abs(k - page_index) < 100}

    def _page(self, page_index: int) -> tuple[OrderRow, ...] | None:
        rows = self._pages.get(page_index)
        if rows is not None:
            self._pages.move_to_end(page_index)
            if page_index != self._last_touched:
                self._last_touched = page_index
                self._prefetch_neighbours(page_index)  # the view moved onto it: keep one page ahead
            return rows
        if page_index in self._requested:
            return None
        self._load(page_index)
        return self._pages.get(page_index)

    def _load(self, page_index: int, *, prefetch: bool = False) -> None:
        """Read a page: on the GUI thread when cheap, else on the worker; then prefetch its neighbours.

        ``prefetch``: read on the worker ahead of the view (the page beside one it asked for),
        so scrolling on usually finds the next page held; a prefetch prefetches nothing more.
        """
        query, generation, size = self._query, self._generation, self.page_size
        offset = page_index * size
        after = before = None
        if OrderPages.supports_keyset(query.sort):
            after = self._keys.get(page_index - 1)
            before = self._first_keys.get(page_index + 1) if after is None else None
        total = self._count if self._count_exact else None  # a far page is read from the nearer end
        cheap = after is not None or before is not None or offset <= self.sync_offset_limit
        if not prefetch and not self._slow and cheap:
            started = time.perf_counter()
            page = self._pages_source.page(
                query, offset, size, self._clock.now(), after=after, before=before, total=total
            )
            if (time.perf_counter() - started) * 1000 > self.sync_budget_ms:
                self._slow = True  # measured too slow for the GUI thread: later reads go to the worker
            self.sync_reads += 1
            self._store(page_index, page.rows)
            self._prefetch_neighbours(page_index)
            return
        self._requested.add(page_index)
        if prefetch:
            self.prefetch_reads += 1
        else:
            self.async_reads += 1

        def read() -> Page | None:
            if generation != self._generation:
                return None  # the query changed while this waited: do not hold up the new one
            return self._pages_source.page(
                query, offset, size, self._clock.now(), after=after, before=before, total=total
            )

        def arrived(page: Page | None) -> None:
            self._requested.discard(page_index)
            if page is None or generation != self._generation:
                return
            self._store(page_index, page.rows)
            if not prefetch:
                self._prefetch_neighbours(page_index)
            if self._in_data:
                return  # answered inline (immediate executor): the caller reads the cache
            top = offset
            bottom = min(offset + len(page.rows), self._count) - 1
            if bottom >= top:
                self.dataChanged.emit(self.index(top, 0), self.index(bottom, len(Column) - 1))

        def failed(exc: BaseException) -> None:
            self._requested.discard(page_index)
            self.read_failed.emit(exc)

        self._runner.run(read, arrived, failed, lane=READ)

    def _prefetch_neighbours(self, page_index: int) -> None:
        if not self.prefetch:
            return
        for neighbour in (page_index + 1, page_index - 1):
            if (
                0 <= neighbour * self.page_size < self._count
                and neighbour not in self._pages
                and neighbour not in self._requested
            ):
                self._load(neighbour, prefetch=True)

    # --- lookups for the window ----------------------------------------------------------

    def row_at(self, row: int) -> OrderRow | None:
        """The row if its page is held (never reads)."""
        page_index, offset = divmod(row, self.page_size)
        rows = self._pages.get(page_index)
        if rows is None or offset >= len(rows):
            return None
        return rows[offset]

    def number_at(self, row: int) -> str | None:
        found = self.row_at(row)
        return found.number if found else None

    def numbers_between(self, top: int, bottom: int) -> list[str]:
        """Order numbers of the held rows from ``top`` to ``bottom`` (never reads)."""
        numbers: list[str] = []
        for page_index, rows in self._pages.items():
            start = page_index * self.page_size
            for row in range(max(top, start), min(bottom, start + len(rows) - 1) + 1):
                numbers.append(rows[row - start].number)
        return numbers

    def rows_of(self, numbers: Iterable[str]) -> list[int]:
        """The rows showing these orders, for those in a page held (sorted)."""
        wanted = set(numbers)
        return sorted(
            page_index * self.page_size + offset
            for page_index, rows in self._pages.items()
            for offset, row in enumerate(rows)
            if row.number in wanted
        )

    def row_of(self, number: str) -> int | None:
        """The row showing order ``number``, if it is in a page held."""
        for page_index, rows in self._pages.items():
            for offset, row in enumerate(rows):
                if row.number == number:
                    return page_index * self.page_size + offset
        return None

    def numbers_reader(self, rows: Sequence[int]) -> Callable[[], list[str]]:
        """A function, safe to run on a worker, giving the order numbers of these rows.

        Rows whose page is held are resolved now (on the GUI thread); the rest are read with
        the current query when the function runs (a selection may reach far off screen).
        """
        known: dict[int, str] = {}
        missing: list[int] = []
        for row in rows:
            number = self.number_at(row)
            if number is None:
                missing.append(row)
            else:
                known[row] = number
        query, source, clock, order = self._query, self._pages_source, self._clock, list(rows)

        def read() -> list[str]:
            numbers = dict(known)
            now = clock.now()
            for start, length in row_runs(sorted(missing)):
                for i, number in enumerate(source.numbers_in(query, start, length, now)):
                    numbers[start + i] = number
            return [numbers[row] for row in order if row in numbers]

        return read

    # --- QAbstractTableModel -------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt's signature
        return 0 if parent.isValid() else self._count

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(Column)

    def headerData(  # noqa: N802 - Qt override
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(Column):
            if role == Qt.ItemDataRole.DisplayRole:
                return HEADERS[Column(section)]
            if role == Qt.ItemDataRole.TextAlignmentRole and section == Column.TOTAL:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if role == Qt.ItemDataRole.InitialSortOrderRole:  # a first click: what the operator looks for
                return int(INITIAL_ORDER.get(Column(section), Qt.SortOrder.AscendingOrder).value)
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # Called about a thousand times per painted frame, mostly for roles this model does
        # not serve (font, colours, check state): answer those before any other work.
        if role not in _ROLES:
            return None
        row_number, column = index.row(), index.column()
        if not (0 <= row_number < self._count) or not (0 <= column < _COLUMNS) or not index.isValid():
            return None
        page_index, offset = divmod(row_number, self.page_size)
        self._in_data = True
        try:
            rows = self._page(page_index)
        finally:
            self._in_data = False
        row = rows[offset] if rows is not None and offset < len(rows) else None
        if row is None:
            if role == _DISPLAY and column == Column.NUMBER:
                return PLACEHOLDER
            return None
        if role == _DISPLAY:
            text = _display_texts(row)[column]
            if column == Column.KIND and self._other(row):
                return f"{text} [{environment_label(row.environment)}]"
            return text
        if role == _ALIGNMENT:
            return _RIGHT if column == Column.TOTAL else _LEFT
        if role == _FOREGROUND:
            return _greyed() if self._other(row) else None
        if role == OrderRole.OTHER_ENVIRONMENT:
            return self._other(row)
        if role == _TOOLTIP and self._other(row):
            own = _value(row, Column(column), role)
            note = environment_message(row.environment, self.connection_environment) + "Amazon Payの操作はできません。"
            return f"{own}\n{note}" if own else note
        return _value(row, Column(column), role)

    def set_connection_environment(self, environment: str) -> None:
        """The connection changed (start, settings): re-mark the rows shown."""
        if environment == self.connection_environment:
            return
        self.connection_environment = environment
        if self._count:
            self.dataChanged.emit(self.index(0, 0), self.index(self._count - 1, len(Column) - 1))

    def _other(self, row: OrderRow) -> bool:
        return (
            bool(self.connection_environment)
            and bool(row.environment)
            and row.environment != self.connection_environment
        )

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(Column):
            return
        descending = order == Qt.SortOrder.DescendingOrder
        key = SORT_KEYS[Column(column)]
        if key == self._wanted.sort and descending == self._wanted.descending:
            return  # already shown or being read (the header asks twice: indicator, then sort)
        self.set_query(replace(self._wanted, sort=key, descending=descending))


_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole)
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_LEFT = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_ROLES = frozenset({_DISPLAY, _ALIGNMENT, _TOOLTIP, _FOREGROUND, *(int(role) for role in OrderRole)})


def _greyed() -> QBrush:
    """The palette's disabled text: an order whose actions are off (issue 11 item 8)."""
    return QBrush(QGuiApplication.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))


def _value(row: OrderRow, column: Column, role: int) -> Any:
    if role == OrderRole.ROW:
        return row
    if role == OrderRole.NUMBER:
        return row.number
    if role in (OrderRole.BADGE_TEXT, OrderRole.BADGE_TONE) and column in BADGE_COLUMNS:
        if column == Column.PAYMENT_STATUS:
            return row_payment_label(row) if role == OrderRole.BADGE_TEXT else payment_tone(row.payment_status)
        return row.order_status.label if role == OrderRole.BADGE_TEXT else order_status_tone(row.order_status)
    if role == Qt.ItemDataRole.ToolTipRole:
        if column == Column.CUSTOMER:
            return f"{row.customer_name}\n{row.customer_email}"
        if column == Column.PAYMENT_STATUS:
            return row_payment_label(row)
        if column == Column.AUTH_EXPIRY and row.auth_expires_at is not None and row.auth_expiry:
            return f"与信の有効期限: {format_jst(row.auth_expires_at)}(30日, R9)"
        return None
    return None


def row_payment_label(row: OrderRow) -> str:
    """The badge's text, or why the order has none (未連携, マーケットプレイス, 対象外, 決済不要)."""
    if row.payment_status is None and row.no_badge:
        return row.no_badge
    return payment_label(row.payment_status)


@lru_cache(maxsize=4096)  # bounded, like the page cache; rows are immutable
def _display_texts(row: OrderRow) -> tuple[str, ...]:
    """The DisplayRole text of every column of ``row``, in Column order."""
    return (
        row.number,
        format_jst(row.ordered_at),
        row.customer_name,
        row.kind.label,
        yen(row.total),
        row_payment_label(row),
        row.order_status.label,
        row.auth_expiry,
    )


def row_runs(rows: Sequence[int]) -> list[tuple[int, int]]:
    """Consecutive runs of sorted row numbers as (start, length)."""
    runs: list[tuple[int, int]] = []
    for row in rows:
        if runs and runs[-1][0] + runs[-1][1] == row:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((row, 1))
    return runs
