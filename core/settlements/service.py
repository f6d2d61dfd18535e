"""Settlements (issue 13): reading reports (from Amazon Pay or a file), keeping a copy, matching
rows to orders, and the sums the operator and the accountant read.

One report is one unit of work: its rows are parsed as a stream, matched and written in batches
inside one transaction, so a report that fails on its last line changes nothing, and memory stays
flat however long it is. Rows are unique by settlement and key (``reconcile.row_keys``): reading
a report twice — or a Seller Central download of a report already fetched — adds nothing.
"""

from __future__ import annotations

import codecs
import contextlib
import gc
import hashlib
import io
import json
import os
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import chain
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import JST, Clock, to_utc
from core.db.bulk import multi_row_statements
from core.db.schema import (
    Charge,
    Order,
    Refund,
    Settlement,
    SettlementLine,
    SettlementProblem,
    SettlementReport,
    SettlementReportPart,
)
from core.errors import BadInput, NotFound
from core.settlements import reconcile as rc
from core.settlements.month import DayMoney, Movement, month_days
from core.settlements.report import SettlementReport as ReportReader
from core.settlements.report import SettlementRow

if TYPE_CHECKING:
    from core.gateway import Gateway

LIVE_REPORT_TYPE = "_GET_FLAT_FILE_OFFAMAZONPAYMENTS_SETTLEMENT_DATA_"
SANDBOX_REPORT_TYPE = "_SANDBOX_SETTLEMENT_DATA_"
BATCH = 5_000
ROWS_PER_STATEMENT = 200
PART_BYTES = 1024 * 1024
MAX_FILE_BYTES = 2 * 1024 * 1024 * 1024
REPORT_DAYS = 90  # R60: Amazon keeps reports this long


@dataclass(frozen=True)
class ImportResult:
    name: str
    settlements: tuple[str, ...]
    rows_read: int
    rows_added: int
    problems: int
    already_read: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "settlements": list(self.settlements),
            "rows_read": self.rows_read,
            "rows_added": self.rows_added,
            "rows_already_known": self.rows_read - self.rows_added,
            "problems": self.problems,
            "already_read": self.already_read,
        }


@dataclass(frozen=True)
class FetchResult:
    reports_seen: int
    imported: tuple[ImportResult, ...]
    disbursements: int

    def to_json(self) -> dict[str, Any]:
        return {
            "reports_seen": self.reports_seen,
            "reports_read": len(self.imported),
            "imported": [result.to_json() for result in self.imported],
            "disbursements": self.disbursements,
        }


@dataclass(frozen=True)
class SettlementSummary:
    id: str
    start: datetime | None
    end: datetime | None
    deposit: int | None
    captured: int
    refunded: int
    fees: int
    chargebacks: int
    other: int
    rows: int
    problems: int
    disbursement_reference: str | None = None
    disbursed_at: datetime | None = None
    disbursement_status: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "deposit": self.deposit,
            "captured": self.captured,
            "refunded": self.refunded,
            "fees": self.fees,
            "chargebacks": self.chargebacks,
            "other": self.other,
            "rows": self.rows,
            "problems": self.problems,
            "disbursement_reference": self.disbursement_reference,
            "disbursed_at": self.disbursed_at.isoformat() if self.disbursed_at else None,
            "disbursement_status": self.disbursement_status,
        }


@dataclass(frozen=True)
class RowView:
    key: str
    transaction_type: str
    transaction_id: str
    posted_at: datetime | None
    order_number: str
    amount: int
    fee: int
    net: int
    matched: bool
    extra: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "transaction_type": self.transaction_type,
            "transaction_id": self.transaction_id,
            "posted_at": self.posted_at.isoformat() if self.posted_at else None,
            "order_number": self.order_number,
            "amount": self.amount,
            "fee": self.fee,
            "net": self.net,
            "matched": self.matched,
            "extra": self.extra,
        }


@dataclass(frozen=True)
class SettlementDetail:
    summary: SettlementSummary
    rows: tuple[RowView, ...]
    problems: tuple[rc.Problem, ...]

    def to_json(self) -> dict[str, Any]:
        data = self.summary.to_json()
        data["problems"] = [problem.to_json() for problem in self.problems]
        data["rows"] = [row.to_json() for row in self.rows]
        return data


@dataclass(frozen=True)
class OrderMoney:
    amazon_fee: int | None  # what the settlements charged for this order (None: not settled yet)
    net: int | None  # what Amazon paid for it after fees, refunds and chargebacks
    problems: tuple[rc.Problem, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "amazon_fee": self.amazon_fee,
            "net": self.net,
            "settlement_problems": [problem.to_json() for problem in self.problems],
        }


