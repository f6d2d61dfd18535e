"""One method per operator action, each a task on the ``work`` lane (Anki ``operations`` style).

The GUI thread never waits for Amazon Pay. Every action:

1. marks its order busy at once (the buttons stay disabled until the outcome is known, so a
   double click cannot capture twice; core's journal makes the call exactly-once anyway);
2. runs the core service on the worker;
3. reports an :class:`Outcome` (ok or not, and the Japanese message core gave) on the GUI
   thread. A ``UserError`` is an outcome, not a crash; anything else is a bug and goes to the
   bug dialog through ``on_bug``.

Background sync yields to the operator: when an action is requested while a periodic sync
runs, the sync stops after the order it is reading and the action runs next.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from core.domain import BADGE_TONES, PaymentStatus, Tone
from core.errors import BadInput, UserError
from core.services.payments import OperationResult, PaymentService
from core.services.sync import SyncResult, SyncService
from gui.tasks import WORK, CancelToken, TaskRunner

BULK_LIMIT = 1_000
ACTION_LABELS = {
    "capture": "入金処理",
    "reauthorize": "再与信",
    "sync": "同期",
    "amount_change": "金額変更",
    "refund": "返金",
    "cancel": "キャンセル",
    "change_method": "決済方法の変更",
    "clear_payment_date": "入金日取消",
}


@dataclass(frozen=True)
class Outcome:
    number: str
    action: str  # a key of ACTION_LABELS
    ok: bool
    message: str
    payment_status: str | None = None

    @property
    def label(self) -> str:
        return ACTION_LABELS[self.action]


@dataclass(frozen=True)
class BulkOutcome:
    action: str
    requested: int
    outcomes: tuple[Outcome, ...]
    cancelled: bool

    @property
    def succeeded(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.ok)

    @property
    def failed(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if not o.ok)

    @property
    def summary(self) -> str:
        label = ACTION_LABELS[self.action]
        text = f"一括{label}: 成功 {len(self.succeeded)}件、失敗 {len(self.failed)}件"
        skipped = self.requested - len(self.outcomes)
        if self.cancelled and skipped:
            text += f"、中止により未処理 {skipped}件"
        return text + "。"


@dataclass(frozen=True)
class SyncAllOutcome:
    results: tuple[SyncResult, ...]
    cancelled: bool
    background: bool

    @property
    def summary(self) -> str:
        failed = [r for r in self.results if not r.ok]
        text = f"{len(self.results)}件の受注を同期しました"
        if failed:
            text += f"(うち{len(failed)}件はAmazon Payの状態を取得できませんでした)"
        skipped = sum(1 for r in self.results if r.skipped)  # issue 11 item 8
        if skipped:
            text += f"(うち{skipped}件は接続先と別の環境の受注のため送信していません)"
        if self.cancelled:
            text += "。途中で中止しました"
        return text + "。"


def _from_result(result: OperationResult, action: str) -> Outcome:
    """An operation whose request went through can still leave the order failed: Amazon answered
    with a declined Charge (請求却下 after a capture, 承認失敗 after an authorization)."""
    status = PaymentStatus(result.payment_status) if result.payment_status else None
    declined = status is not None and BADGE_TONES[status] is Tone.FAILURE
    return Outcome(result.order_number, action, result.ok and not declined, result.message, result.payment_status)


class OrderActions(QObject):
    """Starts operations and reports their outcomes.

    Signals:
        started(str, str): (order number, action) is queued; the order is busy.
        finished(object): an Outcome; the order is no longer busy.
        bulk_progress(int, int): (done, total) of the running bulk action.
        bulk_finished(object): a BulkOutcome.
        sync_all_progress(int, int): (done, total) of the running sync of all open orders.
        sync_all_finished(object): a SyncAllOutcome.
        busy_changed(): the set of busy orders, or whether a bulk/sync-all runs, changed.
    """

    started = Signal(str, str)
    finished = Signal(object)
    bulk_progress = Signal(int, int)
    bulk_finished = Signal(object)
    sync_all_progress = Signal(int, int)
    sync_all_finished = Signal(object)
    busy_changed = Signal()

    def __init__(
        self,
        payments: PaymentService,
        sync: SyncService,
        runner: TaskRunner,
        *,
        on_bug: Callable[[BaseException], None] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._payments = payments
        self._sync = sync
        self._runner = runner
        self._on_bug = on_bug
        self._busy: dict[str, str] = {}
        self._bulk: CancelToken | None = None
        self._sync_all: CancelToken | None = None
        self._sync_all_background = False

    # --- state ---------------------------------------------------------------------------

    def busy_action(self, number: str) -> str | None:
        """The action in flight for ``number`` (or 'bulk' while a bulk action runs)."""
        if number in self._busy:
            return self._busy[number]
        if self._bulk is not None:
            return "bulk"
        return None

    @property
    def bulk_running(self) -> bool:
        return self._bulk is not None

    @property
    def sync_all_running(self) -> bool:
        return self._sync_all is not None

    # --- one order -----------------------------------------------------------------------

    def capture(self, number: str) -> bool:
        return self._single(number, "capture", lambda: _from_result(self._payments.capture(number), "capture"))

    def reauthorize(self, number: str) -> bool:
        return self._single(
            number, "reauthorize", lambda: _from_result(self._payments.reauthorize(number), "reauthorize")
        )

    def sync_order(self, number: str) -> bool:
        def run() -> Outcome:
            result = self._sync.sync_order(number)
            return Outcome(result.order_number, "sync", result.ok, result.message, result.payment_status)

        return self._single(number, "sync", run)

    # --- issue 4 operations (the dialogs in gui/dialogs ask first) --------------------------

    def change_amount(
        self,
        number: str,
        *,
        items: Sequence[tuple[str, int, int]] | None,
        shipping_fee: int,
        fees: int,
        discount: int,
        void_amazon: bool = False,
        confirmed: bool = False,
        expected_version: str | None = None,
    ) -> bool:
        def run() -> OperationResult:
            return self._payments.change_amount(
                number,
                items=items,
                shipping_fee=shipping_fee,
                fees=fees,
                discount=discount,
                void_amazon=void_amazon,
                confirmed=confirmed,
                expected_version=expected_version,  # refused when another operator changed it (issue 14)
            )

        return self._operation(number, "amount_change", run)

    def refund(self, number: str, amount: int | None, reason: str) -> bool:
        """Refund ``amount`` yen, or everything left when None (全額, R39)."""
        return self._operation(number, "refund", lambda: self._payments.refund(number, amount, reason))

    def cancel(self, number: str, *, void_amazon: bool, confirmed: bool, reason: str = "") -> bool:
        return self._operation(
            number,
            "cancel",
            lambda: self._payments.cancel(number, void_amazon=void_amazon, confirmed=confirmed, reason=reason),
        )

    def change_method(self, number: str, method: str, *, void_amazon: bool, confirmed: bool) -> bool:
        return self._operation(
            number,
            "change_method",
            lambda: self._payments.change_method(number, method, void_amazon=void_amazon, confirmed=confirmed),
        )

    def clear_payment_date(self, number: str) -> bool:
        """R37: local only; nothing is sent and nothing is refunded."""
        return self._operation(number, "clear_payment_date", lambda: self._payments.clear_payment_date(number))

    def _operation(self, number: str, action: str, call: Callable[[], OperationResult]) -> bool:
        def run() -> Outcome:
            result = call()
            status = PaymentStatus(result.payment_status) if result.payment_status else None
            # A refund Amazon declined at once is a failure even though the request went through.
            declined = status is PaymentStatus.REFUND_DECLINED and action in ("refund", "cancel", "change_method")
            return Outcome(
                result.order_number or number, action, result.ok and not declined, result.message, result.payment_status
            )

        return self._single(number, action, run)

    def _single(self, number: str, action: str, run: Callable[[], Outcome]) -> bool:
        """Queue ``run``; False (and nothing queued) when this order already has one in flight."""
        if self.busy_action(number) is not None:
            return False
        self._busy[number] = action
        self._yield_background_sync()
        self.started.emit(number, action)
        self.busy_changed.emit()

        def done(outcome: Outcome) -> None:
            self._busy.pop(number, None)
            self.busy_changed.emit()
            self.finished.emit(outcome)

        def failed(exc: BaseException) -> None:
            self._busy.pop(number, None)
            self.busy_changed.emit()
            message = exc.message if isinstance(exc, UserError) else "予期しないエラーのため処理できませんでした。"
            self.finished.emit(Outcome(number, action, False, message))
            if not isinstance(exc, UserError) and self._on_bug is not None:
                self._on_bug(exc)

        self._runner.run(run, done, failed, lane=WORK)
        return True

    # --- many orders ---------------------------------------------------------------------

    def bulk(
        self, action: str, numbers: Callable[[], Sequence[str]], count: int, token: CancelToken | None = None
    ) -> CancelToken | None:
        """Run ``action`` (capture | reauthorize) for each order; returns the token that cancels it.

        ``numbers`` runs on the worker (a selection may reach rows not on screen); ``count`` is
        the number of rows selected. Cancelling stops before the next order: an operation
        already sent always finishes and is recorded.
        """
        if self._bulk is not None or action not in ("capture", "reauthorize"):
            return None
        if count > BULK_LIMIT:
            raise BadInput(f"一度に処理できるのは{BULK_LIMIT:,}件までです({count:,}件選択されています)。")
        token = token or CancelToken()
        self._bulk = token
        self._yield_background_sync()
        self.busy_changed.emit()
        operation = self._payments.capture if action == "capture" else self._payments.reauthorize
        report = self._runner.progress_callback(self.bulk_progress.emit)

        def run() -> BulkOutcome:
            chosen = list(dict.fromkeys(numbers()))
            report(0, len(chosen))
            outcomes: list[Outcome] = []
            for index, number in enumerate(chosen):
                if token.cancelled():
                    break
                try:
                    outcomes.append(_from_result(operation(number), action))
                except UserError as exc:  # refused by a rule or the gateway: this order only
                    outcomes.append(Outcome(number, action, False, exc.message))
                report(index + 1, len(chosen))
            return BulkOutcome(action, len(chosen), tuple(outcomes), token.cancelled())

        def done(outcome: BulkOutcome) -> None:
            self._bulk = None
            self.busy_changed.emit()
            self.bulk_finished.emit(outcome)

        def failed(exc: BaseException) -> None:
            self._bulk = None
            self.busy_changed.emit()
            self.bulk_finished.emit(BulkOutcome(action, count, (), True))
            if self._on_bug is not None:
                self._on_bug(exc)

        self._runner.run(run, done, failed, lane=WORK)
        return token

    def sync_all(self, *, background: bool = False) -> CancelToken | None:
        """Read every open order from Amazon Pay (a desktop app receives no notifications)."""
        if self._sync_all is not None:
            return None
        if background and (self._busy or self._bulk is not None):
            return None  # the operator is working; the next tick will sync
        token = CancelToken()
        self._sync_all = token
        self._sync_all_background = background
        self.busy_changed.emit()
        report = self._runner.progress_callback(self.sync_all_progress.emit)

        def run() -> SyncAllOutcome:
            results = self._sync.sync_all(progress=report, cancelled=token.cancelled)
            return SyncAllOutcome(tuple(results), token.cancelled(), background)

        def done(outcome: SyncAllOutcome) -> None:
            self._sync_all = None
            self.busy_changed.emit()
            self.sync_all_finished.emit(outcome)

        def failed(exc: BaseException) -> None:
            self._sync_all = None
            self.busy_changed.emit()
            if isinstance(exc, UserError):
                self.sync_all_finished.emit(SyncAllOutcome((), True, background))
            elif self._on_bug is not None:
                self._on_bug(exc)

        self._runner.run(run, done, failed, lane=WORK)
        return token

    def cancel_sync_all(self) -> None:
        if self._sync_all is not None:
            self._sync_all.cancel()

    def _yield_background_sync(self) -> None:
        if self._sync_all is not None and self._sync_all_background:
            self._sync_all.cancel()
