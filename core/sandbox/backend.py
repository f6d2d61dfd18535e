"""Sandbox state and state machines, stored in SQLite (stdlib sqlite3, one file).

Each public method is one transaction. Time-driven transitions (authorization expiry after
30 days, an asynchronous capture or refund settling) are applied lazily whenever an object
is read, against the injected clock, so a jump of ``KANJO_NOW`` behaves like real time
passing.
"""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from core.amazonpay.signing import format_amz_date
from core.clock import Clock, add_months, to_utc
from core.db.engine import prepare_sqlite_file
from core.db.errors import open_error
from core.domain import R4_ADDRESS_MESSAGE
from core.sandbox import settlement
from core.sandbox.errors import ApiFailure as ApiFailure  # re-exported: server.py imports it from here
from core.sandbox.people import person_for
from core.sandbox.validation import check_fields, flag, soft_descriptor

JST = ZoneInfo("Asia/Tokyo")
AUTH_VALIDITY = timedelta(days=30)
CHARGE_PERMISSION_MONTHS = 13  # R13/R14: a recurring permission, or a one-time one with the extension (R54)
ONE_TIME_DAYS = 180  # R54: a one-time permission without the extension (amazonpay-api.md §3)
ASYNC_CAPTURE_AFTER = timedelta(days=7)
MAX_CHARGE = 10_000_000  # R5 / JP maximum chargeAmount
MAX_CHARGES_ONE_TIME = 25  # R52
RECURRING_MONTHLY_LIMIT = 100_000  # R53
REFUND_OVER_PERCENT = 15
REFUND_OVER_YEN = 8_400
PHONE_MIN_DIGITS = 10

DEFAULT_SETTINGS: dict[str, float] = {
    "capture_settle_seconds": 3600.0,  # CaptureInitiated → Captured for captures after 7 days (R55)
    "refund_settle_seconds": 0.0,  # RefundInitiated → Refunded on the next read after this delay
    "auth_settle_seconds": 30.0,  # AuthorizationInitiated → Authorized (sandbox simulation §6)
    "hang_seconds": 3.0,  # how long a 'timeout' fault withholds the response
    "fee_rate_percent": 4.0,  # issue 13: Amazon Pay's fee on each capture, refunded in proportion (R60)
}

