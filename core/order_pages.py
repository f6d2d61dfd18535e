"""Paged reads of the order list: filter, sort and search in SQL, one page of rows at a time.

The window's order list (issue 3) must stay fast and small at 1,000,000 orders, so it never
loads every order. It asks this module for

* ``count(query)``: how many orders match (the scroll range);
* ``page(query, offset, limit, after=...)``: the rows at a position, read by an indexed
  query. ``after`` is the sort key of the row just before ``offset`` when the caller knows
  it (the last row of a page it already holds): the read then seeks there through the index
  (keyset) instead of counting ``offset`` rows (OFFSET), which costs ~0.1 ms instead of
  ~15 ms at row 900,000;
* ``rows_by_number`` for refreshing rows after an operation.

``page(..., budget_ms=...)`` is for a caller that would rather wait on another thread than
block: SQLite's progress handler stops the statement once the budget is spent and
:class:`ReadOverBudget` is raised, so a read on the GUI thread never takes longer than it
allows (only on SQLite; elsewhere :attr:`OrderPages.bounded_reads` is False).

Every list column the window sorts or filters on is a denormalised, indexed column of
``orders`` kept current by ``core.ledger.refresh_order``. Substring search uses the FTS5
indexes of migration 0002 on SQLite (trigram for 3+ characters, character pairs for 1–2), the
same migration's ``pg_trgm`` and character-piece GIN indexes on PostgreSQL (issue 14), and a
plain ILIKE on any other database. Pure Python: no Qt here.
"""

from __future__ import annotations

import logging
import sqlite3
import time as _time
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Integer,
    Select,
    String,
    TextClause,
    and_,
    any_,
    case,
    column,
    exists,
    func,
    literal_column,
    or_,
    select,
    text,
    tuple_,
    union_all,
)
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import InstrumentedAttribute, aliased

from core.clock import JST, to_utc
from core.db.schema import CancellationRequest, ChargePermission, Customer, Order, ReservationPlan
from core.db.search_index import END_MARK
from core.db.tokyo_day import tokyo_day_start
from core.domain import OrderKind, OrderStatus, PaymentStatus
from core.payment_rules import permission_holds_a_charge
from core.queries import effective_payment_status
from core.search_text import fold, phone_query
from core.status import expiry_text

log = logging.getLogger(__name__)

MAX_ACTION_DAYS = 30

# "Needs action" (issue 3): the badges that ask the operator to do something. 承認完了 means
# re-authorization is needed (R9, R40); 承認失敗 carries the R41 message; the last row of R10
# means the last sync failed. The filter adds 承認済 orders whose authorization lapses within
# N days or whose total rose above what is authorized (R28, R40), and orders on hold (保留, R18).
NEEDS_ACTION_STATUSES: tuple[PaymentStatus, ...] = (
    PaymentStatus.AUTH_LAPSED,
    PaymentStatus.AUTH_FAILED,
    PaymentStatus.CAPTURE_DECLINED,
    PaymentStatus.REFUND_DECLINED,
    PaymentStatus.UNREACHABLE,
)


class SortKey(StrEnum):
    """The list's sortable columns."""

    NUMBER = "number"
    ORDERED_AT = "ordered_at"
    CUSTOMER = "customer"
    KIND = "kind"
    TOTAL = "total"
    PAYMENT_STATUS = "payment_status"
    ORDER_STATUS = "order_status"
    AUTH_EXPIRY = "auth_expiry"


@dataclass(frozen=True)
class OrderFilter:
    """What the operator narrowed the list to. Empty sets mean "any"."""

    payment_statuses: frozenset[PaymentStatus] = frozenset()
    order_statuses: frozenset[OrderStatus] = frozenset()
    kinds: frozenset[OrderKind] = frozenset()
    date_from: date | None = None  # Japan calendar dates, both inclusive
    date_to: date | None = None
    needs_action: bool = False
    action_days: int = 7  # "authorization expiring within N days"
    text: str = ""

    @property
    def is_empty(self) -> bool:
        return self == OrderFilter(action_days=self.action_days)


@dataclass(frozen=True)
class OrderQuery:
    filter: OrderFilter = field(default_factory=OrderFilter)
    sort: SortKey = SortKey.ORDERED_AT
    descending: bool = True


NO_BADGE_NO_PAYMENT = "決済不要"  # R34: nothing to pay through Amazon Pay (a total of 0)
NO_BADGE_UNLINKED = "未連携"  # R57: an Amazon Pay order imported without its Charge Permission
NO_BADGE_UNKNOWN_CHARGES = "Charge未連携"  # R57: Amazon holds a charge whose ID is not known here
NO_BADGE_NOT_AUTHORIZED = "未与信"  # linked, with an amount, and nothing authorized yet
NO_BADGE_MARKETPLACE = "マーケットプレイス"  # R61: its money moves in Seller Central
NO_BADGE_OTHER_METHOD = "対象外"  # paid otherwise (bank transfer, card of the shop, ...)


