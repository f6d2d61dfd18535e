"""The sandbox's settlements (issue 13, R60): 14-day periods on the shared clock, a fee rate,
settlement reports served through the Reports API, and disbursements.

Every capture, refund and chargeback is posted to a ledger when it happens (a capture's fee is
the fee rate of that moment, default 4.0 %; a refund gives back the fee in proportion). A period
is closed when its 14 days have passed (checked lazily, whenever reports or disbursements are
read) or at once by ``close_now``; closing writes its report, once: a positive balance goes to
the bank (the Transfer row, the deposit), a negative one is carried over into the next period.
"""

from __future__ import annotations

import secrets
import sqlite3
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from core.clock import JST, to_utc
from core.sandbox.errors import ApiFailure
from core.settlements.report import SettlementRow, write_report

if TYPE_CHECKING:
    from core.sandbox.backend import SandboxBackend

PERIOD = timedelta(days=14)
FIRST_PERIOD = timedelta(days=16)  # R60: the first settlement 16 days after the account begins
DOCUMENT_LIFETIME = timedelta(seconds=30)  # R60: a report document's URL lives 30 seconds
DISBURSEMENT_DELAY = timedelta(days=3)
REPORT_TYPE = "_SANDBOX_SETTLEMENT_DATA_"
SELLER_ID = "A1KANJOSANDBOX"
JPY = {"CurrencyCode": "JPY"}  # a column Kanjo does not read: kept as it is (issue 13 item 2)

SCHEMA = """
CREATE TABLE IF NOT EXISTS sb_ledger (
    id INTEGER PRIMARY KEY AUTOINCREMENT, posted_at TEXT NOT NULL, type TEXT NOT NULL,
    transaction_id TEXT NOT NULL, cp_id TEXT NOT NULL, order_number TEXT NOT NULL,
    amount INTEGER NOT NULL, fee INTEGER NOT NULL, settlement_id TEXT);
CREATE INDEX IF NOT EXISTS ix_sb_ledger_open ON sb_ledger(settlement_id, posted_at);
CREATE TABLE IF NOT EXISTS sb_periods (
    id TEXT PRIMARY KEY, start TEXT NOT NULL, end TEXT, report_id TEXT, document_id TEXT,
    content TEXT, balance INTEGER, deposit INTEGER, closed_at TEXT);
CREATE TABLE IF NOT EXISTS sb_documents (token TEXT PRIMARY KEY, document_id TEXT NOT NULL, expires_at TEXT NOT NULL);
"""


