"""The subscription desk: contracts, the generation run (受注生成), holds, retries and ending.

Every authorization goes through the operation engine (``core.services.operations``): the
intent with its idempotency key, derived from (permission, round, attempt), is journaled in
the same transaction that creates the generated order and its round row (unique per
contract and round), before anything is sent. A run killed at any point and run again finds
the round and its pending intent and resends the same request with the same key, which
Amazon answers from its idempotency store: a round is never authorized twice (R17).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from core.amazonpay.client import AmazonPayClient
from core.amazonpay.models import ChargePermissionInfo
from core.clock import JST, Clock
from core.db.locks import lock_order
from core.db.schema import (
    Charge,
    ChargePermission,
    JournalEntry,
    Order,
    OrderItem,
    ReservationPlan,
    Subscription,
    SubscriptionRound,
)
from core.domain import ChargePurpose, OrderKind, OrderStatus
from core.errors import BadInput, GatewayError, NotFound, RuleViolation, UserError
from core.gateway import Gateway, order_client
from core.journal import SETTLED_OUTCOMES, SUCCEEDED, Journal, crashpoint
from core.ledger import apply_charge_permission_info, refresh_order
from core.queries import load_order
from core.services.operations import OperationEngine, OperationResult, Step
from core.services.payments import PaymentService
from core.settings import SettingsStore
from core.subscriptions.rules import (
    MONTHLY_LIMIT,
    ContractFacts,
    ContractState,
    Frequency,
    HoldKind,
    RoundState,
    due_rounds,
    generated_order_number,
    generation_idempotency_key,
    is_last_round,
    limit_hold_releasable,
    monthly_allowance,
    next_date_after,
    reservation_check,
    resume_date,
    round_date,
    subscription_page,
    tokyo_date,
)

_DUE_BATCH = 200  # contracts read together by the generation run
# Contracts generated at once (their gateway calls overlap; each round keeps its own lock and journal).
GENERATION_THREADS = 4

_LIVE_CHARGE_STATES = ("AuthorizationInitiated", "Authorized", "CaptureInitiated", "Captured")
_BUYER_CLOSED = ("BuyerCanceled", "BuyerClosed")


@dataclass(frozen=True)
class ContractView:
    id: int
    order_number: str
    state: str
    state_label: str
    every: str
    every_label: str
    next_date: date
    rounds_done: int
    rounds_total: int | None
    amount: int
    month_amount: int
    charge_permission_id: str
    note: str
    item_amount: int = 0  # the round's items (amount = item_amount + shipping_fee)
    shipping_fee: int = 0

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "order_number": self.order_number,
            "state": self.state_label,
            "every": self.every,
            "next_date": self.next_date.isoformat(),
            "rounds_done": self.rounds_done,
            "rounds_total": self.rounds_total,
            "month_amount": self.month_amount,
            "charge_permission_id": self.charge_permission_id,
        }


@dataclass(frozen=True)
class RoundView:
    round: int
    order_number: str
    amount: int
    state: str
    hold_kind: str | None
    hold_reason: str | None
    retry_from: date | None
    generated_on: date

    def to_json(self) -> dict[str, object]:
        return {
            "round": self.round,
            "order_number": self.order_number,
            "amount": self.amount,
            "state": self.state,
            "hold_kind": self.hold_kind,
            "reason": self.hold_reason,
            "retry_from": self.retry_from.isoformat() if self.retry_from else None,
            "generated_on": self.generated_on.isoformat(),
        }


@dataclass(frozen=True)
class HeldOrder:
    order_number: str
    subscription_id: int
    round: int
    amount: int
    kind: str
    reason: str
    retry_from: date | None
    charge_permission_id: str
    guidance_url: str

    def to_json(self) -> dict[str, object]:
        return {
            "order_number": self.order_number,
            "subscription_id": self.subscription_id,
            "round": self.round,
            "amount": self.amount,
            "kind": self.kind,
            "reason": self.reason,
            "retry_from": self.retry_from.isoformat() if self.retry_from else None,
            "guidance_url": self.guidance_url,
        }


@dataclass
class GenerationReport:
    generated: int = 0
    authorized: int = 0
    held: list[dict[str, str]] = field(default_factory=list)
    skipped: int = 0
    notices: list[str] = field(default_factory=list)
    cancelled: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "generated": self.generated,
            "authorized": self.authorized,
            "held": list(self.held),
            "skipped": self.skipped,
        }


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    order_number: str = ""


@dataclass(frozen=True)
class _SourceOrder:
    """What a generated order copies from the contract's first order (R17)."""

    number: str
    customer_id: int
    ship_name: str
    ship_postal_code: str
    ship_prefecture: str
    ship_address: str
    ship_phone: str
    charge_permission_id: str | None
    environment: str
    source: str
    items: tuple[tuple[int, str, int, int, int], ...]  # position, name, unit price, cost price, quantity

    @classmethod
    def of(cls, order: Order) -> _SourceOrder:
        return cls(
            number=order.number,
            customer_id=order.customer_id,
            ship_name=order.ship_name,
            ship_postal_code=order.ship_postal_code,
            ship_prefecture=order.ship_prefecture,
            ship_address=order.ship_address,
            ship_phone=order.ship_phone,
            charge_permission_id=order.charge_permission_id,
            environment=order.environment,
            source=order.source,
            items=tuple((i.position, i.name, i.unit_price, i.cost_price, i.quantity) for i in order.items),
        )


