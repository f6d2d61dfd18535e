"""Issue 13 item 3 on the fast path (bench/settlements_bench.py): rows written many per statement,
the rows added counted by the driver, posting times parsed and converted once per distinct text.
A re-read or an overlapping report never counts a row twice (R60), whatever the statement sizes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import sessionmaker

from core.app import Kanjo
from core.clock import FixedClock
from core.db.engine import make_engine, migrate
from core.settlements import reconcile as rc
from core.settlements.service import SettlementService, service_for
from tests.helpers import place_order

HEADER = '"SellerId","A1BULK"\r\n"SettlementStartDate","2026-11-01T00:00:00Z"\r\n\r\n'
COLUMNS = (
    "TransactionPostedDate,SettlementId,AmazonTransactionId,AmazonOrderReferenceId,SellerReferenceId,"
    "SellerOrderId,TransactionType,TransactionAmount,TotalTransactionFee,NetTransactionAmount\r\n"
)
START = datetime(2026, 11, 1, tzinfo=UTC)


def capture(i: int, minutes: int) -> str:
    stamp = (START + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{stamp},7001,S03-X-{i:04d}-C1,S03-X-{i:04d},,X-{i:04d},Capture,{1000 + i},-40,{960 + i}\r\n"


def report(lines: list[str]) -> bytes:
    return (HEADER + COLUMNS + "".join(lines)).encode()


@pytest.fixture
def store_url(any_store_url: str) -> str:
    """SQLite (many rows per statement) and PostgreSQL (``executemany``, rows added counted)."""
    return any_store_url


def captured(upto: int) -> int:
    return sum(1000 + i for i in range(upto))


def test_overlapping_reports_add_each_row_once(app: Kanjo) -> None:
    place_order(app, "X-0003", 1003)  # one order Kanjo knows (by number); the rest are unmatched
    service = service_for(app)
    # All new (the sums of the file added to none): 100 rows over several statements and a short
    # last one; posting times: 7 distinct ones shared by many rows.
    result = service.import_bytes(report([capture(i, i % 7) for i in range(100)]), name="a.csv")
    assert (result.rows_read, result.rows_added) == (100, 100)
    (summary,) = service.summaries()
    assert (summary.rows, summary.captured, summary.fees, summary.start) == (100, captured(100), 4000, START)
    # Two rows twice in the file, and 30 rows already read: the sums are taken again from all rows.
    lines = [capture(i, i % 7) for i in range(70, 150)] + [capture(105, 0), capture(149, 149 % 7)]
    result = service.import_bytes(report(lines), name="b.csv")
    assert (result.rows_read, result.rows_added) == (82, 50)
    (summary,) = service.summaries()
    assert (summary.rows, summary.captured, summary.fees) == (150, captured(150), 6000)
    # All new again, into a settlement already holding rows: its sums grow by the file's.
    transfer = "2026-11-02T00:00:00Z,7001,,,,,Transfer,-1000,0,-1000\r\n"
    result = service.import_bytes(report([capture(i, i % 7) for i in range(150, 190)] + [transfer]), name="c.csv")
    assert (result.rows_read, result.rows_added) == (41, 41)
    (summary,) = service.summaries()
    assert (summary.rows, summary.captured, summary.fees, summary.deposit) == (191, captured(190), 7600, 1000)
    # Read again, overlapping everything: nothing changes.
    lines = [capture(i, i % 7) for i in range(190)] + [transfer]
    result = service.import_bytes(report(lines), name="d.csv")
    assert (result.rows_read, result.rows_added) == (191, 0)
    assert service.summaries() == [summary]
    detail = service.show("7001")
    posted = {row.transaction_id: row.posted_at for row in detail.rows}
    for i in (0, 6, 7, 100, 189):
        assert posted[f"S03-X-{i:04d}-C1"] == START + timedelta(minutes=i % 7)
    unmatched = [p for p in detail.problems if p.kind == rc.UNMATCHED]
    assert len(unmatched) == 189  # every capture but the one of X-0003, once each
    money = service.order_money("X-0003")
    assert (money.amazon_fee, money.net) == (40, 963)


def test_in_memory_store_writes_without_a_thread() -> None:
    """An in-memory SQLite store's connection may not leave its thread: the batches are written
    in turn there, with the same result."""
    engine = make_engine("sqlite://")
    migrate(engine)
    service = SettlementService(sessionmaker(engine), FixedClock(START + timedelta(days=20)))
    transfer = "2026-11-02T00:00:00Z,7001,,,,,Transfer,-1000,0,-1000\r\n"
    result = service.import_bytes(report([capture(i, i % 7) for i in range(80)] + [transfer]), name="m.csv")
    assert (result.rows_read, result.rows_added) == (81, 81)
    (summary,) = service.summaries()
    assert (summary.rows, summary.captured, summary.deposit) == (81, captured(80), 1000)
    engine.dispose()
