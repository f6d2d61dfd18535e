"""Read side: functions taking a Session and returning frozen DTOs, never ORM objects."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session, selectinload

from core.clock import format_jst, to_jst
from core.db.schema import JournalEntry, Message, Order, Shipment
from core.domain import OrderKind, OrderStatus, PaymentStatus
from core.errors import NotFound
from core.journal import Journal
from core.ledger import (
    charge_facts,
    charge_permission_facts,
    pending_capture_total,
    pending_refund_total,
    refund_facts,
)
from core.messages.status import status_label
from core.payment_rules import (
    OrderFacts,
    capture_decision,
    environment_refusal,
    has_unknown_charges,
    reauthorize_decision,
)
from core.status import charge_label, days_remaining, expiry_text, refund_label


def effective_payment_status(now: datetime) -> ColumnElement[Any]:
    """The stored badge, with an authorization that lapsed since the last write read as 承認完了 (R9)."""
    return case(
        (
            and_(Order.payment_status == PaymentStatus.AUTHORIZED.value, Order.auth_expires_at <= now),
            PaymentStatus.AUTH_LAPSED.value,
        ),
        else_=Order.payment_status,
    )


@dataclass(frozen=True)
class OrderSummary:
    number: str
    kind: str
    ordered_at: datetime
    customer_name: str
    customer_email: str
    total: int
    payment_status: str | None
    order_status: str
    auth_expires_at: datetime | None
    auth_expiry: str
    environment: str = "builtin"  # issue 11 item 8: the Amazon Pay the order lives in
    other_environment: bool = False  # not the current connection's: nothing is sent for it

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "kind": self.kind,
            "ordered_at": self.ordered_at.isoformat(),
            "ordered_at_jst": format_jst(self.ordered_at),
            "customer": self.customer_name,
            "email": self.customer_email,
            "total": self.total,
            "payment_status": self.payment_status,
            "order_status": self.order_status,
            "auth_expires_at": self.auth_expires_at.isoformat() if self.auth_expires_at else None,
            "auth_expiry": self.auth_expiry,
            "environment": self.environment,
            "other_environment": self.other_environment,
        }


def list_orders(
    session: Session, now: datetime, *, status: str | None = None, limit: int | None = None, connection: str = ""
) -> list[OrderSummary]:
    effective = effective_payment_status(now).label("effective_status")
    query = (
        select(Order, effective)
        .options(selectinload(Order.customer))
        .order_by(Order.ordered_at.desc(), Order.id.desc())
    )
    if status is not None:
        query = query.where(effective_payment_status(now) == status)
    if limit is not None:
        query = query.limit(limit)
    rows = []
    for order, label in session.execute(query):
        expires = order.auth_expires_at
        rows.append(
            OrderSummary(
                number=order.number,
                kind=order.kind,
                ordered_at=order.ordered_at,
                customer_name=order.customer.name,
                customer_email=order.customer.email,
                total=order.total,
                payment_status=label,
                order_status=OrderStatus(order.order_status).label,
                auth_expires_at=expires,
                auth_expiry=expiry_text(expires, now) if label == PaymentStatus.AUTHORIZED.value else "",
                environment=order.environment,
                other_environment=environment_refusal(order.environment, connection) is not None,
            )
        )
    return rows


def count_orders(session: Session) -> int:
    return int(session.scalar(select(func.count(Order.id))) or 0)


def load_order(session: Session, number: str) -> Order:
    order = session.scalar(
        select(Order)
        .where(Order.number == number.strip())
        .options(
            selectinload(Order.customer),
            selectinload(Order.items),
            selectinload(Order.charges),
            selectinload(Order.refunds),
            selectinload(Order.charge_permission),
        )
    )
    if order is None:
        raise NotFound(f"受注番号 {number} の受注は見つかりません。")
    return order


def order_facts(session: Session, order: Order, connection: str = "") -> OrderFacts:
    """What the rules decide from; ``connection`` is the current connection's environment
    (core.environment.connection_environment), "" when the caller does not know it."""
    pending = Journal.pending(session, order.number)
    return OrderFacts(
        number=order.number,
        kind=OrderKind(order.kind),
        order_status=OrderStatus(order.order_status),
        total=order.total,
        payment_method=order.payment_method,
        charges=[charge_facts(c) for c in order.charges],
        refunds=[refund_facts(r) for r in order.refunds],
        charge_permission=charge_permission_facts(order.charge_permission) if order.charge_permission else None,
        amount_changed_externally=order.amount_changed_externally,
        sync_failed=order.sync_error is not None,
        unsettled_operation=any(not p.in_flight for p in pending),
        operation_in_progress=any(p.in_flight for p in pending),
        environment=order.environment,
        connection=connection,
    )


@dataclass(frozen=True)
class ChargeView:
    id: str
    purpose: str
    origin: str
    amount: int
    captured: int
    refunded: int
    state: str
    reason_code: str | None
    label: str
    created_at: datetime
    expires_at: datetime | None
    expires_in_days: int | None


@dataclass(frozen=True)
class RefundView:
    id: str
    charge_id: str
    amount: int
    state: str
    reason_code: str | None
    reason: str
    origin: str
    label: str
    created_at: datetime


@dataclass(frozen=True)
class ItemView:
    name: str
    unit_price: int
    cost_price: int
    quantity: int
    subtotal: int


@dataclass(frozen=True)
class JournalView:
    id: int
    at: datetime
    actor: str
    action: str
    phase: str
    outcome: str | None
    amount: int | None
    charge_id: str | None
    refund_id: str | None
    idempotency_key: str | None
    detail: str
    operator: str = ""  # who at which PC wrote it (issue 14 item 3); '' before it was recorded


@dataclass(frozen=True)
class MessageView:
    """A message to the customer kept with the order (R51); times are UTC."""

    id: int
    order_number: str
    template_id: str
    template_version: int | None
    recipient: str
    subject: str
    body: str
    status: str  # draft | sent | failed | manual
    status_label: str  # 下書き | 送信済 | 送信失敗 | 手動送信
    channel: str
    error: str | None
    created_at: datetime
    sent_at: datetime | None
    operator: str = ""  # who recorded it (issue 14 item 3)


def message_view(message: Message, order_number: str) -> MessageView:
    return MessageView(
        id=message.id,
        order_number=order_number,
        template_id=message.template_id,
        template_version=message.template_version,
        recipient=message.recipient,
        subject=message.subject,
        body=message.body,
        status=message.status,
        status_label=status_label(message.status),
        channel=message.channel,
        error=message.error,
        created_at=message.created_at,
        sent_at=message.sent_at,
        operator=message.operator,
    )


@dataclass(frozen=True)
class ChargePermissionView:
    id: str
    type: str
    state: str
    reason_code: str | None
    instrument: str
    amount_limit: int | None
    expires_at: datetime | None
    expires_in_days: int | None


@dataclass(frozen=True)
class OrderDetail:
    number: str
    kind: str
    kind_label: str
    ordered_at: datetime
    order_status: str
    payment_status: str | None
    customer_name: str
    customer_email: str
    customer_phone: str
    customer_is_member: bool
    amazon_linked_at: datetime | None
    ship_name: str
    ship_postal_code: str
    ship_prefecture: str
    ship_address: str
    ship_phone: str
    items: tuple[ItemView, ...]
    shipping_fee: int
    fees: int
    discount: int
    total: int
    original_total: int
    authorized: int
    captured: int
    refunded: int
    pending_refund: int
    pending_capture: int
    payment_date: datetime | None
    tracking_number: str | None
    shop_memo: str
    reauth_message: str | None
    sync_error: str | None
    last_synced_at: datetime | None
    amount_changed_externally: bool
    charge_permission: ChargePermissionView | None
    charges: tuple[ChargeView, ...]
    refunds: tuple[RefundView, ...]
    journal: tuple[JournalView, ...]
    can_capture: bool
    capture_blocked_reason: str
    can_reauthorize: bool
    reauthorize_blocked_reason: str
    unsettled_operations: int  # 結果不明: interrupted, to be resent by recovery or sync
    seller_central_tasks: tuple[str, ...] = ()  # R11: recorded here, still to be done in Seller Central
    messages: tuple[MessageView, ...] = ()  # R51: every message to the customer, oldest first
    operations_in_progress: int = 0  # money calls being sent right now by another window or process
    # Issue 11: where the order came from, its Amazon Pay environment, its link to Amazon Pay,
    # and the shop file's total when it differs from Amazon's.
    source: str = "sandbox"
    environment: str = "builtin"
    # Issue 11 item 8: the order lives in another Amazon Pay than the current connection; no
    # Amazon Pay action is sent for it (environment_note says why, in Japanese).
    other_environment: bool = False
    environment_note: str = ""
    linked: bool = False
    charge_permission_id: str | None = None
    shop_total_mismatch: int | None = None
    payment_method: str = "amazon_pay"
    # Issue 11: Amazon holds a charge of this order whose ID is not known here (the file had none).
    charges_unknown: bool = False
    # Issue 15: the shipment's carrier (core.shipping.carriers.Carrier) and when it shipped.
    carrier: str | None = None
    shipped_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        def convert(value: Any) -> Any:
            if isinstance(value, datetime):
                return value.isoformat()
            if isinstance(value, dict):
                return {k: convert(v) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return [convert(v) for v in value]
            return value

        data: dict[str, Any] = convert(asdict(self))
        data["ordered_at_jst"] = format_jst(self.ordered_at)
        return data


def order_detail(session: Session, number: str, now: datetime, connection: str = "") -> OrderDetail:
    order = load_order(session, number)
    facts = order_facts(session, order, connection)
    other = environment_refusal(order.environment, connection)
    capture = capture_decision(facts, now)
    reauth = reauthorize_decision(facts, now)
    customer = order.customer
    cp = order.charge_permission
    journal = session.scalars(
        select(JournalEntry).where(JournalEntry.order_number == order.number).order_by(JournalEntry.id)
    ).all()
    status = session.scalar(select(effective_payment_status(now)).where(Order.id == order.id))
    pending = Journal.pending(session, order.number)
    shipment = session.scalar(select(Shipment).where(Shipment.order_id == order.id))
    return OrderDetail(
        number=order.number,
        kind=order.kind,
        kind_label=OrderKind(order.kind).label,
        ordered_at=order.ordered_at,
        order_status=OrderStatus(order.order_status).label,
        payment_status=status,
        customer_name=customer.name,
        customer_email=customer.email,
        customer_phone=customer.phone,
        customer_is_member=customer.is_member,
        amazon_linked_at=customer.amazon_linked_at,
        ship_name=order.ship_name,
        ship_postal_code=order.ship_postal_code,
        ship_prefecture=order.ship_prefecture,
        ship_address=order.ship_address,
        ship_phone=order.ship_phone,
        items=tuple(
            ItemView(i.name, i.unit_price, i.cost_price, i.quantity, i.unit_price * i.quantity) for i in order.items
        ),
        shipping_fee=order.shipping_fee,
        fees=order.fees,
        discount=order.discount,
        total=order.total,
        original_total=order.original_total,
        authorized=order.authorized_amount,
        captured=order.captured_amount,
        refunded=order.refunded_amount,
        pending_refund=pending_refund_total(order),
        pending_capture=pending_capture_total(order),
        payment_date=order.payment_date,
        tracking_number=order.tracking_number,
        shop_memo=order.shop_memo,
        reauth_message=order.reauth_message,
        sync_error=order.sync_error,
        last_synced_at=order.last_synced_at,
        amount_changed_externally=order.amount_changed_externally,
        charge_permission=ChargePermissionView(
            id=cp.id,
            type=cp.type,
            state=cp.state,
            reason_code=cp.reason_code,
            instrument=cp.instrument,
            amount_limit=cp.amount_limit,
            expires_at=cp.expires_at,
            expires_in_days=days_remaining(cp.expires_at, now) if cp.expires_at else None,
        )
        if cp
        else None,
        charges=tuple(
            ChargeView(
                id=c.id,
                purpose=c.purpose,
                origin=c.origin,
                amount=c.amount,
                captured=c.captured_amount,
                refunded=c.refunded_amount,
                state=c.state,
                reason_code=c.reason_code,
                label=charge_label(charge_facts(c), now).value,
                created_at=c.created_at,
                expires_at=c.expires_at,
                expires_in_days=days_remaining(c.expires_at, now) if c.expires_at and c.state == "Authorized" else None,
            )
            for c in order.charges
        ),
        refunds=tuple(
            RefundView(
                id=r.id,
                charge_id=r.charge_id,
                amount=r.amount,
                state=r.state,
                reason_code=r.reason_code,
                reason=r.reason,
                origin=r.origin,
                label=refund_label(refund_facts(r)).value,
                created_at=r.created_at,
            )
            for r in order.refunds
        ),
        journal=tuple(
            JournalView(
                id=j.id,
                at=j.at,
                actor=j.actor,
                action=j.action,
                phase=j.phase,
                outcome=j.outcome,
                amount=j.amount,
                charge_id=j.charge_id,
                refund_id=j.refund_id,
                idempotency_key=j.idempotency_key,
                detail=j.detail,
                operator=j.operator,
            )
            for j in journal
        ),
        can_capture=capture.allowed,
        capture_blocked_reason=capture.reason,
        can_reauthorize=reauth.allowed,
        reauthorize_blocked_reason=reauth.reason,
        unsettled_operations=sum(1 for p in pending if not p.in_flight),
        operations_in_progress=sum(1 for p in pending if p.in_flight),
        source=order.source,
        environment=order.environment,
        other_environment=other is not None,
        environment_note=other.reason if other is not None else "",
        linked=order.charge_permission_id is not None,
        charge_permission_id=order.charge_permission_id,
        shop_total_mismatch=order.shop_total_mismatch,
        payment_method=order.payment_method,
        charges_unknown=has_unknown_charges(facts.charge_permission, has_charges=bool(facts.charges)),
        carrier=shipment.carrier if shipment else None,
        shipped_at=shipment.shipped_at if shipment else None,
        seller_central_tasks=tuple(_task_text(t) for t in Journal.seller_central_tasks(session, order.number)),
        messages=tuple(
            message_view(m, order.number)
            for m in session.scalars(select(Message).where(Message.order_id == order.id).order_by(Message.id))
        ),
    )


_TASK_NAMES = {
    "capture": "売上確定",
    "authorize": "与信",
    "refund": "返金",
    "cancel": "与信の取消",
    "close": "取引情報の削除",
}


def _task_text(entry: JournalEntry) -> str:
    amount = f" {entry.amount:,}円" if entry.amount else ""
    return f"Seller Centralで実施が必要: {_TASK_NAMES.get(entry.action, entry.action)}{amount}"


def jst_date(moment: datetime) -> str:
    return to_jst(moment).strftime("%Y年%m月%d日")
