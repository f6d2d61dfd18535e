"""Orders arriving from the shop, and read access for the window and the command line."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from core.amount_rules import MAX_ORDER_TOTAL
from core.clock import Clock
from core.db.locks import lock_order
from core.db.schema import (
    Charge,
    ChargePermission,
    Customer,
    Message,
    Order,
    OrderItem,
    Refund,
    ReservationPlan,
    Subscription,
    SubscriptionRound,
)
from core.domain import (
    ORDER_STATUS_LABELS,
    R4_ADDRESS_MESSAGE,
    ChargePurpose,
    Instrument,
    OrderKind,
    OrderStatus,
    PaymentStatus,
)
from core.environment import LIVE, NO_ENVIRONMENT
from core.environment import label as environment_label
from core.errors import BadInput, RuleViolation
from core.gateway import Gateway
from core.journal import Journal
from core.ledger import apply_charge_permission_info, instrument_from_descriptor, new_charge_row, refresh_order
from core.order_numbers import validate_order_number
from core.queries import OrderDetail, OrderSummary, count_orders, list_orders, load_order, order_detail
from core.status import charge_permission_expiry

PAYMENT_STATUS_LABELS = tuple(status.value for status in PaymentStatus)  # R10, in table order
REMOVAL_KEPT_MESSAGE = (
    "決済処理が実行中か結果不明のため削除しません。同期または復旧で確定してから、もう一度実行してください。"
)


@dataclass(frozen=True)
class SandboxRemoval:
    """Test orders (sandbox and built-in sandbox) removed from the list, or to be (issue 11 item 8).

    ``numbers``: removed (or, in a preview, to be removed); ``kept``: (number, reason) left in
    place because money is in flight or in doubt for them.
    """

    numbers: tuple[str, ...]
    kept: tuple[tuple[str, str], ...]
    by_environment: tuple[tuple[str, int], ...]  # (environment, count), the removed ones
    done: bool  # False: a preview, nothing changed

    @property
    def count(self) -> int:
        return len(self.numbers)

    def describe(self) -> str:
        parts = "、".join(f"{environment_label(env)}{n}件" for env, n in self.by_environment)
        return f"{self.count}件({parts})" if parts else "0件"

    def to_json(self) -> dict[str, object]:
        return {
            "removed": len(self.numbers) if self.done else 0,
            "to_remove": 0 if self.done else len(self.numbers),
            "numbers": list(self.numbers),
            "by_environment": dict(self.by_environment),
            "kept": [{"number": number, "reason": reason} for number, reason in self.kept],
            "done": self.done,
        }


@dataclass(frozen=True)
class LineItem:
    name: str
    unit_price: int
    quantity: int
    cost_price: int = 0


def validate_address(phone: str, postal_code: str) -> None:
    """R4: Amazon rejects unusable address data; we refuse it the same way."""
    digits = sum(ch.isdigit() for ch in phone)
    postal_digits = sum(ch.isdigit() for ch in postal_code)
    if digits < 10 or digits > 11 or postal_digits != 7:
        raise BadInput(R4_ADDRESS_MESSAGE)


class OrderService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        gateway: Callable[[], Gateway],
        journal: Journal | None = None,
        connection: Callable[[], str] | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._gateway = gateway
        self._journal = journal or Journal()
        # The current connection's environment (core.environment), for marking the orders of
        # another one (issue 11 item 8); None: not known, nothing is marked.
        self._connection = connection or (lambda: "")

    def connection_environment(self) -> str:
        return self._connection()

    def list(self, *, status: str | None = None, limit: int | None = None) -> list[OrderSummary]:
        # Issue 12: an order-status label (保留 …) filters the order status, e.g. held generations.
        order_status = next((s.value for s, label in ORDER_STATUS_LABELS.items() if label == status), None)
        if status is not None and order_status is None and status not in PAYMENT_STATUS_LABELS:
            raise BadInput(
                f"与信ステータス「{status}」はありません。指定できるのは: {'、'.join(PAYMENT_STATUS_LABELS)}"
                f"(受注ステータス: {'、'.join(ORDER_STATUS_LABELS.values())})"
            )
        self.refresh_lapsed()
        with self._sessions() as session:
            return list_orders(
                session,
                self._clock.now(),
                status=None if order_status else status,
                order_status=order_status,
                limit=limit,
                connection=self._connection(),
            )

    def refresh_lapsed(self) -> int:
        """Recompute the summary of orders whose stored authorization expiry has passed (R9).

        The stored badge is exact until its ``auth_expires_at``; an order with several
        authorizations can change more than once as they lapse, so the few orders past that
        moment are refreshed before they are read (an indexed query; usually none).
        """
        now = self._clock.now()
        with self._sessions.begin() as session:
            numbers = list(
                session.scalars(
                    select(Order.number).where(Order.auth_expires_at.is_not(None), Order.auth_expires_at <= now)
                )
            )
            for number in numbers:
                refresh_order(load_order(session, number), now)
        return len(numbers)

    def count(self) -> int:
        with self._sessions() as session:
            return count_orders(session)

    # --- going live: remove the test orders (issue 11 item 8) -----------------------------

    def sandbox_order_count(self) -> int:
        """How many orders are not of the live environment (an indexed count, for the question)."""
        with self._sessions() as session:
            return int(
                session.scalar(select(func.count(Order.id)).where(Order.environment.not_in((LIVE, NO_ENVIRONMENT))))
                or 0
            )

    def remove_sandbox_orders(self, *, dry_run: bool = False) -> SandboxRemoval:
        """Delete every order that is not of the live environment, in one transaction.

        Everything that belongs to an order goes with it: items, charges, refunds, messages,
        its Charge Permission and its customer when no remaining order uses them. The journal
        keeps every entry (it names orders by number, with no foreign key) and gains one
        ``order_removed`` event per order. An order with a money call in flight or in doubt
        (core.journal) is kept: deleting it would leave that call with no order to settle.
        ``dry_run`` answers the same question and changes nothing.
        """
        now = self._clock.now()
        with self._sessions.begin() as session:
            if not dry_run:
                # The write lock first (as core.db.locks.lock_order does for one order): no
                # operation can journal an intent for these orders until this commits.
                if session.get_bind().dialect.name == "sqlite":
                    session.execute(
                        update(Order)
                        .where(Order.environment.not_in((LIVE, NO_ENVIRONMENT)))
                        .values(updated_at=Order.updated_at)
                        .execution_options(synchronize_session=False)
                    )
                else:  # a server database: each order's own lock (advisory + row, core.db.locks)
                    numbers = session.scalars(
                        select(Order.number)
                        .where(Order.environment.not_in((LIVE, NO_ENVIRONMENT)))
                        .order_by(Order.number)
                    )
                    for number in list(numbers):
                        lock_order(session, number)
            rows = session.execute(
                select(Order.id, Order.number, Order.environment)
                .where(Order.environment.not_in((LIVE, NO_ENVIRONMENT)))
                .order_by(Order.id)
            ).all()
            busy = {p.order_number for p in Journal.pending(session)}
            kept = tuple((number, REMOVAL_KEPT_MESSAGE) for _id, number, _env in rows if number in busy)
            chosen = [(order_id, number, env) for order_id, number, env in rows if number not in busy]
            counts: dict[str, int] = {}
            for _id, _number, env in chosen:
                counts[env] = counts.get(env, 0) + 1
            result = SandboxRemoval(
                tuple(number for _id, number, _env in chosen),
                kept,
                tuple(sorted(counts.items())),
                done=not dry_run,
            )
            if dry_run or not chosen:
                return result
            ids = [order_id for order_id, _number, _env in chosen]
            customers: set[int] = set()
            permissions: set[str] = set()
            for start in range(0, len(ids), 500):
                part = ids[start : start + 500]
                for customer_id, cp_id in session.execute(
                    select(Order.customer_id, Order.charge_permission_id).where(Order.id.in_(part))
                ):
                    customers.add(customer_id)
                    if cp_id:
                        permissions.add(cp_id)
            for start in range(0, len(ids), 500):  # SQLite's bound-parameter limit
                self._delete_orders(session, ids[start : start + 500])
            for _id, number, env in chosen:
                self._journal.event(
                    session,
                    action="order_removed",
                    now=now,
                    order_number=number,
                    message=f"{environment_label(env)}の受注を一覧から削除しました(本番への切り替え)。",
                )
            # What only the removed orders used: their Charge Permissions and customers.
            unused_permission = (
                ~select(Order.id).where(Order.charge_permission_id == ChargePermission.id).exists(),
                ~select(Charge.id).where(Charge.charge_permission_id == ChargePermission.id).exists(),
            )
            unused_customer = ~select(Order.id).where(Order.customer_id == Customer.id).exists()
            cp_ids, customer_ids = sorted(permissions), sorted(customers)
            for start in range(0, len(cp_ids), 500):
                session.execute(
                    delete(ChargePermission).where(
                        ChargePermission.id.in_(cp_ids[start : start + 500]), *unused_permission
                    )
                )
            for start in range(0, len(customer_ids), 500):
                session.execute(
                    delete(Customer).where(Customer.id.in_(customer_ids[start : start + 500]), unused_customer)
                )
        return result

    @staticmethod
    def _delete_orders(session: Session, ids: Sequence[int]) -> None:
        # Issue 12: their subscription contracts, generated rounds and planned shipping days go too.
        numbers = select(Order.number).where(Order.id.in_(ids))
        contracts = select(Subscription.id).where(Subscription.order_number.in_(numbers))
        session.execute(
            delete(SubscriptionRound).where(
                or_(SubscriptionRound.subscription_id.in_(contracts), SubscriptionRound.order_number.in_(numbers))
            )
        )
        session.execute(delete(Subscription).where(Subscription.order_number.in_(numbers)))
        session.execute(delete(ReservationPlan).where(ReservationPlan.order_number.in_(numbers)))
        session.execute(delete(Refund).where(Refund.order_id.in_(ids)))
        session.execute(delete(Charge).where(Charge.order_id.in_(ids)))
        session.execute(delete(OrderItem).where(OrderItem.order_id.in_(ids)))
        session.execute(delete(Message).where(Message.order_id.in_(ids)))
        session.execute(delete(Order).where(Order.id.in_(ids)))

    def detail(self, number: str) -> OrderDetail:
        self.refresh_lapsed()
        with self._sessions() as session:
            return order_detail(session, number, self._clock.now(), self._connection())

    def check_new_number(self, number: str) -> str:
        """The order number a new order would get, stripped; ``BadInput`` when it is unusable or taken.

        Call it before the buyer's checkout is sent to Amazon Pay (or the sandbox): a number
        refused only after checkout would leave an authorized Charge Permission no order
        points to (issue 10, item 12).
        """
        number = validate_order_number(number)
        with self._sessions() as session:
            if session.scalar(select(Order.id).where(Order.number == number)) is not None:
                raise BadInput(f"受注番号 {number} はすでに登録されています。")
        return number

    def receive_checkout(
        self,
        *,
        number: str,
        kind: OrderKind,
        charge_permission_id: str,
        charge_id: str,
        items: Sequence[LineItem],
        shipping_fee: int = 0,
        fees: int = 0,
        discount: int = 0,
        ordered_at: datetime | None = None,
        member: bool = False,
    ) -> OrderDetail:
        """An order placed with Amazon Pay arrives: read its permission and authorization from Amazon.

        Refuses a total over 10,000,000 yen (R5) or one that does not match what the buyer
        authorized, and an address Amazon would reject (R4). Appends the payment-method line to
        the shop memo (R22), except for subscriptions (R20, R23).
        """
        number = validate_order_number(number)
        total = sum(i.unit_price * i.quantity for i in items) + shipping_fee + fees - discount
        if total <= 0 or total > MAX_ORDER_TOTAL:
            raise RuleViolation("Amazon Payで決済できる金額は1円から10,000,000円までです。", code="R5")
        self.check_new_number(number)
        gateway = self._gateway()
        client = gateway.client
        cp_info = client.get_charge_permission(charge_permission_id)
        charge_info = client.get_charge(charge_id)
        if charge_info.amount != total:
            raise RuleViolation(f"与信額({charge_info.amount:,}円)と受注金額({total:,}円)が一致しません。", code="R24")
        buyer = cp_info.buyer
        address = cp_info.shipping_address
        if buyer is None or address is None:
            raise BadInput("Amazonから購入者情報を取得できませんでした。")
        validate_address(address.phone, address.postal_code)
        now = self._clock.now()
        placed = ordered_at or charge_info.created_at or now
        instrument = instrument_from_descriptor(cp_info.payment_descriptor)
        with self._sessions.begin() as session:
            customer = session.scalar(select(Customer).where(Customer.email == buyer.email)) if member else None
            if customer is None:
                customer = Customer(
                    name=buyer.name,
                    email=buyer.email,
                    phone=buyer.phone,
                    is_member=member,
                    # R7: a guest records no consent (NULL); a member registering at purchase
                    # is linked to Amazon at that moment.
                    newsletter_consent=False if member else None,
                    registered_at=placed if member else None,
                    amazon_linked_at=placed if member else None,
                )
                session.add(customer)
            cp = session.get(ChargePermission, cp_info.id)
            if cp is None:
                created = cp_info.created_at or placed
                cp = ChargePermission(
                    id=cp_info.id,
                    type=cp_info.type,
                    state=cp_info.status.state,
                    instrument=instrument.value,
                    created_at=created,
                    expires_at=cp_info.expires_at or charge_permission_expiry(created),
                )
                session.add(cp)
            apply_charge_permission_info(cp, cp_info, now)
            memo = "" if kind is OrderKind.SUBSCRIPTION else instrument.memo_line  # R22, R23
            status = OrderStatus.RESERVED if kind is OrderKind.RESERVATION else OrderStatus.NEW
            order = Order(
                number=number,
                kind=kind.value,
                ordered_at=placed,
                customer=customer,
                ship_name=address.name,
                ship_postal_code=address.postal_code,
                ship_prefecture=address.prefecture,
                ship_address=address.address,
                ship_phone=address.phone,
                shipping_fee=shipping_fee,
                fees=fees,
                discount=discount,
                total=total,
                original_total=total,
                order_status=status.value,
                shop_memo=memo,
                payment_method="amazon_pay",
                charge_permission=cp,
                environment=gateway.environment,  # issue 11 item 8: where its Charge Permission lives
                created_at=now,
                updated_at=now,
            )
            session.add(order)
            for position, item in enumerate(items):
                session.add(
                    OrderItem(
                        order=order,
                        position=position,
                        name=item.name,
                        unit_price=item.unit_price,
                        cost_price=item.cost_price,
                        quantity=item.quantity,
                    )
                )
            charge = new_charge_row(order, charge_info, purpose=ChargePurpose.ORIGINAL, origin="buyer", now=now)
            session.add(charge)
            session.flush()
            refresh_order(order, now)
            self._journal.event(
                session,
                action="order_received",
                now=now,
                order_number=number,
                amount=total,
                charge_id=charge.id,
                actor="buyer",
                message=f"Amazon Payで注文を受け付けました({Instrument(instrument).memo_line})。",
            )
        return self.detail(number)