class _BulkInsert:
    """Plain DBAPI inserts per batch that skip rows already there (the unique key): SQLAlchemy's
    ORM insert runs an ``ON CONFLICT`` insert row by row, 10× slower here. On SQLite many rows per
    statement (``INSERT OR IGNORE … VALUES (…), (…)``: one statement per row costs a third more),
    elsewhere ``executemany``. Values go through their columns' bind processors, as SQLAlchemy
    would send them. Statements run on ``driver`` (the transaction's DBAPI connection) under
    ``lock``: the writer thread and the lookups share it."""

    def __init__(
        self, session: Session, driver: Any, lock: threading.Lock, table: Any, columns: tuple[str, ...]
    ) -> None:
        self._driver = driver
        self._lock = lock
        dialect = session.get_bind().dialect
        self._columns = columns
        names = ", ".join(f'"{name}"' for name in columns)
        if dialect.name == "postgresql":
            marks = ", ".join(["%s"] * len(columns))
            self._sql = f"INSERT INTO {table.name} ({names}) VALUES ({marks}) ON CONFLICT DO NOTHING"
        else:
            marks = ", ".join(["?"] * len(columns))
            self._sql = f"INSERT OR IGNORE INTO {table.name} ({names}) VALUES ({marks})"
            self._head = f"INSERT OR IGNORE INTO {table.name} ({names}) VALUES "
            self._per = max(1, min(ROWS_PER_STATEMENT, 999 // len(columns)))  # any SQLite allows 999 values
        # sqlite3's executemany counts the rows it changed; other drivers may give the last one's
        self._tells = dialect.name == "sqlite"
        self._processors = [
            (position, processor)
            for position, name in enumerate(columns)
            if (processor := table.c[name].type._cached_bind_processor(dialect)) is not None
        ]

    def __call__(self, rows: list[tuple[Any, ...]]) -> int:
        """Inserts ``rows``; the number added (rows already there are skipped), -1 if the driver
        does not tell."""
        if not rows:
            return 0
        width = len(self._columns)
        flat = list(chain.from_iterable(rows))  # row after row, as the multi-row statements take them
        for position, processor in self._processors:
            # Column by column; the converted value of each distinct input computed once (a
            # report's rows share their posting times), the memo bounded so memory stays flat.
            memo: dict[Any, Any] = {None: None}

            def convert(value: Any, memo: dict[Any, Any] = memo, processor: Any = processor) -> Any:
                converted = processor(value)
                if len(memo) < 4096:
                    memo[value] = converted
                return converted

            flat[position::width] = [
                memo[value] if value in memo else convert(value) for value in flat[position::width]
            ]
        with self._lock:
            return self._execute(flat, width)

    def _execute(self, flat: list[Any], width: int) -> int:
        cursor = self._driver.cursor()
        try:
            if not self._tells:
                cursor.executemany(self._sql, [flat[start : start + width] for start in range(0, len(flat), width)])
                return -1
            added = 0
            for sql, part in multi_row_statements(self._head, width, flat, self._per):
                cursor.execute(sql, part)
                added += cursor.rowcount
            return added
        finally:
            cursor.close()


_ROW_COLUMNS = (
    "settlement_id", "key", "transaction_type", "transaction_id", "posted_at", "charge_permission_id",
    "seller_reference_id", "order_number", "amount", "fee", "net", "order_id", "charge_id", "refund_id", "extra",
)  # fmt: skip
_PROBLEM_COLUMNS = ("settlement_id", "row_key", "kind", "order_id", "order_number", "amount", "message")


def _batches(items: Iterable[tuple[str, SettlementRow]], size: int) -> Iterator[list[tuple[str, SettlementRow]]]:
    batch: list[tuple[str, SettlementRow]] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _may_share_connection(session: Session) -> bool:
    """Whether another thread may use the session's connection: PostgreSQL's, and a SQLite file's
    (SQLAlchemy opens those without check_same_thread); not an in-memory SQLite store's."""
    url = session.connection().engine.url
    if url.get_backend_name() != "sqlite":
        return True
    database = url.database or ""
    if not database or database == ":memory:" or "mode=memory" in database:
        return False
    return str(url.query.get("check_same_thread", "false")).lower() in ("false", "0")


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector off while a report is read: its rows make millions of short-lived
    objects (freed as each batch is written, none in a cycle), and each collection the allocations
    trigger walks every object of the process — a sixth of the import's time. Back on after,
    as it was."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def detect_encoding(handle: IO[bytes]) -> tuple[str, str]:
    """(encoding, sha256) of a whole file read in chunks: UTF-8 (BOM dropped) unless a byte says CP932."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    codec = "utf-8"
    first = True
    while chunk := handle.read(PART_BYTES):
        digest.update(chunk)
        if first and chunk.startswith(b"\xef\xbb\xbf"):
            codec = "utf-8-sig"
        first = False
        if codec != "cp932":
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                codec = "cp932"
    if codec != "cp932":
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            codec = "cp932"
    handle.seek(0)
    return codec, digest.hexdigest()


class SettlementService:
    def __init__(
        self, sessions: sessionmaker[Session], clock: Clock, gateway: Callable[[], Gateway] | None = None
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._gateway = gateway

    # --- reading reports -------------------------------------------------------------------

    def import_file(self, path: str | Path, *, progress: Callable[[int], None] | None = None) -> ImportResult:
        """``kanjo settlements import FILE``: a report downloaded from Seller Central (or kept)."""
        full = Path(path).expanduser()
        try:
            if full.is_dir():
                raise BadInput(f"フォルダーではなく精算レポートのファイルを指定してください: {path}")
            if not full.is_file():
                raise BadInput(f"精算レポートのファイルがありません: {path}")
            if os.stat(full).st_size > MAX_FILE_BYTES:
                raise BadInput(f"精算レポートのファイルが大きすぎます(2GiBまで): {path}")
            with open(full, "rb") as handle:
                return self.import_stream(handle, name=full.name, source="file", progress=progress)
        except OSError as exc:
            raise BadInput(f"精算レポートのファイルを読めません: {path}") from exc

    def import_bytes(
        self, data: bytes, *, name: str, source: str = "file", report_id: str | None = None
    ) -> ImportResult:
        return self.import_stream(io.BytesIO(data), name=name, source=source, report_id=report_id)

    def import_stream(
        self,
        handle: IO[bytes],
        *,
        name: str,
        source: str,
        report_id: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> ImportResult:
        codec, digest = detect_encoding(handle)
        now = self._clock.now()
        with _collector_paused(), self._sessions.begin() as session:
            kept = session.scalar(select(SettlementReport).where(SettlementReport.sha256 == digest))
            if kept is not None:
                if report_id and kept.report_id is None:
                    kept.report_id = report_id  # a file read before, now also fetched: one copy
                settlements = tuple(
                    session.scalars(select(Settlement.id).where(Settlement.id.in_(self._ids_of(kept)))).all()
                )
                self._rematch(session, settlements)  # orders imported since may now place rows
                return ImportResult(name, settlements, kept.rows, 0, 0, already_read=True)
            text = io.TextIOWrapper(handle, encoding=codec, newline="")
            try:
                reader = ReportReader(text)
                header = reader.header
                counts = None if session.get_bind().dialect.name == "sqlite" else self._counts(session)
                seen: dict[str, _Running] = {}  # each settlement of the file, its rows' sums
                read = problems = 0
                lookups = _Lookups(session)
                with _Writer(lookups, threaded=_may_share_connection(session)) as writer:
                    for batch in _batches(rc.row_keys(reader.rows()), BATCH):
                        rows, found = self._match_batch(batch, lookups)
                        writer.write(rows, found)  # while the next batch is read and matched
                        problems += len(found)
                        for _key, row in batch:
                            running = seen.get(row.settlement_id)
                            if running is None:
                                running = seen[row.settlement_id] = _Running()
                            running.add(row)
                        read += len(batch)
                        if progress is not None:
                            progress(read)
                added = writer.added
            finally:
                text.detach()
            if not seen and header.fields.get("SettlementId"):
                seen[header.fields["SettlementId"]] = _Running()
            for settlement_id, running in seen.items():
                self._refresh(
                    session,
                    settlement_id,
                    header.start if len(seen) == 1 else None,
                    header.end if len(seen) == 1 else None,
                    now,
                    # Every row of the file was new: the stored sums plus the file's are the sums
                    # of all rows. Else (a re-read, a row twice in the file) they are summed again.
                    running if added == read else None,
                )
            if counts is not None:  # a driver that does not count what it added
                added = self._counts(session) - counts
            report = SettlementReport(
                report_id=report_id,
                sha256=digest,
                source=source,
                name=name[:255],
                seller_id=header.seller_id[:64],
                start_at=header.start,
                end_at=header.end,
                rows=read,
                read_at=now,
                header=json.dumps({**header.fields, "_settlements": list(seen)}, ensure_ascii=False),
            )
            session.add(report)
            session.flush()
            handle.seek(0)
            self._keep_copy(session, report.id, handle)
            self._rematch(session, tuple(seen))
            return ImportResult(name, tuple(seen), read, added, problems)

    @staticmethod
    def _ids_of(report: SettlementReport) -> list[str]:
        try:
            return [str(x) for x in json.loads(report.header or "{}").get("_settlements", [])]
        except ValueError:
            return []

    @staticmethod
    def _counts(session: Session) -> int:
        return int(session.scalar(select(func.count()).select_from(SettlementLine)) or 0)

    @staticmethod
    def _match_batch(
        batch: list[tuple[str, SettlementRow]], lookups: _Lookups
    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """One batch matched: the values of its rows and of its problems, for ``_Writer``."""
        known = lookups.load([row for _key, row in batch])
        rows: list[tuple[Any, ...]] = []
        problems: list[tuple[Any, ...]] = []
        extras = lookups.extras
        for key, row in batch:
            match = rc.match_row(row, known)
            order = match.order
            rows.append(
                (
                    row.settlement_id[:64],
                    key[:200],
                    row.transaction_type,
                    row.transaction_id[:128],
                    row.posted_at,
                    row.charge_permission_id[:128],
                    row.seller_reference_id[:128],
                    (order.number if order else row.order_number)[:64],
                    row.amount,
                    row.fee,
                    row.net,
                    order.id if order else None,
                    match.charge_id,
                    match.refund_id,
                    extras(row.extra) if row.extra else "",
                )
            )
            for problem in match.problems:
                problems.append(
                    (
                        row.settlement_id[:64],
                        key[:200],
                        problem.kind,
                        order.id if order else None,
                        problem.order_number[:64],
                        problem.amount,
                        problem.message,
                    )
                )
        return rows, problems

    def _rematch(self, session: Session, settlement_ids: tuple[str, ...]) -> int:
        """Rows of these settlements that no order held when they were read, matched again: an
        order imported since then takes its rows, and their ``unmatched`` problem goes."""
        if not settlement_ids:
            return 0
        lines = session.scalars(
            select(SettlementLine).where(
                SettlementLine.settlement_id.in_(settlement_ids),
                SettlementLine.order_id.is_(None),
                SettlementLine.transaction_type.in_(rc.ORDER_TYPES),
            )
        ).all()
        placed = 0
        lookups = _Lookups(session)
        for start in range(0, len(lines), BATCH):
            part = lines[start : start + BATCH]
            rows = [
                SettlementRow(
                    0,
                    r.settlement_id,
                    r.transaction_type,
                    r.transaction_id,
                    r.posted_at,
                    r.charge_permission_id,
                    r.seller_reference_id,
                    r.order_number,
                    r.amount,
                    r.fee,
                    r.net,
                    {},
                )
                for r in part
            ]
            known = lookups.load(rows)
            for line, row in zip(part, rows, strict=True):
                match = rc.match_row(row, known)
                if match.order is None:
                    continue
                placed += 1
                line.order_id, line.order_number = match.order.id, match.order.number[:64]
                line.charge_id, line.refund_id = match.charge_id, match.refund_id
                old = session.scalar(
                    select(SettlementProblem).where(
                        SettlementProblem.settlement_id == line.settlement_id, SettlementProblem.row_key == line.key
                    )
                )
                if old is not None:
                    session.delete(old)
                    session.flush()
                for problem in match.problems:
                    session.add(
                        SettlementProblem(
                            settlement_id=line.settlement_id,
                            row_key=line.key,
                            kind=problem.kind,
                            order_id=match.order.id,
                            order_number=problem.order_number[:64],
                            amount=problem.amount,
                            message=problem.message,
                        )
                    )
        return placed

    def _refresh(
        self,
        session: Session,
        settlement_id: str,
        start: datetime | None,
        end: datetime | None,
        now: datetime,
        added: _Running | None = None,
    ) -> None:
        """The settlement's sums, from all its rows (so a re-read never counts twice); ``added``:
        the sums of rows just added, all new, to add to the stored sums instead of reading all."""
        if added is not None:
            settlement = session.get(Settlement, settlement_id)
            if settlement is None:
                settlement = Settlement(
                    id=settlement_id, captured=0, refunded=0, fees=0, chargebacks=0, other=0, rows=0, updated_at=now
                )
                session.add(settlement)
            totals = added.totals
            settlement.start_at = start or settlement.start_at or added.first
            settlement.end_at = end or settlement.end_at or added.last
            settlement.captured += totals.captured
            settlement.refunded += totals.refunded
            settlement.fees += totals.fees
            settlement.chargebacks += totals.chargebacks
            settlement.other += totals.adjustments + totals.debts + totals.carryover
            if totals.deposit is not None:
                settlement.deposit = (settlement.deposit or 0) + totals.deposit
            settlement.rows += totals.rows
            settlement.updated_at = now
            return
        totals = rc.Totals()
        sums = session.execute(
            select(
                SettlementLine.transaction_type,
                func.count(),
                func.coalesce(func.sum(SettlementLine.amount), 0),
                func.coalesce(func.sum(SettlementLine.fee), 0),
                func.min(SettlementLine.posted_at),
                func.max(SettlementLine.posted_at),
            )
            .where(SettlementLine.settlement_id == settlement_id)
            .group_by(SettlementLine.transaction_type)
        ).all()
        first = last = None
        for kind, count, amount, fee, low, high in sums:
            totals.add(SettlementRow(0, settlement_id, kind, "", None, "", "", "", int(amount), int(fee), 0))
            totals.rows += int(count) - 1
            first = low if first is None or (low is not None and low < first) else first
            last = high if last is None or (high is not None and high > last) else last
        settlement = session.get(Settlement, settlement_id)
        if settlement is None:
            settlement = Settlement(id=settlement_id, updated_at=now)
            session.add(settlement)
        settlement.start_at = start or settlement.start_at or (to_utc(first) if first else None)
        settlement.end_at = end or settlement.end_at or (to_utc(last) if last else None)
        settlement.captured = totals.captured
        settlement.refunded = totals.refunded
        settlement.fees = totals.fees
        settlement.chargebacks = totals.chargebacks
        settlement.other = totals.adjustments + totals.debts + totals.carryover
        settlement.deposit = totals.deposit
        settlement.rows = totals.rows
        settlement.updated_at = now

    @staticmethod
    def _keep_copy(session: Session, report_id: int, handle: IO[bytes]) -> None:
        compressor = zlib.compressobj(1)  # 3× faster than 6 for ~15 % more bytes
        seq = 0
        pending = b""
        while chunk := handle.read(PART_BYTES):
            pending += compressor.compress(chunk)
            if len(pending) >= PART_BYTES:
                session.add(SettlementReportPart(report_id=report_id, seq=seq, data=pending))
                seq += 1
                pending = b""
                session.flush()
        pending += compressor.flush()
        session.add(SettlementReportPart(report_id=report_id, seq=seq, data=pending))

    def report_copy(self, report_id: int) -> bytes:
        """The bytes of a report as Kanjo read it (its own copy; Amazon's is gone after 90 days)."""
        with self._sessions() as session:
            parts = session.scalars(
                select(SettlementReportPart.data)
                .where(SettlementReportPart.report_id == report_id)
                .order_by(SettlementReportPart.seq)
            ).all()
        if not parts:
            raise NotFound(f"精算レポート {report_id} の控えがありません。")
        decompressor = zlib.decompressobj()
        return b"".join(decompressor.decompress(part) for part in parts) + decompressor.flush()

    def reports(self) -> list[dict[str, Any]]:
        with self._sessions() as session:
            return [
                {
                    "id": r.id,
                    "report_id": r.report_id,
                    "source": r.source,
                    "name": r.name,
                    "rows": r.rows,
                    "read_at": r.read_at.isoformat(),
                    "sha256": r.sha256,
                }
                for r in session.scalars(select(SettlementReport).order_by(SettlementReport.id)).all()
            ]

    # --- from Amazon Pay -------------------------------------------------------------------

    def fetch(self) -> FetchResult:
        """``kanjo settlements fetch``: every settlement report not read yet, and the disbursements."""
        if self._gateway is None:
            raise BadInput("Amazon Payに接続できないため、精算レポートを取得できません。")
        gateway = self._gateway()
        client = gateway.client
        report_type = LIVE_REPORT_TYPE if gateway.environment == "live" else SANDBOX_REPORT_TYPE
        now = self._clock.now()
        with self._sessions() as session:
            known = set(
                session.scalars(select(SettlementReport.report_id).where(SettlementReport.report_id.is_not(None)))
            )
        found: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = client.get_reports(report_type, created_since=now - timedelta(days=REPORT_DAYS), next_token=token)
            found.extend(r for r in page.get("reports") or [] if isinstance(r, dict))
            token = page.get("nextToken")
            if not token:
                break
        imported = []
        for report in found:
            report_id = str(report.get("reportId") or "")
            document_id = report.get("reportDocumentId")
            if not report_id or report_id in known or report.get("processingStatus") != "DONE" or not document_id:
                continue
            document = client.get_report_document(str(document_id))
            data = client.download(str(document["url"]))  # at once: the address lives seconds (R60)
            imported.append(
                self.import_bytes(data, name=f"{report_type}{report_id}", source="api", report_id=report_id)
            )
        disbursements = self._read_disbursements(client, now)
        return FetchResult(len(found), tuple(imported), disbursements)

    def _read_disbursements(self, client: Any, now: datetime) -> int:
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = client.get_disbursements(start=now - timedelta(days=REPORT_DAYS), end=now, next_token=token)
            items.extend(d for d in page.get("disbursements") or [] if isinstance(d, dict))
            token = page.get("nextToken")
            if not token:
                break
        from core.clock import parse_iso

        with self._sessions.begin() as session:
            for item in items:
                settlement = session.get(Settlement, str(item.get("settlementId") or ""))
                if settlement is None:
                    continue
                settlement.disbursement_reference = str(item.get("disbursementReference") or "")[:128] or None
                settlement.disbursement_status = str(item.get("disbursementStatus") or "")[:32] or None
                if item.get("disbursementDate"):
                    settlement.disbursed_at = parse_iso(str(item["disbursementDate"]))
        return len(items)

    # --- reading what is stored ------------------------------------------------------------

    def summaries(self) -> list[SettlementSummary]:
        with self._sessions() as session:
            settlements = session.scalars(select(Settlement).order_by(Settlement.start_at, Settlement.id)).all()
            counts = dict(
                session.execute(
                    select(SettlementProblem.settlement_id, func.count()).group_by(SettlementProblem.settlement_id)
                ).all()
            )
            missing = self._missing(session, settlements)
            return [self._summary(s, int(counts.get(s.id, 0)) + len(missing.get(s.id, []))) for s in settlements]

    def show(self, settlement_id: str) -> SettlementDetail:
        with self._sessions() as session:
            settlement = session.get(Settlement, settlement_id.strip())
            if settlement is None:
                raise NotFound(
                    f"精算 {settlement_id.strip()[:64]} はまだ読み込まれていません(kanjo settlements list で確認)。"
                )
            rows = session.scalars(
                select(SettlementLine)
                .where(SettlementLine.settlement_id == settlement.id)
                .order_by(SettlementLine.posted_at, SettlementLine.id)
            ).all()
            stored = session.scalars(
                select(SettlementProblem)
                .where(SettlementProblem.settlement_id == settlement.id)
                .order_by(SettlementProblem.id)
            ).all()
            problems = [
                rc.Problem(p.kind, p.order_number, p.amount, p.message, p.row_key.partition("|")[2]) for p in stored
            ]
            problems.extend(self._missing(session, [settlement]).get(settlement.id, []))
            return SettlementDetail(
                self._summary(settlement, len(problems)),
                tuple(
                    RowView(
                        r.key,
                        r.transaction_type,
                        r.transaction_id,
                        r.posted_at,
                        r.order_number,
                        r.amount,
                        r.fee,
                        r.net,
                        r.order_id is not None,
                        json.loads(r.extra) if r.extra else {},
                    )
                    for r in rows
                ),
                tuple(problems),
            )

    @staticmethod
    def _summary(s: Settlement, problems: int) -> SettlementSummary:
        return SettlementSummary(
            id=s.id,
            start=s.start_at,
            end=s.end_at,
            deposit=s.deposit,
            captured=s.captured,
            refunded=s.refunded,
            fees=s.fees,
            chargebacks=s.chargebacks,
            other=s.other,
            rows=s.rows,
            problems=problems,
            disbursement_reference=s.disbursement_reference,
            disbursed_at=s.disbursed_at,
            disbursement_status=s.disbursement_status,
        )

    def _missing(self, session: Session, settlements: Iterable[Settlement]) -> dict[str, list[rc.Problem]]:
        """Captures recorded here that a closed period read here should hold and does not."""
        periods = {s.id: (s.start_at, s.end_at) for s in settlements if s.start_at is not None and s.end_at is not None}
        if not periods:
            return {}
        low = min(start for start, _end in periods.values())
        high = max(end for _start, end in periods.values())
        captured_at = func.coalesce(Charge.capture_requested_at, Charge.created_at)
        candidates = session.execute(
            select(Charge.id, Charge.captured_amount, captured_at, Order.id, Order.number)
            .join(Order, Order.id == Charge.order_id)
            .where(
                Charge.captured_amount > 0, Charge.state == "Captured", and_(captured_at >= low, captured_at <= high)
            )
        ).all()
        if not candidates:
            return {}
        settled = set(
            session.scalars(
                select(SettlementLine.transaction_id).where(
                    SettlementLine.transaction_type == "Capture",
                    SettlementLine.transaction_id.in_([c[0] for c in candidates]),
                )
            )
        )
        facts = [rc.ChargeFact(c[0], rc.OrderRef(c[3], c[4]), int(c[1]), to_utc(c[2])) for c in candidates]
        now = self._clock.now()
        result: dict[str, list[rc.Problem]] = {}
        for settlement_id, (start, end) in periods.items():
            inside = [f for f in facts if f.captured_at is not None and start <= f.captured_at <= end]
            found = rc.missing_captures(inside, settled, [(start, end)], now)
            if found:
                result[settlement_id] = found
        return result

    # --- the window's picture of the month (issue 13 item 6) ------------------------------------

    def month(self, year: int, month: int) -> list[DayMoney]:
        """Captured, refunded, Amazon's fees and net per Japan day of the month."""
        low = to_utc(datetime(year, month, 1, tzinfo=JST))
        high = to_utc(datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=JST))
        captured_at = func.coalesce(Charge.capture_requested_at, Charge.created_at)
        moves: list[Movement] = []
        with self._sessions() as session:
            for at, number, amount in session.execute(
                select(captured_at, Order.number, Charge.captured_amount)
                .join(Order, Order.id == Charge.order_id)
                .where(Charge.captured_amount > 0, captured_at >= low, captured_at < high)
            ):
                moves.append(Movement(to_utc(at), "captured", number, int(amount)))
            for at, number, amount in session.execute(
                select(Refund.created_at, Order.number, Refund.amount)
                .join(Order, Order.id == Refund.order_id)
                .where(Refund.state != "Declined", Refund.created_at >= low, Refund.created_at < high)
            ):
                moves.append(Movement(to_utc(at), "refunded", number, int(amount)))
            for posted, number, fee in session.execute(
                select(SettlementLine.posted_at, SettlementLine.order_number, SettlementLine.fee).where(
                    SettlementLine.fee != 0, SettlementLine.posted_at >= low, SettlementLine.posted_at < high
                )
            ):
                if posted is not None:
                    moves.append(Movement(to_utc(posted), "fees", number, -int(fee)))
        return month_days(year, month, moves)

    def expiring(self, days: int = 14) -> list[tuple[str, int, datetime]]:
        """Authorizations that expire in the next ``days`` days (R9): capture or re-authorize by then."""
        now = self._clock.now()
        with self._sessions() as session:
            rows = session.execute(
                select(Order.number, Charge.amount, Charge.expires_at)
                .join(Order, Order.id == Charge.order_id)
                .where(
                    Charge.state == "Authorized",
                    Charge.expires_at >= now,
                    Charge.expires_at < now + timedelta(days=days),
                )
                .order_by(Charge.expires_at)
            ).all()
        return [(number, int(amount), to_utc(expires)) for number, amount, expires in rows if expires is not None]

    def open_balance(self) -> tuple[datetime | None, int]:
        """Since the end of the last settlement read: what Kanjo captured less what it refunded
        (the next deposit before Amazon's fees), and from when."""
        with self._sessions() as session:
            since = session.scalar(select(func.max(Settlement.end_at)))
            captured_at = func.coalesce(Charge.capture_requested_at, Charge.created_at)
            captured = select(func.coalesce(func.sum(Charge.captured_amount), 0)).where(Charge.captured_amount > 0)
            refunded = select(func.coalesce(func.sum(Refund.amount), 0)).where(Refund.state != "Declined")
            if since is not None:
                captured = captured.where(captured_at >= since)
                refunded = refunded.where(Refund.created_at >= since)
            total = int(session.scalar(captured) or 0) - int(session.scalar(refunded) or 0)
        return (to_utc(since) if since else None), total

    def order_money(self, number: str) -> OrderMoney:
        """``orders show --json``'s ``amazon_fee`` and ``net``, and the order's settlement problems."""
        with self._sessions() as session:
            order_id = session.scalar(select(Order.id).where(Order.number == number.strip()))
            if order_id is None:
                raise NotFound(f"受注 {number.strip()[:64]} が見つかりません。")
            count, fee, net = session.execute(
                select(
                    func.count(),
                    func.coalesce(func.sum(SettlementLine.fee), 0),
                    func.coalesce(func.sum(SettlementLine.net), 0),
                ).where(SettlementLine.order_id == order_id)
            ).one()
            stored = session.scalars(
                select(SettlementProblem).where(SettlementProblem.order_id == order_id).order_by(SettlementProblem.id)
            ).all()
            problems = tuple(
                rc.Problem(p.kind, p.order_number, p.amount, p.message, p.row_key.partition("|")[2]) for p in stored
            )
            if not count:
                return OrderMoney(None, None, problems)
            return OrderMoney(-int(fee), int(net), problems)


class _Running:
    """A settlement's sums over the rows of the file being read (``_refresh`` adds them)."""

    __slots__ = ("first", "last", "totals")

    def __init__(self) -> None:
        self.totals = rc.Totals()
        self.first: datetime | None = None
        self.last: datetime | None = None

    def add(self, row: SettlementRow) -> None:
        self.totals.add(row)
        posted = row.posted_at
        if posted is not None:
            if self.first is None or posted < self.first:
                self.first = posted
            if self.last is None or posted > self.last:
                self.last = posted


class _Writer:
    """Writes each matched batch on a thread of its own while the next batch is read and matched:
    the database works (without Python's lock) while Python parses. One batch in flight at most,
    so memory stays flat; an error of the writer surfaces at the next batch or at the end, and the
    import's transaction, still open, is rolled back as for any other error."""

    def __init__(self, lookups: _Lookups, *, threaded: bool = True) -> None:
        self._lookups = lookups
        # Without a thread (an in-memory SQLite store, or one opened with check_same_thread: its
        # connection may not leave the thread that made it) the batches are written in turn.
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="kanjo-settlements-writer") if threaded else None
        self._pending: Future[int] | None = None
        self.added = 0

    def _write(self, rows: list[tuple[Any, ...]], problems: list[tuple[Any, ...]]) -> int:
        added = self._lookups.insert_rows(rows)
        self._lookups.insert_problems(problems)
        return added

    def write(self, rows: list[tuple[Any, ...]], problems: list[tuple[Any, ...]]) -> None:
        self.wait()
        if self._pool is None:
            added = self._write(rows, problems)
            self.added = -1 if added < 0 or self.added < 0 else self.added + added
            return
        self._pending = self._pool.submit(self._write, rows, problems)

    def wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            added = pending.result()
            self.added = -1 if added < 0 or self.added < 0 else self.added + added

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, kind: object, *_rest: object) -> None:
        try:
            if kind is None:
                self.wait()
            elif self._pending is not None:  # already failing: let the write end, keep that error
                self._pending.exception()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)


