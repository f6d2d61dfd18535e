"""Orders brought in from the shop system: its order export, a Charge Permission ID, a link.

The Amazon Pay API cannot list a merchant's orders (R57): a desk learns of them from the shop
system's export (R58) or from a Charge Permission ID the operator types. The parsers in
``core.imports`` turn a file into ``ImportedOrder | RefusedRow``; this service plans and writes.

- ``preview`` writes nothing; it reads each new linked order from Amazon Pay (Get Charge
  Permission, Get Charge for each charge): a 404 or a charge of another permission is a
  refused row.
- ``apply`` does the same check pass, then refuses everything while a row is refused (unless
  ``skip_bad``), then writes in chunks of whole orders, each chunk one transaction under the
  per-order locks, so a cancel between chunks leaves the orders already imported whole and the
  rest untouched. The file is parsed once and each linked order read from Amazon Pay once: the
  check pass keeps the accepted orders and its readings in a private temporary file
  (``_Scratch``) that the write pass reads back, so memory stays flat whatever the file's size
  (the summary keeps exact counts and a bounded sample of the planned orders). The readings
  are the check pass's: a change made at Amazon in between is picked up by the next sync.
- A re-import adds nothing; a changed row updates only what the shop system owns (order status,
  shipping address, items, tracking number). What Amazon Pay owns (charges, captures, refunds,
  the badge, the total of a linked order) is never taken from a file: a different total is
  flagged on the order (``shop_total_mismatch``).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Table, select, update
from sqlalchemy.orm import Session, selectinload, sessionmaker

from core.amazonpay.errors import ResourceNotFoundError
from core.amazonpay.models import ChargeInfo, ChargePermissionInfo
from core.clock import Clock
from core.db import search_index
from core.db.bulk import bulk_insert, insert_returning_ids
from core.db.checkpoints import BackgroundCheckpoints
from core.db.engine import sqlite_path
from core.db.locks import lock_order
from core.db.schema import (
    Charge,
    ChargePermission,
    Customer,
    ImportMapping,
    ImportRecord,
    JournalEntry,
    Order,
    OrderItem,
)
from core.domain import ChargePurpose, ChargeState, OrderKind, OrderStatus
from core.environment import NO_ENVIRONMENT, connection_environment
from core.errors import BadInput, GatewayError, NotFound, RuleViolation
from core.gateway import Gateway
from core.imports import reader, staging
from core.imports.mapping import ColumnMapping
from core.imports.model import DetectedFile, ImportedItem, ImportedOrder, ImportNotice, RefusedRow, pickled_by_fields
from core.imports.rows import (
    customer_values,
    imported_detail,
    imported_event,
    item_row,
    item_rows,
    order_status_of,
    order_values,
    plain_order_row,
)
from core.imports.staging import StagedOrders
from core.imports.values import CHARGE_EXAMPLE, check_charge_id, check_charge_permission_id
from core.journal import Journal
from core.ledger import (
    apply_charge_info,
    apply_charge_permission_info,
    instrument_from_descriptor,
    new_charge_row,
    refresh_order,
)
from core.order_numbers import validate_order_number
from core.settings import SettingsStore
from core.status import charge_permission_expiry

CHUNK_ORDERS = 2000  # orders per write transaction (about a second of the write lock)
PROGRESS_EVERY = 200  # orders between two progress reports while checking (and one check batch)
# The summary keeps every count exact but only a bounded sample of the planned orders, so an
# import's memory does not grow with the file: the first ORDER_SAMPLE orders, plus updates up to
# UPDATE_SAMPLE, plus mismatched order numbers up to MISMATCH_SAMPLE.
ORDER_SAMPLE = 1_000
UPDATE_SAMPLE = 10_000
MISMATCH_SAMPLE = 1_000
NOTICE_SAMPLE = 1_000
READ_THREADS = 4  # Amazon Pay reads of one check batch run on this many threads; writes stay here
Rows = Iterable[ImportedOrder | RefusedRow] | Callable[[], Iterable[ImportedOrder | RefusedRow]]

SHOP_FIELDS = (
    "order_status",
    "ship_name",
    "ship_postal_code",
    "ship_prefecture",
    "ship_address",
    "ship_phone",
    "items",
    "tracking_number",
)


@pickled_by_fields
@dataclass(frozen=True)
class PlannedOrder:
    number: str
    line: int
    action: str  # "add" | "update" | "unchanged"
    fields: tuple[str, ...] = ()
    linked: bool = False
    amazon_pay: bool = True  # paid with Amazon Pay (not otherwise, not a marketplace order)
    notice: str | None = None  # what the operator must do by hand (a cancel the import did not take)

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "line": self.line,
            "action": self.action,
            "fields": list(self.fields),
            "linked": self.linked,
            "amazon_pay": self.amazon_pay,
        }


@dataclass(frozen=True)
class ImportSummary:
    format: str
    encoding: str
    added: int
    updated: int
    unchanged: int
    linked: int
    unlinked: int
    refused: tuple[RefusedRow, ...]
    orders: tuple[PlannedOrder, ...] = ()
    dry_run: bool = True
    cancelled: bool = False
    file_name: str = ""
    sha256: str = ""
    mismatches: tuple[str, ...] = ()  # order numbers whose file total differs from Amazon's (a sample)
    orders_total: int = 0  # planned orders in all; ``orders`` holds a bounded sample of them
    mismatches_total: int = 0
    # What the file says that the import does not do by itself, for the operator (item 1: a
    # キャンセル of an order whose money is at Amazon); a bounded sample, and the exact count.
    notices: tuple[ImportNotice, ...] = ()
    notices_total: int = 0
    blocked: bool = False  # refused rows stopped the import: nothing was written

    @property
    def orders_truncated(self) -> bool:
        return len(self.orders) < self.orders_total

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "encoding": self.encoding,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "linked": self.linked,
            "unlinked": self.unlinked,
            "refused": [{"line": r.line, "column": r.column, "reason": r.reason} for r in self.refused],
            "dry_run": self.dry_run,
            "cancelled": self.cancelled,
            "file_name": self.file_name,
            "sha256": self.sha256,
            "mismatches": list(self.mismatches),
            "orders": [o.to_json() for o in self.orders],
            "orders_total": self.orders_total,
            "orders_truncated": self.orders_truncated,
            "mismatches_total": self.mismatches_total,
            "notices": [{"line": n.line, "number": n.number, "reason": n.reason} for n in self.notices],
            "notices_total": self.notices_total,
            "blocked": self.blocked,
        }


@dataclass(frozen=True)
class ImportProgress:
    """Where a preview or an import stands, for a progress bar with cancel.

    ``phase`` is "check" while the file is read and every row checked (nothing written; the
    number of orders is known only at its end, so ``total`` is 0) and "write" while whole orders
    are written (``total`` = the orders to write).
    """

    phase: str
    done: int
    total: int


ProgressCallback = Callable[[ImportProgress], None]
CancelCheck = Callable[[], bool]


class ImportRefused(BadInput):
    """Rows were refused and ``skip_bad`` was not given: nothing was written."""

    def __init__(self, message: str, refused: tuple[RefusedRow, ...], summary: ImportSummary | None = None) -> None:
        super().__init__(message)
        self.refused = refused
        self.summary = summary  # what was checked (nothing written), for ``--json``


@dataclass(frozen=True)
class _Amazon:
    cp: ChargePermissionInfo
    charges: tuple[ChargeInfo, ...]


class _Scratch:
    """What one import must remember about the whole file, on disk instead of in memory.

    A private temporary SQLite file (``mkstemp``: mode 0600, it holds buyers' names and
    addresses read from Amazon Pay), removed when the import ends. It holds the order numbers
    seen (a number on two separate places of the file is refused), which order claimed each
    Charge Permission and Charge, and, for ``apply``, the check pass's Amazon Pay readings that
    the write pass uses instead of reading Amazon Pay a second time, and the accepted orders
    themselves (the file is parsed once). The import's memory thus stays flat; the file takes
    about 0.9 KB an order (~90 MB for 100,000). It lies beside a SQLite store (on its disk, in
    its private folder) rather than in a temporary folder that may be memory (tmpfs).
    """

    def __init__(self, *, keep_reads: bool, folder: Path | None = None) -> None:
        self.keep_reads = keep_reads
        self.accepted = 0  # orders kept by ``keep_orders`` so far
        self.staged: StagedOrders | None = None  # set by ``apply`` on a SQLite store
        try:
            fd, name = tempfile.mkstemp(prefix=".kanjo-import-", suffix=".sqlite3", dir=folder)
        except OSError:  # a folder we may read but not write: the system's temporary folder
            fd, name = tempfile.mkstemp(prefix=".kanjo-import-", suffix=".sqlite3")
        os.close(fd)
        self.path = Path(name)
        self._db = sqlite3.connect(name, isolation_level=None)
        self._db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
            "CREATE TABLE seen (number TEXT PRIMARY KEY) WITHOUT ROWID;"
            "CREATE TABLE claims (id TEXT PRIMARY KEY, number TEXT NOT NULL) WITHOUT ROWID;"
            "CREATE TABLE readings (number TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;"
            "CREATE TABLE orders (first INTEGER PRIMARY KEY, n INTEGER NOT NULL, data BLOB NOT NULL);"
            "BEGIN;"
        )

    def __enter__(self) -> _Scratch:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._db.close()
        with contextlib.suppress(OSError):
            self.path.unlink()

    def first_times(self, numbers: Sequence[str]) -> list[bool]:
        """For each of ``numbers``, in turn: True the first time it is seen in this file (in an
        earlier batch or earlier in this one). Two statements for the batch, not one a row."""
        unique = list(dict.fromkeys(numbers))
        before: set[str] = set()
        for start in range(0, len(unique), 500):
            part = unique[start : start + 500]
            marks = ", ".join("?" * len(part))
            before.update(n for (n,) in self._db.execute(f"SELECT number FROM seen WHERE number IN ({marks})", part))
        fresh = [n for n in unique if n not in before]
        self._db.executemany("INSERT INTO seen VALUES (?)", [(n,) for n in fresh])
        firsts: list[bool] = []
        new = set(fresh)
        for number in numbers:
            firsts.append(number in new)
            new.discard(number)
        return firsts

    def claim(self, order: ImportedOrder, number: str, *, check_only: bool = False) -> str | None:
        """The reason to refuse ``order`` when an earlier row of the file has its Charge
        Permission (not for subscriptions, R14) or one of its Charges; else claims them.

        Only an accepted order claims (issue 11 item 8): the plan checks with ``check_only``,
        and the claim is made once Amazon Pay confirmed the row, so a row refused for its own
        fault never knocks out the later row that rightly has that permission or charge.
        """
        cp_id = order.charge_permission_id
        wanted: list[tuple[str, str]] = []
        if cp_id and order.kind != OrderKind.SUBSCRIPTION.value:
            wanted.append((f"cp:{cp_id}", f"Charge Permission {cp_id} はすでに受注 {{}} と連携しています。"))
        wanted += [(f"charge:{c}", f"Charge {c} はすでに受注 {{}} のものです。") for c in order.charge_ids]
        for key, message in wanted:
            row = self._db.execute("SELECT number FROM claims WHERE id = ?", (key,)).fetchone()
            if row is not None and row[0] != number:
                return message.format(row[0])
        if not check_only:
            self._db.executemany("INSERT OR IGNORE INTO claims VALUES (?, ?)", [(key, number) for key, _ in wanted])
        return None

    def keep_orders(self, accepted: Sequence[tuple[ImportedOrder, PlannedOrder]]) -> int:
        """The check pass's accepted orders and their plans, in file order, for the write pass
        (``apply`` only): reading them back costs a fraction of parsing the file a second time.
        Returns the first one's position (``seq``) among all the accepted orders."""
        first = self.accepted
        if self.keep_reads and accepted:  # one blob a batch: a third of pickling order by order
            self._db.execute(
                "INSERT INTO orders VALUES (?, ?, ?)", (first, len(accepted), pickle.dumps(list(accepted), protocol=5))
            )
        self.accepted += len(accepted)
        return first

    def orders_between(self, lo: int, hi: int) -> list[tuple[ImportedOrder, PlannedOrder]]:
        """The kept orders ``lo`` ≤ seq < ``hi``, in file order."""
        found: list[tuple[ImportedOrder, PlannedOrder]] = []
        query = "SELECT first, data FROM orders WHERE first < ? AND first + n > ? ORDER BY first"
        for first, data in self._db.execute(query, (hi, lo)).fetchall():
            batch = cast(list[tuple[ImportedOrder, PlannedOrder]], pickle.loads(data))
            found.extend(batch[max(0, lo - first) : hi - first])
        return found

    def chunks(self, size: int) -> Iterator[tuple[int, int]]:
        """The accepted orders in consecutive ranges ``(lo, hi)`` of at most ``size``."""
        for lo in range(0, self.accepted, size):
            yield lo, min(lo + size, self.accepted)

    def stage_new_orders(self, dialect: Any, *, source: str, actor: str, operator: str) -> None:
        """The check pass stages its plain adds as the store's rows (SQLite stores)."""
        self.staged = StagedOrders(self._db, dialect, source=source, actor=actor, operator=operator)

    def finish_checking(self) -> None:
        """What the check pass wrote becomes readable to other connections (the store's, with
        the scratch attached); the write pass only reads it."""
        if self._db.in_transaction:
            self._db.execute("COMMIT")

    def keep(self, number: str, reading: _Amazon) -> None:
        if self.keep_reads:
            self._db.execute("INSERT OR REPLACE INTO readings VALUES (?, ?)", (number, pickle.dumps(reading)))

    def reading(self, number: str) -> _Amazon | None:
        row = self._db.execute("SELECT data FROM readings WHERE number = ?", (number,)).fetchone()
        return None if row is None else cast(_Amazon, pickle.loads(row[0]))


