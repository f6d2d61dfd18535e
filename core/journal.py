"""Write-ahead journal of every money call, and the audit trail of everything else.

A money operation (capture, authorize, refund, cancel, close) is recorded as an ``intent``
with its idempotency key and exact request, committed *before* the request is sent; its
``outcome`` is appended after. An intent with no settled outcome is an operation that was
interrupted (a crash, a timeout): ``kanjo recover`` and app start send the same request
with the same key again, which Amazon answers from its idempotency store if the first one
went through, so money never moves twice.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from core.amazonpay.client import ApiRequest
from core.db.schema import JournalEntry

CRASHPOINT_ENV = "KANJO_CRASHPOINT"

# Outcomes
SUCCEEDED = "succeeded"
FAILED = "failed"  # Amazon answered no: nothing moved
NOT_SENT = "not_sent"  # never reached Amazon
UNKNOWN = "unknown"  # 結果不明: may or may not have happened
LOCAL_ONLY = "local_only"  # automatic sync off (R11): to be done in Seller Central
HELD = "held"  # an in-doubt refund not sent again: it could now go past what was captured
SETTLED_OUTCOMES = frozenset({SUCCEEDED, FAILED, NOT_SENT, LOCAL_ONLY, HELD})

OUTCOME_LABELS = {
    SUCCEEDED: "成功",
    FAILED: "失敗",
    NOT_SENT: "未送信",
    UNKNOWN: "結果不明",
    LOCAL_ONLY: "Seller Centralで実施が必要",
    HELD: "再送せず(要確認)",
}


# An intent with no outcome yet is either being sent right now (by this process, another
# window or another process) or was interrupted (a crash): the first must be waited for, the
# second is 結果不明 and is resent by recovery. Each intent records who wrote it; see
# ``in_flight``. A writer on another computer (a shared database) is trusted for this long.
REMOTE_IN_FLIGHT_SECONDS = 180.0
_running: set[int] = set()  # intents this process is sending now
_running_lock = threading.Lock()


def _process_stat(pid: int) -> list[bytes] | None:
    """The fields of /proc/<pid>/stat after the command name (Linux), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _process_start(pid: int) -> str | None:
    """When ``pid`` started (Linux: clock ticks since boot), so a reused pid is not taken for it."""
    if pid in _own_start:  # this process's own start does not change (every intent records it)
        return _own_start[pid]
    fields = _process_stat(pid)
    start = fields[19].decode("ascii") if fields and len(fields) > 19 else None
    if pid == os.getpid():
        _own_start[pid] = start
    return start


_own_start: dict[int, str | None] = {}


def owner_record() -> dict[str, object]:
    """Who writes an intent: this computer, this process, and the wall-clock time (not the app clock)."""
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "start": _process_start(pid), "wall": time.time()}


def mark_running(intent_ids: Iterable[int]) -> None:
    with _running_lock:
        _running.update(intent_ids)


def mark_done(intent_ids: Iterable[int]) -> None:
    with _running_lock:
        _running.difference_update(intent_ids)


def _process_alive(pid: int, start: object) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    except OSError:
        return False
    fields = _process_stat(pid)
    if fields is None or len(fields) <= 19:
        return True  # no /proc to ask (not Linux): the pid exists, trust it
    if fields[0] == b"Z":
        return False  # killed, not yet reaped by its parent: it sends nothing any more
    return start is None or fields[19].decode("ascii") == start


def in_flight(intent_id: int, owner: Mapping[str, object] | None) -> bool:
    """Whether an intent without outcome is being sent now (True) or was interrupted (False)."""
    if not owner:
        return False  # written before owners were recorded: only recovery settles it
    pid = owner.get("pid")
    if owner.get("host") == socket.gethostname() and isinstance(pid, int):
        if pid == os.getpid():
            with _running_lock:
                return intent_id in _running
        return _process_alive(pid, owner.get("start"))
    wall = owner.get("wall")
    return isinstance(wall, (int, float)) and 0 <= time.time() - wall < REMOTE_IN_FLIGHT_SECONDS


def crashpoint(name: str) -> None:
    """Die here, at once and without cleanup, when ``KANJO_CRASHPOINT`` names this point.

    Used by the crash tests to kill the process between "sent" and "recorded".
    """
    wanted = os.environ.get(CRASHPOINT_ENV, "")
    if wanted and wanted == name:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True)
class PendingOperation:
    intent_id: int
    action: str
    order_number: str | None
    charge_id: str | None
    amount: int | None
    idempotency_key: str | None
    request: ApiRequest
    detail: Mapping[str, Any]
    last_outcome: str | None
    at: datetime
    in_flight: bool = False  # no outcome yet and its writer is still sending it (not 結果不明)