@dataclass(frozen=True)
class _DueContract:
    """A due contract as the run's batch read it; its rounds are checked again under the lock."""

    id: int
    order_number: str
    charge_permission_id: str
    facts: ContractFacts
    environment: str
    source: _SourceOrder


class SubscriptionService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        gateway: Callable[[], Gateway],
        settings: SettingsStore,
        journal: Journal,
        payments: PaymentService | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._gateway = gateway
        self._settings = settings
        self._journal = journal
        self._engine = OperationEngine(sessions, clock, gateway, journal)
        self._payments = payments

    # --- contracts ---------------------------------------------------------------------------

    def today(self) -> date:
        return tokyo_date(self._clock.now())

    def create(
        self, order_number: str, every: str, *, rounds_total: int | None = None, next_date: date | None = None
    ) -> ContractView:
        """A contract from a subscription order (a sandbox checkout or an imported order)."""
        try:
            frequency = Frequency.parse(every)
        except ValueError as exc:
            raise BadInput(str(exc)) from exc
        if rounds_total is not None and not 2 <= rounds_total <= 120:
            raise BadInput("頒布会の回数は2から120までで指定してください(初回の注文を含みます)。")
        now = self._clock.now()
        with self._sessions.begin() as session:
            order = load_order(session, order_number)
            if order.kind != OrderKind.SUBSCRIPTION.value:
                raise RuleViolation(f"受注 {order.number} は定期・頒布会の受注ではありません。", code="R2")
            cp = order.charge_permission
            if cp is None:
                raise RuleViolation(
                    f"受注 {order.number} はAmazon Payと連携していません(Charge Permissionがありません)。", code="R59"
                )
            if cp.type != "Recurring":
                raise RuleViolation("定期購入には継続支払い用のCharge Permission(Recurring)が必要です。", code="R59")
            if session.scalar(select(Subscription.id).where(Subscription.order_number == order.number)):
                raise RuleViolation(f"受注 {order.number} の定期購入はすでに登録されています。", code="R17")
            if session.scalar(select(SubscriptionRound.id).where(SubscriptionRound.order_number == order.number)):
                raise RuleViolation(f"受注 {order.number} は定期購入で生成された受注です。", code="R17")
            anchor = tokyo_date(order.ordered_at)
            first_next = round_date(anchor, frequency, 2)
            contract = Subscription(
                order_number=order.number,
                charge_permission_id=cp.id,
                every=frequency.code,
                anchor=anchor,
                anchor_round=1,
                rounds_done=1,
                rounds_total=rounds_total,
                item_amount=order.total - order.shipping_fee,
                shipping_fee=order.shipping_fee,
                next_date=first_next,
                state=ContractState.ACTIVE.value,
                note="",
                created_at=now,
                updated_at=now,
            )
            if next_date is not None:
                _move_schedule(contract, next_date)
            session.add(contract)
            session.flush()
            self._journal.event(
                session,
                action="subscription_created",
                now=now,
                order_number=order.number,
                amount=order.total,
                message=f"定期購入を登録しました({frequency.label}、次回{contract.next_date.isoformat()})。",
            )
            contract_id = contract.id
        return self.show(contract_id)

    def contracts(self, *, state: str | None = None) -> list[ContractView]:
        self.notice_closed()
        with self._sessions() as session:
            query = select(Subscription).order_by(Subscription.id)
            if state is not None:
                query = query.where(Subscription.state == _state_from_text(state).value)
            contracts = list(session.scalars(query))
            months = self._month_amounts(session)
            return [_view(c, months.get(c.charge_permission_id, 0)) for c in contracts]

    def show(self, contract_id: int | str) -> ContractView:
        with self._sessions() as session:
            contract = self._contract(session, contract_id)
            months = self._month_amounts(session, contract.charge_permission_id)
            return _view(contract, months.get(contract.charge_permission_id, 0))

    def rounds(self, contract_id: int | str) -> list[RoundView]:
        with self._sessions() as session:
            contract = self._contract(session, contract_id)
            rows = session.scalars(
                select(SubscriptionRound)
                .where(SubscriptionRound.subscription_id == contract.id)
                .order_by(SubscriptionRound.round)
            )
            return [_round_view(r) for r in rows]

    def round_of(self, order_number: str) -> tuple[int, int] | None:
        """(subscription id, round) of a generated order, or of a contract's first order (round 1)."""
        with self._sessions() as session:
            row = session.execute(
                select(SubscriptionRound.subscription_id, SubscriptionRound.round).where(
                    SubscriptionRound.order_number == order_number.strip()
                )
            ).first()
            if row is not None:
                return int(row[0]), int(row[1])
            contract_id = session.scalar(
                select(Subscription.id).where(Subscription.order_number == order_number.strip())
            )
            return (int(contract_id), 1) if contract_id is not None else None

    def edit(
        self,
        contract_id: int | str,
        *,
        amount: int | None = None,
        shipping_fee: int | None = None,
        next_date: date | None = None,
    ) -> ContractView:
        now = self._clock.now()
        with self._sessions.begin() as session:
            contract = self._contract(session, contract_id)
            if ContractState(contract.state).ended:
                raise RuleViolation("終了した定期購入は変更できません。", code="R15")
            if amount is not None:
                if amount <= 0:
                    raise BadInput("1回分の商品金額は1円以上で指定してください。")
                contract.item_amount = amount
            if shipping_fee is not None:
                if shipping_fee < 0:
                    raise BadInput("送料は0円以上で指定してください。")
                contract.shipping_fee = shipping_fee
            total = contract.item_amount + contract.shipping_fee
            if total > MONTHLY_LIMIT:
                raise RuleViolation(
                    f"1回分の金額({total:,}円)が定期購入の月間上限{MONTHLY_LIMIT:,}円を超えます。", code="R53"
                )
            if next_date is not None:
                if next_date < self.today():
                    raise BadInput("次回の受注生成日に過去の日付は指定できません。")
                _move_schedule(contract, next_date)
            contract.updated_at = now
            self._journal.event(
                session,
                action="subscription_edited",
                now=now,
                order_number=contract.order_number,
                amount=total,
                message=f"定期購入を変更しました(1回{total:,}円、次回{contract.next_date.isoformat()})。",
            )
            contract_id = contract.id
        return self.show(contract_id)

    def pause(self, contract_id: int | str) -> ContractView:
        return self._set_state(contract_id, ContractState.PAUSED, {ContractState.ACTIVE}, "休止しました。")

    def resume(self, contract_id: int | str) -> ContractView:
        view = self._set_state(contract_id, ContractState.ACTIVE, {ContractState.PAUSED}, "再開しました。")
        today = self.today()
        if view.next_date < today:  # the dates missed while paused are not generated afterwards
            with self._sessions.begin() as session:
                contract = self._contract(session, view.id)
                _move_schedule(contract, resume_date(_facts(contract), today))
            return self.show(view.id)
        return view

    def _set_state(
        self, contract_id: int | str, state: ContractState, allowed_from: set[ContractState], text: str
    ) -> ContractView:
        now = self._clock.now()
        with self._sessions.begin() as session:
            contract = self._contract(session, contract_id)
            current = ContractState(contract.state)
            if current not in allowed_from:
                raise RuleViolation(f"この定期購入は「{current.label}」のため、{state.label}にできません。", code="R17")
            contract.state = state.value
            contract.updated_at = now
            self._journal.event(
                session,
                action=f"subscription_{state.value}",
                now=now,
                order_number=contract.order_number,
                message=f"定期購入を{text}",
            )
            contract_id = contract.id
        return self.show(contract_id)

    def cancel_consequence(self, contract_id: int | str, action: str = "申込取消にし") -> str:
        """What 申込取消 (or deleting) does, named for the confirmation (R15, R35)."""
        view = self.show(contract_id)
        return (
            f"定期購入 {view.order_number} を{action}、Amazon Payの継続支払いの許可({view.charge_permission_id})を"
            "削除します。削除は元に戻せず、この定期購入ではもう受注生成・与信ができなくなります。"
        )

    def cancel(self, contract_id: int | str, *, confirmed: bool) -> ContractView:
        """申込取消: closes the Charge Permission through the engine (R15)."""
        return self._end(contract_id, ContractState.CANCELED, confirmed=confirmed, reason="定期購入の申込取消")

    def delete(self, contract_id: int | str, *, confirmed: bool) -> ContractView:
        """Deleting a contract closes its permission (R15); the contract stays listed as 申込取消
        with the note, and the orders it generated stay (they are the shop's records)."""
        view = self._end(
            contract_id, ContractState.CANCELED, confirmed=confirmed, reason="定期購入の削除", action="削除し"
        )
        now = self._clock.now()
        with self._sessions.begin() as session:
            contract = self._contract(session, view.id)
            contract.note = "削除されました。Amazon Payの支払い許可も削除しました(R15)。"
            contract.updated_at = now
        return self.show(view.id)

    def _end(
        self,
        contract_id: int | str,
        state: ContractState,
        *,
        confirmed: bool,
        reason: str,
        action: str = "申込取消にし",
    ) -> ContractView:
        if not confirmed:
            raise RuleViolation(
                self.cancel_consequence(contract_id, action) + "実行するには --yes を付けてください。", code="R15"
            )
        now = self._clock.now()
        with self._sessions() as session:
            number = self._contract(session, contract_id).order_number
        with self._sessions.begin() as session:
            lock_order(session, number)
            contract = self._contract(session, contract_id)
            if ContractState(contract.state).ended:
                raise RuleViolation(f"この定期購入はすでに「{ContractState(contract.state).label}」です。", code="R15")
            contract.state = state.value
            contract.updated_at = now
            order = load_order(session, number)
            ids = self._close_steps(session, order, reason)
            contract_id = contract.id
        if ids:
            self._engine.run_all(number, "close", ids)
        return self.show(contract_id)

    def _close_steps(self, session: Session, order: Order, reason: str) -> list[int]:
        cp = order.charge_permission
        if cp is None or cp.state == "Closed":
            return []
        step = Step(
            "close",
            AmazonPayClient.close_charge_permission_request(cp.id, reason, cancel_pending_charges=False),
        )
        return self._engine.begin(session, order, "close", [step])

    # --- the generation run (受注生成, R17–R19, R53) ------------------------------------------

    def due_count(self, until: date | None = None) -> int:
        until = until or self.today()
        with self._sessions() as session:
            return int(
                session.scalar(
                    select(func.count(Subscription.id)).where(
                        Subscription.state == ContractState.ACTIVE.value, Subscription.next_date <= until
                    )
                )
                or 0
            )

    def generate(
        self,
        until: date | None = None,
        *,
        progress: Callable[[Progress], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> GenerationReport:
        """Generate and authorize every round due up to ``until`` (default today, Tokyo)."""
        report = GenerationReport()
        for _ in self.run(until, report, cancelled=cancelled, progress=progress):
            pass
        return report

    def run(
        self,
        until: date | None,
        report: GenerationReport,
        *,
        cancelled: Callable[[], bool] | None = None,
        progress: Callable[[Progress], None] | None = None,
    ) -> Iterator[Progress]:
        if not self._settings.load().auto_sync:
            raise RuleViolation(
                "自動連携がオフのため受注生成はできません(与信はAmazon Payへ送信が必要です、R11・R17)。", code="R11"
            )
        today = self.today()
        until = until or today
        # 1. Rounds a killed run left behind: resend their journaled request with the same key.
        for round_id in self._unfinished_rounds():
            self._finish_round(round_id, report)
        # 2. A permission the buyer closed at Amazon, as the last sync read it.
        report.notices.extend(self.notice_closed())
        # 3. Holds by the monthly limit are retried on the first run of a month that allows them (R53).
        for number in self._releasable_limit_holds(today):
            self._retry(number, report)
        # 4. Every contract due, read in batches (the contract's schedule and the source order's
        # buyer, address and items); each round is then checked again under its lock.
        with self._sessions() as session:
            due = list(
                session.execute(
                    select(Subscription.id, Subscription.order_number)
                    .where(Subscription.state == ContractState.ACTIVE.value, Subscription.next_date <= until)
                    .order_by(Subscription.next_date, Subscription.id)
                )
            )
        yield from self._generate_all([(int(c), str(n)) for c, n in due], until, report, cancelled, progress)

    def _generate_all(
        self,
        due: list[tuple[int, str]],
        until: date,
        report: GenerationReport,
        cancelled: Callable[[], bool] | None,
        progress: Callable[[Progress], None] | None,
    ) -> Iterator[Progress]:
        """Contracts on ``GENERATION_THREADS`` threads, so that their gateway calls overlap.

        Each round keeps its own discipline, whatever thread runs it: the per-order lock, the
        check and the journaled intent in one transaction, the call, the outcome and the round
        in another. A thread reports into its own ``GenerationReport``; they are merged here, in
        the run's order, and progress counts contracts finished in that order. 中止 stops
        submitting; the contracts already started finish.
        """
        total = len(due)
        done = 0

        def work(contract: _DueContract) -> GenerationReport:
            own = GenerationReport()
            self._generate_contract(contract, until, own)
            return own

        window: deque[tuple[str, Future[GenerationReport] | None]] = deque()
        with ThreadPoolExecutor(max_workers=GENERATION_THREADS, thread_name_prefix="subs-generate") as pool:
            try:
                for start in range(0, total, _DUE_BATCH):
                    chunk = due[start : start + _DUE_BATCH]
                    batch = self._due_batch([contract_id for contract_id, _number in chunk])
                    for contract_id, number in chunk:
                        if cancelled is not None and cancelled():
                            report.cancelled = True
                            break
                        contract = batch.get(contract_id)
                        window.append((number, pool.submit(work, contract) if contract is not None else None))
                        while len(window) >= GENERATION_THREADS:
                            done += 1
                            yield self._merge(window.popleft(), done, total, report, progress)
                    if report.cancelled:
                        break
                while window:
                    done += 1
                    yield self._merge(window.popleft(), done, total, report, progress)
            finally:
                for _number, future in window:  # the caller stopped early: started contracts finish
                    if future is not None:
                        future.cancel()

    @staticmethod
    def _merge(
        item: tuple[str, Future[GenerationReport] | None],
        done: int,
        total: int,
        report: GenerationReport,
        progress: Callable[[Progress], None] | None,
    ) -> Progress:
        number, future = item
        if future is not None:
            own = future.result()
            report.generated += own.generated
            report.authorized += own.authorized
            report.held.extend(own.held)
            report.skipped += own.skipped
            report.notices.extend(own.notices)
        step = Progress(done, total, number)
        if progress is not None:
            progress(step)
        return step

    def _due_batch(self, contract_ids: list[int]) -> dict[int, _DueContract]:
        """The contracts of one batch with their source orders, in three queries."""
        with self._sessions() as session:
            contracts = list(session.scalars(select(Subscription).where(Subscription.id.in_(contract_ids))))
            sources = {
                o.number: o
                for o in session.scalars(
                    select(Order)
                    .where(Order.number.in_([c.order_number for c in contracts]))
                    .options(selectinload(Order.items))
                )
            }
            out: dict[int, _DueContract] = {}
            for contract in contracts:
                source = sources.get(contract.order_number)
                if source is None:
                    continue
                out[contract.id] = _DueContract(
                    id=contract.id,
                    order_number=contract.order_number,
                    charge_permission_id=contract.charge_permission_id,
                    facts=_facts(contract),
                    environment=source.environment or "",
                    source=_SourceOrder.of(source),
                )
            return out

    def _generate_contract(self, contract: _DueContract, until: date, report: GenerationReport) -> None:
        cp_id = contract.charge_permission_id
        for round_number in due_rounds(contract.facts, until):
            try:
                info = order_client(self._gateway(), contract.environment).get_charge_permission(cp_id)
            except (GatewayError, UserError) as exc:
                report.skipped += 1
                report.notices.append(f"{cp_id}: {exc.message}")
                return
            if self._permission_closed(contract.id, info, report):
                return
            outcome = self._generate_round(contract, round_number, info, report)
            if outcome is None:
                return

    def _permission_closed(self, contract_id: int, info: ChargePermissionInfo, report: GenerationReport) -> bool:
        if info.status.state != "Closed":
            return False  # the authorization's outcome records what it changes (R14)
        now = self._clock.now()
        with self._sessions.begin() as session:
            cp = session.get(ChargePermission, info.id)
            if cp is not None:
                apply_charge_permission_info(cp, info, now)
        report.notices.extend(self.notice_closed())
        report.skipped += 1
        return True

    def _generate_round(
        self, due: _DueContract, round_number: int, info: ChargePermissionInfo, report: GenerationReport
    ) -> str | None:
        now = self._clock.now()
        today = tokyo_date(now)
        source_number = due.order_number
        number = generated_order_number(source_number, round_number)
        ids: list[int] = []
        with self._sessions.begin() as session:
            lock_order(session, number)
            # The check under the lock: the contract as committed now, not as the batch read it.
            contract = session.get(Subscription, due.id)
            if contract is None or contract.state != ContractState.ACTIVE.value or contract.rounds_done >= round_number:
                return None  # another run got here first
            if session.scalar(select(Order.id).where(Order.number == number)) is not None:
                report.skipped += 1
                report.notices.append(f"受注番号 {number} はすでに使われているため、生成できません。")
                return None
            amount = contract.item_amount + contract.shipping_fee
            order = _generated_order(due.source, number, contract, now)
            session.add(order)
            row = SubscriptionRound(
                subscription_id=contract.id,
                round=round_number,
                order_number=number,
                amount=amount,
                state=RoundState.SENDING.value,
                attempts=0,
                generated_on=today,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            contract.rounds_done = round_number
            contract.next_date = next_date_after(_facts(contract), round_number)
            contract.updated_at = now
            allowance = monthly_allowance(amount, info.amount_balance, today)
            self._journal.event(
                session,
                action="generated",
                now=now,
                order_number=number,
                amount=amount,
                message=f"定期購入 {source_number} の第{round_number}回の受注を生成しました(R17)。",
                flush=False,
            )
            if not allowance.allowed:
                _hold(order, row, HoldKind.MONTHLY_LIMIT, allowance.reason, allowance.first_day, now)
                refresh_order(order, now)
                held_reason = allowance.reason
            else:
                refresh_order(order, now)  # before the first flush: the order is inserted as it will stay
                ids = self._begin_authorize(session, order, row, cp_id=contract.charge_permission_id)
                held_reason = ""
            round_id = row.id
        report.generated += 1
        if held_reason:
            report.held.append({"order_number": number, "reason": held_reason})
            return RoundState.HELD.value
        settled: list[tuple[str, list[int]]] = []

        def on_settled(session: Session, order: Order, outcome: str, message: str) -> None:
            # In the transaction that journals the authorization's outcome: the round follows it.
            if outcome not in SETTLED_OUTCOMES:
                return
            row = session.get(SubscriptionRound, round_id)
            assert row is not None
            settled.append(
                self._apply_round_outcome(
                    session,
                    row,
                    order,
                    outcome,
                    message,
                    report,
                    last_round=is_last_round(due.facts.rounds_total, round_number),
                )
            )

        self._engine.run_all(number, "authorize", ids, on_settled=on_settled)
        crashpoint("generation:before_settle")  # the crash tests kill the run here too
        if not settled:  # 結果不明 (or settled by another path): the next run or recovery settles it
            return self._settle_round(round_id, report)
        state, close_ids = settled[0]
        if close_ids:
            self._engine.run_all(number, "close", close_ids)
        return state

    def _begin_authorize(self, session: Session, order: Order, row: SubscriptionRound, *, cp_id: str) -> list[int]:
        row.attempts += 1
        key = generation_idempotency_key(cp_id, row.round, row.attempts)
        request = AmazonPayClient.create_charge_request(
            cp_id, row.amount, idempotency_key=key, merchant_reference_id=order.number
        )
        step = Step(
            "authorize",
            request,
            amount=row.amount,
            detail={
                "purpose": ChargePurpose.GENERATION.value,
                "subscription_id": row.subscription_id,
                "round": row.round,
            },
        )
        ids = self._engine.begin(session, order, "authorize", [step])
        row.intent_id = ids[0]
        row.state = RoundState.SENDING.value
        return ids

    def _unfinished_rounds(self) -> list[int]:
        with self._sessions() as session:
            return list(
                session.scalars(
                    select(SubscriptionRound.id)
                    .where(SubscriptionRound.state == RoundState.SENDING.value)
                    .order_by(SubscriptionRound.id)
                )
            )

    def _finish_round(self, round_id: int, report: GenerationReport) -> None:
        with self._sessions() as session:
            row = session.get(SubscriptionRound, round_id)
            assert row is not None
            intent_id, number = row.intent_id, row.order_number
            pending = {p.intent_id: p for p in Journal.pending(session, number)}
        if intent_id is not None and intent_id in pending:
            if pending[intent_id].in_flight:
                report.skipped += 1  # another process is sending it now
                return
            self._engine.run(intent_id, resend=True)
        self._settle_round(round_id, report)

    def _settle_round(self, round_id: int, report: GenerationReport) -> str:
        """Apply the journaled outcome of a round's authorization to the round (R18).

        For a round whose outcome was journaled without it (a run killed in between, a resend
        by recovery); a round sent by the run is settled in the outcome's own transaction.
        """
        with self._sessions.begin() as session:
            row = session.get(SubscriptionRound, round_id)
            assert row is not None
            lock_order(session, row.order_number)
            outcome = None
            if row.intent_id is not None:
                outcome = session.scalar(
                    select(JournalEntry.outcome)
                    .where(JournalEntry.phase == "outcome", JournalEntry.intent_id == row.intent_id)
                    .order_by(JournalEntry.id.desc())
                    .limit(1)
                )
            if outcome not in SETTLED_OUTCOMES:
                return RoundState.SENDING.value  # 結果不明: the next run (or recovery) settles it
            # The engine applied the payment (its badge is refreshed there); here only the order
            # status and the round change, so the order is read without its charges.
            order = session.scalar(select(Order).where(Order.number == row.order_number))
            assert order is not None
            message = _last_message(session, row.intent_id)
            state, close_ids = self._apply_round_outcome(session, row, order, outcome, message, report)
            number = order.number
        if close_ids:
            self._engine.run_all(number, "close", close_ids)
        return state

    def _apply_round_outcome(
        self,
        session: Session,
        row: SubscriptionRound,
        order: Order,
        outcome: str,
        message: str,
        report: GenerationReport,
        *,
        last_round: bool | None = None,
    ) -> tuple[str, list[int]]:
        """The round (and the order status) after its authorization's settled outcome (R15, R17, R18).

        Returns the round's state and the intents of the permission's close when a 頒布会 ends.
        ``last_round``: whether this is the contract's last round, when the caller knows it (a
        contract's number of rounds never changes); the contract is then read only for that one.
        """
        now = self._clock.now()
        close_ids: list[int] = []
        if outcome == SUCCEEDED:
            row.state = RoundState.AUTHORIZED.value
            row.hold_kind = row.hold_reason = None
            row.retry_from = None
            if order.order_status == OrderStatus.ON_HOLD.value:
                order.order_status = OrderStatus.NEW.value
            report.authorized += 1
            contract = None
            if last_round is None or last_round:
                contract = session.get(Subscription, row.subscription_id)
                assert contract is not None
            if (
                contract is not None
                and is_last_round(contract.rounds_total, row.round)
                and contract.state == ContractState.ACTIVE.value
            ):
                # R15: a 頒布会 that finished all its rounds closes its permission.
                contract.state = ContractState.COMPLETED.value
                contract.updated_at = now
                close_ids = self._close_steps(session, order, "頒布会の全回完了")
        else:
            code = order.reauth_reason_code or ""
            if code == "PeriodicAmountExceeded":
                first = _first_of_next_month(tokyo_date(now))
                reason = (
                    f"今月の定期購入の上限{MONTHLY_LIMIT:,}円を超えるため与信できませんでした(R53)。"
                    f"{first.year}年{first.month}月{first.day}日から与信できます。"
                )
                _hold(order, row, HoldKind.MONTHLY_LIMIT, reason, first, now)
            else:
                reason = order.reauth_message or message or "与信できませんでした。"
                _hold(order, row, HoldKind.DECLINED, reason, None, now)
            report.held.append({"order_number": row.order_number, "reason": row.hold_reason or ""})
        row.updated_at = now
        return row.state, close_ids

    # --- holds and retries (R18, R42, R53) -------------------------------------------------------

    def held(self) -> list[HeldOrder]:
        with self._sessions() as session:
            rows = session.execute(
                select(SubscriptionRound, Subscription.charge_permission_id)
                .join(Subscription, Subscription.id == SubscriptionRound.subscription_id)
                .where(SubscriptionRound.state == RoundState.HELD.value)
                .order_by(SubscriptionRound.id)
            )
            return [
                HeldOrder(
                    order_number=r.order_number,
                    subscription_id=r.subscription_id,
                    round=r.round,
                    amount=r.amount,
                    kind=r.hold_kind or "",
                    reason=r.hold_reason or "",
                    retry_from=r.retry_from,
                    charge_permission_id=cp_id,
                    guidance_url=subscription_page(cp_id),
                )
                for r, cp_id in rows
            ]

    def retry(self, order_number: str) -> GenerationReport:
        """Authorize a held generation again, after the buyer fixed their payment (R42)."""
        report = GenerationReport()
        with self._sessions() as session:
            row = session.scalar(
                select(SubscriptionRound).where(SubscriptionRound.order_number == order_number.strip())
            )
            if row is None:
                load_order(session, order_number)  # unknown order → NotFound in Japanese
                raise RuleViolation(
                    f"受注 {order_number.strip()} は定期購入で生成された受注ではありません。", code="R18"
                )
            if row.state != RoundState.HELD.value:
                raise RuleViolation(f"受注 {row.order_number} は保留中ではありません。", code="R18")
        self._retry(order_number.strip(), report)
        return report

    def retry_all(self) -> GenerationReport:
        report = GenerationReport()
        for held in self.held():
            self._retry(held.order_number, report)
        return report

    def _releasable_limit_holds(self, today: date) -> list[str]:
        with self._sessions() as session:
            rows = session.execute(
                select(SubscriptionRound.order_number, SubscriptionRound.retry_from).where(
                    SubscriptionRound.state == RoundState.HELD.value,
                    SubscriptionRound.hold_kind == HoldKind.MONTHLY_LIMIT.value,
                )
            )
            return [number for number, retry_from in rows if limit_hold_releasable(retry_from, today)]

    def _retry(self, number: str, report: GenerationReport) -> None:
        with self._sessions() as session:
            row = session.scalar(select(SubscriptionRound).where(SubscriptionRound.order_number == number))
            assert row is not None
            contract = session.get(Subscription, row.subscription_id)
            assert contract is not None
            cp_id = contract.charge_permission_id
            environment = session.scalar(select(Order.environment).where(Order.number == number)) or ""
            if ContractState(contract.state) in (ContractState.CANCELED, ContractState.BUYER_CLOSED):
                raise RuleViolation(
                    f"定期購入が「{ContractState(contract.state).label}」のため再与信できません。", code="R15"
                )
        try:
            info = order_client(self._gateway(), environment).get_charge_permission(cp_id)
        except GatewayError as exc:
            report.skipped += 1
            report.notices.append(f"{number}: {exc.message}")
            return
        if self._permission_closed(row.subscription_id, info, report):
            return
        now = self._clock.now()
        today = tokyo_date(now)
        with self._sessions.begin() as session:
            lock_order(session, number)
            row = session.scalar(select(SubscriptionRound).where(SubscriptionRound.order_number == number))
            assert row is not None
            if row.state != RoundState.HELD.value:
                return
            order = load_order(session, number)
            allowance = monthly_allowance(row.amount, info.amount_balance, today)
            if not allowance.allowed:
                _hold(order, row, HoldKind.MONTHLY_LIMIT, allowance.reason, allowance.first_day, now)
                report.held.append({"order_number": number, "reason": allowance.reason})
                return
            ids = self._begin_authorize(session, order, row, cp_id=cp_id)
            round_id = row.id
        self._engine.run_all(number, "authorize", ids)
        self._settle_round(round_id, report)

    # --- ending noticed at Amazon (R15, R59) ----------------------------------------------------

    def notice_closed(self) -> list[str]:
        """Contracts whose permission the last sync (or run) found Closed at Amazon stop.

        A buyer may close a recurring permission from their Amazon Pay account (R59); the
        contract becomes Amazon側で終了 and the operator is told once (a journal event).
        """
        now = self._clock.now()
        notices: list[str] = []
        with self._sessions.begin() as session:
            rows = session.execute(
                select(Subscription, ChargePermission)
                .join(ChargePermission, ChargePermission.id == Subscription.charge_permission_id)
                .where(
                    Subscription.state.in_([ContractState.ACTIVE.value, ContractState.PAUSED.value]),
                    ChargePermission.state == "Closed",
                )
            ).all()
            for contract, cp in rows:
                buyer = cp.reason_code in _BUYER_CLOSED
                contract.state = ContractState.BUYER_CLOSED.value
                contract.note = (
                    "購入者がAmazon Payで定期購入の支払い許可を終了しました。以後の受注生成は行いません。"
                    if buyer
                    else f"Amazon Payの支払い許可が終了しています({cp.reason_code or 'Closed'})。以後の受注生成は行いません。"
                )
                contract.updated_at = now
                cp.closed_at = cp.closed_at or now
                text = f"定期購入 {contract.order_number}: {contract.note}"
                notices.append(text)
                self._journal.event(
                    session,
                    action="subscription_closed",
                    now=now,
                    order_number=contract.order_number,
                    actor="sync",
                    message=contract.note,
                )
        return notices

    # --- reservations (R9, R12) -------------------------------------------------------------------

    def set_planned_ship(self, number: str, planned: date) -> None:
        now = self._clock.now()
        with self._sessions.begin() as session:
            order = load_order(session, number)
            if order.kind != OrderKind.RESERVATION.value:
                raise RuleViolation(f"受注 {order.number} は予約商品の受注ではありません。", code="R12")
            plan = session.get(ReservationPlan, order.number)
            if plan is None:
                session.add(ReservationPlan(order_number=order.number, planned_ship=planned, updated_at=now))
            else:
                plan.planned_ship = planned
                plan.updated_at = now

    def reservation_warnings(self) -> list[dict[str, Any]]:
        """Reservations whose authorization lapses before their planned shipping day (R9, R12)."""
        now = self._clock.now()
        with self._sessions() as session:
            rows = session.execute(
                select(Order.number, Order.auth_expires_at, ReservationPlan.planned_ship).join(
                    ReservationPlan, ReservationPlan.order_number == Order.number
                )
            ).all()
        out = []
        for number, expires, planned in rows:
            check = reservation_check(expires, planned, now)
            if check.lapses_before_shipping:
                out.append(
                    {
                        "order_number": number,
                        "planned_ship": planned.isoformat(),
                        "reauth_offered": check.reauth_offered,
                        "message": check.message,
                    }
                )
        return out

    def reauthorize_reservations(self, numbers: Sequence[str] | None = None) -> list[OperationResult]:
        """再与信 of reservations in their last days before shipping, one or in bulk (R9, R12, R40).

        Each goes through the payment service's re-authorization (the operation engine); a
        reservation not offered re-authorization is refused with the reason.
        """
        if self._payments is None:
            raise UserError("再与信を行うサービスがありません。")
        offered = {str(w["order_number"]): w for w in self.reservation_warnings()}
        chosen = list(numbers) if numbers is not None else [n for n, w in offered.items() if w["reauth_offered"]]
        results = []
        for number in chosen:
            warning = offered.get(number.strip())
            if warning is None:
                raise RuleViolation(
                    f"受注 {number.strip()} は発送予定日より前に与信が切れる予約受注ではありません。", code="R12"
                )
            if not warning["reauth_offered"]:
                raise RuleViolation(f"受注 {number.strip()}: {warning['message']}", code="R9")
            results.append(self._payments.reauthorize(number.strip()))
        return results

    # --- helpers -----------------------------------------------------------------------------------

    def _contract(self, session: Session, contract_id: int | str) -> Subscription:
        text = str(contract_id).strip()
        contract: Subscription | None = None
        if text.isdigit():
            contract = session.get(Subscription, int(text))
        if contract is None:
            contract = session.scalar(select(Subscription).where(Subscription.order_number == text))
        if contract is None:
            raise NotFound(f"定期購入「{text}」は見つかりません(IDまたは最初の受注番号を指定してください)。")
        return contract

    def _month_amounts(self, session: Session, cp_id: str | None = None) -> dict[str, int]:
        """What each recurring permission was authorized for in this Tokyo calendar month (R53)."""
        today = self.today()
        start = datetime.combine(today.replace(day=1), time(0), tzinfo=JST).astimezone(UTC)
        amount = func.sum(Charge.amount)
        query = (
            select(Charge.charge_permission_id, amount)
            .where(Charge.created_at >= start, Charge.state.in_(_LIVE_CHARGE_STATES))
            .group_by(Charge.charge_permission_id)
        )
        if cp_id is not None:
            query = query.where(Charge.charge_permission_id == cp_id)
        return {str(k): int(v or 0) for k, v in session.execute(query)}


def _move_schedule(contract: Subscription, next_date: date) -> None:
    """The next round falls on ``next_date`` and the later ones follow from there."""
    contract.next_date = next_date
    contract.anchor = next_date
    contract.anchor_round = contract.rounds_done + 1


def _first_of_next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def _state_from_text(text: str) -> ContractState:
    for state in ContractState:
        if text in (state.value, state.label):
            return state
    raise BadInput(f"状態「{text}」はありません。指定できるのは: {'、'.join(s.label for s in ContractState)}")


def _facts(contract: Subscription) -> ContractFacts:
    return ContractFacts(
        state=ContractState(contract.state),
        anchor=contract.anchor,
        anchor_round=contract.anchor_round or 1,
        every=Frequency.parse(contract.every),
        rounds_done=contract.rounds_done,
        rounds_total=contract.rounds_total,
        next_date=contract.next_date,
    )


def _view(contract: Subscription, month_amount: int) -> ContractView:
    state = ContractState(contract.state)
    every = Frequency.parse(contract.every)
    return ContractView(
        id=contract.id,
        order_number=contract.order_number,
        state=state.value,
        state_label=state.label,
        every=every.code,
        every_label=every.label,
        next_date=contract.next_date,
        rounds_done=contract.rounds_done,
        rounds_total=contract.rounds_total,
        amount=contract.item_amount + contract.shipping_fee,
        month_amount=month_amount,
        charge_permission_id=contract.charge_permission_id,
        note=contract.note,
        item_amount=contract.item_amount,
        shipping_fee=contract.shipping_fee,
    )


def _round_view(row: SubscriptionRound) -> RoundView:
    return RoundView(
        round=row.round,
        order_number=row.order_number,
        amount=row.amount,
        state=row.state,
        hold_kind=row.hold_kind,
        hold_reason=row.hold_reason,
        retry_from=row.retry_from,
        generated_on=row.generated_on,
    )


def _hold(
    order: Order, row: SubscriptionRound, kind: HoldKind, reason: str, retry_from: date | None, now: datetime
) -> None:
    """R18: the generated order stays, with order status 保留 and the reason."""
    row.state = RoundState.HELD.value
    row.hold_kind = kind.value
    row.hold_reason = reason
    row.retry_from = retry_from
    row.updated_at = now
    order.order_status = OrderStatus.ON_HOLD.value
    order.updated_at = now


def _last_message(session: Session, intent_id: int | None) -> str:
    if intent_id is None:
        return ""
    return (
        session.scalar(
            select(JournalEntry.detail)
            .where(JournalEntry.phase == "outcome", JournalEntry.intent_id == intent_id)
            .order_by(JournalEntry.id.desc())
            .limit(1)
        )
        or ""
    )


def _generated_order(source: _SourceOrder, number: str, contract: Subscription, now: datetime) -> Order:
    """The generated order: the contract's buyer, address and items, its own number (R17).

    No payment-method line in the shop memo (R20, R23).
    """
    order = Order(
        number=number,
        kind=OrderKind.SUBSCRIPTION.value,
        ordered_at=now,
        customer_id=source.customer_id,
        ship_name=source.ship_name,
        ship_postal_code=source.ship_postal_code,
        ship_prefecture=source.ship_prefecture,
        ship_address=source.ship_address,
        ship_phone=source.ship_phone,
        shipping_fee=contract.shipping_fee,
        fees=0,
        discount=0,
        total=contract.item_amount + contract.shipping_fee,
        original_total=contract.item_amount + contract.shipping_fee,
        order_status=OrderStatus.NEW.value,
        shop_memo="",
        payment_method="amazon_pay",
        charge_permission_id=source.charge_permission_id,
        environment=source.environment,
        source=source.source,
        created_at=now,
        updated_at=now,
    )
    # A new order has no money rows yet: set, so that nothing reads them back from the store.
    order.charges = []
    order.refunds = []
    items = source.items
    if items and sum(unit * quantity for _pos, _name, unit, _cost, quantity in items) == contract.item_amount:
        order.items = [
            OrderItem(position=pos, name=name, unit_price=unit, cost_price=cost, quantity=quantity)
            for pos, name, unit, cost, quantity in items
        ]
    else:  # the amount was edited: one line for the round
        name = items[0][1] if items else "定期購入商品"
        cost = items[0][3] if items else 0
        order.items = [OrderItem(position=0, name=name, unit_price=contract.item_amount, cost_price=cost, quantity=1)]
    return order


__all__ = [
    "ContractView",
    "GenerationReport",
    "HeldOrder",
    "Progress",
    "RoundView",
    "SubscriptionService",
]