@dataclass(frozen=True)
class _Writer:
    """The write pass's one connection, and its checkpoint thread on SQLite."""

    connection: Connection
    checkpoints: BackgroundCheckpoints | None
    attached: bool = False  # the scratch file is attached (SQLite): staged orders can be copied


def _plain_add(order: ImportedOrder, plan: PlannedOrder) -> bool:
    """A new order with nothing at Amazon Pay to read or link: written from the file alone."""
    return plan.action == "add" and not plan.linked and not order.charge_permission_id and not order.charge_ids


@dataclass
class _Counts:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    linked: int = 0
    unlinked: int = 0
    refused: list[RefusedRow] = field(default_factory=list)
    orders: list[PlannedOrder] = field(default_factory=list)  # a bounded sample (ORDER_SAMPLE, UPDATE_SAMPLE)
    mismatches: list[str] = field(default_factory=list)  # a bounded sample (MISMATCH_SAMPLE)
    mismatches_total: int = 0
    notices: list[ImportNotice] = field(default_factory=list)  # a bounded sample (NOTICE_SAMPLE)
    notices_total: int = 0
    _updates_kept: int = 0

    def notice(self, line: int, number: str, reason: str) -> None:
        self.notices_total += 1
        if len(self.notices) < NOTICE_SAMPLE:
            self.notices.append(ImportNotice(line, number, reason))

    @property
    def total(self) -> int:
        return self.added + self.updated + self.unchanged

    def mismatch(self, number: str) -> None:
        self.mismatches_total += 1
        if len(self.mismatches) < MISMATCH_SAMPLE:
            self.mismatches.append(number)

    def count_plain(self, staged: StagedOrders, lo: int, hi: int) -> None:
        """Staged orders ``lo`` ≤ seq < ``hi``, all added: each is counted as ``count`` would."""
        if self.total < ORDER_SAMPLE:
            for number, line, amazon_pay in staged.plans(lo, hi):
                self.count(PlannedOrder(number, line, "add", (), False, amazon_pay))
            return
        self.added += hi - lo
        self.unlinked += staged.amazon_pay_count(lo, hi)  # not linked: an Amazon Pay one is 未連携

    def count(self, plan: PlannedOrder) -> None:
        if self.total < ORDER_SAMPLE:
            self.orders.append(plan)
        elif plan.action == "update" and self._updates_kept < UPDATE_SAMPLE:
            self.orders.append(plan)
            self._updates_kept += 1
        if plan.action == "add":
            self.added += 1
        elif plan.action == "update":
            self.updated += 1
        else:
            self.unchanged += 1
        if plan.action != "unchanged":
            if plan.linked:
                self.linked += 1
            elif plan.amazon_pay:  # 未連携: an Amazon Pay order without its Charge Permission
                self.unlinked += 1