# When a one-time Charge Permission closes by itself (Closed/AmazonClosed) after captures.
# Amazon's JP onboarding pages: "once the whole order amount has been captured"; the source
# manual (R39) shows Seller Central adding a charge after a capture on the same permission.
# The two agree when nothing more may be charged: the captures reached ``amountLimit``
# (the order amount itself when overcharge was not allowed). That is the default.
ONE_TIME_CLOSURE_RULES = ("amount-limit", "order-amount", "never")
DEFAULT_OPTIONS: dict[str, str] = {"one_time_closure": "amount-limit"}
_OPTION_CHOICES: dict[str, tuple[str, ...]] = {"one_time_closure": ONE_TIME_CLOSURE_RULES}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS public_keys (id TEXT PRIMARY KEY, pem TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS charge_permissions (
    id TEXT PRIMARY KEY, type TEXT NOT NULL, state TEXT NOT NULL, reason TEXT,
    amount_limit INTEGER, order_amount INTEGER NOT NULL, instrument TEXT NOT NULL,
    reference_id TEXT, buyer TEXT NOT NULL, address TEXT NOT NULL,
    created_at TEXT NOT NULL, expires_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ix_cp_reference ON charge_permissions(reference_id);
CREATE TABLE IF NOT EXISTS charges (
    id TEXT PRIMARY KEY, cp_id TEXT NOT NULL, amount INTEGER NOT NULL,
    captured INTEGER NOT NULL DEFAULT 0, refunded INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL, reason TEXT, origin TEXT NOT NULL,
    created_at TEXT NOT NULL, expires_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    settle_at TEXT, settle_outcome TEXT, soft_descriptor TEXT,
    capture_now INTEGER NOT NULL DEFAULT 0, can_handle_pending INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS ix_charges_cp ON charges(cp_id);
CREATE TABLE IF NOT EXISTS refunds (
    id TEXT PRIMARY KEY, charge_id TEXT NOT NULL, amount INTEGER NOT NULL,
    state TEXT NOT NULL, reason TEXT, origin TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, settle_at TEXT, settle_outcome TEXT,
    soft_descriptor TEXT);
CREATE INDEX IF NOT EXISTS ix_refunds_charge ON refunds(charge_id);
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, status INTEGER NOT NULL,
    response TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS declines (
    id INTEGER PRIMARY KEY AUTOINCREMENT, cp_id TEXT NOT NULL, operation TEXT NOT NULL, kind TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS faults (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, remaining INTEGER, rate REAL,
    path TEXT NOT NULL DEFAULT '', seed INTEGER NOT NULL DEFAULT 0, draws INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT, object_type TEXT NOT NULL, object_id TEXT NOT NULL,
    cp_id TEXT NOT NULL, notification_type TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT, method TEXT NOT NULL, path TEXT NOT NULL,
    idempotency_key TEXT, status INTEGER NOT NULL, replayed INTEGER NOT NULL, at TEXT NOT NULL);
"""

# Columns added after the first release: a sandbox file made by an older Kanjo gets them.
_ADDED_COLUMNS = (
    ("charges", "soft_descriptor", "TEXT"),
    ("charges", "capture_now", "INTEGER NOT NULL DEFAULT 0"),
    ("charges", "can_handle_pending", "INTEGER NOT NULL DEFAULT 0"),
    ("refunds", "soft_descriptor", "TEXT"),
    # The shop's kind of the order (normal, reservation, subscription), for ``shop-export``.
    ("charge_permissions", "kind", "TEXT NOT NULL DEFAULT 'normal'"),
)


@dataclass(frozen=True)
class Fault:
    kind: str  # '429', '500', '503', 'timeout'
    hang_seconds: float


def _iso(moment: datetime) -> str:
    return to_utc(moment).isoformat()


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _amount(body: Mapping[str, Any], field: str) -> int:
    value = body.get(field)
    if not isinstance(value, Mapping):
        raise ApiFailure(400, "MissingParameterValue", f"The parameter {field} is missing.")
    currency = value.get("currencyCode")
    if currency != "JPY":
        raise ApiFailure(400, "CurrencyMismatch", f"The currency {currency} does not match JPY.")
    text = str(value.get("amount", ""))
    whole, _, fraction = text.partition(".")
    if not whole.isdigit() or fraction.strip("0"):
        raise ApiFailure(400, "InvalidParameterValue", f"The value {text!r} provided for {field}.amount is invalid.")
    amount = int(whole)
    if amount <= 0 or amount > MAX_CHARGE:
        raise ApiFailure(
            400, "InvalidParameterValue", f"The value {text!r} provided for {field}.amount is out of range."
        )
    return amount


def _status_details(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "state": row["state"],
        "reasonCode": row["reason"],
        "reasonDescription": None,
        "lastUpdatedTimestamp": format_amz_date(_dt(row["updated_at"])),
    }


def _money(amount: int) -> dict[str, str]:
    return {"amount": str(amount), "currencyCode": "JPY"}


class SandboxBackend:
    """All sandbox state. Thread-safe; several processes may share the file (SQLite locks)."""

    def __init__(self, path: Path | str, clock: Clock) -> None:
        self.path = Path(path)
        self.clock = clock
        self._lock = threading.RLock()
        try:
            # The sandbox's buyers are customer-like data: the same 0600 file (and so 0600
            # -wal/-shm) as the store, and the same Japanese reasons when it cannot be used.
            prepare_sqlite_file(self.path)
            db = sqlite3.connect(self.path, timeout=30)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(_SCHEMA)
                db.executescript(settlement.SCHEMA)
                for table, column, declaration in _ADDED_COLUMNS:
                    present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
                    if column not in present:
                        db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
                db.commit()
            finally:
                db.close()
            # Every transaction opens its own connection; when the last one closes, SQLite
            # checkpoints the WAL and fsyncs (~20 ms on this disk), which capped the sandbox at
            # ~50 requests/s (each request also logs itself). One connection kept open for the
            # backend's life leaves checkpoints to SQLite's automatic ones (issue 11, import bench).
            self._keeper: sqlite3.Connection | None = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            self._keeper.execute("SELECT 1 FROM counters LIMIT 1").fetchall()
        except (OSError, sqlite3.Error) as exc:
            mapped = open_error(exc, f"sqlite:///{self.path}")
            if mapped is None:
                raise
            raise mapped from exc

    def close(self) -> None:
        """Close the kept connection (the server's ``stop`` calls it); transactions still work."""
        keeper, self._keeper = self._keeper, None
        if keeper is not None:
            keeper.close()

    # --- plumbing --------------------------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.row_factory = sqlite3.Row
            try:
                db.execute("PRAGMA busy_timeout=30000")
                db.execute("PRAGMA synchronous=NORMAL")  # WAL: durable across a crash of the process
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
            finally:
                db.close()

    def now(self) -> datetime:
        return to_utc(self.clock.now())

    def _next(self, db: sqlite3.Connection, name: str) -> int:
        db.execute("INSERT INTO counters(name, value) VALUES (?, 0) ON CONFLICT(name) DO NOTHING", (name,))
        db.execute("UPDATE counters SET value = value + 1 WHERE name = ?", (name,))
        return int(db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()[0])

    def _notify(
        self, db: sqlite3.Connection, object_type: str, object_id: str, cp_id: str, kind: str = "STATE_CHANGE"
    ) -> None:
        db.execute(
            "INSERT INTO notifications(object_type, object_id, cp_id, notification_type, created_at)"
            " VALUES (?,?,?,?,?)",
            (object_type, object_id, cp_id, kind, _iso(self.now())),
        )

    # --- settings, keys, faults ------------------------------------------------------------

    def settings(self) -> dict[str, float]:
        with self._tx() as db:
            return self._settings(db)

    def _settings(self, db: sqlite3.Connection) -> dict[str, float]:
        values = dict(DEFAULT_SETTINGS)
        for row in db.execute("SELECT key, value FROM settings"):
            if row["key"] in DEFAULT_SETTINGS:
                values[row["key"]] = float(row["value"])
        return values

    def options(self) -> dict[str, str]:
        """The sandbox's rule choices (``one_time_closure``), beside the numeric settings."""
        with self._tx() as db:
            return self._options(db)

    def _options(self, db: sqlite3.Connection) -> dict[str, str]:
        values = dict(DEFAULT_OPTIONS)
        for row in db.execute("SELECT key, value FROM settings"):
            if row["key"] in DEFAULT_OPTIONS:
                values[row["key"]] = str(row["value"])
        return values

    def update_options(self, changes: Mapping[str, str]) -> dict[str, str]:
        with self._tx() as db:
            for key, value in changes.items():
                choices = _OPTION_CHOICES.get(key)
                if choices is None:
                    raise ApiFailure(400, "InvalidParameterValue", f"unknown sandbox option {key}")
                if value not in choices:
                    raise ApiFailure(
                        400, "InvalidParameterValue", f"{key} must be one of {', '.join(choices)}, not {value}"
                    )
                db.execute(
                    "INSERT INTO settings(key, value)"
                    " VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )
            return self._options(db)

    def update_settings(self, changes: Mapping[str, float]) -> dict[str, float]:
        with self._tx() as db:
            for key, value in changes.items():
                if key not in DEFAULT_SETTINGS:
                    raise ApiFailure(400, "InvalidParameterValue", f"unknown sandbox setting {key}")
                db.execute(
                    "INSERT INTO settings(key, value)"
                    " VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (key, str(float(value))),
                )
            return self._settings(db)

    def register_public_key(self, public_key_id: str, pem: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO public_keys(id, pem) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET pem = excluded.pem",
                (public_key_id, pem),
            )

    def public_key_pem(self, public_key_id: str) -> str | None:
        with self._tx() as db:
            row = db.execute("SELECT pem FROM public_keys WHERE id = ?", (public_key_id,)).fetchone()
            return None if row is None else str(row["pem"])

    def add_fault(
        self, kind: str, *, count: int | None = 1, rate: float | None = None, path: str = "", seed: int = 0
    ) -> int:
        if kind not in ("429", "500", "503", "timeout"):
            raise ApiFailure(400, "InvalidParameterValue", f"unknown fault kind {kind}")
        if rate is None and (count is None or count < 1):
            raise ApiFailure(400, "InvalidParameterValue", "count must be at least 1")
        if rate is not None and not 0.0 <= rate <= 1.0:
            raise ApiFailure(400, "InvalidParameterValue", "rate must be between 0 and 1")
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO faults(kind, remaining, rate, path, seed) VALUES (?, ?, ?, ?, ?)",
                (kind, None if rate is not None else count, rate, path, seed),
            )
            return int(cursor.lastrowid or 0)

    def clear_faults(self) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM faults")

    def draw_fault(self, method: str, path: str) -> Fault | None:
        """The fault to inject into this call, if any: next-call faults first, then by rate."""
        with self._tx() as db:
            hang = self._settings(db)["hang_seconds"]
            for row in db.execute("SELECT * FROM faults ORDER BY remaining IS NULL, id").fetchall():
                if row["path"] and row["path"] not in path:
                    continue
                if row["remaining"] is not None:
                    if row["remaining"] <= 1:
                        db.execute("DELETE FROM faults WHERE id = ?", (row["id"],))
                    else:
                        db.execute("UPDATE faults SET remaining = remaining - 1 WHERE id = ?", (row["id"],))
                    return Fault(row["kind"], hang)
                rng = random.Random(f"{row['seed']}:{row['draws']}")
                db.execute("UPDATE faults SET draws = draws + 1 WHERE id = ?", (row["id"],))
                if rng.random() < float(row["rate"]):
                    return Fault(row["kind"], hang)
            return None

    def record_call(self, method: str, path: str, key: str | None, status: int, replayed: bool) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO calls(method, path, idempotency_key, status, replayed, at) VALUES (?,?,?,?,?,?)",
                (method, path, key, status, int(replayed), _iso(self.now())),
            )

    # --- idempotency (§4) ------------------------------------------------------------------

    def idempotent(self, key: str, fingerprint_source: str, run: Any) -> tuple[int, dict[str, Any], bool]:
        """Run ``run()`` once per key: replay its stored answer for the same request,
        refuse a reused key with a different request (DuplicateIdempotencyKey)."""
        fingerprint = hashlib.sha256(fingerprint_source.encode("utf-8")).hexdigest()
        with self._tx() as db:
            row = db.execute("SELECT * FROM idempotency WHERE key = ?", (key,)).fetchone()
            if row is not None:
                if row["fingerprint"] != fingerprint:
                    failure = ApiFailure(
                        400,
                        "DuplicateIdempotencyKey",
                        "The idempotency key was already used with a different request.",
                    )
                    return failure.status, failure.body(), False
                return int(row["status"]), json.loads(row["response"]), True
            try:
                status, body = 200, run(db)
            except ApiFailure as failure:
                status, body = failure.status, failure.body()
            db.execute(
                "INSERT INTO idempotency(key, fingerprint, status, response, created_at) VALUES (?,?,?,?,?)",
                (key, fingerprint, status, json.dumps(body, ensure_ascii=False), _iso(self.now())),
            )
            return status, body, False

    def transaction(self) -> Any:
        return self._tx()

    # --- lazy time-driven transitions ------------------------------------------------------

    def _settle_charge(self, db: sqlite3.Connection, row: sqlite3.Row) -> sqlite3.Row:
        now = self.now()
        state = row["state"]
        changes: dict[str, Any] = {}
        if state == "AuthorizationInitiated" and row["settle_at"] and now >= _dt(row["settle_at"]):
            outcome = row["settle_outcome"] or "Authorized"
            changes = {"state": "Declined", "reason": outcome} if outcome != "Authorized" else {"state": "Authorized"}
            changes.update(settle_at=None, settle_outcome=None)
            if outcome == "Authorized":
                self._extend_recurring(db, row["cp_id"], now)
        elif state == "CaptureInitiated" and row["settle_at"] and now >= _dt(row["settle_at"]):
            outcome = row["settle_outcome"] or "Captured"
            if outcome == "Captured":
                changes = {"state": "Captured"}
                settlement.post_capture(self, db, row["id"], row["captured"], _dt(row["settle_at"]))
            else:
                changes = {"state": "Declined", "reason": outcome, "captured": 0}
            changes.update(settle_at=None, settle_outcome=None)
        now_authorized = state == "Authorized" or changes.get("state") == "Authorized"
        if now_authorized and now >= _dt(row["expires_at"]):
            changes.update(state="Canceled", reason="ExpiredUnused")
        if not changes:
            return row
        changes["updated_at"] = _iso(now)
        assignments = ", ".join(f"{k} = ?" for k in changes)
        db.execute(f"UPDATE charges SET {assignments} WHERE id = ?", (*changes.values(), row["id"]))
        self._notify(db, "CHARGE", row["id"], row["cp_id"])
        return self._fetch(db, "charges", row["id"])

    def _settle_refund(self, db: sqlite3.Connection, row: sqlite3.Row) -> sqlite3.Row:
        now = self.now()
        if row["state"] != "RefundInitiated" or not row["settle_at"] or now < _dt(row["settle_at"]):
            return row
        outcome = row["settle_outcome"] or "Refunded"
        if outcome == "Refunded":
            db.execute(
                "UPDATE refunds SET state='Refunded', reason=NULL, settle_at=NULL, settle_outcome=NULL, updated_at=?"
                " WHERE id=?",
                (_iso(now), row["id"]),
            )
            db.execute("UPDATE charges SET refunded = refunded + ? WHERE id = ?", (row["amount"], row["charge_id"]))
            settlement.post_refund(self, db, row, _dt(row["settle_at"]))
        else:
            db.execute(
                "UPDATE refunds SET state='Declined', reason=?, settle_at=NULL, settle_outcome=NULL, updated_at=?"
                " WHERE id=?",
                (outcome, _iso(now), row["id"]),
            )
        charge = db.execute("SELECT cp_id FROM charges WHERE id = ?", (row["charge_id"],)).fetchone()
        self._notify(db, "REFUND", row["id"], charge["cp_id"])
        return self._fetch(db, "refunds", row["id"])

    def _settle_cp(self, db: sqlite3.Connection, row: sqlite3.Row) -> sqlite3.Row:
        reason = None
        if row["state"] != "Closed" and self.now() >= _dt(row["expires_at"]):
            reason = "Expired"
        elif row["state"] != "Closed" and row["type"] == "OneTime" and self._fully_captured(db, row):
            reason = "AmazonClosed"  # the charge is complete (amazonpay-api.md §2)
        if reason is None:
            return row
        db.execute(
            "UPDATE charge_permissions SET state='Closed', reason=?, updated_at=? WHERE id=?",
            (reason, _iso(self.now()), row["id"]),
        )
        self._notify(db, "CHARGE_PERMISSION", row["id"], row["id"])
        return self._fetch(db, "charge_permissions", row["id"])

    def _fully_captured(self, db: sqlite3.Connection, cp: sqlite3.Row) -> bool:
        """True when the one-time permission's closure rule (``one_time_closure``) is met."""
        rule = self._options(db)["one_time_closure"]
        if rule == "never":
            return False
        threshold = cp["order_amount"] if rule == "order-amount" else (cp["amount_limit"] or cp["order_amount"])
        captured = 0
        for raw in db.execute("SELECT * FROM charges WHERE cp_id = ?", (cp["id"],)).fetchall():
            charge = self._settle_charge(db, raw)
            if charge["state"] == "Captured":
                captured += charge["captured"]
        return bool(captured >= threshold)

    def _extend_recurring(self, db: sqlite3.Connection, cp_id: str, authorized_at: datetime) -> None:
        """R14: a successful authorization on a recurring permission extends it to 13 months from then."""
        cp = db.execute("SELECT type, expires_at FROM charge_permissions WHERE id = ?", (cp_id,)).fetchone()
        if cp is None or cp["type"] != "Recurring":
            return
        extended = add_months(to_utc(authorized_at), CHARGE_PERMISSION_MONTHS)
        if extended > _dt(cp["expires_at"]):
            db.execute("UPDATE charge_permissions SET expires_at = ? WHERE id = ?", (_iso(extended), cp_id))

    @staticmethod
    def _fetch(db: sqlite3.Connection, table: str, object_id: str) -> sqlite3.Row:
        row: sqlite3.Row = db.execute(f"SELECT * FROM {table} WHERE id = ?", (object_id,)).fetchone()
        return row

    def _charge_row(self, db: sqlite3.Connection, charge_id: str) -> sqlite3.Row:
        if db.execute("SELECT 1 FROM charges WHERE id = ?", (charge_id,)).fetchone() is None:
            raise ApiFailure(404, "ResourceNotFound", f"Charge {charge_id} was not found.")
        # Refunds that settled since the last read change the charge's refundedAmount first.
        for refund in db.execute(
            "SELECT * FROM refunds WHERE charge_id = ? AND state = 'RefundInitiated'", (charge_id,)
        ).fetchall():
            self._settle_refund(db, refund)
        return self._settle_charge(db, self._fetch(db, "charges", charge_id))

    def _cp_row(self, db: sqlite3.Connection, cp_id: str) -> sqlite3.Row:
        row = db.execute("SELECT * FROM charge_permissions WHERE id = ?", (cp_id,)).fetchone()
        if row is None:
            raise ApiFailure(404, "ResourceNotFound", f"Charge Permission {cp_id} was not found.")
        return self._settle_cp(db, row)

    def _refund_row(self, db: sqlite3.Connection, refund_id: str) -> sqlite3.Row:
        row = db.execute("SELECT * FROM refunds WHERE id = ?", (refund_id,)).fetchone()
        if row is None:
            raise ApiFailure(404, "ResourceNotFound", f"Refund {refund_id} was not found.")
        return self._settle_refund(db, row)

    # --- JSON views ------------------------------------------------------------------------

    def _charge_json(self, row: sqlite3.Row) -> dict[str, Any]:
        return {
            "chargeId": row["id"],
            "chargePermissionId": row["cp_id"],
            "chargeAmount": _money(row["amount"]),
            "captureAmount": _money(row["captured"]) if row["captured"] else None,
            "refundedAmount": _money(row["refunded"]) if row["refunded"] else None,
            "softDescriptor": row["soft_descriptor"],
            "captureNow": bool(row["capture_now"]),
            "canHandlePendingAuthorization": bool(row["can_handle_pending"]),
            "creationTimestamp": format_amz_date(_dt(row["created_at"])),
            "expirationTimestamp": format_amz_date(_dt(row["expires_at"])),
            "statusDetails": _status_details(row),
            "releaseEnvironment": "Sandbox",
        }

    def _refund_json(self, row: sqlite3.Row) -> dict[str, Any]:
        return {
            "refundId": row["id"],
            "chargeId": row["charge_id"],
            "refundAmount": _money(row["amount"]),
            "softDescriptor": row["soft_descriptor"],
            "creationTimestamp": format_amz_date(_dt(row["created_at"])),
            "statusDetails": _status_details(row),
            "releaseEnvironment": "Sandbox",
        }

    def _cp_json(self, db: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
        buyer = json.loads(row["buyer"])
        address = json.loads(row["address"])
        if row["type"] == "Recurring":
            # R53: 100,000 yen per calendar month (Japan time); the balance is this month's rest.
            limit = RECURRING_MONTHLY_LIMIT
            used = self._recurring_month_used(db, row["id"])
        else:
            # One-time: max(9 × total, 70,000) with the overcharge option, else the order amount.
            limit = row["amount_limit"] or row["order_amount"]
            used = self._committed_amount(db, row["id"])
        descriptor = {
            "card": "Visa ****1111",
            "gift": "Amazonギフト券",
            "gift+card": "Amazonギフト券, Visa ****1111",
        }[row["instrument"]]
        reasons = [{"reasonCode": row["reason"], "reasonDescription": None}] if row["reason"] else []
        return {
            "chargePermissionId": row["id"],
            "chargePermissionType": row["type"],
            "limits": {
                "amountLimit": _money(limit),
                "amountBalance": _money(max(limit - used, 0)),
            },
            "buyer": buyer,
            "shippingAddress": address,
            "billingAddress": None,
            "paymentPreferences": [{"paymentDescriptor": descriptor}],
            "merchantMetadata": {"merchantReferenceId": row["reference_id"]},
            "presentmentCurrency": "JPY",
            "creationTimestamp": format_amz_date(_dt(row["created_at"])),
            "expirationTimestamp": format_amz_date(_dt(row["expires_at"])),
            "statusDetails": {
                "state": row["state"],
                "reasons": reasons,
                "lastUpdatedTimestamp": format_amz_date(_dt(row["updated_at"])),
            },
            "releaseEnvironment": "Sandbox",
        }

    def _recurring_month_used(self, db: sqlite3.Connection, cp_id: str) -> int:
        month = self.now().astimezone(JST).strftime("%Y-%m")
        used = 0
        for raw in db.execute("SELECT * FROM charges WHERE cp_id = ?", (cp_id,)).fetchall():
            c = self._settle_charge(db, raw)
            if c["state"] in ("AuthorizationInitiated", "Authorized", "CaptureInitiated", "Captured") and (
                _dt(c["created_at"]).astimezone(JST).strftime("%Y-%m") == month
            ):
                used += c["captured"] or c["amount"]
        return used

    def _committed_amount(self, db: sqlite3.Connection, cp_id: str) -> int:
        total = 0
        for raw in db.execute("SELECT * FROM charges WHERE cp_id = ?", (cp_id,)).fetchall():
            row = self._settle_charge(db, raw)  # an authorization that expired unread holds nothing
            if row["state"] in ("AuthorizationInitiated", "Authorized"):
                total += row["amount"]
            elif row["state"] in ("CaptureInitiated", "Captured"):
                total += row["captured"]
        return total

    # --- API operations (the handler calls these inside idempotency) -----------------------

    def get_charge_permission(self, cp_id: str) -> dict[str, Any]:
        with self._tx() as db:
            return self._cp_json(db, self._cp_row(db, cp_id))

    def update_charge_permission(self, cp_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        check_fields("update_charge_permission", body)
        with self._tx() as db:
            row = self._cp_row(db, cp_id)
            metadata = body.get("merchantMetadata") or {}
            if "merchantReferenceId" in metadata:
                db.execute(
                    "UPDATE charge_permissions SET reference_id=?, updated_at=? WHERE id=?",
                    (metadata["merchantReferenceId"], _iso(self.now()), row["id"]),
                )
            return self._cp_json(db, self._cp_row(db, cp_id))

    def close_charge_permission(self, cp_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        check_fields("close_charge_permission", body)
        cancel_pending = flag(body, "cancelPendingCharges")
        with self._tx() as db:
            row = self._cp_row(db, cp_id)
            now = _iso(self.now())
            if row["state"] == "Closed":
                # Like a second cancel of a charge (InvalidChargeStatus), a second close is refused:
                # Close has no idempotency key, so a client that resends it must read the permission.
                # Amazon's answer here is unverified (amazonpay-api.md §5); refusing is the stricter model.
                raise ApiFailure(
                    422,
                    "InvalidChargePermissionStatus",
                    f"The Charge Permission is already Closed ({row['reason']}) and cannot be closed again.",
                )
            db.execute(
                "UPDATE charge_permissions SET state='Closed', reason='MerchantClosed', updated_at=? WHERE id=?",
                (now, cp_id),
            )
            self._notify(db, "CHARGE_PERMISSION", cp_id, cp_id)
            if cancel_pending:
                for charge in db.execute(
                    "SELECT id FROM charges WHERE cp_id=? AND state IN ('AuthorizationInitiated','Authorized')",
                    (cp_id,),
                ).fetchall():
                    db.execute(
                        "UPDATE charges SET state='Canceled', reason='ChargePermissionCanceled', updated_at=?"
                        " WHERE id=?",
                        (now, charge["id"]),
                    )
                    self._notify(db, "CHARGE", charge["id"], cp_id)
            return self._cp_json(db, self._cp_row(db, cp_id))

    def create_charge(
        self, db: sqlite3.Connection, body: Mapping[str, Any], *, origin: str = "product"
    ) -> dict[str, Any]:
        check_fields("create_charge", body)
        cp_id = str(body.get("chargePermissionId") or "")
        if not cp_id:
            raise ApiFailure(400, "MissingParameterValue", "The parameter chargePermissionId is missing.")
        amount = _amount(body, "chargeAmount")
        descriptor = soft_descriptor(body)
        capture_now = flag(body, "captureNow")
        can_handle_pending = flag(body, "canHandlePendingAuthorization")
        cp = self._cp_row(db, cp_id)
        now = self.now()
        if cp["state"] == "Closed":
            raise ApiFailure(422, "InvalidChargePermissionStatus", f"The Charge Permission is Closed ({cp['reason']}).")
        charges = [
            self._settle_charge(db, row)
            for row in db.execute("SELECT * FROM charges WHERE cp_id = ?", (cp_id,)).fetchall()
        ]
        if cp["type"] == "OneTime":
            if len(charges) >= MAX_CHARGES_ONE_TIME:
                raise ApiFailure(400, "TransactionCountExceeded", "The Charge Permission allows at most 25 charges.")
            limit = cp["amount_limit"] or cp["order_amount"]
            if self._committed_amount(db, cp_id) + amount > limit:
                raise ApiFailure(400, "TransactionAmountExceeded", "The amount exceeds the Charge Permission's limit.")
        else:
            if self._recurring_month_used(db, cp_id) + amount > RECURRING_MONTHLY_LIMIT:
                raise ApiFailure(
                    400, "PeriodicAmountExceeded", "You've exceeded the monthly limit for the Charge Permission."
                )
        decline = self._take_decline(db, cp_id, "auth")
        if cp["state"] == "NonChargeable" and decline is None:
            raise ApiFailure(
                422,
                "InvalidChargePermissionStatus",
                f"The Charge Permission is NonChargeable ({cp['reason']}); the buyer must update the payment method.",
            )
        if decline is not None:
            # A declined authorization creates no Charge; the error says why (amazonpay-api.md §5).
            if decline == "hard":
                db.execute(
                    "UPDATE charge_permissions SET state='NonChargeable', reason='PaymentMethodInvalid', updated_at=?"
                    " WHERE id=?",
                    (_iso(now), cp_id),
                )
                raise ApiFailure(
                    400, "HardDeclined", "The charge was declined; the buyer must change the payment method."
                )
            raise ApiFailure(400, "SoftDeclined", "The charge was declined; a retry may succeed.")
        return self._insert_charge(
            db,
            cp,
            amount,
            now,
            origin=origin,
            capture_now=capture_now,
            can_handle_pending=can_handle_pending,
            soft_descriptor=descriptor,
        )

    def _insert_charge(
        self,
        db: sqlite3.Connection,
        cp: sqlite3.Row,
        amount: int,
        at: datetime,
        *,
        origin: str,
        pending: bool = False,
        capture_now: bool = False,
        can_handle_pending: bool = False,
        soft_descriptor: str | None = None,
    ) -> dict[str, Any]:
        number = self._next(db, f"charge:{cp['id']}")
        charge_id = f"{cp['id']}-C{number:06d}"
        state = "AuthorizationInitiated" if pending else "Authorized"
        settle = None
        if pending:
            start = max(at, self.now())
            settle = _iso(start + timedelta(seconds=self._settings(db)["auth_settle_seconds"]))
        captured = 0
        if capture_now and not pending:
            state, captured = "Captured", amount
        db.execute(
            "INSERT INTO charges(id, cp_id, amount, captured, refunded, state, reason, origin, created_at, expires_at,"
            " updated_at, settle_at, soft_descriptor, capture_now, can_handle_pending)"
            " VALUES (?,?,?,?,0,?,NULL,?,?,?,?,?,?,?,?)",
            (
                charge_id,
                cp["id"],
                amount,
                captured,
                state,
                origin,
                _iso(at),
                _iso(at + AUTH_VALIDITY),
                _iso(at),
                settle,
                soft_descriptor,
                int(capture_now),
                int(pending or can_handle_pending),
            ),
        )
        self._notify(db, "CHARGE", charge_id, cp["id"])
        if state == "Captured":
            settlement.post_capture(self, db, charge_id, amount, at)
        if state in ("Authorized", "Captured"):
            self._extend_recurring(db, cp["id"], at)  # R14
        if state == "Captured":
            self._cp_row(db, cp["id"])  # a capture may complete a one-time permission
        return self._charge_json(self._charge_row(db, charge_id))

    def _take_decline(self, db: sqlite3.Connection, cp_id: str, operation: str) -> str | None:
        row = db.execute(
            "SELECT id, kind FROM declines WHERE cp_id = ? AND operation = ? ORDER BY id LIMIT 1", (cp_id, operation)
        ).fetchone()
        if row is None:
            return None
        db.execute("DELETE FROM declines WHERE id = ?", (row["id"],))
        return str(row["kind"])

    def get_charge(self, charge_id: str) -> dict[str, Any]:
        with self._tx() as db:
            return self._charge_json(self._charge_row(db, charge_id))

    def capture_charge(self, db: sqlite3.Connection, charge_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        check_fields("capture_charge", body)
        amount = _amount(body, "captureAmount")
        descriptor = soft_descriptor(body)
        row = self._charge_row(db, charge_id)
        if row["state"] != "Authorized":
            raise ApiFailure(422, "InvalidChargeStatus", f"The charge is {row['state']} and cannot be captured.")
        if amount > row["amount"]:
            # Capturing more than the charge's own amount: unverified, treated as not allowed (§3).
            raise ApiFailure(400, "InvalidParameterValue", "The captureAmount exceeds the chargeAmount.")
        now = self.now()
        decline = self._take_decline(db, row["cp_id"], "capture")
        if decline is not None:
            reason = "HardDeclined" if decline == "hard" else "SoftDeclined"
            db.execute(
                "UPDATE charges SET state='Declined', reason=?, updated_at=? WHERE id=?", (reason, _iso(now), charge_id)
            )
        elif now - _dt(row["created_at"]) > ASYNC_CAPTURE_AFTER:
            settle = now + timedelta(seconds=self._settings(db)["capture_settle_seconds"])
            db.execute(
                "UPDATE charges SET state='CaptureInitiated', captured=?, settle_at=?, updated_at=? WHERE id=?",
                (amount, _iso(settle), _iso(now), charge_id),
            )
        else:
            db.execute(
                # chargeAmount keeps what was authorized; captureAmount says what was taken.
                "UPDATE charges SET state='Captured', captured=?, updated_at=? WHERE id=?",
                (amount, _iso(now), charge_id),
            )
            settlement.post_capture(self, db, charge_id, amount, now)
        if descriptor is not None:
            db.execute("UPDATE charges SET soft_descriptor=? WHERE id=?", (descriptor, charge_id))
        self._notify(db, "CHARGE", charge_id, row["cp_id"])
        self._cp_row(db, row["cp_id"])  # a capture may complete a one-time permission
        return self._charge_json(self._charge_row(db, charge_id))

    def cancel_charge(
        self, charge_id: str, body: Mapping[str, Any], *, reason: str = "MerchantCanceled"
    ) -> dict[str, Any]:
        check_fields("cancel_charge", body)
        with self._tx() as db:
            row = self._charge_row(db, charge_id)
            if row["state"] not in ("AuthorizationInitiated", "Authorized"):
                raise ApiFailure(422, "InvalidChargeStatus", f"The charge is {row['state']} and cannot be canceled.")
            db.execute(
                "UPDATE charges SET state='Canceled', reason=?, settle_at=NULL, updated_at=? WHERE id=?",
                (reason, _iso(self.now()), charge_id),
            )
            self._notify(db, "CHARGE", charge_id, row["cp_id"])
            return self._charge_json(self._charge_row(db, charge_id))

    def create_refund(
        self, db: sqlite3.Connection, body: Mapping[str, Any], *, origin: str = "product"
    ) -> dict[str, Any]:
        check_fields("create_refund", body)
        charge_id = str(body.get("chargeId") or "")
        if not charge_id:
            raise ApiFailure(400, "MissingParameterValue", "The parameter chargeId is missing.")
        amount = _amount(body, "refundAmount")
        descriptor = soft_descriptor(body)
        charge = self._charge_row(db, charge_id)
        if charge["state"] != "Captured":
            raise ApiFailure(422, "InvalidChargeStatus", f"The charge is {charge['state']} and cannot be refunded.")
        refunds = db.execute(
            "SELECT amount FROM refunds WHERE charge_id = ? AND state != 'Declined'", (charge_id,)
        ).fetchall()
        already = sum(r["amount"] for r in refunds)
        ceiling = charge["captured"] + min(charge["captured"] * REFUND_OVER_PERCENT // 100, REFUND_OVER_YEN)
        if already + amount > ceiling:
            raise ApiFailure(400, "TransactionAmountExceeded", "The refund amount exceeds what can be refunded.")
        now = self.now()
        number = self._next(db, f"refund:{charge['cp_id']}")
        refund_id = f"{charge['cp_id']}-R{number:06d}"
        decline = self._take_decline(db, charge["cp_id"], "refund")
        settle = now + timedelta(seconds=self._settings(db)["refund_settle_seconds"])
        db.execute(
            "INSERT INTO refunds(id, charge_id, amount, state, reason, origin, created_at, updated_at, settle_at,"
            " settle_outcome, soft_descriptor) VALUES (?,?,?,'RefundInitiated',NULL,?,?,?,?,?,?)",
            (
                refund_id,
                charge_id,
                amount,
                origin,
                _iso(now),
                _iso(now),
                _iso(settle),
                "ProcessingFailure" if decline else None,
                descriptor,
            ),
        )
        self._notify(db, "REFUND", refund_id, charge["cp_id"])
        row = db.execute("SELECT * FROM refunds WHERE id = ?", (refund_id,)).fetchone()
        return self._refund_json(row)

    def get_refund(self, refund_id: str) -> dict[str, Any]:
        with self._tx() as db:
            return self._refund_json(self._refund_row(db, refund_id))

    # --- the buyer ------------------------------------------------------------------------

    def checkout(
        self,
        *,
        number: str,
        total: int,
        kind: str = "normal",
        instrument: str = "card",
        ordered_at: datetime | None = None,
        allow_overcharge: bool = True,
        pending: bool = False,
        buyer_seed: str | None = None,
        phone: str | None = None,
        extended_expiry: bool = True,
    ) -> dict[str, Any]:
        """The buyer completes checkout: a Charge Permission and its authorization (R12).

        ``extended_expiry``: the checkout asked for ``paymentDetails.extendExpiration`` (R54),
        so a one-time permission lives 13 months instead of 180 days. The default is the
        extension, which the source documents assume (R13). A recurring permission lives
        13 months, extended by each successful authorization (R14).
        """
        if kind not in ("normal", "reservation", "subscription"):
            raise ApiFailure(400, "InvalidParameterValue", f"unknown order kind {kind}")
        if instrument not in ("card", "gift", "gift+card"):
            raise ApiFailure(400, "InvalidParameterValue", f"unknown instrument {instrument}")
        if total <= 0 or total > MAX_CHARGE:
            raise ApiFailure(400, "InvalidParameterValue", "The order total must be 1 to 10,000,000 yen (R5).")
        person = person_for(buyer_seed or number)
        phone_number = person.phone if phone is None else phone
        if sum(ch.isdigit() for ch in phone_number) < PHONE_MIN_DIGITS:
            raise ApiFailure(400, "InvalidParameterValue", R4_ADDRESS_MESSAGE)
        at = to_utc(ordered_at) if ordered_at else self.now()
        with self._tx() as db:
            if db.execute("SELECT 1 FROM charge_permissions WHERE reference_id = ?", (number,)).fetchone():
                raise ApiFailure(400, "InvalidParameterValue", f"order {number} was already placed")
            cp_number = self._next(db, "cp")
            cp_id = f"S03-{7000000 + cp_number:07d}-{(cp_number * 7919) % 10_000_000:07d}"
            cp_type = "Recurring" if kind == "subscription" else "OneTime"
            limit: int | None = None
            if cp_type == "OneTime":
                limit = max(9 * total, 70_000) if allow_overcharge else total
            if cp_type == "OneTime" and not extended_expiry:
                expires = at + timedelta(days=ONE_TIME_DAYS)
            else:
                expires = add_months(at, CHARGE_PERMISSION_MONTHS)
            buyer = {
                "buyerId": person.buyer_id,
                "name": person.name,
                "email": person.email,
                "phoneNumber": phone_number,
            }
            address = {
                "name": person.name,
                "addressLine1": person.address,
                "city": "",
                "stateOrRegion": person.prefecture,
                "postalCode": person.postal_code,
                "countryCode": "JP",
                "phoneNumber": phone_number,
            }
            db.execute(
                "INSERT INTO charge_permissions(id, type, state, reason, amount_limit, order_amount, instrument,"
                " reference_id, buyer, address, created_at, expires_at, updated_at, kind)"
                " VALUES (?,?,'Chargeable',NULL,?,?,?,?,?,?,?,?,?,?)",
                (
                    cp_id,
                    cp_type,
                    limit,
                    total,
                    instrument,
                    number,
                    json.dumps(buyer, ensure_ascii=False),
                    json.dumps(address, ensure_ascii=False),
                    _iso(at),
                    _iso(expires),
                    _iso(at),
                    kind,
                ),
            )
            self._notify(db, "CHARGE_PERMISSION", cp_id, cp_id)
            cp = db.execute("SELECT * FROM charge_permissions WHERE id = ?", (cp_id,)).fetchone()
            charge = self._insert_charge(db, cp, total, at, origin="buyer", pending=pending)
            return {"chargePermissionId": cp_id, "chargeId": charge["chargeId"], "number": number}

    def decline_next(self, cp_id: str, kind: str, operation: str = "auth") -> None:
        if kind not in ("soft", "hard"):
            raise ApiFailure(400, "InvalidParameterValue", "kind must be soft or hard")
        if operation not in ("auth", "capture", "refund"):
            raise ApiFailure(400, "InvalidParameterValue", "operation must be auth, capture or refund")
        with self._tx() as db:
            self._cp_row(db, cp_id)
            db.execute("INSERT INTO declines(cp_id, operation, kind) VALUES (?,?,?)", (cp_id, operation, kind))

    def fix_payment(self, cp_id: str) -> dict[str, Any]:
        """The buyer updates their payment settings (R42): NonChargeable → Chargeable."""
        with self._tx() as db:
            row = self._cp_row(db, cp_id)
            db.execute("DELETE FROM declines WHERE cp_id = ?", (cp_id,))
            if row["state"] == "NonChargeable":
                db.execute(
                    "UPDATE charge_permissions SET state='Chargeable', reason=NULL, updated_at=? WHERE id=?",
                    (_iso(self.now()), cp_id),
                )
                self._notify(db, "CHARGE_PERMISSION", cp_id, cp_id)
            return self._cp_json(db, self._cp_row(db, cp_id))

    def buyer_close(self, cp_id: str) -> dict[str, Any]:
        """The buyer ends a subscription from their Amazon Pay account (R59): Closed/BuyerCanceled.

        Only a recurring permission can be ended this way; nothing is sent to the shop but the
        notification, so the shop learns it at its next read (sync or generation run).
        """
        with self._tx() as db:
            row = self._cp_row(db, cp_id)
            if row["type"] != "Recurring":
                raise ApiFailure(
                    400, "InvalidParameterValue", "Only a recurring Charge Permission can be closed by the buyer."
                )
            if row["state"] != "Closed":
                db.execute(
                    "UPDATE charge_permissions SET state='Closed', reason='BuyerCanceled', updated_at=? WHERE id=?",
                    (_iso(self.now()), cp_id),
                )
                self._notify(db, "CHARGE_PERMISSION", cp_id, cp_id)
            return self._cp_json(db, self._cp_row(db, cp_id))

    def cp_for_order(self, number: str) -> str:
        with self._tx() as db:
            row = db.execute("SELECT id FROM charge_permissions WHERE reference_id = ?", (number,)).fetchone()
            if row is None:
                raise ApiFailure(404, "ResourceNotFound", f"No Charge Permission for order {number}.")
            return str(row["id"])

    # --- Seller Central, done outside the product (R31, R32, R38) ---------------------------

    def seller_refund(self, cp_id: str, amount: int, charge_id: str | None = None) -> dict[str, Any]:
        with self._tx() as db:
            charge_id = charge_id or self._pick_charge(db, cp_id, "Captured")
            return self.create_refund(
                db, {"chargeId": charge_id, "refundAmount": _money(amount)}, origin="seller_central"
            )

    def seller_capture(self, cp_id: str, amount: int | None = None, charge_id: str | None = None) -> dict[str, Any]:
        with self._tx() as db:
            charge_id = charge_id or self._pick_charge(db, cp_id, "Authorized")
            row = self._charge_row(db, charge_id)
            return self.capture_charge(db, charge_id, {"captureAmount": _money(amount or row["amount"])})

    def seller_increase(self, cp_id: str, amount: int) -> dict[str, Any]:
        """Raise the order's amount by ``amount`` in Seller Central.

        Before capture Seller Central authorizes the new total and cancels the old
        authorization (FAQ's first way), which the product must show as 承認取消済 (R32).
        After capture the difference is a separate charge, captured at once (R39's example).
        """
        if amount <= 0:
            raise ApiFailure(400, "InvalidParameterValue", "The increase must be positive.")
        with self._tx() as db:
            cp = self._cp_row(db, cp_id)
            charges = [
                self._settle_charge(db, c)
                for c in db.execute(
                    "SELECT * FROM charges WHERE cp_id = ? ORDER BY created_at, id", (cp_id,)
                ).fetchall()
            ]
            open_charges = [c for c in charges if c["state"] in ("Authorized", "AuthorizationInitiated")]
            now = self.now()
            if open_charges:
                new_total = sum(c["amount"] for c in open_charges) + amount
                for charge in open_charges:
                    db.execute(
                        "UPDATE charges SET state='Canceled', reason='MerchantCanceled', updated_at=? WHERE id=?",
                        (_iso(now), charge["id"]),
                    )
                    self._notify(db, "CHARGE", charge["id"], cp_id)
                return self.create_charge(
                    db, {"chargePermissionId": cp["id"], "chargeAmount": _money(new_total)}, origin="seller_central"
                )
            return self.create_charge(
                db,
                {"chargePermissionId": cp["id"], "chargeAmount": _money(amount), "captureNow": True},
                origin="seller_central",
            )

    def _pick_charge(self, db: sqlite3.Connection, cp_id: str, state: str) -> str:
        self._cp_row(db, cp_id)
        for row in db.execute("SELECT * FROM charges WHERE cp_id = ? ORDER BY created_at, id", (cp_id,)).fetchall():
            if self._settle_charge(db, row)["state"] == state:
                return str(row["id"])
        raise ApiFailure(422, "InvalidChargeStatus", f"No charge in state {state} on {cp_id}.")

    # --- observation -----------------------------------------------------------------------

    def notifications(self, after: int = 0, limit: int = 500) -> list[dict[str, Any]]:
        """IPN messages (amazonpay-api.md §6) in order, for a poller standing in for an IPN endpoint."""
        with self._tx() as db:
            rows = db.execute("SELECT * FROM notifications WHERE id > ? ORDER BY id LIMIT ?", (after, limit)).fetchall()
            return [
                {
                    "id": row["id"],
                    "ObjectType": row["object_type"],
                    "ObjectId": row["object_id"],
                    "ChargePermissionId": row["cp_id"],
                    "NotificationType": row["notification_type"],
                    "NotificationVersion": "V2",
                }
                for row in rows
            ]

    def snapshot(self, cp_id: str) -> dict[str, Any]:
        """Everything about one Charge Permission, states settled (tests compare ledgers with it)."""
        with self._tx() as db:
            cp = self._cp_json(db, self._cp_row(db, cp_id))
            charges = [
                self._charge_json(self._charge_row(db, row["id"]))
                for row in db.execute(
                    "SELECT id FROM charges WHERE cp_id = ? ORDER BY created_at, id", (cp_id,)
                ).fetchall()
            ]
            refunds = [
                self._refund_json(self._refund_row(db, row["id"]))
                for row in db.execute(
                    "SELECT r.id FROM refunds r JOIN charges c ON c.id = r.charge_id WHERE c.cp_id = ?"
                    " ORDER BY r.created_at, r.id",
                    (cp_id,),
                ).fetchall()
            ]
            return {"chargePermission": cp, "charges": charges, "refunds": refunds}

    def checkouts(self) -> list[dict[str, Any]]:
        """Every checkout as the shop system recorded it (issue 11, item 7: ``sandbox shop-export``):
        order number, Charge Permission, the buyer's first authorization, amount, buyer, address."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT id, type, kind, order_amount, reference_id, buyer, address, created_at"
                " FROM charge_permissions ORDER BY created_at, id"
            ).fetchall()
            result = []
            for row in rows:
                first = db.execute(
                    "SELECT id FROM charges WHERE cp_id = ? AND origin = 'buyer' ORDER BY created_at, id LIMIT 1",
                    (row["id"],),
                ).fetchone()
                result.append(
                    {
                        "number": row["reference_id"],
                        "chargePermissionId": row["id"],
                        "chargePermissionType": row["type"],
                        "kind": row["kind"],
                        "chargeIds": [first["id"]] if first else [],
                        "amount": row["order_amount"],
                        "buyer": json.loads(row["buyer"]),
                        "shippingAddress": json.loads(row["address"]),
                        "creationTimestamp": _dt(row["created_at"]).isoformat(),
                    }
                )
            return result

    def calls(self) -> list[dict[str, Any]]:
        with self._tx() as db:
            return [dict(row) for row in db.execute("SELECT * FROM calls ORDER BY id").fetchall()]