def no_badge_label(
    kind: str,
    payment_method: str | None,
    has_permission: bool,
    *,
    total: int = 0,
    unknown_charges: bool = False,
) -> str:
    """Why an order without charges shows no R10 badge (issue 11: imported orders of every kind)."""
    if kind == OrderKind.MARKETPLACE.value:
        return NO_BADGE_MARKETPLACE
    if payment_method not in (None, "amazon_pay"):
        return NO_BADGE_OTHER_METHOD
    if payment_method == "amazon_pay" and not has_permission:
        return NO_BADGE_UNLINKED
    if unknown_charges:
        return NO_BADGE_UNKNOWN_CHARGES
    if payment_method == "amazon_pay" and has_permission and total > 0:
        return NO_BADGE_NOT_AUTHORIZED
    return NO_BADGE_NO_PAYMENT


@dataclass(frozen=True)
class OrderRow:
    """One line of the order list."""

    id: int
    number: str
    ordered_at: datetime
    customer_name: str
    customer_email: str
    kind: OrderKind
    total: int
    payment_status: PaymentStatus | None  # effective (R9); None = no payment (決済不要)
    order_status: OrderStatus
    auth_expires_at: datetime | None
    auth_expiry: str  # '残り3日' while 承認済, else ''
    sort_key: tuple[Any, ...]  # (sort value, id): the keyset position of this row
    environment: str = "builtin"  # the Amazon Pay its Charge Permission lives in (issue 11 item 8)
    # Shown instead of a badge when payment_status is None: why the order has no R10 badge.
    no_badge: str = NO_BADGE_NO_PAYMENT


@dataclass(frozen=True)
class Page:
    offset: int
    rows: tuple[OrderRow, ...]


def search_terms(text_value: str) -> str:
    """The search text as matched: trimmed, with compatibility forms folded (ＡＢＣ → ABC)."""
    return unicodedata.normalize("NFKC", text_value).strip()