def _items_of(order: Order) -> tuple[tuple[str, int, int], ...]:
    return tuple((i.name, i.unit_price, i.quantity) for i in order.items)


def _file_items(items: Iterable[ImportedItem]) -> tuple[tuple[str, int, int], ...]:
    return tuple((i.name, i.unit_price, i.quantity) for i in items)


def _amazon_sum(amazon: _Amazon) -> int:
    return sum(c.amount for c in amazon.charges)


_MONEY_STATES = frozenset(
    {ChargeState.AUTHORIZATION_INITIATED, ChargeState.AUTHORIZED, ChargeState.CAPTURE_INITIATED, ChargeState.CAPTURED}
)


def _money_at_amazon(amazon: _Amazon) -> bool:
    """Amazon holds or took the buyer's money for this order (or may: charges not named, the
    permission not closed)."""
    if not amazon.charges:
        return amazon.cp.status.state != "Closed"
    return any(c.status.state in _MONEY_STATES or c.captured_amount > 0 for c in amazon.charges)


def cancel_notice(number: str) -> str:
    """Issue 11 item 1 (R35): the file says キャンセル while Amazon Pay holds the order's money."""
    return (
        f"ファイルではキャンセルですが、Amazon Payに与信または売上が残っているため、取込ではキャンセルしていません。"
        f"勘定でキャンセルしてください(kanjo cancel {number})。"
    )


def id_problem(order: ImportedOrder) -> str | None:
    """Issue 11 item 11: the Charge Permission or Charge IDs without Amazon's shape (no call made)."""
    try:
        if order.charge_permission_id:
            check_charge_permission_id(order.charge_permission_id)
        for charge_id in order.charge_ids:
            check_charge_id(charge_id)
    except BadInput as exc:
        return exc.message
    return None


def reference_problem(number: str, amazon: _Amazon) -> str | None:
    """R57: a one-time Charge Permission names its order (merchantReferenceId = the shop's order
    number). One that names another order belongs to another buyer: linking it would capture
    their money for this order. A recurring one is shared by every delivery of a subscription."""
    reference = (amazon.cp.merchant_reference_id or "").strip().lstrip("#")
    if not reference or amazon.cp.type != "OneTime" or reference == number.strip().lstrip("#"):
        return None
    return (
        f"Charge Permission {amazon.cp.id} はAmazon Payでは受注 {reference} のものです"
        f"(この行の受注番号は {number})。別の受注の決済とは連携しません。"
    )


