"""Status reads (同期): bring the local ledger in line with Amazon Pay.

A desktop app receives no notifications, so the window syncs periodically and on demand.
A sync also notices what was done outside the product, in Seller Central (R31, R32, R38),
records it in the journal as such, and settles interrupted operations first. When a read
fails the order shows the R10 "could not read" badge until a later sync succeeds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from core.amazonpay.models import ChargeInfo, ChargePermissionInfo, RefundInfo
from core.clock import Clock, to_utc
from core.db.schema import Charge, JournalEntry, Order, Refund
from core.domain import ChargePurpose, ChargeState, OrderStatus, PaymentStatus
from core.environment import connection_environment
from core.errors import GatewayError, RuleViolation
from core.gateway import Gateway, order_client
from core.journal import Journal
from core.ledger import (
    LOCAL_CHARGE_PREFIX,
    apply_charge_info,
    apply_charge_permission_info,
    apply_refund_info,
    new_charge_row,
    next_seq,
    refresh_order,
)
from core.payment_rules import ENVIRONMENT_RULE, environment_refusal
from core.queries import load_order
from core.services.payments import PaymentService
from core.settings import SettingsStore

IPN_CURSOR_KEY = "sandbox.ipn_cursor"
_OPEN_CHARGE_STATES = ("AuthorizationInitiated", "Authorized", "CaptureInitiated")
SELLER_CENTRAL = "seller_central"
_IN_PROGRESS = (
    PaymentStatus.AUTH_PENDING.value,
    PaymentStatus.CAPTURE_PENDING.value,
    PaymentStatus.REFUND_PENDING.value,
    PaymentStatus.UNREACHABLE.value,
)


@dataclass(frozen=True)
class SyncResult:
    order_number: str
    ok: bool
    message: str
    payment_status: str | None
    # Issue 11 item 8: not read, because the order lives in another environment than the
    # connection (ok stays True: nothing failed, and the order is not marked 取得できませんでした).
    skipped: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "number": self.order_number,
            "ok": self.ok,
            "message": self.message,
            "payment_status": self.payment_status,
            "skipped": self.skipped,
        }


@dataclass(frozen=True)
class _Snapshot:
    cp: ChargePermissionInfo | None
    charges: dict[str, ChargeInfo]
    refunds: dict[str, RefundInfo]


class SyncService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        gateway: Callable[[], Gateway],
        payments: PaymentService,
        settings: SettingsStore,
        journal: Journal | None = None,
        connection: Callable[[], str] | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._gateway = gateway
        self._payments = payments
        self._settings = settings
        self._connection = connection or (lambda: connection_environment(settings.load()))
        self._journal = journal or Journal()

    def open_order_numbers(self) -> list[str]:
        """Orders whose payment can still change: not canceled or finished, or holding a charge or
        refund that Amazon has not settled yet (a canceled order's authorization still lapses)."""
        unsettled_charge = (
            select(Charge.id)
            .where(
                Charge.order_id == Order.id,
                Charge.state.in_(_OPEN_CHARGE_STATES),
                ~Charge.id.startswith(LOCAL_CHARGE_PREFIX),
            )
            .exists()
        )
        unsettled_refund = (
            select(Refund.id).where(Refund.order_id == Order.id, Refund.state == "RefundInitiated").exists()
        )
        with self._sessions() as session:
            query = (
                select(Order.number)
                .where(
                    or_(
                        Order.order_status.not_in([OrderStatus.CANCELED.value, OrderStatus.DONE.value]),
                        Order.payment_status.in_(_IN_PROGRESS),
                        Order.sync_error.is_not(None),
                        unsettled_charge,
                        unsettled_refund,
                    )
                )
                .order_by(Order.id)
            )
            return list(session.scalars(query))

    def sync_all(
        self,
        progress: Callable[[int, int], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> list[SyncResult]:
        numbers = self.open_order_numbers()
        self._discover()
        results = []
        for index, number in enumerate(numbers):
            if cancelled is not None and cancelled():
                break
            results.append(self.sync_order(number, discover=False))
            if progress is not None:
                progress(index + 1, len(numbers))
        return results

    def sync_order(self, number: str, *, discover: bool = True) -> SyncResult:
        with self._sessions() as session:
            order = load_order(session, number)
            number = order.number
            cp_id = order.charge_permission_id
            environment = order.environment
            other = environment_refusal(environment, self._connection())
            if other is not None:  # issue 11 item 8: skipped, never sent, never marked failed
                return SyncResult(number, True, other.reason, order.payment_status, skipped=True)
        try:
            self._payments.recover(number)
            if discover:
                self._discover()
            snapshot = self._read(number, cp_id, environment)
        except GatewayError as exc:
            return self._failed(number, exc.message)
        except RuleViolation as exc:  # the connection was switched meanwhile (issue 11 item 8)
            if exc.code != ENVIRONMENT_RULE:
                raise
            return SyncResult(number, True, exc.message, None, skipped=True)
        now = self._clock.now()
        with self._sessions.begin() as session:
            order = load_order(session, number)
            self._apply(session, order, snapshot)
            order.sync_error = None
            order.last_synced_at = now
            refresh_order(order, now)
            return SyncResult(number, True, "Amazon Payの状態を取得しました。", order.payment_status)

    # --- reading -------------------------------------------------------------------------

    def _read(self, number: str, cp_id: str | None, environment: str) -> _Snapshot:
        with self._sessions() as session:
            order = load_order(session, number)
            charge_ids = [c.id for c in order.charges if not c.id.startswith(LOCAL_CHARGE_PREFIX)]
            refund_ids = [r.id for r in order.refunds if not r.id.startswith("external-")]
        client = order_client(self._gateway(), environment)  # issue 11 item 8
        return _Snapshot(
            cp=client.get_charge_permission(cp_id) if cp_id else None,
            charges={cid: client.get_charge(cid) for cid in charge_ids},
            refunds={rid: client.get_refund(rid) for rid in refund_ids},
        )

    def _failed(self, number: str, message: str) -> SyncResult:
        now = self._clock.now()
        with self._sessions.begin() as session:
            order = load_order(session, number)
            order.sync_error = message
            refresh_order(order, now)
            self._journal.event(
                session, action="sync_failed", now=now, order_number=number, message=message, actor="sync"
            )
            return SyncResult(number, False, message, order.payment_status)

    # --- applying ------------------------------------------------------------------------

    def _apply(self, session: Session, order: Order, snapshot: _Snapshot) -> None:
        now = self._clock.now()
        if snapshot.cp is not None and order.charge_permission is not None:
            apply_charge_permission_info(order.charge_permission, snapshot.cp, now)
        canceled_ids = _ids_canceled_by_us(session, order.number)
        for charge in order.charges:
            info = snapshot.charges.get(charge.id)
            if info is None:
                continue
            before = charge.state
            state = info.status.state
            if (
                state == ChargeState.CAPTURED
                and before in ("Authorized", "AuthorizationInitiated")
                and charge.capture_requested_at is None
            ):
                # R31: captured in Seller Central.
                self._journal.event(
                    session,
                    action="external_capture",
                    now=now,
                    order_number=order.number,
                    charge_id=charge.id,
                    amount=info.captured_amount or info.amount,
                    actor=SELLER_CENTRAL,
                    message="Seller Centralで売上が確定されました。",
                )
                charge.capture_requested_at = now
                order.payment_date = order.payment_date or now
            if (
                state == ChargeState.CANCELED
                and before == "Authorized"
                and info.status.reason_code == "MerchantCanceled"
                and charge.id not in canceled_ids
            ):
                # R32: the amount of an authorized order was changed in Seller Central.
                order.amount_changed_externally = True
                self._journal.event(
                    session,
                    action="external_cancel",
                    now=now,
                    order_number=order.number,
                    charge_id=charge.id,
                    amount=charge.amount,
                    actor=SELLER_CENTRAL,
                    message=(
                        "Seller Centralで与信が取り消されました(金額変更)。入金処理はSeller Centralで行ってください。"
                    ),
                )
            apply_charge_info(charge, info, now, confirmed_by_read=True)
        if any(c.origin == SELLER_CENTRAL for c in order.charges):
            # R31: an amount changed in Seller Central is recorded here, never sent back.
            live = sum(
                c.captured_amount if c.state == ChargeState.CAPTURED else c.amount
                for c in order.charges
                if c.state in ("Authorized", "AuthorizationInitiated", "CaptureInitiated", "Captured")
            )
            if live and live != order.total:
                order.total = live
        for refund in order.refunds:
            refund_info = snapshot.refunds.get(refund.id)
            if refund_info is not None:
                apply_refund_info(refund, refund_info, now)
        self._reconcile(session, order, now)

    def _reconcile(self, session: Session, order: Order, now: datetime) -> None:
        """R11: an operation recorded while automatic sync was off is done once Amazon shows it."""
        for task in Journal.seller_central_tasks(session, order.number):
            charge = next((c for c in order.charges if c.id == task.charge_id), None)
            later_refunds = [r for r in order.refunds if r.created_at >= task.at and r.charge_id == task.charge_id]
            done = {
                "capture": charge is not None and charge.state == ChargeState.CAPTURED,
                "cancel": charge is not None and charge.state in (ChargeState.CANCELED, ChargeState.DECLINED),
                "refund": sum(r.amount for r in later_refunds if r.state != "Declined") >= (task.amount or 0),
                "authorize": any(
                    c.created_at >= task.at and c.amount == task.amount and c.state != ChargeState.DECLINED
                    for c in order.charges
                ),
                "close": order.charge_permission is not None and order.charge_permission.state == "Closed",
            }.get(task.action, False)
            if done:
                self._journal.event(
                    session,
                    action="reconciled",
                    now=now,
                    order_number=order.number,
                    intent_id=task.id,
                    charge_id=task.charge_id,
                    amount=task.amount,
                    actor="sync",
                    message="Seller Centralでの実施を確認しました。",
                )

    def _discover(self) -> None:
        """Find charges and refunds created outside the product (Seller Central).

        Amazon announces every new Charge and Refund by IPN (amazonpay-api.md §6); the local
        sandbox keeps those messages for us to poll. On a live account without an IPN relay
        there is nothing to poll and this does nothing.
        """
        gateway = self._gateway()
        if gateway.control is None:
            return
        cursor = int(self._settings.get_raw(IPN_CURSOR_KEY) or 0)
        messages = gateway.control.notifications(cursor)
        if not messages:
            return
        client = gateway.client
        now = self._clock.now()
        for message in messages:
            object_type = message["ObjectType"]
            object_id = str(message["ObjectId"])
            with self._sessions.begin() as session:
                order = session.scalar(
                    select(Order).where(Order.charge_permission_id == str(message["ChargePermissionId"]))
                )
                if order is None or order.environment != gateway.environment:  # issue 11 item 8
                    continue
                known_charge = object_type == "CHARGE" and session.get(Charge, object_id) is not None
                known_refund = object_type == "REFUND" and session.get(Refund, object_id) is not None
            if object_type == "CHARGE" and not known_charge:
                self._adopt_charge(order.number, client.get_charge(object_id), now)
            elif object_type == "REFUND" and not known_refund:
                self._adopt_refund(order.number, client.get_refund(object_id), now)
        self._settings.set_raw(IPN_CURSOR_KEY, str(messages[-1]["id"]))

    def _adopt_charge(self, number: str, info: ChargeInfo, now: object) -> None:
        with self._sessions.begin() as session:
            if session.get(Charge, info.id) is not None:
                return
            order = load_order(session, number)
            at = self._clock.now()
            if _own_charge(order, info):
                # Issue 11 (review item 3): an order linked without its Charge IDs (imported from a
                # shop file) learns its own charge here: the checkout's (or the shop system's first
                # authorization), not a Seller Central increase.
                self._adopt_own_charge(session, order, info, at)
                return
            charge = new_charge_row(order, info, purpose=ChargePurpose.INCREASE, origin=SELLER_CENTRAL, now=at)
            if info.status.state == ChargeState.CAPTURED:
                charge.capture_requested_at = at
            session.add(charge)
            session.flush()
            self._journal.event(
                session,
                action="external_charge",
                now=at,
                order_number=number,
                charge_id=info.id,
                amount=info.amount,
                actor=SELLER_CENTRAL,
                message=f"Seller Centralで{info.amount:,}円の与信が追加されました。",
            )
            refresh_order(order, at)

    def _adopt_own_charge(self, session: Session, order: Order, info: ChargeInfo, at: datetime) -> None:
        charge = new_charge_row(order, info, purpose=ChargePurpose.ORIGINAL, origin="buyer", now=at)
        apply_charge_info(charge, info, at, confirmed_by_read=True)
        session.add(charge)
        session.flush()
        self._journal.event(
            session,
            action="charge_linked",
            now=at,
            order_number=order.number,
            charge_id=info.id,
            amount=info.amount,
            actor="sync",
            message=f"Amazon Payの通知から、この受注のCharge {info.id}({info.amount:,}円)を記録しました。",
        )
        refresh_order(order, at)

    def _adopt_refund(self, number: str, info: RefundInfo, now: object) -> None:
        with self._sessions.begin() as session:
            if session.get(Refund, info.id) is not None or session.get(Charge, info.charge_id) is None:
                return
            order = load_order(session, number)
            at = self._clock.now()
            session.add(
                Refund(
                    id=info.id,
                    seq=next_seq(order.refunds),
                    charge_id=info.charge_id,
                    order=order,
                    origin=SELLER_CENTRAL,
                    amount=info.amount,
                    state=info.status.state,
                    reason_code=info.status.reason_code,
                    reason="Seller Centralでの返金",
                    created_at=info.created_at or at,
                    last_synced_at=at,
                )
            )
            session.flush()
            self._journal.event(
                session,
                action="external_refund",
                now=at,
                order_number=number,
                charge_id=info.charge_id,
                refund_id=info.id,
                amount=info.amount,
                actor=SELLER_CENTRAL,
                message=f"Seller Centralで{info.amount:,}円が返金されました。",
            )
            refresh_order(order, at)


def _own_charge(order: Order, info: ChargeInfo) -> bool:
    """A charge we did not create is the order's own when the order knows no charge yet, or when
    it is older than every charge the order knows (Seller Central adds charges afterwards, R39)."""
    if not order.charges:
        return True
    if info.created_at is None:
        return False
    created = to_utc(info.created_at)
    return all(created < to_utc(charge.created_at) for charge in order.charges)


def _ids_canceled_by_us(session: Session, number: str) -> set[str]:
    rows = session.scalars(
        select(JournalEntry.charge_id).where(
            JournalEntry.order_number == number,
            JournalEntry.action.in_(["cancel", "close"]),
            JournalEntry.phase == "intent",
        )
    )
    return {r for r in rows if r}
