"""The engine under every money operation: journaled steps, sent exactly once, applied after.

An operation (a capture, a refund, a cancellation …) is one or more *steps*, each one API
call. All steps are written to the journal as intents, with their idempotency keys, in the
same transaction that checked the rules; then they are sent in order; each outcome is
appended and applied in a transaction of its own. A step whose predecessor failed is not
sent. A step interrupted between "sent" and "recorded" stays pending until ``recover`` (or
the next sync of its order, or the app's start) sends the same request with the same key,
which Amazon answers from its idempotency store when the first one went through.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload, sessionmaker

from core.amazonpay.client import ApiRequest, ApiResponse
from core.amazonpay.errors import (
    AmazonPayError,
    InvalidStateError,
    ServiceError,
    japanese_message,
    reauthorization_failure_message,
)
from core.amazonpay.models import ChargeInfo, ChargePermissionInfo, RefundInfo
from core.clock import Clock
from core.db.schema import Charge, JournalEntry, Order, Refund
from core.domain import ChargePermissionState, ChargePurpose, ChargeState, OrderKind, Origin
from core.errors import GatewayError, GatewayOutcomeUnknown, GatewayUnreachable, UserError
from core.gateway import Gateway, order_client
from core.journal import (
    FAILED,
    HELD,
    LOCAL_ONLY,
    NOT_SENT,
    OUTCOME_LABELS,
    SUCCEEDED,
    UNKNOWN,
    Journal,
    PendingOperation,
    crashpoint,
    mark_done,
    mark_running,
    owner_record,
)
from core.ledger import (
    LOCAL_CHARGE_PREFIX,
    apply_charge_info,
    apply_charge_permission_info,
    apply_refund_info,
    new_charge_row,
    next_seq,
    refresh_order,
    refund_facts,
)
from core.queries import load_order
from core.refund_rules import refunds_taken_by_charge
from core.status import extended_charge_permission_expiry

# Called inside the transaction that journals a step's outcome: (session, order, outcome, message).
SettledHook = Callable[[Session, Order, str, str], None]

ABANDONED = "前の手順が完了しなかったため、この手順は送信していません。"


@dataclass(frozen=True)
class Step:
    """One API call of an operation, fully described before anything is sent."""

    action: str  # capture | authorize | refund | cancel | close
    request: ApiRequest
    charge_id: str | None = None
    amount: int | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OperationResult:
    order_number: str
    action: str
    outcome: str
    message: str
    amount: int = 0
    payment_status: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in (SUCCEEDED, LOCAL_ONLY)

    def to_json(self) -> dict[str, object]:
        return {
            "number": self.order_number,
            "action": self.action,
            "ok": self.ok,
            "outcome": self.outcome,
            "outcome_label": OUTCOME_LABELS.get(self.outcome, self.outcome),
            "message": self.message,
            "amount": self.amount,
            "payment_status": self.payment_status,
        }


class OperationEngine:
    def __init__(
        self, sessions: sessionmaker[Session], clock: Clock, gateway: Callable[[], Gateway], journal: Journal
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._gateway = gateway
        self.journal = journal

    # --- writing intents -------------------------------------------------------------------

    def begin(
        self,
        session: Session,
        order: Order,
        operation: str,
        steps: Sequence[Step],
        *,
        then: Mapping[str, Any] | None = None,
        local_only: bool = False,
    ) -> list[int]:
        """Journal every step of ``operation`` (inside the caller's transaction).

        The caller holds the order's lock (``core.db.locks.lock_order``) since before it read
        what the order allows, so the check and these intents are one atomic step. Each intent
        names its writer (``owner``), so another process that meets it while it is being sent
        reports an operation in progress, not 結果不明.

        ``then`` holds local changes (order status, payment method) applied once the last
        step succeeded. With ``local_only`` (automatic sync off, R11) nothing will be sent:
        each step is recorded as "Seller Centralで実施が必要" and ``then`` applies at once.
        """
        now = self._clock.now()
        operation_id = secrets.token_hex(8)
        owner = owner_record()
        ids: list[int] = []
        for index, step in enumerate(steps):
            detail: dict[str, Any] = {
                **step.detail,
                "operation": operation_id,
                "op": operation,
                "step": index,
                "steps": len(steps),
                "owner": owner,
            }
            if then and index == len(steps) - 1:
                detail["then"] = dict(then)
            intent = self.journal.intent(
                session,
                action=step.action,
                request=step.request,
                now=now,
                order_number=order.number,
                charge_id=step.charge_id,
                amount=step.amount,
                detail=detail,
            )
            if step.action == "capture" and step.charge_id:
                charge = session.get(Charge, step.charge_id)
                assert charge is not None
                charge.capture_requested_at = now
            if local_only:
                self.journal.outcome(
                    session, intent, LOCAL_ONLY, now=now, message="自動連携がオフのため送信していません。"
                )
            ids.append(intent.id)
        if not local_only:
            mark_running(ids)  # before the commit: from then on another thread may look
        if then and (local_only or not steps):
            apply_then(order, then, now)
        refresh_order(order, now)
        return [] if local_only else ids

    # --- sending ---------------------------------------------------------------------------

    def run_all(
        self, number: str, action: str, intent_ids: Sequence[int], *, on_settled: SettledHook | None = None
    ) -> OperationResult:
        try:
            crashpoint(f"{action}:after_intent")
            results = [self.run(intent_id, resend=False, on_settled=on_settled) for intent_id in intent_ids]
        finally:
            mark_done(intent_ids)
        return combine(number, action, results)

    def pending(self, order_number: str | None = None) -> list[PendingOperation]:
        with self._sessions() as session:
            return Journal.pending(session, order_number)

    def run(self, intent_id: int, *, resend: bool = True, on_settled: SettledHook | None = None) -> OperationResult:
        """Send one journaled step and record its outcome.

        ``resend``: the step may have been sent before (recovery, sync, app start) rather
        than just journaled by :meth:`run_all` in this call. ``on_settled`` (issue 12's
        generation run) applies the caller's own consequences of the outcome in the very
        transaction that journals it, so there is no moment where one is stored without the other.
        """
        settle = partial(self._settle, on_settled=on_settled)
        with self._sessions() as session:
            # Only this intent and its outcomes are read, in one query (the whole journal grows with
            # every run; issue 12's generation run sends thousands of steps one after the other).
            op = Journal.pending_one(session, intent_id)
            if op is None:  # settled meanwhile (another window or process)
                entry = session.get(JournalEntry, intent_id)
                assert entry is not None
                return OperationResult(entry.order_number or "", entry.action, SUCCEEDED, "処理済みです。")
            before = self._earlier_steps(session, op)
            environment = session.scalar(select(Order.environment).where(Order.number == op.order_number)) or ""
        if any(outcome in (FAILED, NOT_SENT, HELD) for outcome in before):
            return settle(op, NOT_SENT, ABANDONED)
        if any(outcome not in (SUCCEEDED, LOCAL_ONLY) for outcome in before):
            return OperationResult(
                op.order_number or "", op.action, UNKNOWN, "前の手順の結果が確定していないため、待機しています。"
            )
        try:
            # Issue 11 item 8: the one check every money call passes, against the connection
            # actually open: an order of another environment is never sent (nor resent).
            client = order_client(self._gateway(), environment)
        except UserError as exc:  # the connection cannot be opened (settings, key file), or is another
            # environment's: nothing goes out now
            if not resend:
                return settle(op, NOT_SENT, exc.message)
            # A resend may meet a call that did reach Amazon before: it stays in doubt, unrecorded.
            return OperationResult(op.order_number or "", op.action, UNKNOWN, exc.message)
        if op.action == "refund" and op.charge_id:
            stopped = self._refund_beyond_capture(op, resend=resend)
            if stopped is not None:
                return stopped
        crashpoint(f"{op.action}:before_send")
        try:
            response = client.send(op.request)
        except GatewayUnreachable as exc:
            return settle(op, NOT_SENT, exc.message)
        except (GatewayOutcomeUnknown, ServiceError) as exc:
            return settle(op, UNKNOWN, f"{exc.message} 結果は次回の同期・復旧で確定します。")
        except InvalidStateError as exc:
            return self._settle_state_conflict(op, exc)
        except AmazonPayError as exc:
            return settle(op, FAILED, exc.message, error=exc)
        crashpoint(f"{op.action}:after_send")
        if op.action == "capture" and response.data.get("statusDetails", {}).get("state") == ChargeState.DECLINED:
            # Amazon answered, and the answer is no (請求却下): nothing moved, later steps stop.
            return settle(op, FAILED, "", response=response)
        return settle(op, SUCCEEDED, "", response=response)

    def _refund_beyond_capture(self, op: PendingOperation, *, resend: bool) -> OperationResult | None:
        """Stop a refund that would take its charge past what was captured; None lets it go.

        Amazon accepts refunds up to 15 % (at most 8,400円) over the captured amount, so a
        refund planned from a stale ledger, or resent after a refund made meanwhile in Seller
        Central, would pay the buyer more than they paid. The charge is read first: its
        ``refundedAmount`` (settled refunds) and the refunds recorded here must leave room.

        A resent refund may itself be in ``refundedAmount`` already. When that total is
        exactly the refunds recorded here plus this one, this one went through, and the
        resend is answered from Amazon's idempotency store. Otherwise the doubt cannot be
        settled from here: the refund is not resent (HELD) and the operator checks Seller
        Central.
        """
        assert op.charge_id is not None
        amount = op.amount or 0
        try:
            info = self._gateway().client.get_charge(op.charge_id)
        except GatewayError as exc:
            if resend:
                return self._settle(op, UNKNOWN, f"{exc.message} 結果は次回の同期・復旧で確定します。")
            return self._settle(op, NOT_SENT, exc.message)
        with self._sessions() as session:
            recorded = session.scalars(select(Refund).where(Refund.charge_id == op.charge_id))
            known = refunds_taken_by_charge([refund_facts(r) for r in recorded]).get(op.charge_id, 0)
        captured, refunded = info.captured_amount, info.refunded_amount
        if max(known, refunded) + amount <= captured:
            return None
        if resend and refunded == known + amount:
            return None
        if resend:
            return self._settle(
                op,
                HELD,
                f"返金{amount:,}円の結果を確認できないうちに、この売上にはほかの返金(Seller Centralなど)も"
                f"行われています(Amazon Payでの返金済み{refunded:,}円、売上{captured:,}円)。再送すると売上額を"
                "超えて返金されるおそれがあるため、再送していません。Seller Centralで返金の履歴を確認し、"
                "必要なら同期してから改めて返金してください。",
            )
        return self._settle(
            op,
            NOT_SENT,
            f"Amazon Payではこの売上にすでに{refunded:,}円が返金されていて、この画面の記録より多くなっています"
            f"(Seller Centralでの返金など)。{amount:,}円を返金すると売上{captured:,}円を超えるため、送信していません。"
            "同期してから、もう一度返金してください。",
        )

    def _earlier_steps(self, session: Session, op: PendingOperation) -> list[str | None]:
        """Last outcomes of the steps before ``op`` in the same operation."""
        operation = op.detail.get("operation")
        if not operation or not op.detail.get("step"):
            return []
        intents = session.scalars(
            select(JournalEntry).where(
                JournalEntry.order_number == op.order_number,
                JournalEntry.phase == "intent",
                JournalEntry.id < op.intent_id,
            )
        ).all()
        earlier = [i.id for i in intents if json.loads(i.detail or "{}").get("operation") == operation]
        outcomes: list[str | None] = []
        for intent_id in earlier:
            last = session.scalars(
                select(JournalEntry.outcome)
                .where(JournalEntry.phase == "outcome", JournalEntry.intent_id == intent_id)
                .order_by(JournalEntry.id.desc())
                .limit(1)
            ).first()
            outcomes.append(last)
        return outcomes

    def _settle_state_conflict(self, op: PendingOperation, error: InvalidStateError) -> OperationResult:
        """Cancel and close carry no idempotency key, so a resend (client retry, recovery) of
        one Amazon already applied meets the finished state and is refused (422). Read the
        object: a charge that is no longer open, or a permission that is Closed (by this
        close, an earlier one, Amazon after the full capture, or expiry), means the step is
        done, not failed (R15)."""
        if op.action == "cancel" and op.charge_id:
            try:
                info = self._gateway().client.get_charge(op.charge_id)
            except GatewayError:
                return self._settle(op, FAILED, error.message, error=error)
            if info.status.state in (ChargeState.CANCELED, ChargeState.DECLINED):
                return self._settle(op, SUCCEEDED, "", response=ApiResponse(200, info.raw, None))
        if op.action == "close":
            permission = _closed_permission(self._gateway(), op)
            if permission is not None:
                return self._settle(op, SUCCEEDED, "", response=ApiResponse(200, permission.raw, None))
        return self._settle(op, FAILED, error.message, error=error)

    # --- applying outcomes -----------------------------------------------------------------

    def _settle(
        self,
        op: PendingOperation,
        outcome: str,
        message: str,
        *,
        response: ApiResponse | None = None,
        error: AmazonPayError | None = None,
        on_settled: SettledHook | None = None,
    ) -> OperationResult:
        now = self._clock.now()
        with self._sessions.begin() as session:
            order = _load_for_settle(session, op.order_number or "")
            charge_id, refund_id = op.charge_id, None
            applied = ""
            if op.action == "capture":
                applied = _apply_capture(session, order, op, outcome, response, now)
            elif op.action == "authorize":
                charge_id, applied = _apply_authorize(session, order, op, outcome, response, error, now)
            elif op.action == "refund":
                refund_id, applied = _apply_refund(session, order, op, outcome, response, now)
            elif op.action == "cancel":
                applied = _apply_cancel(session, op, outcome, response, now)
            elif op.action == "close":
                applied = _apply_close(order, outcome, response, now)
            message = applied or message
            if outcome == SUCCEEDED and "then" in op.detail:
                apply_then(order, op.detail["then"], now)
            if on_settled is not None:
                on_settled(session, order, outcome, message)
            refresh_order(order, now)
            self.journal.outcome(
                session,
                op,
                outcome,
                now=now,
                message=message,
                request_id=response.request_id if response else (error.request_id if error else None),
                charge_id=charge_id,
                refund_id=refund_id,
            )
            return OperationResult(order.number, op.action, outcome, message, op.amount or 0, order.payment_status)


def _load_for_settle(session: Session, number: str) -> Order:
    """The order with what applying an outcome reads (money rows, permission), one query each.

    Its customer and items are not read here (they load on first use if a step ever needs them).
    """
    order = session.scalar(
        select(Order)
        .where(Order.number == number.strip())
        .options(selectinload(Order.charges), selectinload(Order.refunds), joinedload(Order.charge_permission))
    )
    if order is None:
        return load_order(session, number)  # NotFound, in Japanese
    return order


def _closed_permission(gateway: Gateway, op: PendingOperation) -> ChargePermissionInfo | None:
    """The Charge Permission a close step was for, when Amazon says it is Closed; else None."""
    path = op.request.path  # /chargePermissions/{id}/close
    parts = path.strip("/").split("/")
    if len(parts) != 3 or parts[0] != "chargePermissions":
        return None
    try:
        info = gateway.client.get_charge_permission(parts[1])
    except GatewayError:
        return None
    return info if info.status.state == ChargePermissionState.CLOSED else None


def apply_then(order: Order, then: Mapping[str, Any], now: datetime) -> None:
    """Local consequences of a finished operation (order status, payment method)."""
    if "order_status" in then:
        order.order_status = str(then["order_status"])
    if "payment_method" in then:
        order.payment_method = str(then["payment_method"])
    order.updated_at = now


def _apply_capture(
    session: Session, order: Order, op: PendingOperation, outcome: str, response: ApiResponse | None, now: datetime
) -> str:
    charge = session.get(Charge, op.charge_id)
    assert charge is not None
    if response is not None:
        info = ChargeInfo.from_json(response.data)
        apply_charge_info(charge, info, now, confirmed_by_read=False)
        if info.status.state == ChargeState.DECLINED:
            return f"売上請求が却下されました: {japanese_message(info.status.reason_code or '')}"
        order.payment_date = order.payment_date or now
        if info.status.state == ChargeState.CAPTURE_INITIATED:
            return f"{op.amount or 0:,}円の売上請求を受け付けました(Amazonで処理中)。"
        return f"{op.amount or 0:,}円の入金処理を行いました。"
    if outcome in (FAILED, NOT_SENT) and charge.state == ChargeState.AUTHORIZED:
        charge.capture_requested_at = None  # nothing was captured: the charge is as it was
    return ""


def _apply_authorize(
    session: Session,
    order: Order,
    op: PendingOperation,
    outcome: str,
    response: ApiResponse | None,
    error: AmazonPayError | None,
    now: datetime,
) -> tuple[str | None, str]:
    purpose = ChargePurpose(str(op.detail.get("purpose", ChargePurpose.REAUTH.value)))
    if outcome == SUCCEEDED and response is not None:
        info = ChargeInfo.from_json(response.data)
        charge = session.get(Charge, info.id)
        if charge is None:
            session.add(new_charge_row(order, info, purpose=purpose, origin=Origin.PRODUCT.value, now=now))
        else:
            apply_charge_info(charge, info, now, confirmed_by_read=False)
        order.reauth_message = None
        order.reauth_reason_code = None
        cp = order.charge_permission
        if cp is not None and order.kind == OrderKind.SUBSCRIPTION and info.status.state == ChargeState.AUTHORIZED:
            cp.expires_at = extended_charge_permission_expiry(cp.expires_at, info.created_at or now)  # R14
        return info.id, f"{info.amount:,}円の与信を取得しました。"
    if outcome == FAILED and error is not None:
        code = error.reason_code
        order.reauth_message = reauthorization_failure_message(code) or error.message
        order.reauth_reason_code = code
        local_id = f"{LOCAL_CHARGE_PREFIX}{op.idempotency_key}"
        if session.get(Charge, local_id) is None:
            # Amazon created no Charge for a declined authorization; keep the attempt (R41).
            session.add(
                Charge(
                    id=local_id,
                    seq=next_seq(order.charges),
                    order=order,
                    charge_permission_id=order.charge_permission_id or "",
                    purpose=purpose.value,
                    origin=Origin.PRODUCT.value,
                    amount=op.amount or 0,
                    captured_amount=0,
                    refunded_amount=0,
                    state=ChargeState.DECLINED.value,
                    reason_code=code,
                    created_at=now,
                    expires_at=None,
                    capture_confirmed=False,
                )
            )
        return local_id, order.reauth_message
    return None, ""


def _apply_refund(
    session: Session, order: Order, op: PendingOperation, outcome: str, response: ApiResponse | None, now: datetime
) -> tuple[str | None, str]:
    if outcome != SUCCEEDED or response is None:
        return None, ""
    info = RefundInfo.from_json(response.data)
    refund = session.get(Refund, info.id)
    if refund is None:
        refund = Refund(
            id=info.id,
            seq=next_seq(order.refunds),
            charge_id=info.charge_id or (op.charge_id or ""),
            order=order,
            origin=Origin.PRODUCT.value,
            amount=info.amount,
            state=info.status.state,
            reason_code=info.status.reason_code,
            reason=str(op.detail.get("reason", "")),
            created_at=info.created_at or now,
        )
        session.add(refund)
    apply_refund_info(refund, info, now)
    return info.id, f"{info.amount:,}円の返金を依頼しました。"


def _apply_cancel(
    session: Session, op: PendingOperation, outcome: str, response: ApiResponse | None, now: datetime
) -> str:
    if outcome != SUCCEEDED or response is None:
        return ""
    charge = session.get(Charge, op.charge_id)
    assert charge is not None
    apply_charge_info(charge, ChargeInfo.from_json(response.data), now, confirmed_by_read=False)
    return f"与信({charge.amount:,}円)を取り消しました。"


def _apply_close(order: Order, outcome: str, response: ApiResponse | None, now: datetime) -> str:
    if outcome != SUCCEEDED or response is None or order.charge_permission is None:
        return ""
    apply_charge_permission_info(order.charge_permission, ChargePermissionInfo.from_json(response.data), now)
    order.charge_permission.closed_at = order.charge_permission.closed_at or now
    return "Amazon Payの取引情報(Charge Permission)を終了しました。"


def combine(number: str, action: str, results: Sequence[OperationResult]) -> OperationResult:
    """One result for a whole operation: the first unknown or failed step speaks for it."""
    if len(results) == 1:
        return results[0]
    last = results[-1] if results else None
    status = last.payment_status if last else None
    worst = next((r for r in results if r.outcome == UNKNOWN), None) or next((r for r in results if not r.ok), None)
    moved = sum(r.amount for r in results if r.ok)
    if worst is None:
        messages = " ".join(dict.fromkeys(r.message for r in results if r.message))
        return OperationResult(number, action, SUCCEEDED, messages or "完了しました。", moved, status)
    return OperationResult(number, action, worst.outcome, worst.message, moved, status)