class _Lookups:
    """The batch's charges, refunds and orders, read with one query each (IN lists)."""

    def __init__(self, session: Session) -> None:
        connection = session.connection()  # the transaction's: the writer thread uses it too
        self._driver: Any = connection.connection.driver_connection
        self._mark = "%s" if connection.dialect.name == "postgresql" else "?"
        self.lock = threading.Lock()  # one statement at a time on the connection
        self.insert_rows = _BulkInsert(session, self._driver, self.lock, SettlementLine.__table__, _ROW_COLUMNS)
        self.insert_problems = _BulkInsert(
            session, self._driver, self.lock, SettlementProblem.__table__, _PROBLEM_COLUMNS
        )
        self._extras: dict[tuple[tuple[str, str], ...], str] = {}

    def extras(self, extra: dict[str, str]) -> str:
        """The row's unknown columns as JSON; the same few values (a currency, a store name) recur
        on most rows, so their text is made once."""
        key = tuple(extra.items())
        text = self._extras.get(key)
        if text is None:
            text = json.dumps(extra, ensure_ascii=False)
            if len(self._extras) < 4096:
                self._extras[key] = text
        return text

    def _query(self, sql: str, values: list[str]) -> list[tuple[Any, ...]]:
        """``sql`` with ``IN ({marks})`` over ``values``, in chunks, through the DBAPI cursor."""
        mark = self._mark
        found: list[tuple[Any, ...]] = []
        with self.lock:
            self._fetch(sql, values, mark, found)
        return found

    def _fetch(self, sql: str, values: list[str], mark: str, found: list[tuple[Any, ...]]) -> None:
        cursor = self._driver.cursor()
        try:
            for start in range(0, len(values), 900):
                part = values[start : start + 900]
                cursor.execute(sql.format(marks=", ".join([mark] * len(part))), part)
                found.extend(cursor.fetchall())
        finally:
            cursor.close()

    def load(self, rows: list[SettlementRow]) -> rc.Known:
        # What ``rc.match_row`` asks: a Refund row's ID is a Refund ID; any other row's a Charge ID.
        charge_ids = list({r.transaction_id for r in rows if r.transaction_id and r.transaction_type != "Refund"})
        refund_ids = list({r.transaction_id for r in rows if r.transaction_id and r.transaction_type == "Refund"})
        charges: dict[str, rc.ChargeFact] = {}
        refunds: dict[str, rc.RefundFact] = {}
        by_permission: dict[str, rc.OrderRef] = {}
        by_number: dict[str, rc.OrderRef] = {}
        if charge_ids:
            for charge_id, captured, order_id, number in self._query(
                "SELECT c.id, c.captured_amount, o.id, o.number FROM charges c JOIN orders o ON o.id = c.order_id"
                " WHERE c.id IN ({marks})",
                charge_ids,
            ):
                charges[charge_id] = rc.ChargeFact(charge_id, rc.OrderRef(order_id, number), int(captured))
        if refund_ids:
            for refund_id, amount, order_id, number in self._query(
                "SELECT r.id, r.amount, o.id, o.number FROM refunds r JOIN orders o ON o.id = r.order_id"
                " WHERE r.id IN ({marks})",
                refund_ids,
            ):
                refunds[refund_id] = rc.RefundFact(refund_id, rc.OrderRef(order_id, number), int(amount))
        # Orders by permission or number only for the rows their transaction ID did not place.
        rest = [r for r in rows if r.transaction_id not in charges and r.transaction_id not in refunds]
        permissions = list({r.charge_permission_id for r in rest if r.charge_permission_id})
        numbers = list({r.order_number for r in rest if r.order_number})
        if permissions:
            for order_id, number, permission in self._query(
                "SELECT id, number, charge_permission_id FROM orders WHERE charge_permission_id IN ({marks})",
                permissions,
            ):
                by_permission[str(permission)] = rc.OrderRef(order_id, number)
        if numbers:
            for order_id, number in self._query("SELECT id, number FROM orders WHERE number IN ({marks})", numbers):
                by_number[number] = rc.OrderRef(order_id, number)
        return rc.Known(charges.get, refunds.get, by_permission.get, by_number.get)


def service_for(app: Any) -> SettlementService:
    """The service over an open ``core.app.Kanjo`` (the CLI and the window share it)."""
    return SettlementService(app.sessions, app.clock, app.gateway)