def _fts_phrase(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


class ReadOverBudget(Exception):
    """A budgeted read was stopped before it finished; nothing was read."""


# How often (in SQLite virtual-machine steps) a budgeted read looks at the clock: an indexed
# first page takes about 3,000 steps in 0.15 ms, so the budget holds to about 0.1 ms.
_BUDGET_CHECK_STEPS = 2_000


class OrderPages:
    """Reads pages of the order list from the store (thread-safe: one connection per call)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._fts = engine.dialect.name == "sqlite" and self._has_fts(engine)
        self._pg_search = engine.dialect.name == "postgresql"
        self._status_union = engine.dialect.name == "postgresql"  # see _status_branches
        self.bounded_reads = engine.dialect.name == "sqlite"

    @staticmethod
    def _has_fts(engine: Engine) -> bool:
        with engine.connect() as connection:
            found = connection.execute(
                text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'order_search_bigram'")
            ).first()
        return found is not None

    # --- public reads --------------------------------------------------------------------

    def count(self, query: OrderQuery, now: datetime) -> int:
        terms = _text_only(query.filter)
        if self._fts and terms is not None:
            with self._engine.connect() as connection:
                return self._text_count(connection, terms)
        statement = select(func.count()).select_from(Order)
        if self._needs_customer_join(query, for_count=True):
            statement = statement.join(Customer, Customer.id == Order.customer_id)
        statement = statement.where(*self._conditions(query.filter, now))
        with self._engine.connect() as connection:
            return int(connection.scalar(statement) or 0)

    def page(
        self,
        query: OrderQuery,
        offset: int,
        limit: int,
        now: datetime,
        *,
        after: tuple[Any, ...] | None = None,
        before: tuple[Any, ...] | None = None,
        budget_ms: float | None = None,
        total: int | None = None,
    ) -> Page:
        """``limit`` rows from position ``offset``.

        ``after``: the sort key of row ``offset - 1``; ``before``: the sort key of row
        ``offset + limit``, when the caller holds that row (scrolling down, or up). Either
        turns the read into an index seek (keyset) instead of counting ``offset`` rows.
        ``budget_ms``: stop and raise :class:`ReadOverBudget` when SQLite has worked this
        long (needs :attr:`bounded_reads`).
        ``total``: the number of rows the caller counted for ``query``. A position past the
        middle is then read from the other end (``OFFSET total - offset - limit`` in the
        reverse order): a database counts the rows it skips, and PostgreSQL walks them one by
        one (row 900,000 of 1,000,000: 100,000 entries skipped instead of 900,000). Were rows
        added or removed since the count, the page is off by as many rows, as a read from the
        top is when rows arrive above it; the model recounts on every change.
        """
        if limit <= 0:
            return Page(offset, ())
        sort_column = self._sort_column(query.sort)
        keyset = self.supports_keyset(query.sort)
        backwards = keyset and after is None and before is not None
        # 与信期限 keeps its undated orders last in both directions: no mirror to read from.
        from_end = (
            after is None
            and before is None
            and total is not None
            and offset > total // 2
            and query.sort is not SortKey.AUTH_EXPIRY
        )
        slice_query, slice_offset = query, offset
        if from_end:
            assert total is not None
            if offset >= total:
                return Page(offset, ())
            limit = min(limit, total - offset)
            slice_query, slice_offset = replace(query, descending=not query.descending), total - offset - limit
        with self._engine.connect() as connection, _budget(connection, budget_ms):
            walk = self._walks(connection, query, limit + (0 if after is not None or backwards else slice_offset))
            ids_query = select(Order.id, sort_column)
            if self._needs_customer_join(query, for_count=False):
                ids_query = ids_query.join(Customer, Customer.id == Order.customer_id)
            ids_query = ids_query.where(*self._conditions(query.filter, now, walk=walk))
            position = tuple_(sort_column, Order.id)
            seek: Select[Any] | None = None
            beyond: ColumnElement[bool] | None = None  # the keyset condition, when seeking
            if keyset and after is not None:
                beyond = position < tuple_(*after) if query.descending else position > tuple_(*after)
                seek = ids_query.where(beyond).order_by(*self._order_by(query))
            elif backwards:
                assert before is not None
                beyond = position > tuple_(*before) if query.descending else position < tuple_(*before)
                seek = ids_query.where(beyond).order_by(*self._order_by(query, reverse=True))
            branches = self._status_branches(query, now) if keyset else None
            if branches is not None:  # one ordered read per branch, merged (PostgreSQL)
                if seek is not None:
                    keyed = self._merged(connection, query, branches, beyond, 0, limit, reverse=backwards)
                else:
                    keyed = self._merged(connection, slice_query, branches, None, slice_offset, limit)
            elif seek is not None:
                keyed = list(connection.execute(seek.limit(_literal(limit))).all())
            else:  # by position, in the list's order (dated orders first for 与信期限)
                keyed = self._slice(connection, ids_query, slice_query, slice_offset, limit)
            by_id = self._rows(connection, {row_id: (value, row_id) for row_id, value in keyed}, now)
        if backwards or from_end:
            keyed.reverse()
        rows = tuple(by_id[row_id] for row_id, _value in keyed if row_id in by_id)
        return Page(offset, rows)

    def page_within(self, query: OrderQuery, offset: int, limit: int, now: datetime, budget_ms: float) -> Page | None:
        """The page if SQLite reads it within ``budget_ms``, else None (nothing was read).

        None also when reads cannot be bounded here or the store failed: the caller reads
        the page on a worker instead, where a failure is reported the usual way. A search is
        always left to the worker: SQLite gathers an FTS5 match in one step the budget cannot
        stop (「田中」 at 1,000,000 orders: ~20 ms on the caller's thread, then read again).
        """
        if not self.bounded_reads or (self._fts and search_terms(query.filter.text)):
            return None
        try:
            return self.page(query, offset, limit, now, budget_ms=budget_ms)
        except ReadOverBudget:
            return None
        except SQLAlchemyError:
            log.debug("bounded read failed; left to the worker", exc_info=True)
            return None

    def rows_by_number(self, numbers: Iterable[str], now: datetime) -> dict[str, OrderRow]:
        """The current list rows of these orders (after an operation changed them)."""
        wanted = list(dict.fromkeys(numbers))
        if not wanted:
            return {}
        with self._engine.connect() as connection:
            ids = list(connection.scalars(select(Order.id).where(Order.number.in_(wanted))))
            rows = self._rows(connection, dict.fromkeys(ids, ()), now)
        return {row.number: row for row in rows.values()}

    def numbers_in(self, query: OrderQuery, offset: int, limit: int, now: datetime) -> list[str]:
        """Order numbers at rows ``offset`` .. ``offset + limit - 1`` (for a selection not fully on screen)."""
        statement = select(Order.number)
        if self._needs_customer_join(query, for_count=False):
            statement = statement.join(Customer, Customer.id == Order.customer_id)
        statement = statement.where(*self._conditions(query.filter, now))
        with self._engine.connect() as connection:
            return [row[0] for row in self._slice(connection, statement, query, offset, limit)]

    def next_needing_action(
        self, query: OrderQuery, row: int, now: datetime, *, backwards: bool = False, chunk: int = 2_000
    ) -> int | None:
        """The row of the next order after ``row`` (before it, ``backwards``) in the list of
        ``query`` that needs action (the 要対応 filter's rule), or None when there is none.

        Read a chunk of rows at a time in the list's order, each with one flag, so the answer is
        the very row the list shows, whatever the sort (issue 16 item 1: F8 / Shift+F8).
        """
        flag = case((_needs_action(to_utc(now), query.filter.action_days), 1), else_=0)
        statement = select(flag)
        if self._needs_customer_join(query, for_count=False):
            statement = statement.join(Customer, Customer.id == Order.customer_id)
        statement = statement.where(*self._conditions(query.filter, now))
        with self._engine.connect() as connection:
            if not backwards:
                start = max(row + 1, 0)
                while True:
                    flags = [r[0] for r in self._slice(connection, statement, query, start, chunk)]
                    for position, value in enumerate(flags):
                        if value:
                            return start + position
                    if len(flags) < chunk:
                        return None
                    start += chunk
            end = row
            while end > 0:
                start = max(end - chunk, 0)
                flags = [r[0] for r in self._slice(connection, statement, query, start, end - start)]
                for position in range(len(flags) - 1, -1, -1):
                    if flags[position]:
                        return start + position
                end = start
            return None

    def _slice(
        self, connection: Connection, statement: Select[Any], query: OrderQuery, offset: int, limit: int
    ) -> list[Any]:
        """Rows ``offset`` .. ``offset + limit - 1`` of ``statement`` (filtered, not yet ordered)
        in the list's order.

        Sorted by 与信期限 (issue 16 item 5), the orders with an authorization expiry come first,
        soonest first ascending (latest first descending), and the orders without one last, in
        both directions. Read as two index ranges of ``ix_orders_auth_expires_at`` (dated, then
        undated) rather than ``ORDER BY … IS NULL``, which would sort every order at 1,000,000.
        """
        if limit <= 0:
            return []
        if query.sort is not SortKey.AUTH_EXPIRY:
            ordered = statement.order_by(*self._order_by(query))
            if offset:
                ordered = ordered.offset(_literal(offset))
            return list(connection.execute(ordered.limit(_literal(limit))).all())
        expiry = Order.auth_expires_at
        if query.descending:
            dated = statement.where(expiry.is_not(None)).order_by(expiry.desc(), Order.id.desc())
            undated = statement.where(expiry.is_(None)).order_by(Order.id.desc())
        else:
            dated = statement.where(expiry.is_not(None)).order_by(expiry.asc(), Order.id.asc())
            undated = statement.where(expiry.is_(None)).order_by(Order.id.asc())
        rows = list(connection.execute(dated.offset(_literal(offset)).limit(_literal(limit))).all())
        if len(rows) == limit:
            return rows
        if rows:
            skip = 0  # the dated orders end on this page: the undated follow from their first
        else:
            counted = select(func.count()).select_from(dated.order_by(None).subquery())
            skip = max(offset - int(connection.scalar(counted) or 0), 0)
        more = undated.offset(_literal(skip)).limit(_literal(limit - len(rows)))
        return rows + list(connection.execute(more).all())

    def _status_branches(self, query: OrderQuery, now: datetime) -> list[ColumnElement[bool]] | None:
        """The disjoint halves of a status filter that R9's clock split turns into an OR (承認完了:
        stored, or 承認済 past its expiry), when the list is filtered by status alone, on
        PostgreSQL; else None.

        No one index returns such an OR in list order, and PostgreSQL then walks ``ordered_at``
        looking for matches: the lapsed authorizations are the old orders, so it passed 90,000
        rows (248 ms at 1,000,000 orders). Each half is an index range in list order instead,
        read to the page's depth and merged (:meth:`_merged`): 0.1 ms. SQLite plans the OR
        itself (two index ranges, then a sort of the matches).
        """
        flt = query.filter
        if not self._status_union or not flt.payment_statuses:
            return None
        if replace(flt, payment_statuses=frozenset()) != OrderFilter(action_days=flt.action_days):
            return None
        terms = _payment_status_terms(flt.payment_statuses, to_utc(now))
        return terms if len(terms) > 1 else None

    def _merged(
        self,
        connection: Connection,
        query: OrderQuery,
        branches: list[ColumnElement[bool]],
        beyond: ColumnElement[bool] | None,
        offset: int,
        limit: int,
        *,
        reverse: bool = False,
    ) -> list[Any]:
        """Rows ``offset`` .. ``offset + limit - 1`` (past ``beyond``, when seeking) of the list
        filtered by ``branches`` OR'd together: each branch read in the list's order to that
        depth, the reads merged (UNION ALL: the branches are disjoint), then sliced."""
        sort_column = self._sort_column(query.sort)
        order = self._order_by(query, reverse=reverse)
        parts = []
        for condition in branches:
            part = select(Order.id.label("id"), sort_column.label("value")).where(condition)
            if beyond is not None:
                part = part.where(beyond)
            # Each as a subquery: SQLite allows no ORDER BY or LIMIT on a compound's member itself.
            ranged = part.order_by(*order).limit(_literal(offset + limit)).subquery()
            parts.append(select(ranged.c.id, ranged.c.value))
        merged = union_all(*parts).subquery()
        descending = query.descending != reverse
        keys = (merged.c.value, merged.c.id)
        outer = select(merged.c.id, merged.c.value).order_by(*(k.desc() if descending else k.asc() for k in keys))
        if offset:
            outer = outer.offset(_literal(offset))
        return list(connection.execute(outer.limit(_literal(limit))).all())

    @staticmethod
    def supports_keyset(sort: SortKey) -> bool:
        """Keyset reads need a sort column that is never NULL and lives on ``orders`` itself."""
        return sort not in (SortKey.CUSTOMER, SortKey.PAYMENT_STATUS, SortKey.AUTH_EXPIRY)

    # --- SQL pieces ----------------------------------------------------------------------

    @staticmethod
    def _sort_column(sort: SortKey) -> InstrumentedAttribute[Any]:
        return {
            SortKey.NUMBER: Order.number,
            SortKey.ORDERED_AT: Order.ordered_at,
            SortKey.CUSTOMER: Customer.name,
            SortKey.KIND: Order.kind,
            SortKey.TOTAL: Order.total,
            # Sorted by the stored badge (indexed); an authorization that lapsed since the last
            # write reads 承認完了 (R9) but sorts with 承認済 until the next write or sync.
            SortKey.PAYMENT_STATUS: Order.payment_status,
            SortKey.ORDER_STATUS: Order.order_status,
            SortKey.AUTH_EXPIRY: Order.auth_expires_at,
        }[sort]

    def _order_by(self, query: OrderQuery, *, reverse: bool = False) -> list[ColumnElement[Any]]:
        columns: list[InstrumentedAttribute[Any]] = [self._sort_column(query.sort)]
        if query.sort is SortKey.CUSTOMER:
            columns.append(Customer.id)  # follows ix_customers_name, then ix_orders_customer_id
        columns.append(Order.id)  # unique tie-breaker: a stable order for paging
        descending = query.descending != reverse
        return [c.desc() if descending else c.asc() for c in columns]

    @staticmethod
    def _needs_customer_join(query: OrderQuery, *, for_count: bool) -> bool:
        """Only sorting by customer needs the join; filters and search work on ``orders`` alone."""
        return not for_count and query.sort is SortKey.CUSTOMER

    def _conditions(self, flt: OrderFilter, now: datetime, *, walk: bool = False) -> list[ColumnElement[bool]]:
        now = to_utc(now)
        conditions: list[ColumnElement[bool]] = []
        if flt.payment_statuses:
            conditions.append(_payment_status_in(flt.payment_statuses, now))
        if flt.order_statuses:
            conditions.append(Order.order_status.in_(sorted(s.value for s in flt.order_statuses)))
        if flt.kinds:
            conditions.append(Order.kind.in_(sorted(k.value for k in flt.kinds)))
        if flt.date_from is not None:
            conditions.append(Order.ordered_at >= _jst_midnight(flt.date_from))
        if flt.date_to is not None:
            conditions.append(Order.ordered_at < _jst_midnight(flt.date_to + timedelta(days=1)))
        if flt.needs_action:
            conditions.append(_needs_action(now, flt.action_days))
        terms = search_terms(flt.text)
        if terms:
            conditions.append(self._search(terms, walk=walk))
        return conditions

    def _search(self, terms: str, *, walk: bool = False) -> ColumnElement[bool]:
        """Orders whose number, customer name, reading, e-mail or phone holds ``terms``, compared
        as core.search_text folds them (kana, ①, ＡＢＣ; a phone by its digits, issue 16 item 6).

        ``walk``: SQLite tests each order against the matches while it walks the sort's index
        (see :meth:`_walks`) instead of looking the matches up one by one."""
        if self._pg_search:
            return _pg_search(terms, walk=walk)
        if not self._fts:
            pattern = _like_pattern(fold(terms))
            phone = phone_query(terms)
            customers = select(Customer.id).where(
                or_(
                    Customer.name.ilike(pattern, escape="\\"),
                    Customer.name_reading.ilike(pattern, escape="\\"),
                    Customer.email.ilike(pattern, escape="\\"),
                    *([Customer.phone.ilike(_like_pattern(phone), escape="\\")] if phone else []),
                )
            )
            return or_(Order.number.ilike(pattern, escape="\\"), Order.customer_id.in_(customers))
        # ``+orders.id`` keeps SQLite from driving the read from the matches (walk mode).
        order_id = literal_column("+orders.id", Integer) if walk else Order.id
        fts = _fts_match(terms)
        if fts is None:
            return _number_prefix(terms)
        table, match = fts
        matched = text(f"SELECT rowid FROM {table} WHERE {table} MATCH :q").bindparams(q=match)
        found = order_id.in_(matched.columns(column("rowid", Integer)))
        if table == "order_search":
            return found
        if walk:  # as a set of ids too, so the walk stays inside the sort's index (no row reads)
            numbered = aliased(Order)
            return or_(found, order_id.in_(select(numbered.id).where(_number_prefix(terms, numbered))))
        return or_(found, _number_prefix(terms))

    @staticmethod
    def _pg_walks(connection: Connection, terms: str, depth: int) -> bool:
        """:meth:`_walks` on PostgreSQL, from the planner's estimate of the matching customers
        (the statistics of the search indexes: 9,420 estimated for 9,945 「田中」 customers at
        1,000,000 orders) and of the orders. A walk passes each order at ~1/3 of the cost of
        looking one up, sorting it and reading it back. A piece search hashes its customers
        first, so it walks only while they are at most ``_PG_WALK_HASHED`` (~200 ms to hash).
        """
        _by_number, matches, stored = _pg_customers(terms)
        if matches is None:
            return False
        customers = select(Customer.id).where(matches).compile(dialect=connection.dialect)
        plan = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {customers}", dict(customers.params)).scalar()
        estimated = float(plan[0]["Plan"]["Plan Rows"]) if plan else 0.0
        if estimated < 1 or (not stored and estimated > _PG_WALK_HASHED):
            return False
        orders = float(connection.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'orders'")) or 0)
        return depth * max(orders, 1.0) / estimated < _PG_WALK_FACTOR * estimated

    def _text_count(self, connection: Connection, terms: str) -> int:
        """The number of orders the search of ``terms`` alone finds, read from the FTS5 indexes
        without visiting ``orders`` (every indexed row is an order: migration 0002's triggers):
        16,000 matches at 1,000,000 orders in 2 ms instead of 60–90 ms."""
        fts = _fts_match(terms)
        if fts is None:
            return int(connection.scalar(select(func.count()).select_from(Order).where(_number_prefix(terms))) or 0)
        table, match = fts
        found = int(connection.scalar(text(f"SELECT count(*) FROM {table} WHERE {table} MATCH :q"), {"q": match}) or 0)
        if table == "order_search":
            return found
        # The order numbers that start with the text and are not among the name matches (their
        # subquery runs only when such a number exists).
        matched = text(f"SELECT rowid FROM {table} WHERE {table} MATCH :q").bindparams(q=match)
        extra = (
            select(func.count())
            .select_from(Order)
            .where(_number_prefix(terms), Order.id.not_in(matched.columns(column("rowid", Integer))))
        )
        return found + int(connection.scalar(extra) or 0)

    def _walks(self, connection: Connection, query: OrderQuery, depth: int) -> bool:
        """Whether a search-only page of depth ``depth`` (offset + limit) is read faster by
        walking the sort's index and testing each order against the matches than by looking
        every match up and sorting them.

        SQLite cannot tell: it always starts from the matches. At 1,000,000 orders, 16,000
        matches cost ~65 ms that way; walking ``ordered_at`` to the first 100 of them passes
        ~6,000 index entries in ~10 ms. A walk passes about ``depth × orders / matches``
        entries, each ~1/8 of a lookup, so it wins while that stays under 8 × matches (a rare
        name, or a deep page, goes by the matches as before).
        """
        terms = _text_only(query.filter)
        if terms is None or query.sort not in _WALKABLE_SORTS:
            return False
        if self._pg_search:
            return self._pg_walks(connection, terms, depth)
        if not self._fts:
            return False
        fts = _fts_match(terms)
        if fts is None:
            return False
        table, match = fts
        sample = text(f"SELECT count(*) FROM (SELECT rowid FROM {table} WHERE {table} MATCH :q LIMIT :n)")
        matches = int(connection.scalar(sample, {"q": match, "n": _WALK_SAMPLE}) or 0)
        if matches == 0:
            return False
        orders = int(connection.scalar(select(func.max(Order.id))) or 0)
        return depth * orders / matches < _WALK_FACTOR * matches

    @staticmethod
    def _rows(connection: Any, keys: Mapping[int, tuple[Any, ...]], now: datetime) -> dict[int, OrderRow]:
        """The list rows of these order ids, each with its sort key from ``keys``.

        Runs for every page the window shows, so the loop stays lean: enum members come from
        dictionaries and each row is built once.
        """
        if not keys:
            return {}
        status = effective_payment_status(to_utc(now)).label("effective_status")
        statement = (
            select(
                Order.id,
                Order.number,
                Order.ordered_at,
                Customer.name,
                Customer.email,
                Order.kind,
                Order.total,
                status,
                Order.order_status,
                Order.auth_expires_at,
                Order.environment,
                Order.payment_method,
                Order.charge_permission_id,
                ChargePermission.type,
                ChargePermission.amount_limit,
                ChargePermission.amount_balance,
            )
            .join(Customer, Customer.id == Order.customer_id)
            .outerjoin(ChargePermission, ChargePermission.id == Order.charge_permission_id)
            .where(Order.id.in_(list(keys)))
        )
        rows: dict[int, OrderRow] = {}
        authorized = PaymentStatus.AUTHORIZED
        for (
            order_id,
            number,
            ordered_at,
            name,
            email,
            kind,
            total,
            effective,
            order_status,
            expires,
            environment,
            method,
            permission,
            permission_type,
            limit,
            balance,
        ) in connection.execute(statement):
            label = _PAYMENT_STATUSES[effective] if effective else None  # None: no payment (決済不要)
            rows[order_id] = OrderRow(
                id=order_id,
                number=number,
                ordered_at=ordered_at,
                customer_name=name,
                customer_email=email,
                kind=_KINDS[kind],
                total=total,
                payment_status=label,
                order_status=_ORDER_STATUSES[order_status],
                auth_expires_at=expires,
                auth_expiry=expiry_text(expires, now) if label is authorized else "",
                sort_key=keys[order_id],
                environment=environment,
                no_badge=(
                    no_badge_label(
                        kind,
                        method,
                        permission is not None,
                        total=total,
                        unknown_charges=permission_holds_a_charge(permission_type, limit, balance),
                    )
                    if label is None
                    else ""
                ),
            )
        return rows


_PAYMENT_STATUSES: dict[str, PaymentStatus] = {s.value: s for s in PaymentStatus}
_KINDS: dict[str, OrderKind] = {k.value: k for k in OrderKind}
_ORDER_STATUSES: dict[str, OrderStatus] = {s.value: s for s in OrderStatus}


def _like_pattern(terms: str) -> str:
    return "%" + terms.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


# Sorts that follow an index of ``orders`` (each ends with the row id), so a search can walk it.
_WALKABLE_SORTS = frozenset(
    {SortKey.NUMBER, SortKey.ORDERED_AT, SortKey.KIND, SortKey.TOTAL, SortKey.PAYMENT_STATUS, SortKey.ORDER_STATUS}
)
_WALK_SAMPLE = 50_000  # matches counted at most to choose how a page is read
_WALK_FACTOR = 8  # one order looked up by id costs about as much as 8 index entries walked
_PG_WALK_FACTOR = 3  # PostgreSQL: an order looked up and sorted ≈ 3 orders walked (measured at 1,000,000)
_PG_WALK_HASHED = 100_000  # matching customers hashed at most for a walk


def _text_only(flt: OrderFilter) -> str | None:
    """The search terms when the filter is a search and nothing else, else None."""
    terms = search_terms(flt.text)
    if not terms or replace(flt, text="") != OrderFilter(action_days=flt.action_days):
        return None
    return terms


def _number_prefix(terms: str, orders: type[Order] = Order) -> ColumnElement[bool]:
    """The order number starts with ``terms`` (an index range); ``orders``: Order or an alias of it."""
    return and_(orders.number >= terms, orders.number < terms + "\U0010ffff")


def _fts_match(terms: str) -> tuple[str, str] | None:
    """The SQLite FTS5 table and MATCH expression of a search: the trigram index for 3+
    characters, the character-pair index of names and readings for 1–2 (see migrations 0002,
    0014), or None when the text can only be the start of an order number."""
    folded = fold(terms)
    if len(folded) >= 3:
        phone = phone_query(terms)
        return "order_search", _fts_phrase(folded) + (f" OR phone : {_fts_phrase(phone)}" if phone else "")
    compact = "".join(ch for ch in folded if not ch.isspace() and ch != END_MARK)
    if not compact or not any(unicodedata.category(ch)[0] in "LN" for ch in compact):
        return None
    return "order_search_bigram", _fts_phrase(compact) + ("*" if len(compact) == 1 else "")


def _pg_customers(terms: str) -> tuple[ColumnElement[bool], ColumnElement[bool] | TextClause | None, bool]:
    """The PostgreSQL search of ``terms`` in two halves: the condition on the order number, the
    condition on ``customers`` (None when the text can only be the start of an order number),
    and whether the latter is a trigram test of the stored text (else character pieces).

    3+ characters: a substring of the order number, or of the folded name (as written or without
    spaces), reading, e-mail or phone digits, case-insensitively (``pg_trgm``). 1–2 characters: a
    piece of the folded name or reading (without spaces) or the start of the order number.
    """
    folded = fold(terms)
    if len(folded) >= 3:
        pattern = _like_pattern(folded)
        # customers.search_text: the stored kanjo_search_text(name, email, name_reading, phone) of 0016.
        searched = literal_column("customers.search_text", String)
        matches = [searched.ilike(pattern, escape="\\")]
        phone = phone_query(terms)
        if phone:
            matches.append(searched.ilike(_like_pattern(phone), escape="\\"))
        return Order.number.ilike(pattern, escape="\\"), or_(*matches), True
    by_number = _number_prefix(terms)
    compact = "".join(ch for ch in folded if not ch.isspace() and ch != END_MARK)
    if not compact or not any(unicodedata.category(ch)[0] in "LN" for ch in compact):
        return by_number, None, False
    pieces = text(
        "kanjo_name_grams(customers.name, customers.name_reading) @> ARRAY[lower(CAST(:piece AS text))]"
    ).bindparams(piece=compact)
    return by_number, pieces, False


def _pg_search(terms: str, *, walk: bool = False) -> ColumnElement[bool]:
    """The SQLite search's answers from the PostgreSQL indexes of migrations 0002, 0014 and 0016.

    ``walk`` (see ``OrderPages._walks``): the orders are read in the sort's index order and each
    is tested: its customer looked up by id and its stored search text compared (trigram
    searches), or its customer id found in the matching customers, hashed once (pieces).
    """
    by_number, matches, stored = _pg_customers(terms)
    if matches is None:
        return by_number
    customers = select(Customer.id).where(matches)
    if walk and stored:
        by_customer: ColumnElement[bool] = exists(select(Customer.id).where(Customer.id == Order.customer_id, matches))
    elif walk:
        by_customer = Order.customer_id.in_(customers)  # under OR: a hashed subplan, not a join
    else:
        # ``= ANY(ARRAY(SELECT …))`` is read once, before the orders, so both sides are index reads
        # that PostgreSQL ORs together (a plain IN (SELECT …) would be checked row by row).
        by_customer = Order.customer_id == any_(func.array(customers.scalar_subquery()))
    return or_(by_number, by_customer)


@contextmanager
def _budget(connection: Connection, budget_ms: float | None) -> Iterator[None]:
    """Stop the statements run inside after ``budget_ms`` milliseconds (SQLite's progress handler)."""
    if budget_ms is None:
        yield
        return
    raw = connection.connection.driver_connection
    if not isinstance(raw, sqlite3.Connection):
        raise ReadOverBudget("only SQLite reads can be bounded")
    deadline = _time.perf_counter() + budget_ms / 1000
    stopped = False

    def over() -> int:
        nonlocal stopped
        stopped = _time.perf_counter() > deadline
        return int(stopped)  # non-zero: SQLite stops the statement ("interrupted")

    raw.set_progress_handler(over, _BUDGET_CHECK_STEPS)
    try:
        yield
    except OperationalError as exc:
        if stopped:
            raise ReadOverBudget(f"over {budget_ms:g} ms") from exc
        raise
    finally:
        raw.set_progress_handler(None, 0)
    if stopped:  # stopped inside a fetch that SQLAlchemy had already begun: do not trust it
        raise ReadOverBudget(f"over {budget_ms:g} ms")


def _literal(value: int) -> ColumnElement[Any]:
    """LIMIT/OFFSET written into the SQL: SQLite plans a bound LIMIT as if it were large and may
    then walk the whole date index (measured: 140 ms instead of 16 ms for 承認完了 at 1,000,000)."""
    return literal_column(str(int(value)))


def _jst_midnight(day: date) -> datetime:
    return to_utc(datetime.combine(day, time(0, 0), tzinfo=JST))


def _payment_status_in(statuses: frozenset[PaymentStatus], now: datetime) -> ColumnElement[bool]:
    """The effective badge (R9: a lapsed 承認済 reads 承認完了) is one of ``statuses``, in index-friendly SQL."""
    return or_(*_payment_status_terms(statuses, now))


def _payment_status_terms(statuses: frozenset[PaymentStatus], now: datetime) -> list[ColumnElement[bool]]:
    """:func:`_payment_status_in` as disjoint terms (each stored badge in one term only)."""
    stored = Order.payment_status
    plain = sorted(s.value for s in statuses if s not in (PaymentStatus.AUTHORIZED, PaymentStatus.AUTH_LAPSED))
    terms: list[ColumnElement[bool]] = []
    if plain:
        terms.append(stored.in_(plain))
    if PaymentStatus.AUTHORIZED in statuses and PaymentStatus.AUTH_LAPSED in statuses:
        terms.append(stored.in_([PaymentStatus.AUTHORIZED.value, PaymentStatus.AUTH_LAPSED.value]))
    elif PaymentStatus.AUTHORIZED in statuses:
        # A stored 承認済 always has an authorization expiry (refresh_order: the badge needs an
        # Authorized charge), so no IS NULL branch: one index range, which SQLite plans well.
        terms.append(and_(stored == PaymentStatus.AUTHORIZED.value, Order.auth_expires_at > now))
    elif PaymentStatus.AUTH_LAPSED in statuses:
        terms.append(stored == PaymentStatus.AUTH_LAPSED.value)
        terms.append(and_(stored == PaymentStatus.AUTHORIZED.value, Order.auth_expires_at <= now))
    return terms


def _needs_action(now: datetime, days: int) -> ColumnElement[bool]:
    days = max(0, min(days, MAX_ACTION_DAYS))
    return or_(
        Order.payment_status.in_([s.value for s in NEEDS_ACTION_STATUSES]),
        and_(
            Order.payment_status == PaymentStatus.AUTHORIZED.value,
            or_(
                Order.auth_expires_at <= now + timedelta(days=days),  # lapses within N days (R9)
                Order.total > Order.authorized_amount + Order.captured_amount,  # amount rose: re-auth (R28, R40)
            ),
        ),
        Order.order_status == OrderStatus.ON_HOLD.value,
        # Issue 15: an open cancellation request, or a return awaiting the item (or its refund).
        Order.id.in_(select(CancellationRequest.order_id).where(CancellationRequest.state.in_(DESK_ACTION_STATES))),
        # Issue 12: a reservation whose authorization lapses before its planned shipping day (R9, R12;
        # core.subscriptions.rules.reservation_check says what to do and when).
        # Reservations only, checked before the plan is looked up (one row's test, not a join
        # of the whole list: 330 ms at 1,000,000 orders as an IN over a join).
        and_(
            Order.kind == OrderKind.RESERVATION.value,
            Order.auth_expires_at.is_not(None),
            exists(
                select(ReservationPlan.order_number).where(
                    ReservationPlan.order_number == Order.number,
                    Order.auth_expires_at < tokyo_day_start(ReservationPlan.planned_ship),
                )
            ),
        ),
    )


DESK_ACTION_STATES = ("open", "replied", "awaiting_return", "received")  # core.shipping.service.ACTION_STATES