class Journal:
    """Writes entries for one running app. ``actor`` is the role written by default; ``operator``
    the name of the person at this PC (issue 14 item 3, core.operator), recorded on every entry
    this app writes, whatever its role (a background sync runs on someone's PC too). The app
    sets ``operator`` again when the name is changed in the window."""

    def __init__(self, actor: str = "operator", operator: str = "") -> None:
        self.actor = actor
        self.operator = operator

    def intent(
        self,
        session: Session,
        *,
        action: str,
        request: ApiRequest,
        now: datetime,
        order_number: str | None,
        charge_id: str | None = None,
        amount: int | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> JournalEntry:
        entry = JournalEntry(
            at=now,
            actor=self.actor,
            action=action,
            phase="intent",
            order_number=order_number,
            charge_id=charge_id,
            amount=amount,
            idempotency_key=request.idempotency_key,
            request_method=request.method,
            request_path=request.path,
            request_body=request.body_text(),
            detail=json.dumps(dict(detail or {}), ensure_ascii=False),
            operator=self.operator,
        )
        session.add(entry)
        session.flush()
        return entry

    def outcome(
        self,
        session: Session,
        intent: JournalEntry | PendingOperation,
        outcome: str,
        *,
        now: datetime,
        message: str = "",
        request_id: str | None = None,
        charge_id: str | None = None,
        refund_id: str | None = None,
    ) -> JournalEntry:
        intent_id = intent.id if isinstance(intent, JournalEntry) else intent.intent_id
        entry = JournalEntry(
            at=now,
            actor=self.actor,
            action=intent.action,
            phase="outcome",
            intent_id=intent_id,
            order_number=intent.order_number,
            charge_id=charge_id or intent.charge_id,
            refund_id=refund_id,
            amount=intent.amount,
            outcome=outcome,
            gateway_request_id=request_id,
            detail=message,
            operator=self.operator,
        )
        session.add(entry)
        session.flush()
        return entry

    def event(
        self,
        session: Session,
        *,
        action: str,
        now: datetime,
        order_number: str | None,
        message: str,
        amount: int | None = None,
        charge_id: str | None = None,
        refund_id: str | None = None,
        actor: str | None = None,
        outcome: str | None = None,
        intent_id: int | None = None,
        flush: bool = True,
    ) -> JournalEntry:
        """An event entry. ``flush=False`` leaves it to the transaction's next flush (a bulk
        import writes a chunk's entries in one multi-row insert); its ``id`` is then unset."""
        entry = JournalEntry(
            at=now,
            intent_id=intent_id,
            actor=actor or self.actor,
            action=action,
            phase="event",
            order_number=order_number,
            charge_id=charge_id,
            refund_id=refund_id,
            amount=amount,
            outcome=outcome,
            detail=message,
            operator=self.operator,
        )
        session.add(entry)
        if flush:
            session.flush()
        return entry

    @staticmethod
    def seller_central_tasks(session: Session, order_number: str) -> list[JournalEntry]:
        """Operations recorded while automatic sync was off (R11) that no sync has seen done yet."""
        rows = session.scalars(
            select(JournalEntry).where(JournalEntry.order_number == order_number).order_by(JournalEntry.id)
        ).all()
        local = {r.intent_id for r in rows if r.phase == "outcome" and r.outcome == LOCAL_ONLY}
        reconciled = {r.intent_id for r in rows if r.phase == "event" and r.action == "reconciled"}
        return [r for r in rows if r.phase == "intent" and r.id in local and r.id not in reconciled]

    @staticmethod
    def pending(session: Session, order_number: str | None = None) -> list[PendingOperation]:
        """Intents whose last outcome is missing or 結果不明, oldest first."""
        query = select(JournalEntry).where(JournalEntry.phase == "intent")
        if order_number is not None:
            query = query.where(JournalEntry.order_number == order_number)
        intents = session.scalars(query.order_by(JournalEntry.id)).all()
        if not intents:
            return []
        outcomes: dict[int, str | None] = {}
        for row in session.scalars(
            select(JournalEntry)
            .where(JournalEntry.phase == "outcome", JournalEntry.intent_id.in_([i.id for i in intents]))
            .order_by(JournalEntry.id)
        ):
            assert row.intent_id is not None
            outcomes[row.intent_id] = row.outcome
        return [
            _pending_of(intent, outcomes.get(intent.id))
            for intent in intents
            if outcomes.get(intent.id) not in SETTLED_OUTCOMES
        ]

    @staticmethod
    def pending_one(session: Session, intent_id: int) -> PendingOperation | None:
        """``pending()``'s entry for one intent (None when settled or unknown), in one query."""
        rows = session.scalars(
            select(JournalEntry)
            .where(
                or_(
                    and_(JournalEntry.id == intent_id, JournalEntry.phase == "intent"),
                    and_(JournalEntry.intent_id == intent_id, JournalEntry.phase == "outcome"),
                )
            )
            .order_by(JournalEntry.id)
        ).all()
        intent = next((r for r in rows if r.phase == "intent"), None)
        if intent is None:
            return None
        outcomes = [r.outcome for r in rows if r.phase == "outcome"]
        last = outcomes[-1] if outcomes else None
        return None if last in SETTLED_OUTCOMES else _pending_of(intent, last)


def _pending_of(intent: JournalEntry, last: str | None) -> PendingOperation:
    return PendingOperation(
        intent_id=intent.id,
        action=intent.action,
        order_number=intent.order_number,
        charge_id=intent.charge_id,
        amount=intent.amount,
        idempotency_key=intent.idempotency_key,
        request=ApiRequest(
            method=intent.request_method or "POST",
            path=intent.request_path or "",
            body=json.loads(intent.request_body) if intent.request_body else None,
            idempotency_key=intent.idempotency_key,
        ),
        detail=json.loads(intent.detail) if intent.detail else {},
        last_outcome=last,
        at=intent.at,
        in_flight=last is None and in_flight(intent.id, _owner(intent.detail)),
    )


def _owner(detail: str | None) -> Mapping[str, object] | None:
    try:
        owner = json.loads(detail or "{}").get("owner")
    except (ValueError, AttributeError):
        return None
    return owner if isinstance(owner, dict) else None
