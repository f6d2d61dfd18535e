"""Money-moving operations: capture (R24) and re-authorize (R40–R42), exactly once.

Shape of every operation:
1. in one transaction: check the rules, write the journal intent(s) with idempotency keys;
2. send each request (outside any transaction);
3. in one transaction per request: append the outcome and apply Amazon's answer.
An interruption between 2 and 3 leaves an intent without a settled outcome; ``recover``
sends the same request with the same key, which cannot move money twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.amazonpay.client import AmazonPayClient, ApiResponse, new_idempotency_key
from core.amazonpay.errors import (
    AmazonPayError,
    ServiceError,
    japanese_message,
    reauthorization_failure_message,
)
from core.amazonpay.models import ChargeInfo
from core.clock import Clock
from core.db.schema import Charge, JournalEntry, Order
from core.domain import ChargePurpose, ChargeState, OrderKind, Origin
from core.errors import GatewayOutcomeUnknown, GatewayUnreachable, RuleViolation
from core.gateway import Gateway
from core.journal import (
    FAILED,
    LOCAL_ONLY,
    NOT_SENT,
    OUTCOME_LABELS,
    SUCCEEDED,
    UNKNOWN,
    Journal,
    PendingOperation,
    crashpoint,
)
from core.ledger import LOCAL_CHARGE_PREFIX, apply_charge_info, new_charge_row, next_seq, refresh_order
from core.payment_rules import capture_decision, reauthorize_decision
from core.queries import load_order, order_facts
from core.settings import SettingsStore
from core.status import extended_charge_permission_expiry


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


class PaymentService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        gateway: Callable[[], Gateway],
        settings: SettingsStore,
        journal: Journal | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._gateway = gateway
        self._settings = settings
        self._journal = journal or Journal()

    # --- capture (入金処理) -----------------------------------------------------------------

    def capture(self, number: str) -> OperationResult:
        now = self._clock.now()
        auto_sync = self._settings.load().auto_sync
        with self._sessions.begin() as session:
            order = load_order(session, number)
            decision = capture_decision(order_facts(session, order), now)
            if not decision.allowed:
                raise RuleViolation(decision.reason, code=decision.rule)
            if not auto_sync:
                # R11: nothing is sent; the operator captures in Seller Central, a sync reconciles.
                order.payment_date = now
                self._journal.event(
                    session,
                    action="capture",
                    now=now,
                    order_number=order.number,
                    amount=decision.amount,
                    outcome=LOCAL_ONLY,
                    message="自動連携がオフのため送信していません。Seller Centralで売上を確定してください。",
                )
                return OperationResult(
                    order.number,
                    "capture",
                    LOCAL_ONLY,
                    "記録しました(Seller Centralで実施が必要)。",
                    decision.amount,
                    order.payment_status,
                )
            pending = []
            for charge_id, amount in decision.captures:
                request = AmazonPayClient.capture_request(charge_id, amount, idempotency_key=new_idempotency_key())
                intent = self._journal.intent(
                    session,
                    action="capture",
                    request=request,
                    now=now,
                    order_number=order.number,
                    charge_id=charge_id,
                    amount=amount,
                )
                charge = session.get(Charge, charge_id)
                assert charge is not None
                charge.capture_requested_at = now
                pending.append(intent.id)
        crashpoint("capture:after_intent")
        results = [self._run(intent_id) for intent_id in pending]
        return _combine(number, "capture", results)

    # --- re-authorization (再与信) ------------------------------------------------------------

    def reauthorize(self, number: str) -> OperationResult:
        now = self._clock.now()
        with self._sessions.begin() as session:
            order = load_order(session, number)
            decision = reauthorize_decision(order_facts(session, order), now)
            if not decision.allowed:
                raise RuleViolation(decision.reason, code=decision.rule)
            assert order.charge_permission_id is not None and decision.purpose is not None
            request = AmazonPayClient.create_charge_request(
                order.charge_permission_id,
                decision.amount,
                idempotency_key=new_idempotency_key(),
                merchant_reference_id=order.number,
            )
            intent = self._journal.intent(
                session,
                action="authorize",
                request=request,
                now=now,
                order_number=order.number,
                amount=decision.amount,
                detail={"purpose": decision.purpose.value},
            )
            intent_id = intent.id
        crashpoint("authorize:after_intent")
        return self._run(intent_id)

    # --- recovery ------------------------------------------------------------------------

    def pending(self, order_number: str | None = None) -> list[PendingOperation]:
        with self._sessions() as session:
            return Journal.pending(session, order_number)

    def recover(self, order_number: str | None = None) -> list[OperationResult]:
        """Finish every interrupted money call (same request, same idempotency key) or report it."""
        return [self._run(op.intent_id) for op in self.pending(order_number)]

    # --- execution -----------------------------------------------------------------------

    def _run(self, intent_id: int) -> OperationResult:
        with self._sessions() as session:
            op = next(p for p in Journal.pending(session) if p.intent_id == intent_id)
        crashpoint(f"{op.action}:before_send")
        try:
            response = self._gateway().client.send(op.request)
        except GatewayUnreachable as exc:
            return self._settle(op, NOT_SENT, exc.message)
        except (GatewayOutcomeUnknown, ServiceError) as exc:
            return self._settle(op, UNKNOWN, f"{exc.message} 結果は次回の同期・復旧で確定します。")
        except AmazonPayError as exc:
            return self._settle(op, FAILED, exc.message, error=exc)
        crashpoint(f"{op.action}:after_send")
        return self._settle(op, SUCCEEDED, "", response=response)

    def _settle(
        self,
        op: PendingOperation,
        outcome: str,
        message: str,
        *,
        response: ApiResponse | None = None,
        error: AmazonPayError | None = None,
    ) -> OperationResult:
        now = self._clock.now()
        with self._sessions.begin() as session:
            order = load_order(session, op.order_number or "")
            charge_id = op.charge_id
            if op.action == "capture":
                message = self._apply_capture(session, order, op, outcome, response, error, now) or message
            elif op.action == "authorize":
                charge_id, message = self._apply_authorize(session, order, op, outcome, response, error, now, message)
            refresh_order(order, now)
            self._journal.outcome(
                session,
                op,
                outcome,
                now=now,
                message=message,
                request_id=response.request_id if response else (error.request_id if error else None),
                charge_id=charge_id,
            )
            return OperationResult(order.number, op.action, outcome, message, op.amount or 0, order.payment_status)

    def _apply_capture(
        self,
        session: Session,
        order: Order,
        op: PendingOperation,
        outcome: str,
        response: ApiResponse | None,
        error: AmazonPayError | None,
        now: datetime,
    ) -> str:
        charge = session.get(Charge, op.charge_id)
        assert charge is not None
        if outcome == SUCCEEDED and response is not None:
            info = ChargeInfo.from_json(response.data)
            apply_charge_info(charge, info, now, confirmed_by_read=False)
            if info.status.state == ChargeState.DECLINED:
                return f"売上請求が却下されました: {japanese_message(info.status.reason_code or '')}"
            order.payment_date = order.payment_date or now
            if info.status.state == ChargeState.CAPTURE_INITIATED:
                return f"{op.amount:,}円の売上請求を受け付けました(Amazonで処理中)。"
            return f"{op.amount:,}円の入金処理を行いました。"
        if outcome in (FAILED, NOT_SENT):
            # Nothing was captured: the charge is as it was.
            charge.capture_requested_at = (
                None if charge.state == ChargeState.AUTHORIZED else charge.capture_requested_at
            )
        return ""

    def _apply_authorize(
        self,
        session: Session,
        order: Order,
        op: PendingOperation,
        outcome: str,
        response: ApiResponse | None,
        error: AmazonPayError | None,
        now: datetime,
        message: str,
    ) -> tuple[str | None, str]:
        purpose = ChargePurpose(str(op.detail.get("purpose", ChargePurpose.REAUTH.value)))
        if outcome == SUCCEEDED and response is not None:
            info = ChargeInfo.from_json(response.data)
            charge = session.get(Charge, info.id)
            if charge is None:
                charge = new_charge_row(order, info, purpose=purpose, origin=Origin.PRODUCT.value, now=now)
                session.add(charge)
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
            r41 = reauthorization_failure_message(code)
            order.reauth_message = r41 or error.message
            order.reauth_reason_code = code
            local_id = f"{LOCAL_CHARGE_PREFIX}{op.idempotency_key}"
            if session.get(Charge, local_id) is None:
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
        return None, message


def _combine(number: str, action: str, results: list[OperationResult]) -> OperationResult:
    if len(results) == 1:
        return results[0]
    worst = next((r for r in results if r.outcome == UNKNOWN), None) or next((r for r in results if not r.ok), None)
    last = results[-1]
    if worst is None:
        total = sum(r.amount for r in results)
        return OperationResult(
            number, action, SUCCEEDED, f"{total:,}円の入金処理を行いました。", total, last.payment_status
        )
    return OperationResult(
        number, action, worst.outcome, worst.message, sum(r.amount for r in results if r.ok), last.payment_status
    )


def journal_rows(sessions: sessionmaker[Session], number: str) -> list[JournalEntry]:
    with sessions() as session:
        return list(session.scalars(select(JournalEntry).where(JournalEntry.order_number == number)))