class ImportService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        gateway: Callable[[], Gateway],
        settings: SettingsStore,
        journal: Journal | None = None,
        *,
        operator: str = "operator",
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._gateway = gateway
        self._settings = settings
        self._journal = journal or Journal()
        self._operator = operator

    def _scratch_folder(self) -> Path | None:
        """The folder of a SQLite store (else the system's temporary folder)."""
        bind = self._sessions.kw.get("bind")
        path = sqlite_path(str(bind.url)) if bind is not None and hasattr(bind, "url") else None
        return path.parent if path is not None and path.parent.is_dir() else None

    # --- Amazon Pay reads ----------------------------------------------------------------

    def _read_amazon(self, cp_id: str, charge_ids: Iterable[str]) -> _Amazon:
        """Get Charge Permission and Get Charge for each id; BadInput with the reason otherwise."""
        client = self._gateway().client
        try:
            cp = client.get_charge_permission(cp_id)
        except ResourceNotFoundError as exc:
            raise BadInput(f"Charge Permission {cp_id} はAmazon Payにありません(404)。") from exc
        charges = []
        for charge_id in charge_ids:
            try:
                info = client.get_charge(charge_id)
            except ResourceNotFoundError as exc:
                raise BadInput(f"Charge {charge_id} はAmazon Payにありません(404)。") from exc
            if info.charge_permission_id and info.charge_permission_id != cp.id:
                raise BadInput(f"Charge {charge_id} はCharge Permission {cp_id} のものではありません。")
            charges.append(info)
        return _Amazon(cp, tuple(charges))

    def _read_result(self, cp_id: str, charge_ids: Sequence[str]) -> _Amazon | str:
        """``_read_amazon`` for the check pass: the reading, or the Japanese reason it failed."""
        try:
            return self._read_amazon(cp_id, charge_ids)
        except BadInput as exc:
            return exc.message
        except GatewayError as exc:
            return f"Amazon PayからCharge Permission {cp_id} を読めませんでした: {exc.message}"

    def _read_all(self, wanted: list[tuple[str, str, tuple[str, ...]]]) -> dict[str, _Amazon | str]:
        """Get Charge Permission + Get Charge for each (number, cp, charges), on READ_THREADS threads.

        Only the HTTP reads run on the pool (the client is thread-safe); results come back by
        order number and every database write stays on the calling thread.
        """
        if not wanted:
            return {}
        if len(wanted) == 1 or READ_THREADS <= 1:
            return {number: self._read_result(cp, charges) for number, cp, charges in wanted}
        with ThreadPoolExecutor(max_workers=min(READ_THREADS, len(wanted)), thread_name_prefix="import-read") as pool:
            results = pool.map(lambda w: self._read_result(w[1], w[2]), wanted)
            return {w[0]: result for w, result in zip(wanted, results, strict=True)}

    # --- planning ------------------------------------------------------------------------

    def _conflict(self, session: Session, order: ImportedOrder, existing: Order | None) -> str | None:
        """A refusal that the store decides: a different Charge Permission, or one already used."""
        cp_id = order.charge_permission_id
        cp_other = None
        if cp_id:
            cp_other = session.scalar(
                select(Order.number).where(Order.charge_permission_id == cp_id, Order.number != order.number)
            )
        owners = {
            charge_id: owner
            for charge_id in order.charge_ids
            if (owner := session.scalar(select(Order.number).join(Charge).where(Charge.id == charge_id))) is not None
        }
        return self._conflict_known(order, existing, cp_other, owners)

    @staticmethod
    def _conflict_known(
        order: ImportedOrder, existing: Order | None, cp_other: str | None, charge_owners: dict[str, str]
    ) -> str | None:
        """``_conflict`` with the store's answers already looked up (for a whole batch at once)."""
        cp_id = order.charge_permission_id
        if existing is not None and cp_id and existing.charge_permission_id not in (None, cp_id):
            return (
                f"受注番号 {order.number} はすでに別のCharge Permission({existing.charge_permission_id})"
                "と連携しています。"
            )
        if (
            existing is not None
            and existing.kind != order.kind
            and OrderKind.MARKETPLACE.value
            in (
                existing.kind,
                order.kind,
            )
        ):
            return f"受注番号 {order.number} はすでに別の種類の受注として登録されています。"
        if (
            cp_id
            and (existing is None or existing.charge_permission_id is None)
            and cp_other is not None
            and order.kind != OrderKind.SUBSCRIPTION.value
        ):
            return f"Charge Permission {cp_id} はすでに受注 {cp_other} と連携しています。"
        for charge_id in order.charge_ids:
            owner = charge_owners.get(charge_id)
            if owner is not None and owner != order.number:
                return f"Charge {charge_id} はすでに受注 {owner} のものです。"
        return None

    def _changes(self, existing: Order, order: ImportedOrder) -> tuple[str, ...]:
        changed: list[str] = []
        status = order_status_of(order.order_status, OrderStatus(existing.order_status))
        if status.value != existing.order_status and not self._status_blocked(existing, status):
            changed.append("order_status")
        for name in ("ship_name", "ship_postal_code", "ship_prefecture", "ship_address", "ship_phone"):
            if getattr(existing, name) != getattr(order, name):
                changed.append(name)
        if _items_of(existing) != _file_items(order.items) or any(
            item.cost_price and item.cost_price != kept.cost_price  # a cost the file gives, changed
            for item, kept in zip(order.items, existing.items, strict=False)
        ):
            changed.append("items")
        if order.tracking_number is not None and (existing.tracking_number or None) != (order.tracking_number or None):
            changed.append("tracking_number")
        if existing.charge_permission_id is None:
            if order.charge_permission_id:
                changed.append("charge_permission_id")
            elif existing.total != order.total or existing.shipping_fee != order.shipping_fee:
                changed.append("total")  # not linked to Amazon Pay: the shop owns the amounts
        else:
            mismatch = order.total if order.total != existing.total else None
            if mismatch != existing.shop_total_mismatch:
                changed.append("shop_total_mismatch")
        return tuple(changed)

    @staticmethod
    def _status_blocked(existing: Order, status: OrderStatus) -> bool:
        """A cancel in the file never cancels Amazon Pay money: that is ``kanjo cancel`` (R35)."""
        if status is not OrderStatus.CANCELED:
            return False
        if existing.authorized_amount > 0 or existing.captured_amount > 0:
            return True
        # Linked without its Charge IDs: Amazon may hold money not seen here (review item 1).
        permission = existing.charge_permission
        return permission is not None and permission.state != "Closed" and not existing.charges

    def _plan_batch(
        self, session: Session, orders: Sequence[ImportedOrder], scratch: _Scratch | None = None
    ) -> list[PlannedOrder | RefusedRow]:
        """Plan a batch of orders against the store with a few queries for the whole batch.

        ``scratch`` (the check pass) also refuses what conflicts with an earlier row of the same
        file: the same Charge Permission or Charge for two order numbers.
        """
        numbers: list[str | None] = []
        for order in orders:
            try:
                numbers.append(validate_order_number(order.number))
            except BadInput:
                numbers.append(None)
        valid = {n for n in numbers if n is not None}
        existing: dict[str, Order] = {}
        if valid:
            query = select(Order).where(Order.number.in_(valid)).options(selectinload(Order.items))
            existing = {row.number: row for row in session.scalars(query)}
        cp_ids = {o.charge_permission_id for o in orders if o.charge_permission_id}
        cp_owners: dict[str, list[str]] = {}
        if cp_ids:
            query_cp = select(Order.charge_permission_id, Order.number).where(Order.charge_permission_id.in_(cp_ids))
            for cp_id, owner in session.execute(query_cp.order_by(Order.id)):
                cp_owners.setdefault(cp_id or "", []).append(owner)
        charge_ids = {c for o in orders for c in o.charge_ids}
        charge_owners: dict[str, str] = {}
        if charge_ids:
            query_charges = select(Charge.id, Order.number).join(Charge.order).where(Charge.id.in_(charge_ids))
            charge_owners = {charge_id: owner for charge_id, owner in session.execute(query_charges)}
        plans: list[PlannedOrder | RefusedRow] = []
        for order, number in zip(orders, numbers, strict=True):
            if number is None:
                try:
                    validate_order_number(order.number)
                except BadInput as exc:
                    plans.append(RefusedRow(order.line, None, exc.message))
                continue
            row = existing.get(number)
            cp_other = None
            if order.charge_permission_id:
                cp_other = next((o for o in cp_owners.get(order.charge_permission_id, ()) if o != order.number), None)
            conflict = self._conflict_known(order, row, cp_other, charge_owners)
            if conflict is None and scratch is not None:
                conflict = scratch.claim(order, number, check_only=True)
            if conflict is not None:
                column = None if "別の種類" in conflict else "charge_permission_id"
                plans.append(RefusedRow(order.line, column, conflict))
                continue
            marketplace = order.kind == OrderKind.MARKETPLACE.value
            linked = bool(order.charge_permission_id) and not marketplace
            amazon_pay = not marketplace and (linked or order.payment_method == "amazon_pay")
            if row is None:
                plans.append(PlannedOrder(number, order.line, "add", (), linked, amazon_pay))
                continue
            changed = self._changes(row, order)
            is_linked = row.charge_permission_id is not None or linked
            amazon_pay = amazon_pay or (row.payment_method == "amazon_pay" and row.kind != OrderKind.MARKETPLACE.value)
            status = order_status_of(order.order_status, OrderStatus(row.order_status))
            blocked = status.value != row.order_status and self._status_blocked(row, status)
            plans.append(
                PlannedOrder(
                    number,
                    order.line,
                    "update" if changed else "unchanged",
                    changed,
                    is_linked,
                    amazon_pay,
                    cancel_notice(number) if blocked else None,
                )
            )
        return plans

    @staticmethod
    def _needs_read(plan: PlannedOrder | RefusedRow) -> bool:
        """A new linked order, or an existing one linked now, is read from Amazon Pay."""
        return (
            isinstance(plan, PlannedOrder)
            and plan.linked
            and (plan.action == "add" or "charge_permission_id" in plan.fields)
        )

    @staticmethod
    def _rows(rows: Rows) -> Callable[[], Iterable[ImportedOrder | RefusedRow]]:
        if callable(rows):
            return rows
        kept = rows if isinstance(rows, (list, tuple)) else list(rows)
        return lambda: kept

    def preview(
        self,
        detected: DetectedFile,
        rows: Rows,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelCheck | None = None,
    ) -> ImportSummary:
        """What an import would do, row by row; writes nothing. A cancel returns what was seen."""
        with _Scratch(keep_reads=False, folder=self._scratch_folder()) as scratch:
            counts, cancelled = self._plan(self._rows(rows)(), scratch, progress=progress, cancel=cancel)
        return self._summary(detected, counts, dry_run=True, cancelled=cancelled)

    def _plan(
        self,
        rows: Iterable[ImportedOrder | RefusedRow],
        scratch: _Scratch,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelCheck | None = None,
    ) -> tuple[_Counts, bool]:
        """The check pass: every row checked in file order, in batches; nothing is written.

        New linked orders are read from Amazon Pay here, whole (Get Charge Permission and Get
        Charge for each charge): a 404 or a charge of another permission refuses the row before
        anything is written. With ``scratch.keep_reads`` the readings are kept on disk for the
        write pass, so each order is read once (memory stays flat, whatever the file's size).
        """
        counts = _Counts()
        checked = 0
        batch: list[ImportedOrder | RefusedRow] = []
        with self._sessions() as session:
            for row in rows:
                batch.append(row)
                if len(batch) < PROGRESS_EVERY:
                    continue
                if cancel is not None and cancel():
                    return counts, True
                checked += len(batch)
                self._check_batch(session, batch, scratch, counts)
                batch = []
                if progress is not None:
                    progress(ImportProgress("check", checked, 0))
            checked += len(batch)
            self._check_batch(session, batch, scratch, counts)
        if progress is not None:
            progress(ImportProgress("check", checked, 0))
        return counts, False

    def _check_batch(
        self, session: Session, batch: list[ImportedOrder | RefusedRow], scratch: _Scratch, counts: _Counts
    ) -> None:
        orders: list[ImportedOrder] = []
        firsts = iter(scratch.first_times([row.number for row in batch if not isinstance(row, RefusedRow)]))
        for row in batch:
            if isinstance(row, RefusedRow):
                counts.refused.append(row)
            elif not next(firsts):
                counts.refused.append(
                    RefusedRow(row.line, None, f"受注番号 {row.number} がファイル内で離れた行に2回以上あります。")
                )
            elif (problem := id_problem(row)) is not None:
                counts.refused.append(RefusedRow(row.line, "charge_permission_id", problem))
            else:
                orders.append(row)
        if not orders:
            return
        plans = self._plan_batch(session, orders, scratch)
        wanted = [
            (plan.number, order.charge_permission_id or "", order.charge_ids)
            for order, plan in zip(orders, plans, strict=True)
            if isinstance(plan, PlannedOrder) and self._needs_read(plan)
        ]
        reads = self._read_all(wanted)
        accepted: list[tuple[ImportedOrder, PlannedOrder]] = []
        for order, plan in zip(orders, plans, strict=True):
            if isinstance(plan, RefusedRow):
                counts.refused.append(plan)
                continue
            # An earlier accepted row of the file has its permission or charge: named first.
            conflict = scratch.claim(order, plan.number, check_only=True)
            if conflict is not None:
                counts.refused.append(RefusedRow(order.line, "charge_permission_id", conflict))
                continue
            reading = reads.get(plan.number)
            if reading is not None and not isinstance(reading, str):
                reading = reference_problem(plan.number, reading) or reading
            if isinstance(reading, str):
                counts.refused.append(RefusedRow(order.line, "charge_permission_id", reading))
                continue
            # Confirmed (or nothing to confirm): only now does it claim its permission and charges.
            scratch.claim(order, plan.number)
            if reading is not None:
                if (
                    plan.action == "add"
                    and order_status_of(order.order_status, OrderStatus.NEW) is OrderStatus.CANCELED
                    and _money_at_amazon(reading)
                ):
                    # R35: the new order is not cancelled here while Amazon holds its money.
                    order = replace(order, order_status=None)
                    plan = replace(plan, notice=cancel_notice(plan.number))
                scratch.keep(order.number, reading)
                if reading.charges and _amazon_sum(reading) != order.total:
                    counts.mismatch(plan.number)  # the preview names it too (the import flags it)
            if plan.notice is not None:
                counts.notice(order.line, plan.number, plan.notice)
            counts.count(plan)
            accepted.append((order, plan))
        first = scratch.keep_orders(accepted)
        if scratch.staged is not None:  # SQLite: the plain adds as the store's rows (core.imports.staging)
            scratch.staged.add(
                [
                    (first + index, order, plan.line, plan.amazon_pay)
                    for index, (order, plan) in enumerate(accepted)
                    if _plain_add(order, plan)
                ],
                self._clock.now(),
            )

    @staticmethod
    def _summary(
        detected: DetectedFile,
        counts: _Counts,
        *,
        dry_run: bool,
        cancelled: bool = False,
        file_name: str = "",
        sha256: str = "",
    ) -> ImportSummary:
        return ImportSummary(
            format=detected.format,
            encoding=detected.encoding,
            added=counts.added,
            updated=counts.updated,
            unchanged=counts.unchanged,
            linked=counts.linked,
            unlinked=counts.unlinked,
            refused=tuple(sorted(counts.refused, key=lambda r: r.line)),
            orders=tuple(counts.orders),
            dry_run=dry_run,
            cancelled=cancelled,
            file_name=file_name,
            sha256=sha256,
            mismatches=tuple(counts.mismatches),
            orders_total=counts.total,
            mismatches_total=counts.mismatches_total,
            notices=tuple(counts.notices),
            notices_total=counts.notices_total,
        )

    # --- applying ------------------------------------------------------------------------

    def apply(
        self,
        detected: DetectedFile,
        rows: Rows,
        *,
        skip_bad: bool = False,
        progress: ProgressCallback | None = None,
        cancel: CancelCheck | None = None,
        file_name: str = "",
        sha256: str = "",
    ) -> ImportSummary:
        """Check every row, then write whole orders chunk by chunk; a cancel stops between chunks."""
        source = self._rows(rows)
        with _Scratch(keep_reads=True, folder=self._scratch_folder()) as scratch:
            dialect = self._sessions.kw["bind"].dialect
            if dialect.name == "sqlite":
                scratch.stage_new_orders(
                    dialect, source=detected.format, actor=self._operator, operator=self._journal.operator
                )
            first, stopped = self._plan(source(), scratch, progress=progress, cancel=cancel)
            if stopped:  # cancelled while checking: nothing was written
                summary = self._summary(
                    detected, first, dry_run=False, cancelled=True, file_name=file_name, sha256=sha256
                )
                return ImportSummary(
                    **{
                        **summary.__dict__,
                        "added": 0,
                        "updated": 0,
                        "unchanged": 0,
                        "linked": 0,
                        "unlinked": 0,
                        "orders": (),
                        "orders_total": 0,
                    }
                )
            if first.refused and not skip_bad:
                checked = self._summary(detected, first, dry_run=False, file_name=file_name, sha256=sha256)
                nothing = {"added": 0, "updated": 0, "unchanged": 0, "linked": 0, "unlinked": 0, "orders": ()}
                raise ImportRefused(
                    f"取り込めない行が{len(first.refused)}件あるため、何も取り込みませんでした。"
                    "内容を直すか、--skip-bad でその行を除いて取り込んでください。",
                    tuple(sorted(first.refused, key=lambda r: r.line)),
                    ImportSummary(**{**checked.__dict__, **nothing, "orders_total": 0, "blocked": True}),
                )
            total = first.total
            counts = _Counts()
            counts.refused.extend(first.refused)
            counts.notices, counts.notices_total = first.notices, first.notices_total  # the check pass's
            environment = connection_environment(self._settings.load())  # issue 11 item 8
            done = 0
            cancelled = False
            scratch.finish_checking()
            with self._writer(scratch) as writer:
                for chunk in scratch.chunks(CHUNK_ORDERS):  # the accepted orders, not the file parsed again
                    if cancel is not None and cancel():
                        cancelled = True
                        break
                    done += self._write_chunk(chunk, counts, detected.format, environment, scratch, writer)
                    if progress is not None:
                        progress(ImportProgress("write", done, total))
        self._record(detected, counts, file_name=file_name, sha256=sha256, completed=not cancelled)
        return self._summary(detected, counts, dry_run=False, cancelled=cancelled, file_name=file_name, sha256=sha256)

    @contextlib.contextmanager
    def _writer(self, scratch: _Scratch) -> Iterator[_Writer]:
        """One connection for the whole write pass. On SQLite the scratch file is attached to it
        (the staged orders are copied from there) and the write-ahead log is checkpointed on a
        thread beside it (core.db.checkpoints)."""
        engine = self._sessions.kw["bind"]
        with engine.connect() as connection:
            if connection.dialect.name != "sqlite":
                yield _Writer(connection, None)
                return
            driver = connection.connection.driver_connection
            driver.execute(f"ATTACH DATABASE ? AS {staging.SCHEMA}", (str(scratch.path),))
            try:
                store = sqlite_path(str(engine.url))  # None: a store in memory, without a log to checkpoint
                with BackgroundCheckpoints(store, driver) if store is not None else contextlib.nullcontext() as points:
                    yield _Writer(connection, points, attached=True)
            finally:
                try:
                    driver.execute(f"DETACH DATABASE {staging.SCHEMA}")
                except sqlite3.Error:
                    connection.invalidate()  # never handed out again with the scratch attached

    def _write_chunk(
        self,
        chunk: tuple[int, int],
        counts: _Counts,
        source: str,
        environment: str,
        scratch: _Scratch,
        writer: _Writer,
    ) -> int:
        """Accepted orders ``lo`` ≤ seq < ``hi`` (``chunk``), whole, in one transaction under their
        locks; staged ones are copied by SQLite itself (core.imports.staging)."""
        lo, hi = chunk
        now = self._clock.now()
        staged = scratch.staged if writer.attached and scratch.staged is not None else None
        if staged is not None and not staged.covers(lo, hi):
            staged = None
        with self._sessions(bind=writer.connection) as session, session.begin():
            if staged is not None and staged.copy(session, lo, hi, now):
                counts.count_plain(staged, lo, hi)
            else:
                self._write_checked(session, scratch.orders_between(lo, hi), counts, source, environment, scratch, now)
        if writer.checkpoints is not None:
            writer.checkpoints.committed()
        return hi - lo

    def _write_checked(
        self,
        session: Session,
        checked: list[tuple[ImportedOrder, PlannedOrder]],
        counts: _Counts,
        source: str,
        environment: str,
        scratch: _Scratch,
        now: datetime,
    ) -> None:
        """The orders of one chunk, whole, in ``session``'s transaction under their locks.

        Amazon Pay was read by the check pass (the readings kept in ``scratch``); nothing is
        sent while the transaction holds the lock. An order that now needs a reading the check
        pass did not make (another process changed it in between) is refused, not guessed.
        """
        chunk = [order for order, _ in checked]
        reads: dict[str, _Amazon] = {}
        for order in chunk:
            if order.charge_permission_id:
                kept = scratch.reading(order.number)
                if kept is not None:
                    reads[order.number] = kept
        self._lock_chunk(session, [order.number for order in chunk])
        # The search index is filled once for the chunk, not by a trigger per order (0007).
        paused = search_index.pause(session)
        plans = self._still_planned(session, checked) or self._plan_batch(session, chunk)  # under the locks
        plain: list[ImportedOrder] = []  # new orders without a reading, written together
        for order, plan in zip(chunk, plans, strict=True):
            if (
                isinstance(plan, PlannedOrder)
                and plan.action == "add"
                and order.number not in reads
                and not self._needs_read(plan)
            ):
                plain.append(order)
                counts.count(plan)
                continue
            if plain and isinstance(plan, PlannedOrder) and plan.action != "unchanged":
                self._insert_plain(session, plain, source, now)  # file order kept
                plain = []
            if isinstance(plan, RefusedRow):
                counts.refused.append(plan)
                continue
            amazon = reads.get(order.number)
            if amazon is None and self._needs_read(plan):
                counts.refused.append(
                    RefusedRow(
                        order.line,
                        "charge_permission_id",
                        f"受注 {plan.number} が取込中に変わったため取り込みませんでした。もう一度取り込んでください。",
                    )
                )
                continue
            if plan.action == "add":
                self._insert(session, order, amazon, source, environment, now, counts, batched=True)
            elif plan.action == "update":
                existing = session.scalar(select(Order).where(Order.number == plan.number))
                assert existing is not None
                self._update(session, existing, order, plan.fields, amazon, now, counts)
            counts.count(plan)
        self._insert_plain(session, plain, source, now)
        search_index.index_new_orders(session, paused)

    @staticmethod
    def _still_planned(
        session: Session, checked: list[tuple[ImportedOrder, PlannedOrder]]
    ) -> list[PlannedOrder | RefusedRow] | None:
        """The check pass's plans, when they still hold under the locks without planning again.

        For new orders without a Charge Permission or Charge the only thing that can have changed
        since the check pass is that another process added the same order number; one query
        tells. Any other chunk is planned again (None).
        """
        if not all(_plain_add(order, plan) for order, plan in checked):
            return None
        numbers = [plan.number for _, plan in checked]
        if session.scalar(select(Order.id).where(Order.number.in_(numbers)).limit(1)) is not None:
            return None
        return [plan for _, plan in checked]

    @staticmethod
    def _lock_chunk(session: Session, numbers: list[str]) -> None:
        """``lock_order`` for every order of the chunk, first thing in the transaction.

        On SQLite the per-order lock is the database's write lock, so one statement over the
        chunk's numbers takes it for all of them; elsewhere each order is locked in turn.
        """
        if session.get_bind().dialect.name == "sqlite":
            session.execute(
                update(Order)
                .where(Order.number.in_({n.strip() for n in numbers}))
                .values(updated_at=Order.updated_at)
                .execution_options(synchronize_session=False)
            )
            return
        for number in numbers:
            lock_order(session, number)

    def _insert_plain(self, session: Session, orders: list[ImportedOrder], source: str, now: datetime) -> None:
        """New orders that need no Amazon Pay reading, in a few multi-row statements.

        The same rows ``_insert`` writes through the ORM (customer, order, items, journal event),
        without a flush per order: the bulk path of a large file (bench/import_bench.py).
        Such an order has no charge, so its payment status is what ``refresh_order`` computes
        for no charges (``tests/core/imports/test_service.py`` checks they agree).
        """
        if not orders:
            return
        customer_ids = insert_returning_ids(session, Customer, [customer_values(o) for o in orders])
        rows = [
            {**plain_order_row(order, source, now), "customer_id": customer_id}
            for order, customer_id in zip(orders, customer_ids, strict=True)
        ]
        order_ids = insert_returning_ids(session, Order, rows)
        items = [
            {**item, "order_id": order_id}
            for order, order_id in zip(orders, order_ids, strict=True)
            for item in item_rows(order)
        ]
        if items:
            bulk_insert(session, cast(Table, OrderItem.__table__), items)
        bulk_insert(
            session,
            cast(Table, JournalEntry.__table__),
            [
                imported_event(row["number"], row["total"], source, now, self._operator, self._journal.operator)
                for row in rows
            ],
        )

    def _insert(
        self,
        session: Session,
        order: ImportedOrder,
        amazon: _Amazon | None,
        source: str,
        environment: str,
        now: datetime,
        counts: _Counts,
        *,
        batched: bool = False,
    ) -> Order:
        """A new order. ``batched``: nothing is flushed here; the chunk's commit writes all its
        orders in a few multi-row statements (the payment status is computed before the flush:
        a new order's charges are the ones attached here)."""
        customer = Customer(**customer_values(order))
        session.add(customer)
        # Without a reading it has no Charge Permission: in no Amazon Pay environment (issue 11 item 8).
        values = order_values(order, source, environment if amazon is not None else NO_ENVIRONMENT, now)
        row = Order(customer=customer, **values)
        session.add(row)
        self._set_items(session, row, order.items, new=True)
        if amazon is not None:
            session.info["import_bulk"] = batched
            try:
                with session.no_autoflush:  # the charges' lookups need not flush the chunk so far
                    self._attach(session, row, amazon, order.total, now, counts)
            finally:
                session.info.pop("import_bulk", None)
        if not batched:
            session.flush()
        refresh_order(row, now)
        self._journal.event(
            session,
            action="order_imported",
            now=now,
            order_number=row.number,
            amount=row.total,
            actor=self._operator,
            message=imported_detail(source),
            flush=not batched,
        )
        return row

    @staticmethod
    def _set_items(session: Session, row: Order, items: Iterable[ImportedItem], *, new: bool = False) -> None:
        # A cost entered in Kanjo (orders set-cost) stays with its item when the file gives none.
        kept = {} if new else {(i.sku or i.name): i.cost_price for i in row.items if i.cost_price}
        if not new:
            row.items.clear()
            session.flush()
        for position, item in enumerate(items):
            values = item_row(position, item)
            values["cost_price"] = item.cost_price or kept.get(values["sku"] or item.name, 0)
            row.items.append(OrderItem(**values))

    def _attach(
        self, session: Session, row: Order, amazon: _Amazon, file_total: int | None, now: datetime, counts: _Counts
    ) -> None:
        """Link the order to its Charge Permission and charges as Amazon reports them."""
        info = amazon.cp
        # Permissions added earlier in this transaction but not flushed yet (a bulk chunk runs
        # without autoflush) are not in the identity map: they are remembered on the session.
        pending: dict[str, ChargePermission] = session.info.setdefault("import_pending_cps", {})
        cp = pending.get(info.id) or session.get(ChargePermission, info.id)
        if cp is None:
            created = info.created_at or row.ordered_at
            cp = ChargePermission(
                id=info.id,
                type=info.type,
                state=info.status.state,
                instrument=instrument_from_descriptor(info.payment_descriptor).value,
                created_at=created,
                expires_at=info.expires_at or charge_permission_expiry(created),
            )
            session.add(cp)
            pending[info.id] = cp
        apply_charge_permission_info(cp, info, now)
        row.charge_permission = cp
        row.payment_method = "amazon_pay"
        for index, charge_info in enumerate(amazon.charges):
            if session.get(Charge, charge_info.id) is not None:
                continue
            purpose = ChargePurpose.ORIGINAL if index == 0 else ChargePurpose.REAUTH
            charge = new_charge_row(row, charge_info, purpose=purpose, origin="product", now=now)
            apply_charge_info(charge, charge_info, now, confirmed_by_read=True)
            session.add(charge)
        if amazon.charges:
            authorized = _amazon_sum(amazon)
            # The amounts come from Amazon; the file's differing total is only flagged.
            row.total = authorized
            row.original_total = authorized
            if file_total is not None and file_total != authorized:
                row.shop_total_mismatch = file_total
                counts.mismatch(row.number)
            else:
                row.shop_total_mismatch = None
        row.last_synced_at = now
        if not session.info.get("import_bulk"):
            session.flush()

    def _update(
        self,
        session: Session,
        existing: Order,
        order: ImportedOrder,
        fields: tuple[str, ...],
        amazon: _Amazon | None,
        now: datetime,
        counts: _Counts,
    ) -> None:
        if "order_status" in fields:
            existing.order_status = order_status_of(order.order_status, OrderStatus(existing.order_status)).value
        for name in ("ship_name", "ship_postal_code", "ship_prefecture", "ship_address", "ship_phone"):
            if name in fields:
                setattr(existing, name, getattr(order, name))
        if "items" in fields:
            self._set_items(session, existing, order.items)
        if "tracking_number" in fields:
            existing.tracking_number = order.tracking_number or None
        if "total" in fields:
            existing.total = order.total
            existing.shipping_fee = order.shipping_fee
        if "shop_total_mismatch" in fields:
            existing.shop_total_mismatch = order.total if order.total != existing.total else None
            if existing.shop_total_mismatch is not None:
                counts.mismatch(existing.number)
        if "charge_permission_id" in fields and amazon is not None:
            self._attach(session, existing, amazon, order.total, now, counts)
        session.flush()
        refresh_order(existing, now)
        self._journal.event(
            session,
            action="order_imported",
            now=now,
            order_number=existing.number,
            actor=self._operator,
            message="取込で更新しました: " + "、".join(fields),
        )

    def _record(self, detected: DetectedFile, counts: _Counts, *, file_name: str, sha256: str, completed: bool) -> None:
        now = self._clock.now()
        with self._sessions.begin() as session:
            session.add(
                ImportRecord(
                    at=now,
                    file_name=file_name,
                    sha256=sha256,
                    format=detected.format,
                    encoding=detected.encoding,
                    added=counts.added,
                    updated=counts.updated,
                    unchanged=counts.unchanged,
                    refused=len(counts.refused),
                    operator=self._journal.operator or self._operator,  # the person (issue 14 item 3)
                    completed=completed,
                )
            )
            state = "" if completed else "(途中で中止)"
            self._journal.event(
                session,
                action="import",
                now=now,
                order_number=None,
                actor=self._operator,
                message=(
                    f"受注ファイルを取り込みました{state}: {file_name} sha256={sha256} 形式={detected.format} "
                    f"追加{counts.added} 更新{counts.updated} 変更なし{counts.unchanged} 除外{len(counts.refused)}"
                ),
            )

    # --- the file ------------------------------------------------------------------------

    def mappings(self) -> dict[str, ColumnMapping]:
        """Saved column mappings by name (``core.imports.mapping.ColumnMapping``)."""
        with self._sessions() as session:
            rows = session.scalars(select(ImportMapping)).all()
            return {row.name: ColumnMapping.from_json(row.columns_json) for row in rows}

    def save_mapping(self, mapping: ColumnMapping) -> None:
        with self._sessions.begin() as session:
            row = session.get(ImportMapping, mapping.name)
            text = mapping.to_json()
            if row is None:
                session.add(ImportMapping(name=mapping.name, columns_json=text, updated_at=self._clock.now()))
            else:
                row.columns_json = text
                row.updated_at = self._clock.now()

    def import_file(
        self,
        path: Path,
        *,
        format: str = "auto",
        encoding: str = "auto",
        dry_run: bool = False,
        skip_bad: bool = False,
        progress: ProgressCallback | None = None,
        cancel: CancelCheck | None = None,
    ) -> ImportSummary:
        """Detect, read (streamed, once: the check pass keeps the accepted orders on disk for the
        write pass) and import a shop's order file."""
        if path.is_dir():
            raise BadInput(f"フォルダーではなく、受注ファイルを指定してください: {path}")
        if path.exists() and not path.is_file():
            raise BadInput(f"通常のファイルではありません(デバイスやパイプは読みません): {path}")
        if not path.is_file():
            raise BadInput(f"ファイル {path} が見つかりません。")
        with self._sessions() as session:
            has_mappings = session.scalar(select(ImportMapping.name).limit(1)) is not None
        mappings = self.mappings() if has_mappings else None
        detected = reader.detect(path, format=format, encoding=encoding, mappings=mappings)

        def rows() -> Iterable[ImportedOrder | RefusedRow]:
            return reader.read_orders(path, detected, mappings=mappings, now=self._clock.now())

        if dry_run:
            summary = self.preview(detected, rows, progress=progress, cancel=cancel)
            return ImportSummary(**{**summary.__dict__, "file_name": path.name, "sha256": reader.file_digest(path)})
        return self.apply(
            detected,
            rows,
            skip_bad=skip_bad,
            progress=progress,
            cancel=cancel,
            file_name=path.name,
            sha256=reader.file_digest(path),
        )

    # --- one order by its Charge Permission, and linking later --------------------------

    def add_by_charge_permission(self, cp_id: str, number: str | None = None, charge_ids: Iterable[str] = ()) -> str:
        """An order from its Charge Permission ID; everything else is read from Amazon Pay (R57)."""
        cp_id = cp_id.strip()
        if not cp_id:
            raise BadInput("Charge Permission IDを指定してください。")
        cp_id = check_charge_permission_id(cp_id)  # item 11: nothing sent for a malformed ID
        charges = [check_charge_id(c) for c in charge_ids if c.strip()]
        amazon = self._read_amazon(cp_id, charges)  # a 404 is named first
        chosen = validate_order_number(number or amazon.cp.merchant_reference_id or cp_id)
        problem = reference_problem(chosen, amazon)
        if problem is not None:
            raise RuleViolation(problem, code="R57")
        environment = connection_environment(self._settings.load())  # issue 11 item 8
        now = self._clock.now()
        buyer = amazon.cp.buyer
        address = amazon.cp.shipping_address
        total = _amazon_sum(amazon)
        imported = ImportedOrder(
            number=chosen,
            line=0,
            ordered_at=amazon.cp.created_at or now,
            kind=OrderKind.SUBSCRIPTION.value if amazon.cp.type == "Recurring" else OrderKind.NORMAL.value,
            customer_name=buyer.name if buyer else "",
            customer_email=buyer.email if buyer else "",
            customer_phone=buyer.phone if buyer else "",
            ship_name=address.name if address else "",
            ship_postal_code=address.postal_code if address else "",
            ship_prefecture=address.prefecture if address else "",
            ship_address=address.address if address else "",
            ship_phone=address.phone if address else "",
            items=(ImportedItem("", "Amazon Payのご注文", total, 1),) if total else (),
            shipping_fee=0,
            total=total,
            payment_method="amazon_pay",
            payment_label="Amazon Pay",
            charge_permission_id=amazon.cp.id,
            charge_ids=tuple(c.id for c in amazon.charges),
        )
        counts = _Counts()
        with self._sessions.begin() as session:
            lock_order(session, chosen)
            if session.scalar(select(Order.id).where(Order.number == chosen)) is not None:
                raise BadInput(f"受注番号 {chosen} はすでに登録されています。")
            conflict = self._conflict(session, imported, None)
            if conflict is not None:
                raise RuleViolation(conflict, code="R57")
            if not charges:
                # Item 2: Get Charge Permission gives no order amount (its limits are a ceiling: 900 %
                # with overcharge) and no call lists a permission's charges; 0 yen would be invented.
                raise BadInput(
                    "Amazon PayのCharge Permissionからは受注の金額がわからないため(金額はChargeにあります)、"
                    f"Charge ID(例: {CHARGE_EXAMPLE})も指定してください。"
                    "Charge IDがわからない受注は、金額の入ったショップの受注ファイルから取り込んでください(kanjo import)。"
                )
            self._insert(session, imported, amazon, "manual", environment, now, counts)
            self._journal.event(
                session,
                action="order_added",
                now=now,
                order_number=chosen,
                amount=total or None,
                actor=self._operator,
                message=f"Charge Permission {amazon.cp.id} から受注を追加しました。",
            )
        return chosen

    def link(self, number: str, cp_id: str, charge_ids: Iterable[str] = ()) -> None:
        """Link a 未連携 Amazon Pay order to its Charge Permission (and charges), read from Amazon."""
        number = number.strip()
        cp_id = cp_id.strip()
        charges = [c.strip() for c in charge_ids if c.strip()]
        if not cp_id:
            raise BadInput("Charge Permission IDを指定してください。")
        with self._sessions() as session:
            order = session.scalar(select(Order).where(Order.number == number))
            if order is None:
                raise NotFound(f"受注 {number} が見つかりません。")
            self._check_linkable(order, cp_id, charges)
        # Item 11: nothing is sent to Amazon Pay for an ID without Amazon's shape.
        check_charge_permission_id(cp_id)
        for charge_id in charges:
            check_charge_id(charge_id)
        amazon = self._read_amazon(cp_id, charges)
        problem = reference_problem(number, amazon)
        if problem is not None:
            raise RuleViolation(problem, code="R57")
        now = self._clock.now()
        with self._sessions.begin() as session:
            lock_order(session, number)
            order = session.scalar(select(Order).where(Order.number == number))
            assert order is not None
            self._check_linkable(order, cp_id, charges)
            other = session.scalar(
                select(Order.number).where(Order.charge_permission_id == amazon.cp.id, Order.number != number)
            )
            if other is not None and order.kind != OrderKind.SUBSCRIPTION.value:
                raise RuleViolation(
                    f"Charge Permission {amazon.cp.id} はすでに受注 {other} と連携しています。", code="R57"
                )
            counts = _Counts()
            if order.charge_permission_id is None:  # issue 11 item 8: it lives where it was read
                order.environment = connection_environment(self._settings.load())
            self._attach(session, order, amazon, order.total, now, counts)
            refresh_order(order, now)
            self._journal.event(
                session,
                action="order_linked",
                now=now,
                order_number=number,
                actor=self._operator,
                message=f"Charge Permission {amazon.cp.id} と連携しました。",
            )

    @staticmethod
    def _check_linkable(order: Order, cp_id: str, charge_ids: list[str]) -> None:
        """A 未連携 order may be linked; a linked order whose charges are not known here (its file
        had no Charge ID) may be given them, on the same Charge Permission only."""
        if order.kind == OrderKind.MARKETPLACE.value:
            raise RuleViolation(
                "Amazonマーケットプレイスの注文です。お金の動きはSeller Centralで行ってください。", code="R61"
            )
        adding_charges = order.charge_permission_id == cp_id and bool(charge_ids) and not order.charges
        if order.charge_permission_id is not None and not adding_charges:
            raise RuleViolation(
                f"受注 {order.number} はすでにCharge Permission {order.charge_permission_id} と連携しています。",
                code="R57",
            )
        if order.payment_method != "amazon_pay":
            raise RuleViolation("この受注の決済方法はAmazon Payではありません。", code="R33")
