"""The operator's payment toolbox: capture (R24), re-authorize (R40–R42), refund (R33, R38,
R39), cancel and void (R34, R35, R15, R16), payment-method change (R33, R6), amount change
(R26–R30, R36) and 入金日取消 (R37).

Each use case checks the rules, plans its API steps and hands them to the
``OperationEngine``, which journals them before sending and applies them after (exactly
once). With automatic sync off (R11) the steps are recorded only, marked
"Seller Centralで実施が必要", and a later sync reconciles them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from core.amazonpay.client import AmazonPayClient, new_idempotency_key
from core.amount_rules import amount_change_refusal
from core.clock import Clock, to_jst, to_utc
from core.db.locks import lock_order
from core.db.schema import Order, OrderItem
from core.domain import ChargePurpose, ChargeState, Instrument, OrderKind, OrderStatus
from core.environment import connection_environment
from core.errors import BadInput, RuleViolation, StaleEdit
from core.gateway import Gateway
from core.journal import LOCAL_ONLY, SUCCEEDED, Journal, PendingOperation
from core.ledger import charge_permission_facts, refresh_order
from core.payment_rules import (
    MARKETPLACE_MESSAGE,
    OrderFacts,
    capture_decision,
    environment_refusal,
    has_unknown_charges,
    link_refusal,
    reauthorize_decision,
    settled_refusal,
)
from core.queries import OrderDetail, load_order, order_detail, order_facts
from core.refund_rules import RefundPlan, plan_refund
from core.services.operations import OperationEngine, OperationResult, Step
from core.settings import SettingsStore
from core.status import is_authorization_lapsed

__all__ = ["PAYMENT_METHODS", "AmountChange", "CancelPlan", "OperationResult", "PaymentService"]

PAYMENT_METHODS: dict[str, str] = {
    "amazon_pay": "Amazon Pay",
    "credit_card": "クレジットカード",
    "bank_transfer": "銀行振込",
    "cod": "代金引換",
    "convenience_store": "コンビニ払い",
    "other": "その他",
    "none": "決済不要",
}
LOCAL_ONLY_MESSAGE = "記録しました(自動連携がオフのため、Seller Centralで実施が必要です)。"


@dataclass(frozen=True)
class CancelPlan:
    """What a cancellation or payment-method change will do, for the confirmation."""

    steps: tuple[str, ...]
    irreversible: tuple[str, ...]  # every consequence that cannot be undone, named
    refund: RefundPlan | None
    needs_confirmation: bool  # the Amazon transaction is deleted (void): --yes / a dialog

    def to_json(self) -> dict[str, object]:
        return {
            "steps": list(self.steps),
            "irreversible": list(self.irreversible),
            "needs_confirmation": self.needs_confirmation,
            "refund": [{"charge_id": line.charge_id, "amount": line.amount} for line in self.refund.lines]
            if self.refund
            else [],
        }


@dataclass(frozen=True)
class AmountChange:
    """A proposed new total, checked at once (R26–R30, R5)."""

    number: str
    current_total: int
    new_total: int
    authorized: int
    refusal: str | None
    rule: str | None
    consequences: tuple[str, ...] = ()  # named before a total of 0 is set (R34): needs a confirmation
    version: str = ""  # the order's amounts as they are now (amount_version), issue 14 item 2

    @property
    def allowed(self) -> bool:
        return self.refusal is None

    @property
    def needs_confirmation(self) -> bool:
        return bool(self.consequences)

    @property
    def needs_reauthorization(self) -> int:
        """Yen the capture will authorize first (R28)."""
        return max(self.new_total - self.authorized, 0)


def amount_version(
    items: Sequence[tuple[str, int, int]], shipping_fee: int, fees: int, discount: int, total: int, payment_method: str
) -> str:
    """The version of an order's amounts an edit is based on (issue 14 item 2): the values the
    operator saw, as one short text. Compare-and-set on the values themselves needs no column
    bumped by every writer of ``orders`` (sync, imports, captures): an amount change is refused
    exactly when the amounts it started from are no longer the order's (another operator's
    change, a capture that set a new total, a sync), and allowed when they are the same again."""
    text = repr((tuple(items), shipping_fee, fees, discount, total, payment_method))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def detail_amount_version(detail: OrderDetail) -> str:
    """:func:`amount_version` of the amounts an ``OrderDetail`` shows (the window's dialog)."""
    items = tuple((i.name, i.unit_price, i.quantity) for i in detail.items)
    return amount_version(items, detail.shipping_fee, detail.fees, detail.discount, detail.total, detail.payment_method)


def _order_amount_version(order: Order) -> str:
    items = tuple((i.name, i.unit_price, i.quantity) for i in order.items)
    return amount_version(items, order.shipping_fee, order.fees, order.discount, order.total, order.payment_method)


def _stale_amount(order: Order) -> StaleEdit:
    items = "、".join(f"{i.name} {i.unit_price:,}円×{i.quantity}" for i in order.items)
    return StaleEdit(
        f"受注金額 {order.total:,}円(商品: {items or 'なし'}、送料 {order.shipping_fee:,}円、"
        f"手数料 {order.fees:,}円、値引き {order.discount:,}円)。",
        current_values={
            "total": order.total,
            "items": [[i.name, i.unit_price, i.quantity] for i in order.items],
            "shipping_fee": order.shipping_fee,
            "fees": order.fees,
            "discount": order.discount,
            "payment_method": order.payment_method,
            "version": _order_amount_version(order),
        },
    )


def zero_total_consequence(authorized: int, expiries: Sequence[datetime | None]) -> str:
    """What a total of 0 does (R34), named for the confirmation."""
    text = "お支払いが決済不要になり、入金処理はできなくなります。"
    if authorized:
        last = max((e for e in expiries if e is not None), default=None)
        jst = to_jst(last) if last else None
        until = f"({jst.year}年{jst.month}月{jst.day}日)" if jst else ""
        text += (
            f"Amazonの与信{authorized:,}円は取り消されずに与信期限{until}まで残ります"
            "(金額を戻せばその与信で入金処理できます。与信も取り消すには「Amazonの取引情報を取り消す」)。"
        )
    return text


class PaymentService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        gateway: Callable[[], Gateway],
        settings: SettingsStore,
        journal: Journal | None = None,
        connection: Callable[[], str] | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._settings = settings
        # Where calls go now (core.app.Kanjo.connection_environment); by default the settings'.
        self._connection_source = connection or (lambda: connection_environment(self._settings.load()))
        self._engine = OperationEngine(sessions, clock, gateway, journal or Journal())

    def _connection(self) -> str:
        """The current connection's environment (issue 11 item 8)."""
        return self._connection_source()

    def _local_only(self) -> bool:
        return not self._settings.load().auto_sync

    def _result_local(self, order: Order, action: str, amount: int) -> OperationResult:
        return OperationResult(order.number, action, LOCAL_ONLY, LOCAL_ONLY_MESSAGE, amount, order.payment_status)

    @contextmanager
    def _locked(self, number: str) -> Iterator[tuple[Session, Order]]:
        """One unit of work on ``number`` under its per-order lock (issue 10 item 1).

        Everything an operation checks is read after the lock is taken, and its journal
        intents are written before the lock is released (on commit): two operations on one
        order, in two windows or processes, can never both pass the same check.
        """
        with self._sessions.begin() as session:
            lock_order(session, number)
            yield session, load_order(session, number)

    # --- capture (入金処理, R24, R28) --------------------------------------------------------

    def capture(self, number: str) -> OperationResult:
        return self._capture(number, authorize_first=True)

    def _capture(self, number: str, *, authorize_first: bool) -> OperationResult:
        with self._locked(number) as (session, order):
            decision = capture_decision(order_facts(session, order, self._connection()), self._clock.now())
            if not decision.allowed:
                raise RuleViolation(decision.reason, code=decision.rule)
            local = self._local_only()
            if decision.authorize_first and authorize_first:
                # R28: the pending amount change exceeds what is authorized: authorize the difference first.
                first_amount = decision.authorize_first
                ids = self._begin_authorize(session, order, first_amount, ChargePurpose.INCREASE, local)
            else:
                first_amount = 0
                steps = [
                    Step(
                        "capture",
                        AmazonPayClient.capture_request(charge_id, amount, idempotency_key=new_idempotency_key()),
                        charge_id=charge_id,
                        amount=amount,
                    )
                    for charge_id, amount in decision.captures
                ]
                ids = self._engine.begin(session, order, "capture", steps, local_only=local)
                if local:
                    order.payment_date = self._clock.now()
                    return self._result_local(order, "capture", decision.amount)
        if first_amount:
            first = self._result_local_by_number(number, first_amount) if local else None
            first = first or self._engine.run_all(number, "authorize", ids)
            if not first.ok:
                return first
            return self._capture(number, authorize_first=False)
        return self._engine.run_all(number, "capture", ids)

    def _result_local_by_number(self, number: str, amount: int) -> OperationResult:
        with self._sessions() as session:
            return self._result_local(load_order(session, number), "authorize", amount)

    # --- re-authorization (再与信, R40–R42) --------------------------------------------------

    def reauthorize(self, number: str) -> OperationResult:
        with self._locked(number) as (session, order):
            decision = reauthorize_decision(order_facts(session, order, self._connection()), self._clock.now())
            if not decision.allowed:
                raise RuleViolation(decision.reason, code=decision.rule)
            assert decision.purpose is not None
            local = self._local_only()
            ids = self._begin_authorize(session, order, decision.amount, decision.purpose, local)
            if local:
                return self._result_local(order, "authorize", decision.amount)
        return self._engine.run_all(number, "authorize", ids)

    def _begin_authorize(
        self, session: Session, order: Order, amount: int, purpose: ChargePurpose, local: bool
    ) -> list[int]:
        """Journal a new authorization on the order's Charge Permission (under the order's lock)."""
        assert order.charge_permission_id is not None
        request = AmazonPayClient.create_charge_request(
            order.charge_permission_id,
            amount,
            idempotency_key=new_idempotency_key(),
            merchant_reference_id=order.number,
        )
        step = Step("authorize", request, amount=amount, detail={"purpose": purpose.value})
        return self._engine.begin(session, order, "authorize", [step], local_only=local)

    # --- refunds (返金, R33, R38, R39) ------------------------------------------------------

    def refund_preview(self, number: str, amount: int | None) -> RefundPlan:
        """The allocation over the captures, shown for confirmation before anything is sent."""
        with self._sessions() as session:
            facts = order_facts(session, load_order(session, number), self._connection())
        self._check_settled(facts)
        return plan_refund(facts.charges, facts.refunds, amount)

    def refund(self, number: str, amount: int | None, reason: str = "") -> OperationResult:
        """Refund ``amount`` yen, or everything left when ``amount`` is None (全額返金)."""
        with self._locked(number) as (session, order):
            facts = order_facts(session, order, self._connection())
            self._check_settled(facts)
            plan = plan_refund(facts.charges, facts.refunds, amount)
            steps = self._refund_steps(plan, reason)
            local = self._local_only()
            ids = self._engine.begin(session, order, "refund", steps, local_only=local)
            if local:
                return self._result_local(order, "refund", plan.total)
        return self._engine.run_all(number, "refund", ids)

    @staticmethod
    def _refund_steps(plan: RefundPlan, reason: str) -> list[Step]:
        return [
            Step(
                "refund",
                AmazonPayClient.create_refund_request(
                    line.charge_id, line.amount, idempotency_key=new_idempotency_key()
                ),
                charge_id=line.charge_id,
                amount=line.amount,
                detail={"reason": reason, "full": plan.full},
            )
            for line in plan.lines
        ]

    @staticmethod
    def _check_settled(facts: OrderFacts) -> None:
        refusal = settled_refusal(facts)
        if refusal is not None:
            raise RuleViolation(refusal.reason, code=refusal.rule)

    # --- cancellation and payment-method change (R33–R35, R15, R6) ------------------------

    def cancel_preview(self, number: str, *, void_amazon: bool = False) -> CancelPlan:
        with self._sessions() as session:
            order = load_order(session, number)
            if order.order_status == OrderStatus.CANCELED:
                raise RuleViolation("この受注はすでにキャンセルされています。", code="R35")
            return self._plan_withdrawal(session, order, void_amazon=void_amazon, cancel=True)[0]

    def cancel(
        self, number: str, *, void_amazon: bool = False, confirmed: bool = False, reason: str = ""
    ) -> OperationResult:
        """Cancel before capture (cancel the authorizations) or after it (refund in full, R35).

        ``void_amazon`` (「Amazonの取引情報を取り消す」) also closes the Charge Permission,
        irreversibly; reservations and subscriptions always close it (R15). Either needs
        ``confirmed``.
        """
        with self._locked(number) as (session, order):
            if order.order_status == OrderStatus.CANCELED:
                raise RuleViolation("この受注はすでにキャンセルされています。", code="R35")
            plan, steps = self._plan_withdrawal(session, order, void_amazon=void_amazon, cancel=True, reason=reason)
            if plan.needs_confirmation and not confirmed:
                raise RuleViolation(
                    "取り消せない操作が含まれるため確認が必要です: " + " ".join(plan.irreversible), code="R35"
                )
            then = {"order_status": OrderStatus.CANCELED.value}
            local = self._local_only()
            ids = self._engine.begin(session, order, "cancel", steps, then=then, local_only=local)
            if local:
                return self._result_local(order, "cancel", 0)
            if not ids:
                return OperationResult(
                    number, "cancel", SUCCEEDED, "受注をキャンセルしました。", 0, order.payment_status
                )
        result = self._engine.run_all(number, "cancel", ids)
        return self._with_status(result)

    def change_method_preview(self, number: str, method: str, *, void_amazon: bool = False) -> CancelPlan:
        with self._sessions() as session:
            order = load_order(session, number)
            self._check_method(order, method)
            return self._plan_withdrawal(session, order, void_amazon=void_amazon, cancel=False)[0]

    def change_method(
        self, number: str, method: str, *, void_amazon: bool = False, confirmed: bool = False
    ) -> OperationResult:
        """Change the payment method away from Amazon Pay (R33): before capture the
        authorizations are canceled, after it everything captured is refunded. Changing *to*
        Amazon Pay is impossible (R6)."""
        with self._locked(number) as (session, order):
            self._check_method(order, method)
            plan, steps = self._plan_withdrawal(session, order, void_amazon=void_amazon, cancel=False)
            if plan.needs_confirmation and not confirmed:
                raise RuleViolation(
                    "取り消せない操作が含まれるため確認が必要です: " + " ".join(plan.irreversible), code="R33"
                )
            local = self._local_only()
            ids = self._engine.begin(
                session, order, "change_method", steps, then={"payment_method": method}, local_only=local
            )
            if local:
                return self._result_local(order, "change_method", 0)
            if not ids:
                label = PAYMENT_METHODS[method]
                return OperationResult(number, "change_method", SUCCEEDED, f"決済方法を{label}に変更しました。")
        return self._with_status(self._engine.run_all(number, "change_method", ids))

    def _check_method(self, order: Order, method: str) -> None:
        other = environment_refusal(order.environment, self._connection())
        if other is not None:  # issue 11 item 8
            raise RuleViolation(other.reason, code=other.rule)
        if order.kind == OrderKind.MARKETPLACE:
            raise RuleViolation(MARKETPLACE_MESSAGE, code="R61")
        if method not in PAYMENT_METHODS or method == "none":
            names = "、".join(k for k in PAYMENT_METHODS if k not in ("amazon_pay", "none"))
            raise BadInput(f"決済方法「{method}」は指定できません。指定できるのは: {names}")
        if method == "amazon_pay":
            raise RuleViolation("他の決済方法からAmazon Payへの変更はできません。", code="R6")
        if order.payment_method != "amazon_pay":
            raise RuleViolation("この受注の決済方法はすでにAmazon Payではありません。", code="R33")
        if order.order_status == OrderStatus.CANCELED:
            raise RuleViolation("キャンセル済みの受注です。", code="R35")

    def _plan_withdrawal(
        self, session: Session, order: Order, *, void_amazon: bool, cancel: bool, reason: str = ""
    ) -> tuple[CancelPlan, list[Step]]:
        """Steps that take the money back: refund what was captured, cancel open authorizations,
        close the permission when asked (or, for a canceled reservation or subscription, R15)."""
        facts = order_facts(session, order, self._connection())
        self._check_settled(facts)
        now = self._clock.now()
        if any(c.state is ChargeState.CAPTURE_INITIATED for c in facts.charges):
            raise RuleViolation("売上処理がAmazonで完了していません。同期してから操作してください。", code="R55")
        steps: list[Step] = []
        described: list[str] = []
        irreversible: list[str] = []
        refund: RefundPlan | None = None
        if order.payment_method == "amazon_pay" and any(c.state is ChargeState.CAPTURED for c in facts.charges):
            try:
                refund = plan_refund(facts.charges, facts.refunds, None)
            except RuleViolation:
                refund = None  # everything captured is already refunded
            if refund is not None:
                steps += self._refund_steps(refund, reason or ("キャンセル" if cancel else "決済方法の変更"))
                described.append(f"売上{refund.total:,}円を全額返金します。")
                irreversible.append(f"{refund.total:,}円の返金は取り消せません。")
        for charge in facts.charges:
            if charge.state in (ChargeState.AUTHORIZED, ChargeState.AUTHORIZATION_INITIATED) and not (
                is_authorization_lapsed(charge, now)
            ):
                steps.append(
                    Step(
                        "cancel",
                        AmazonPayClient.cancel_charge_request(
                            charge.id, "受注キャンセル" if cancel else "決済方法の変更"
                        ),
                        charge_id=charge.id,
                        amount=charge.amount,
                    )
                )
                described.append(f"与信{charge.amount:,}円を取り消します。")
        cp = order.charge_permission
        closes = void_amazon or (cancel and order.kind in (OrderKind.RESERVATION.value, OrderKind.SUBSCRIPTION.value))
        if closes and cp is not None and cp.state != "Closed":
            steps.append(
                Step(
                    "close",
                    AmazonPayClient.close_charge_permission_request(
                        cp.id, "受注キャンセル" if cancel else "決済方法の変更", cancel_pending_charges=True
                    ),
                )
            )
            described.append("Amazon Payの取引情報(Charge Permission)を削除します。")
            irreversible.append(
                f"Amazon Payの取引情報({cp.id})の削除は元に戻せません。この受注ではもう与信・再与信・売上ができなくなります。"
            )
        if cancel:
            described.append("受注ステータスをキャンセルにします。")
        plan = CancelPlan(tuple(described), tuple(irreversible), refund, needs_confirmation=closes)
        return plan, steps

    def _with_status(self, result: OperationResult) -> OperationResult:
        with self._sessions() as session:
            status = load_order(session, result.order_number).payment_status
        return OperationResult(
            result.order_number, result.action, result.outcome, result.message, result.amount, status
        )

    # --- amount change (R26–R30, R34, R36) -------------------------------------------------

    def amount_preview(self, number: str, new_total: int, *, void_amazon: bool = False) -> AmountChange:
        """The check of a new total and, for 0 yen, what it does (with ``void_amazon``: the void)."""
        with self._sessions() as session:
            order = load_order(session, number)
            return self._check_amount(order, new_total, void_amazon=void_amazon)

    def _check_amount(self, order: Order, new_total: int, *, void_amazon: bool = False) -> AmountChange:
        cp = order.charge_permission
        now = self._clock.now()
        permission_open = (
            cp is not None
            and cp.state != "Closed"
            and cp.closed_at is None
            and not (cp.expires_at is not None and to_utc(cp.expires_at) <= to_utc(now))
        )
        refusal = amount_change_refusal(
            kind=OrderKind(order.kind),
            new_total=new_total,
            current_total=order.total,
            original_total=order.original_total,
            ordered_at=order.ordered_at,
            now=self._clock.now(),
            instrument=Instrument(cp.instrument) if cp else None,
            amount_limit=cp.amount_limit if cp else None,
            known_permission=cp is not None and cp.type == "OneTime",
            charge_states=[ChargeState(c.state) for c in order.charges],
            capture_requested=any(c.capture_requested_at is not None for c in order.charges),
            payment_method=order.payment_method,
            permission_open=permission_open,
        )
        if refusal is None and order.order_status == OrderStatus.CANCELED:
            refusal = ("キャンセル済みの受注です。", "R35")
        link = link_refusal(
            OrderKind(order.kind),
            order.payment_method,
            has_permission=order.charge_permission_id is not None,
            has_charges=bool(order.charges),
            unknown_charges=has_unknown_charges(
                charge_permission_facts(cp) if cp else None, has_charges=bool(order.charges)
            ),
        )
        if link is not None:  # issue 11: marketplace (R61) or 未連携 (R57)
            refusal = (link.reason, link.rule)
        other = environment_refusal(order.environment, self._connection())
        if other is not None:  # issue 11 item 8: the total is sent with the capture (R28)
            refusal = (other.reason, other.rule)
        open_charges = [
            c
            for c in order.charges
            if c.state == ChargeState.AUTHORIZED and c.expires_at and to_utc(c.expires_at) > to_utc(now)
        ]
        authorized = sum(c.amount for c in open_charges)
        consequences: tuple[str, ...] = ()
        if refusal is None and new_total == 0 and order.total != 0 and order.payment_method == "amazon_pay":
            if void_amazon:
                consequences = (
                    "お支払いが決済不要になります。"
                    + (f"Amazonの与信{authorized:,}円を取り消し、" if authorized else "")
                    + "Amazon Payの取引情報(Charge Permission)を削除します。元に戻すことはできず、"
                    "この受注ではもう与信・入金処理ができなくなります(金額を戻すこともできません)。",
                )
            else:
                consequences = (zero_total_consequence(authorized, [c.expires_at for c in open_charges]),)
        return AmountChange(
            order.number,
            order.total,
            new_total,
            authorized,
            refusal[0] if refusal else None,
            refusal[1] if refusal else None,
            consequences,
            _order_amount_version(order),
        )

    def change_amount(
        self,
        number: str,
        *,
        total: int | None = None,
        items: Sequence[tuple[str, int, int]] | None = None,
        shipping_fee: int | None = None,
        fees: int | None = None,
        discount: int | None = None,
        void_amazon: bool = False,
        confirmed: bool = False,
        expected_version: str | None = None,
    ) -> OperationResult:
        """Change the order's amounts before capture; nothing is sent now (R28).

        ``items`` replaces the line items as (name, unit price, quantity); ``total`` sets the
        total directly through the adjustment line. A total of 0 makes the payment 決済不要
        (R34); with ``void_amazon`` the authorizations are canceled and the Charge
        Permission closed as well, irreversibly.

        ``expected_version`` is the :func:`amount_version` of the amounts the operator saw (the
        window's dialog): when they changed meanwhile (another operator, a capture, a sync),
        ``StaleEdit`` names the current amounts and nothing is written (issue 14 item 2). It is
        checked under the order's lock, so a check and a write of two PCs cannot interleave.
        ``kanjo amount`` reads and writes at once and passes none.
        """
        for label, value in (("送料", shipping_fee), ("手数料", fees), ("値引き", discount)):
            if value is not None and value < 0:
                raise BadInput(f"{label}にマイナスは指定できません。")
        now = self._clock.now()
        with self._locked(number) as (session, order):
            if expected_version is not None and expected_version != _order_amount_version(order):
                raise _stale_amount(order)
            unit_total = (
                sum(price * quantity for _name, price, quantity in items)
                if items is not None
                else sum(i.unit_price * i.quantity for i in order.items)
            )
            shipping = order.shipping_fee if shipping_fee is None else shipping_fee
            fee = order.fees if fees is None else fees
            off = order.discount if discount is None else discount
            base = unit_total + shipping + fee - off
            adjustment = order.adjustment if total is None else total - base
            new_total = base + adjustment
            if items is not None and any(q <= 0 or p < 0 for _n, p, q in items):
                raise BadInput("商品の単価は0円以上、数量は1以上にしてください。")
            check = self._check_amount(order, new_total)
            if not check.allowed:
                raise RuleViolation(check.refusal or "", code=check.rule or "")
            if new_total == 0 and void_amazon and not confirmed:
                raise RuleViolation("Amazon Payの取引情報の削除は取り消せないため、確認が必要です。", code="R34")
            if check.needs_confirmation and not confirmed:
                raise RuleViolation("確認が必要です: " + " ".join(check.consequences), code="R34")
            before = order.total
            if items is not None:
                costs = {i.name: i.cost_price for i in order.items}
                order.items.clear()
                session.flush()
                for position, (name, price, quantity) in enumerate(items):
                    order.items.append(
                        OrderItem(
                            position=position,
                            name=name,
                            unit_price=price,
                            quantity=quantity,
                            cost_price=costs.get(name, 0),
                        )
                    )
            order.shipping_fee, order.fees, order.discount, order.adjustment = shipping, fee, off, adjustment
            order.total = new_total
            if order.payment_method == "none" and new_total > 0:
                # Back from 決済不要: Amazon still holds the Charge Permission (checked above), so
                # the order is collected through Amazon Pay again; R28 authorizes what is missing.
                order.payment_method = "amazon_pay"
            self._engine.journal.event(
                session,
                action="amount_change",
                now=now,
                order_number=order.number,
                amount=new_total,
                message=f"受注金額を{before:,}円から{new_total:,}円に変更しました(売上確定時にAmazonへ反映)。",
            )
            steps: list[Step] = []
            if new_total == 0 and order.payment_method == "amazon_pay":
                # R34: 決済不要. With void, cancel the authorizations and close the permission.
                if void_amazon:
                    _plan, steps = self._plan_withdrawal(session, order, void_amazon=True, cancel=False)
                ids = self._engine.begin(
                    session, order, "zero_total", steps, then={"payment_method": "none"}, local_only=self._local_only()
                )
            else:
                refresh_order(order, now)
                ids = []
            message = f"受注金額を{new_total:,}円に変更しました。"
            if check.needs_reauthorization:
                message += f" 入金処理の前に差額{check.needs_reauthorization:,}円を与信します(R28)。"
            result = OperationResult(number, "amount_change", SUCCEEDED, message, new_total, order.payment_status)
        if ids:
            return self._with_status(self._engine.run_all(number, "zero_total", ids))
        return result

    def detail(self, number: str) -> OrderDetail:
        """The order as it is now (the amount dialog reloads it after a stale edit)."""
        with self._sessions() as session:
            return order_detail(session, number, self._clock.now(), self._connection())

    # --- 入金日取消 (R37) ------------------------------------------------------------------

    def clear_payment_date(self, number: str) -> OperationResult:
        """Clear the recorded payment date: local only, nothing is sent or refunded (R37)."""
        now = self._clock.now()
        with self._locked(number) as (session, order):
            if order.payment_date is None:
                raise RuleViolation("入金日が記録されていません。", code="R37")
            order.payment_date = None
            order.updated_at = now
            self._engine.journal.event(
                session,
                action="clear_payment_date",
                now=now,
                order_number=order.number,
                message="入金日を取り消しました(この端末の記録のみ。Amazonへの送信や返金は行っていません)。",
            )
            return OperationResult(
                number,
                "clear_payment_date",
                SUCCEEDED,
                "入金日を取り消しました。Amazonには何も送信しておらず、返金もされていません。",
                0,
                order.payment_status,
            )

    # --- recovery --------------------------------------------------------------------------

    def pending(self, order_number: str | None = None) -> list[PendingOperation]:
        return self._engine.pending(order_number)

    def recover(self, order_number: str | None = None) -> list[OperationResult]:
        """Finish every interrupted money call (same request, same idempotency key) or report it.

        A call that another window or process is sending right now is left to it.
        """
        return [self._engine.run(op.intent_id) for op in self.pending(order_number) if not op.in_flight]