def _iso(moment: datetime) -> str:
    return to_utc(moment).isoformat()


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _stamp(moment: datetime) -> str:
    return to_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def fee_for(amount: int, rate_percent: float) -> int:
    """The fee of a capture, whole yen rounded half up (negative: charged to the shop)."""
    fee = (Decimal(amount) * Decimal(str(rate_percent)) / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return -int(fee)


def _open_period(backend: SandboxBackend, db: sqlite3.Connection) -> sqlite3.Row:
    row = db.execute("SELECT * FROM sb_periods WHERE end IS NULL").fetchone()
    if row is not None:
        return row  # type: ignore[no-any-return]
    last = db.execute("SELECT end FROM sb_periods ORDER BY end DESC LIMIT 1").fetchone()
    if last is not None:
        start = _dt(last["end"])
    else:  # the first period starts at midnight (Japan) of the sandbox's first money movement
        local = backend.now().astimezone(JST)
        start = to_utc(local.replace(hour=0, minute=0, second=0, microsecond=0))
    number = backend._next(db, "settlement")
    settlement_id = f"{7_100_000_000 + number}"
    db.execute("INSERT INTO sb_periods(id, start) VALUES (?, ?)", (settlement_id, _iso(start)))
    return db.execute("SELECT * FROM sb_periods WHERE id = ?", (settlement_id,)).fetchone()  # type: ignore[no-any-return]


def post(
    backend: SandboxBackend,
    db: sqlite3.Connection,
    kind: str,
    transaction_id: str,
    cp_id: str,
    amount: int,
    fee: int,
    at: datetime,
) -> None:
    """Record a money movement for the settlement report of the period it falls in."""
    _open_period(backend, db)
    cp = db.execute("SELECT reference_id FROM charge_permissions WHERE id = ?", (cp_id,)).fetchone()
    db.execute(
        "INSERT INTO sb_ledger(posted_at, type, transaction_id, cp_id, order_number, amount, fee)"
        " VALUES (?,?,?,?,?,?,?)",
        (_iso(at), kind, transaction_id, cp_id, (cp["reference_id"] if cp else "") or "", amount, fee),
    )


def post_capture(backend: SandboxBackend, db: sqlite3.Connection, charge_id: str, amount: int, at: datetime) -> None:
    row = db.execute("SELECT cp_id FROM charges WHERE id = ?", (charge_id,)).fetchone()
    rate = backend._settings(db)["fee_rate_percent"]
    post(backend, db, "Capture", charge_id, row["cp_id"], amount, fee_for(amount, rate), at)


def post_refund(backend: SandboxBackend, db: sqlite3.Connection, refund: sqlite3.Row, at: datetime) -> None:
    """A refund gives back the capture's fee in proportion (R60's sandbox decision)."""
    charge_id = refund["charge_id"]
    capture = db.execute(
        "SELECT amount, fee, cp_id FROM sb_ledger WHERE type = 'Capture' AND transaction_id = ?", (charge_id,)
    ).fetchone()
    back = 0
    if capture is not None and capture["amount"] > 0:
        back = (abs(capture["fee"]) * refund["amount"] * 2 + capture["amount"]) // (2 * capture["amount"])
    cp_id = (
        capture["cp_id"]
        if capture
        else db.execute("SELECT cp_id FROM charges WHERE id = ?", (charge_id,)).fetchone()[0]
    )
    post(backend, db, "Refund", refund["id"], cp_id, -refund["amount"], back, at)


def chargeback(backend: SandboxBackend, cp_id: str, amount: int) -> dict[str, Any]:
    """The buyer's card issuer takes ``amount`` back from a captured charge of ``cp_id``."""
    with backend.transaction() as db:
        charge = db.execute(
            "SELECT transaction_id, amount FROM sb_ledger WHERE cp_id = ? AND type = 'Capture' ORDER BY id LIMIT 1",
            (cp_id,),
        ).fetchone()
        if charge is None:
            raise ApiFailure(422, "InvalidChargeStatus", f"No captured charge on {cp_id}.")
        if amount > charge["amount"]:
            raise ApiFailure(400, "InvalidParameterValue", "The chargeback exceeds the captured amount.")
        post(backend, db, "Chargeback", charge["transaction_id"], cp_id, -amount, 0, backend.now())
        return {"chargeId": charge["transaction_id"], "amount": amount}


def _settle_pending(backend: SandboxBackend, db: sqlite3.Connection) -> None:
    """Captures and refunds whose time has come are settled before a period closes."""
    for row in db.execute("SELECT * FROM charges WHERE state = 'CaptureInitiated'").fetchall():
        backend._settle_charge(db, row)
    for row in db.execute("SELECT * FROM refunds WHERE state = 'RefundInitiated'").fetchall():
        backend._settle_refund(db, row)


def _close(backend: SandboxBackend, db: sqlite3.Connection, period: sqlite3.Row, end: datetime) -> None:
    _settle_pending(backend, db)
    settlement_id = period["id"]
    db.execute(
        # A period holds what was posted up to and including its end (start, end]: what happens at
        # the very moment of ``settlement close`` belongs to the period it closes.
        "UPDATE sb_ledger SET settlement_id = ? WHERE settlement_id IS NULL AND posted_at <= ?",
        (settlement_id, _iso(end)),
    )
    rows: list[SettlementRow] = []
    previous = db.execute(
        "SELECT balance FROM sb_periods WHERE end IS NOT NULL AND end <= ? ORDER BY end DESC LIMIT 1",
        (period["start"],),
    ).fetchone()
    start = _dt(period["start"])
    balance = 0
    if previous is not None and previous["balance"] < 0:
        carry = int(previous["balance"])
        rows.append(SettlementRow(0, settlement_id, "Carryover", "", start, "", "", "", carry, 0, carry, dict(JPY)))
        balance += carry
    for entry in db.execute(
        "SELECT * FROM sb_ledger WHERE settlement_id = ? ORDER BY posted_at, id", (settlement_id,)
    ).fetchall():
        net = entry["amount"] + entry["fee"]
        rows.append(
            SettlementRow(
                0,
                settlement_id,
                entry["type"],
                entry["transaction_id"],
                _dt(entry["posted_at"]),
                entry["cp_id"],
                "",
                entry["order_number"],
                entry["amount"],
                entry["fee"],
                net,
                dict(JPY),
            )
        )
        balance += net
    deposit = None
    if balance > 0:
        deposit = balance
        rows.append(SettlementRow(0, settlement_id, "Transfer", "", end, "", "", "", -balance, 0, -balance, dict(JPY)))
    header = {
        "SellerId": SELLER_ID,
        "SettlementId": settlement_id,
        "SettlementStartDate": _stamp(start),
        "SettlementEndDate": _stamp(end),
        "DepositDate": _stamp(end + DISBURSEMENT_DELAY),
        "TotalAmount": str(deposit or 0),
        "Currency": "JPY",
    }
    content = write_report(header, rows, extra_columns=["CurrencyCode"])
    number = backend._next(db, "report")
    db.execute(
        "UPDATE sb_periods SET end = ?, report_id = ?, document_id = ?, content = ?, balance = ?, deposit = ?,"
        " closed_at = ? WHERE id = ?",
        (
            _iso(end),
            f"{50_000_000 + number}",
            f"DOC-{50_000_000 + number}",
            content,
            balance,
            deposit,
            _iso(backend.now()),
            settlement_id,
        ),
    )


def roll(backend: SandboxBackend, db: sqlite3.Connection) -> None:
    """Close every period whose days have passed (lazily, against the shared clock): 16 for the
    first (R60: the sandbox account begins with its first money movement), 14 after."""
    now = backend.now()
    while True:
        period = _open_period(backend, db)
        first = db.execute("SELECT 1 FROM sb_periods WHERE end IS NOT NULL LIMIT 1").fetchone() is None
        end = _dt(period["start"]) + (FIRST_PERIOD if first else PERIOD)
        if end > now:
            return
        _close(backend, db, period, end)


def close_now(backend: SandboxBackend) -> dict[str, Any]:
    """``kanjo sandbox settlement close``: the current period ends now; the next starts now."""
    with backend.transaction() as db:
        roll(backend, db)
        period = _open_period(backend, db)
        now = backend.now()
        if _dt(period["start"]) >= now:
            raise ApiFailure(422, "InvalidRequest", "The current settlement period has only just begun.")
        _close(backend, db, period, now)
        _open_period(backend, db)
        return _report_json(db.execute("SELECT * FROM sb_periods WHERE id = ?", (period["id"],)).fetchone())


def _report_json(row: sqlite3.Row) -> dict[str, Any]:
    closed = _dt(row["closed_at"])
    return {
        "reportId": row["report_id"],
        "reportType": REPORT_TYPE,
        "processingStatus": "DONE",
        "createdTime": _stamp(closed),
        "processingStartTime": _stamp(closed),
        "processingEndTime": _stamp(closed),
        "reportDocumentId": row["document_id"],
        "startTime": _stamp(_dt(row["start"])),
        "endTime": _stamp(_dt(row["end"])),
        "settlementId": row["id"],
    }


def _page(items: list[dict[str, Any]], query: dict[str, list[str]], key: str) -> dict[str, Any]:
    try:
        size = int((query.get("pageSize") or ["100"])[0])
        start = int((query.get("nextToken") or ["0"])[0])
    except ValueError as exc:
        raise ApiFailure(400, "InvalidParameterValue", "pageSize and nextToken must be whole numbers.") from exc
    if not 1 <= size <= 100:
        raise ApiFailure(400, "InvalidParameterValue", "pageSize must be 1 to 100.")
    chunk = items[start : start + size]
    following = start + size
    return {key: chunk, "nextToken": str(following) if following < len(items) else None}


def _time(query: dict[str, list[str]], name: str) -> datetime | None:
    text = (query.get(name) or [""])[0]
    if not text:
        return None
    try:
        return to_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError as exc:
        raise ApiFailure(400, "InvalidParameterValue", f"{name} must be an ISO 8601 time.") from exc


def get_reports(backend: SandboxBackend, query: dict[str, list[str]]) -> dict[str, Any]:
    types = {t for value in query.get("reportTypes", []) for t in value.split(",") if t}
    since, until = _time(query, "createdSince"), _time(query, "createdUntil")
    with backend.transaction() as db:
        roll(backend, db)
        rows = db.execute("SELECT * FROM sb_periods WHERE end IS NOT NULL ORDER BY end").fetchall()
    reports = []
    for row in rows:
        if types and REPORT_TYPE not in types:
            continue
        closed = _dt(row["closed_at"])
        if (since and closed < since) or (until and closed > until):
            continue
        reports.append(_report_json(row))
    return _page(reports, query, "reports")


def get_report(backend: SandboxBackend, report_id: str) -> dict[str, Any]:
    with backend.transaction() as db:
        row = db.execute("SELECT * FROM sb_periods WHERE report_id = ?", (report_id,)).fetchone()
        if row is None:
            raise ApiFailure(404, "ResourceNotFound", f"Report {report_id} does not exist.")
        return _report_json(row)


def get_report_document(backend: SandboxBackend, document_id: str) -> dict[str, Any]:
    """A fresh download path, valid 30 seconds on the shared clock (the server adds its address)."""
    with backend.transaction() as db:
        row = db.execute("SELECT id FROM sb_periods WHERE document_id = ?", (document_id,)).fetchone()
        if row is None:
            raise ApiFailure(404, "ResourceNotFound", f"Report document {document_id} does not exist.")
        token = secrets.token_urlsafe(24)
        db.execute(
            "INSERT INTO sb_documents(token, document_id, expires_at) VALUES (?,?,?)",
            (token, document_id, _iso(backend.now() + DOCUMENT_LIFETIME)),
        )
        return {"reportDocumentId": document_id, "url": f"/_documents/{token}", "compressionAlgorithm": None}


def download(backend: SandboxBackend, token: str) -> bytes:
    with backend.transaction() as db:
        row = db.execute(
            "SELECT p.content, d.expires_at FROM sb_documents d JOIN sb_periods p ON p.document_id = d.document_id"
            " WHERE d.token = ?",
            (token,),
        ).fetchone()
        if row is None or backend.now() > _dt(row["expires_at"]):
            raise ApiFailure(403, "AccessDenied", "Request has expired")
        return str(row["content"]).encode("utf-8")


def get_disbursements(backend: SandboxBackend, query: dict[str, list[str]]) -> dict[str, Any]:
    start, end = _time(query, "startTime"), _time(query, "endTime")
    now = backend.now()
    with backend.transaction() as db:
        roll(backend, db)
        rows = db.execute("SELECT * FROM sb_periods WHERE deposit IS NOT NULL ORDER BY end").fetchall()
    items = []
    for row in rows:
        paid = _dt(row["end"]) + DISBURSEMENT_DELAY
        closed = _dt(row["end"])  # a settlement is listed from its close; its money follows
        if (start and closed < start) or (end and closed > end):
            continue
        items.append(
            {
                "settlementId": row["id"],
                "settlementStartDate": _stamp(_dt(row["start"])),
                "settlementEndDate": _stamp(_dt(row["end"])),
                "disbursementDate": _stamp(paid),
                "disbursementReference": f"AMZPAY-{row['id']}",
                "disbursementAmount": {"amount": str(row["deposit"]), "currencyCode": "JPY"},
                "disbursementStatus": "Disbursed" if now >= paid else "Pending",
            }
        )
    return _page(items, query, "disbursements")
