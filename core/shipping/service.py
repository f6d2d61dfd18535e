"""ShippingService: shipping (R24), the cancellation desk (R44–R48), returns and resale (R46,
R49), supplier failure (R50), for Amazon Pay and marketplace orders (R61) alike.

Every money movement goes through the payment service (its operation engine: journal,
idempotency, per-order lock); this service never talks to the gateway. What it records
itself (a shipment, a request, a resale, a step of R50) is written under the order's lock
with a journal event in the same transaction, and touches the order's row so that other
windows see the change (the change feed, migration 0009).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import JST, Clock, to_utc
from core.db.locks import lock_order
from core.db.schema import CancellationRequest, Order, OrderCost, Refund, Resale, Shipment
from core.domain import OrderKind, OrderStatus, PaymentStatus, RefundState
from core.errors import BadInput, NotFound, RuleViolation, UserError
from core.journal import Journal, crashpoint
from core.queries import load_order
from core.shipping.cancellation import (
    CHANNELS,
    CLOSED_STATES,
    OPEN_STATES,
    Option,
    Outcome,
    OutcomeFacts,
    Proposal,
    RequestState,
    net_result,
    outcome_of,
    outcomes,
    propose,
)
from core.shipping.carriers import Carrier, TrackingCheck, carrier_label, check_tracking, parse_carrier, tracking_url

if TYPE_CHECKING:
    from core.services.messages import MessageService
    from core.services.payments import PaymentService

CAPTURED: Final = frozenset(
    {PaymentStatus.CAPTURE_RECORDED.value, PaymentStatus.CAPTURE_COMPLETED.value, PaymentStatus.CAPTURE_PENDING.value}
)
REFUNDED_LABELS: Final = frozenset(
    {PaymentStatus.REFUNDED.value, PaymentStatus.REFUND_PENDING.value, PaymentStatus.REFUND_DECLINED.value}
)
SUPPLIER: Final = "supplier"
CUSTOMER: Final = "customer"
SUPPLIER_REASON: Final = "その他"  # R50: the refund's reason
SELLER_CENTRAL_NOTE: Final = "マーケットプレイスの受注のため、返金はSeller Centralで行ったものとして記録しました(R61)。"
OTHER_METHOD_NOTE: Final = "Amazon Pay以外の決済のため、返金はその決済方法で行ったものとして記録しました。"

# Header names of a shipping file (B2クラウド, e飛伝, a shop's own sheet), normalized.
NUMBER_HEADERS: Final = (
    "受注番号",
    "注文番号",
    "お客様管理番号",
    "管理番号",
    "注文id",
    "order_number",
    "number",
    "order",
)
TRACKING_HEADERS: Final = (
    "送り状番号",
    "伝票番号",
    "お問合せ送り状no",
    "お問い合わせ送り状no",
    "お問合せ番号",
    "お問い合わせ番号",
    "問合せ番号",
    "追跡番号",
    "tracking_number",
    "tracking",
)
CARRIER_HEADERS: Final = ("配送会社", "運送会社", "配送業者", "carrier")
DATE_HEADERS: Final = ("出荷日", "発送日", "出荷予定日", "集荷日", "shipped_at", "date")
B2_MARKERS: Final = ("送り状種類", "お届け予定日", "クール区分")  # ヤマト B2クラウド
EHIDEN_MARKERS: Final = ("お問合せ送り状no", "お問い合わせ送り状no", "便種", "e飛伝")  # 佐川 e飛伝


class AlreadyShipped(RuleViolation):
    """The order has its shipment already (R24): a shipping file skips it instead of refusing it."""


@dataclass(frozen=True)
class ShipResult:
    number: str
    carrier: str
    tracking_number: str
    shipped_at: datetime
    captured: bool
    notified: bool
    tracking_url: str | None
    message: str
    notice_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "carrier": self.carrier,
            "carrier_label": carrier_label(self.carrier),
            "tracking": self.tracking_number,
            "tracking_url": self.tracking_url,
            "shipped_at": self.shipped_at.isoformat(),
            "captured": self.captured,
            "notified": self.notified,
            "notice_error": self.notice_error,
            "message": self.message,
        }


@dataclass(frozen=True)
class ShipLine:
    """One row of a shipping file, checked."""

    line: int
    number: str
    carrier: Carrier | None
    tracking: str
    shipped_on: date | None


@dataclass
class BulkResult:
    shipped: int = 0
    captured: int = 0
    notified: int = 0
    skipped: int = 0
    refused: list[dict[str, Any]] = field(default_factory=list)
    planned: list[dict[str, Any]] = field(default_factory=list)
    skipped_numbers: list[str] = field(default_factory=list)
    dry_run: bool = False
    canceled: bool = False
    notice_note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "shipped": self.shipped,
            "captured": self.captured,
            "notified": self.notified,
            "skipped": self.skipped,
            "refused": list(self.refused),
            "dry_run": self.dry_run,
            "canceled": self.canceled,
            "planned": list(self.planned),
            "skipped_numbers": list(self.skipped_numbers),
            "notice_note": self.notice_note,
        }


@dataclass(frozen=True)
class RequestView:
    number: str
    kind: str
    state: str
    state_label: str
    option: str | None
    refund_amount: int | None
    refunded: int
    requested_at: datetime
    channel: str
    note: str
    step: str
    proposal: Proposal | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "number": self.number,
            "kind": self.kind,
            "state": self.state,
            "state_label": self.state_label,
            "option": self.option,
            "refund_amount": self.refund_amount,
            "refunded": self.refunded,
            "requested_at": self.requested_at.isoformat(),
            "channel": self.channel,
            "note": self.note,
        }
        if self.proposal is not None:
            data["proposal"] = {
                "accept": self.proposal.accept,
                "template": self.proposal.template_id,
                "rule": self.proposal.rule,
                "text": self.proposal.text,
            }
        return data


@dataclass(frozen=True)
class DeskResult:
    number: str
    action: str
    state: str
    message: str
    refund: int = 0
    mail: str = ""  # sent | manual | failed | ''
    mail_subject: str = ""
    mail_body: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "action": self.action,
            "state": self.state,
            "message": self.message,
            "refund": self.refund,
            "mail": self.mail,
            "mail_subject": self.mail_subject,
            "mail_body": self.mail_body,
        }


@dataclass(frozen=True)
class Draft:
    template_id: str
    template_version: int | None
    subject: str
    body: str


def _norm(header: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFKC", header).strip().lower().replace(".", "").replace(" ", "")


def parse_ship_date(text: str) -> date:
    """``2026-11-21``, ``2026/11/21`` or ``20261121`` (a Japan calendar date)."""
    import unicodedata

    value = unicodedata.normalize("NFKC", text or "").strip()
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise BadInput(f"発送日「{value}」を日付として読めません(例: 2026-11-21)。")


def read_ship_file(data: bytes, default_carrier: Carrier | None = None) -> tuple[list[ShipLine], list[dict[str, Any]]]:
    """The rows of a shipping CSV (UTF-8 or CP932), columns found by header name."""
    text: str | None = None
    for encoding in ("utf-8-sig", "cp932"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if text is None:
        raise BadInput("ファイルの文字コードが読めません(UTF-8かShift_JIS(CP932)で保存してください)。")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise BadInput("ファイルが空です。")
    headers = [_norm(h) for h in rows[0]]

    def find(names: Iterable[str]) -> int | None:
        for name in names:
            key = _norm(name)
            if key in headers:
                return headers.index(key)
        return None

    number_col, tracking_col = find(NUMBER_HEADERS), find(TRACKING_HEADERS)
    if number_col is None or tracking_col is None:
        missing = "受注番号(お客様管理番号)" if number_col is None else "送り状番号(伝票番号)"
        raise BadInput(
            f"1行目の見出しに{missing}の列が見つかりません。見出しの行がある発送ファイルを指定してください。"
        )
    carrier_col, date_col = find(CARRIER_HEADERS), find(DATE_HEADERS)
    shape: Carrier | None = default_carrier
    if carrier_col is None and shape is None:
        if any(_norm(m) in headers for m in EHIDEN_MARKERS):
            shape = Carrier.SAGAWA
        elif any(_norm(m) in headers for m in B2_MARKERS):
            shape = Carrier.YAMATO
    lines: list[ShipLine] = []
    refused: list[dict[str, Any]] = []
    for index, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue

        def cell(col: int | None, row: list[str] = row) -> str:
            return row[col].strip() if col is not None and col < len(row) else ""

        number, tracking = cell(number_col), cell(tracking_col)
        if not number:
            refused.append({"line": index, "reason": "受注番号が空です。"})
            continue
        carrier = shape
        if carrier_col is not None and cell(carrier_col):
            carrier = parse_carrier(cell(carrier_col))
            if carrier is None:
                refused.append(
                    {"line": index, "number": number, "reason": f"配送会社「{cell(carrier_col)}」が分かりません。"}
                )
                continue
        shipped_on = None
        if cell(date_col):
            try:
                shipped_on = parse_ship_date(cell(date_col))
            except BadInput as exc:
                refused.append({"line": index, "number": number, "reason": exc.message})
                continue
        lines.append(ShipLine(index, number, carrier, tracking, shipped_on))
    return lines, refused


class ShippingService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        payments: PaymentService,
        messages: Callable[[], MessageService],
        journal: Journal,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._payments = payments
        self._messages = messages
        self.journal = journal

    def clock_now(self) -> datetime:
        """The app's clock (``KANJO_NOW``): the window's default ship date."""
        return self._clock.now()

    # --- helpers -----------------------------------------------------------------------------

    def _event(self, session: Session, order: Order, action: str, message: str, amount: int | None = None) -> None:
        now = self._clock.now()
        order.updated_at = now  # the change feed tells the other windows
        self.journal.event(session, action=action, now=now, order_number=order.number, message=message, amount=amount)

    def _template(self, builtin_id: str) -> str:
        """The operator's newest copy of a built-in, else the built-in itself."""
        copies = [t for t in self._messages().templates() if not t.builtin and t.based_on == builtin_id]
        chosen = max(copies, key=lambda t: (t.updated_at is not None, t.updated_at), default=None)
        return chosen.id if chosen else builtin_id

    def draft(self, number: str, builtin_id: str, overrides: Mapping[str, Any] | None = None) -> Draft:
        """``builtin_id`` (or the operator's copy of it) filled for the order; R50 signs with the
        operator's name at this PC."""
        messages = self._messages()
        info = messages.template(self._template(builtin_id))
        variables = dict(messages.compose(number).variables)
        if self.journal.operator.strip():
            variables["operator_name"] = self.journal.operator.strip()
        variables.update(overrides or {})
        rendered = messages.render_source(info.subject, info.body, variables)
        return Draft(info.id, info.version, rendered.subject, rendered.body)

    def _deliver(self, number: str, draft: Draft, *, manual_ok: bool = True) -> str:
        """Send by SMTP; without an SMTP server keep it as 手動送信 (the operator copies it)."""
        from core.services.messages import NotConfigured, SendFailed

        messages = self._messages()
        try:
            messages.send(
                number,
                template_id=draft.template_id,
                template_version=draft.template_version,
                subject=draft.subject,
                body=draft.body,
            )
            return "sent"
        except NotConfigured:
            if not manual_ok:
                raise
            messages.record_manual(
                number,
                template_id=draft.template_id,
                template_version=draft.template_version,
                subject=draft.subject,
                body=draft.body,
            )
            return "manual"
        except SendFailed:
            return "failed"

    def smtp_ready(self) -> bool:
        return self._messages().smtp_status().configured

    @staticmethod
    def _amazon_pay(order: Order) -> bool:
        return (
            order.kind != OrderKind.MARKETPLACE.value
            and order.payment_method == "amazon_pay"
            and order.charge_permission_id is not None
        )

    # --- shipping (R24) ------------------------------------------------------------------------

    def check(self, carrier: str, tracking: str) -> TrackingCheck:
        known = parse_carrier(carrier)
        if known is None:
            raise BadInput(f"配送会社「{carrier}」は指定できません。yamato / sagawa / japanpost / other のどれかです。")
        return check_tracking(known, tracking)

    def _shipped_at(self, shipped_on: date | None) -> datetime:
        now = self._clock.now()
        if shipped_on is None:
            return now
        today = now.astimezone(JST).date()
        if shipped_on > today:
            raise BadInput(f"発送日 {shipped_on:%Y-%m-%d} は未来の日付です。")
        if shipped_on == today:
            return now
        return to_utc(datetime.combine(shipped_on, time(12, 0), tzinfo=JST))

    def _capture_need(self, order: Order) -> bool:
        """R24: capture before shipping when the order is only authorized; refuse when it cannot be."""
        if not self._amazon_pay(order):
            return False
        status = order.payment_status
        if status in CAPTURED or status in REFUNDED_LABELS:
            return False
        if status == PaymentStatus.AUTHORIZED.value:
            return True
        raise RuleViolation(
            f"与信ステータスが「{status or '未与信'}」のため入金処理ができず、発送を登録できません"
            "(発送の前に承認済であることが必要です。再与信などで承認済にしてください)。",
            code="R24",
        )

    def _preflight(self, session: Session, number: str, carrier: Carrier, tracking: str) -> tuple[Order, str, bool]:
        order = load_order(session, number)
        checked = check_tracking(carrier, tracking)
        if not checked.ok:
            raise BadInput(checked.error or "")
        if session.scalar(select(Shipment.id).where(Shipment.order_id == order.id)) is not None:
            raise AlreadyShipped(
                f"受注 {order.number} はすでに発送済みです(送り状番号 {order.tracking_number})。", code="R24"
            )
        if order.order_status == OrderStatus.CANCELED.value:
            raise RuleViolation(f"受注 {order.number} はキャンセルされています。", code="R24")
        return order, checked.number, self._capture_need(order)

    def ship(
        self,
        number: str,
        carrier: str,
        tracking: str,
        *,
        shipped_on: date | None = None,
        notify: bool = False,
    ) -> ShipResult:
        """R24's order of steps: capture first (when only authorized), record the shipment, then
        the notice with the tracking link. An order is shipped once: a second time is refused."""
        known = parse_carrier(carrier)
        if known is None:
            raise BadInput(f"配送会社「{carrier}」は指定できません。yamato / sagawa / japanpost / other のどれかです。")
        shipped_at = self._shipped_at(shipped_on)
        with self._sessions() as session:
            _order, clean, needs_capture = self._preflight(session, number, known, tracking)
        if notify:
            if not self.smtp_ready():
                raise BadInput(
                    "SMTPサーバーが設定されていないため発送通知を送れません。--notify を付けずに発送を登録し、"
                    "発送通知はメッセージ作成(kanjo message render shipping 受注番号)から手動で送ってください。"
                )
            # Refuse before anything happens when the notice cannot be made (a setting missing).
            self.draft(number, "shipping", self._ship_vars(known, clean))
        captured = False
        if needs_capture:
            result = self._payments.capture(number)
            if not result.ok:
                raise RuleViolation(f"入金処理ができなかったため、発送は登録していません: {result.message}", code="R24")
            captured = True
        with self._sessions.begin() as session:
            lock_order(session, number)
            order = load_order(session, number)
            if session.scalar(select(Shipment.id).where(Shipment.order_id == order.id)) is not None:
                raise AlreadyShipped(f"受注 {order.number} はすでに発送済みです。", code="R24")
            session.add(
                Shipment(
                    order_id=order.id,
                    carrier=known.value,
                    tracking_number=clean,
                    shipped_at=shipped_at,
                    recorded_at=self._clock.now(),
                    operator=self.journal.operator,
                )
            )
            order.tracking_number = clean
            if order.order_status != OrderStatus.CANCELED.value:
                order.order_status = OrderStatus.SHIPPED.value
            self._event(session, order, "ship", f"発送を登録しました({known.label} {clean})。")
            order_number = order.number
        notified, error = False, None
        if notify:
            try:
                status = self._deliver(order_number, self.draft(order_number, "shipping"), manual_ok=False)
                notified = status == "sent"
                if status == "failed":
                    error = "発送通知を送信できませんでした(受注のメッセージ履歴に「送信失敗」として残っています)。"
            except UserError as exc:
                error = exc.message
        text = f"受注 {order_number} を発送済にしました({known.label} {clean})。"
        if captured:
            text = f"入金処理をしてから、{text}"
        if notified:
            text += " 発送通知を送信しました。"
        return ShipResult(
            order_number, known.value, clean, shipped_at, captured, notified, tracking_url(known, clean), text, error
        )

    @staticmethod
    def _ship_vars(carrier: Carrier, tracking: str) -> dict[str, Any]:
        link = tracking_url(carrier, tracking)
        values: dict[str, Any] = {"tracking_number": tracking, "carrier_name": carrier.label}
        if link:
            values["tracking_url"] = link
        return values

    def set_order_status(self, number: str, status: OrderStatus) -> None:
        """新規受付 → 発送準備中 → 発送済 → 完了(処理済); 発送済 is set by :meth:`ship` only."""
        if status not in (OrderStatus.NEW, OrderStatus.PREPARING, OrderStatus.DONE):
            raise BadInput(
                "受注ステータスは新規受付・発送準備中・処理済のどれかを指定してください(発送済は発送の登録で)。"
            )
        with self._sessions.begin() as session:
            lock_order(session, number)
            order = load_order(session, number)
            if order.order_status == OrderStatus.CANCELED.value:
                raise RuleViolation("キャンセルされた受注です。", code="R35")
            shipped = session.scalar(select(Shipment.id).where(Shipment.order_id == order.id)) is not None
            if status is OrderStatus.DONE and not shipped:
                raise RuleViolation("発送を登録してから処理済にしてください。", code="R24")
            if status is not OrderStatus.DONE and shipped:
                raise RuleViolation("発送済みの受注は発送前の状態に戻せません。", code="R24")
            order.order_status = status.value
            self._event(session, order, "order_status", f"受注ステータスを{status.label}にしました。")

    def ship_file(
        self,
        path: Path,
        *,
        dry_run: bool = False,
        notify: bool = True,
        default_carrier: str | None = None,
        progress: Callable[[int, int], None] | None = None,
        canceled: Callable[[], bool] | None = None,
    ) -> BulkResult:
        """Ship every order of a shipping file (B2クラウド, e飛伝 or any CSV with the columns):
        already shipped orders are skipped, bad rows refused with their line and reason."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise BadInput(f"ファイルが見つかりません: {path}") from None
        except IsADirectoryError:
            raise BadInput(f"フォルダではなく発送ファイルを指定してください: {path}") from None
        except OSError as exc:
            raise BadInput(f"ファイルを読めません: {path} ({exc.strerror})") from None
        base = None
        if default_carrier:
            base = parse_carrier(default_carrier)
            if base is None:
                raise BadInput(f"配送会社「{default_carrier}」は指定できません。")
        lines, refused = read_ship_file(data, base)
        result = BulkResult(refused=refused, dry_run=dry_run)
        send = notify and self.smtp_ready()
        if notify and not send:
            result.notice_note = "SMTPサーバーが設定されていないため、発送通知は送っていません。"
        # Check every row first: the preview is what will be done.
        todo: list[tuple[ShipLine, Carrier]] = []
        seen: set[str] = set()
        for row in lines:
            if row.carrier is None:
                result.refused.append(
                    {
                        "line": row.line,
                        "number": row.number,
                        "reason": "配送会社が分かりません(配送会社の列か --carrier)。",
                    }
                )
                continue
            if row.number in seen:
                result.refused.append(
                    {"line": row.line, "number": row.number, "reason": "同じ受注番号がファイル内で重複しています。"}
                )
                continue
            seen.add(row.number)
            try:
                with self._sessions() as session:
                    _order, clean, needs = self._preflight(session, row.number, row.carrier, row.tracking)
                self._shipped_at(row.shipped_on)
            except UserError as exc:
                _skip_or_refuse(result, row, exc)
                continue
            result.planned.append(
                {
                    "line": row.line,
                    "number": row.number,
                    "carrier": row.carrier.value,
                    "tracking": clean,
                    "capture": needs,
                }
            )
            todo.append((row, row.carrier))
        result.refused.sort(key=lambda r: r["line"])
        if dry_run:
            return result
        for index, (row, carrier) in enumerate(todo):
            if canceled is not None and canceled():
                result.canceled = True
                break
            try:
                shipped = self.ship(row.number, carrier.value, row.tracking, shipped_on=row.shipped_on, notify=False)
            except UserError as exc:
                _skip_or_refuse(result, row, exc)
                continue
            result.shipped += 1
            result.captured += int(shipped.captured)
            if send:
                try:
                    if self._deliver(row.number, self.draft(row.number, "shipping"), manual_ok=False) == "sent":
                        result.notified += 1
                except UserError as exc:
                    result.notice_note = f"発送通知を作れなかった受注があります: {exc.message}"
            if progress is not None:
                progress(index + 1, len(todo))
        return result

    # --- costs ---------------------------------------------------------------------------------

    def set_item_cost(self, number: str, sku: str, cost: int) -> int:
        """The purchase cost per item of the order's line(s) with ``sku`` (or that name, or that
        1-based line number); returns how many lines were set."""
        if cost < 0:
            raise BadInput("原価にマイナスは指定できません。")
        key = sku.strip()
        with self._sessions.begin() as session:
            lock_order(session, number)
            order = load_order(session, number)
            lines = [i for i in order.items if i.sku and i.sku == key] or [i for i in order.items if i.name == key]
            if not lines and key.isdigit() and 1 <= int(key) <= len(order.items):
                lines = [order.items[int(key) - 1]]
            if not lines:
                raise NotFound(f"受注 {order.number} に商品「{key}」(SKU・商品名・行番号)がありません。")
            for item in lines:
                item.cost_price = cost
            self._event(session, order, "set_cost", f"商品「{key}」の原価を{cost:,}円にしました。", cost)
            return len(lines)

    def set_costs(
        self,
        number: str,
        *,
        shipping_cost: int | None = None,
        payment_fee: int | None = None,
        resale_estimate: int | None = None,
    ) -> None:
        for label, value in (
            ("送料(実費)", shipping_cost),
            ("決済手数料", payment_fee),
            ("再販の見込み額", resale_estimate),
        ):
            if value is not None and value < 0:
                raise BadInput(f"{label}にマイナスは指定できません。")
        with self._sessions.begin() as session:
            lock_order(session, number)
            order = load_order(session, number)
            row = session.get(OrderCost, order.id)
            if row is None:
                row = OrderCost(order_id=order.id, shipping_cost=0, payment_fee=0, resale_estimate=0)
                session.add(row)
            if shipping_cost is not None:
                row.shipping_cost = shipping_cost
            if payment_fee is not None:
                row.payment_fee = payment_fee
            if resale_estimate is not None:
                row.resale_estimate = resale_estimate
            row.updated_at = self._clock.now()
            self._event(session, order, "set_cost", "送料・手数料・再販見込みを更新しました。")

    def costs(self, number: str) -> dict[str, int]:
        """The order's recorded shipping cost, payment fee and resale estimate (0 when none)."""
        with self._sessions() as session:
            row = session.get(OrderCost, load_order(session, number).id)
            return {
                "shipping_cost": row.shipping_cost if row else 0,
                "payment_fee": row.payment_fee if row else 0,
                "resale_estimate": row.resale_estimate if row else 0,
            }

    # --- the cancellation desk (R44–R48) --------------------------------------------------------

    @staticmethod
    def _active(session: Session, order: Order) -> CancellationRequest | None:
        return session.scalar(
            select(CancellationRequest)
            .where(CancellationRequest.order_id == order.id)
            .order_by(CancellationRequest.id.desc())
            .limit(1)
        )

    def _request(self, session: Session, order: Order) -> CancellationRequest:
        row = self._active(session, order)
        if row is None:
            raise NotFound(
                f"受注 {order.number} にはキャンセル依頼が記録されていません(kanjo cancellation open {order.number})。"
            )
        return row

    @staticmethod
    def _shipped(session: Session, order: Order) -> bool:
        return session.scalar(select(Shipment.id).where(Shipment.order_id == order.id)) is not None

    def _view(self, session: Session, order: Order, row: CancellationRequest) -> RequestView:
        proposal = None
        if row.kind == CUSTOMER:
            proposal = propose(order.ordered_at, row.requested_at, shipped=self._shipped(session, order))
        state = RequestState(row.state)
        return RequestView(
            order.number,
            row.kind,
            state.value,
            state.label,
            row.option,
            row.refund_amount,
            row.refunded,
            row.requested_at,
            row.channel,
            row.note,
            row.step,
            proposal,
        )

    def open_request(
        self, number: str, *, at: datetime | None = None, channel: str = "mail", note: str = ""
    ) -> RequestView:
        """Record a customer's request; the view carries R44's proposal."""
        if channel not in CHANNELS:
            raise BadInput(f"受付方法「{channel}」は指定できません。mail / phone / form のどれかです。")
        now = self._clock.now()
        requested = to_utc(at) if at is not None else now
        if requested > now:
            raise BadInput("依頼の日時が未来になっています。")
        with self._sessions.begin() as session:
            lock_order(session, number)
            order = load_order(session, number)
            if order.order_status == OrderStatus.CANCELED.value:
                raise RuleViolation(f"受注 {order.number} はすでにキャンセルされています。", code="R35")
            if to_utc(requested) < to_utc(order.ordered_at):
                raise BadInput("依頼の日時が受注日時より前になっています。")
            current = self._active(session, order)
            if current is not None and RequestState(current.state) not in CLOSED_STATES:
                raise RuleViolation(f"受注 {order.number} には対応中のキャンセル依頼があります。", code="R44")
            row = CancellationRequest(
                order_id=order.id,
                kind=CUSTOMER,
                requested_at=requested,
                channel=channel,
                note=note.strip(),
                state=RequestState.OPEN.value,
                refunded=0,
                step="",
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            view = self._view(session, order, row)
            self._event(
                session,
                order,
                "cancellation_request",
                f"キャンセル依頼を受け付けました({CHANNELS[channel]})。{view.proposal.text if view.proposal else ''}",
            )
            return view

    def request(self, number: str) -> RequestView | None:
        with self._sessions() as session:
            order = load_order(session, number)
            row = self._active(session, order)
            return self._view(session, order, row) if row is not None else None

    def _facts(self, session: Session, order: Order) -> OutcomeFacts:
        costs = session.get(OrderCost, order.id)
        items = sum(i.unit_price * i.quantity for i in order.items)
        sales = order.captured_amount if self._amazon_pay(order) and order.captured_amount else order.total
        return OutcomeFacts(
            sales=sales,
            items=items,
            cost=sum(i.cost_price * i.quantity for i in order.items),
            shipping_cost=costs.shipping_cost if costs else 0,
            resale=costs.resale_estimate if costs else 0,
            fees=costs.payment_fee if costs else 0,
            shipped=self._shipped(session, order),
        )

    def options(self, number: str) -> tuple[Outcome, ...]:
        """R47: full / half / refuse with the refund and the shop's result of each."""
        with self._sessions() as session:
            order = load_order(session, number)
            return outcomes(self._facts(session, order))

    def reply_draft(self, number: str, option: Option | None = None) -> Draft:
        """The reply the desk proposes: R44 accept, R45 cushion, or the chosen option's message."""
        with self._sessions() as session:
            order = load_order(session, number)
            row = self._request(session, order)
            shipped = self._shipped(session, order)
            proposal = propose(order.ordered_at, row.requested_at, shipped=shipped)
            facts = self._facts(session, order)
        if option is None:
            if proposal.accept:
                option = Option.FULL
            else:
                return self.draft(number, "cancel-reply")
        return self._option_draft(number, option, facts)

    def _option_draft(self, number: str, option: Option, facts: OutcomeFacts) -> Draft:
        from core.money import format_yen

        if option is Option.REFUSE:
            return self.draft(number, "cancel-reply")
        if option is Option.HALF:
            return self.draft(number, "return-steps")
        return self.draft(number, "full-refund", {"full_refund": format_yen(outcome_of(facts, Option.FULL).refund)})

    def reply(self, number: str) -> DeskResult:
        """Send the proposed first reply (R45's one cushion after 24 hours)."""
        draft = self.reply_draft(number)
        with self._sessions() as session:
            order = load_order(session, number)
            row = self._request(session, order)
            if RequestState(row.state) is not RequestState.OPEN:
                raise RuleViolation("このキャンセル依頼にはすでに返信しています。", code="R45")
        mail = self._deliver(number, draft)
        with self._sessions.begin() as session:
            lock_order(session, number)
            order = load_order(session, number)
            row = self._request(session, order)
            row.state = RequestState.REPLIED.value
            row.updated_at = self._clock.now()
            self._event(session, order, "cancellation_reply", f"キャンセル依頼に返信しました({draft.subject})。")
        return DeskResult(
            number, "reply", RequestState.REPLIED.value, "返信しました。", 0, mail, draft.subject, draft.body
        )

    def resolve(self, number: str, option: str, *, confirmed: bool = False) -> DeskResult:
        """The chosen option becomes the refund (or the return that leads to it) and the message,
        in one step (R45–R47)."""
        try:
            chosen = Option(option)
        except ValueError:
            raise BadInput(f"選択肢「{option}」は指定できません。full / half / refuse のどれかです。") from None
        with self._sessions() as session:
            order = load_order(session, number)
            row = self._request(session, order)
            if RequestState(row.state) not in OPEN_STATES:
                raise RuleViolation(
                    f"このキャンセル依頼はすでに「{RequestState(row.state).label}」です"
                    "(全額返金への切り替えは kanjo cancellation switch-full)。",
                    code="R47",
                )
            facts = self._facts(session, order)
            if chosen is Option.HALF and not facts.shipped:
                raise RuleViolation("発送前の受注は半額返金ではなく、キャンセル(全額)でお受けします。", code="R44")
            result = outcome_of(facts, chosen)
        if result.refund and not confirmed:
            raise RuleViolation(f"{chosen.label}({result.refund:,}円)を確定するには確認が必要です(--yes)。", code="R47")
        draft = self._option_draft(number, chosen, facts)
        if chosen is Option.REFUSE:
            mail = self._deliver(number, draft) if RequestState(row.state) is RequestState.OPEN else ""
            self._set_state(number, RequestState.REFUSED, chosen, 0, "キャンセル依頼をお断りしました(R45)。")
            return DeskResult(
                number, "resolve", RequestState.REFUSED.value, "お断りしました。", 0, mail, draft.subject, draft.body
            )
        if not facts.shipped:
            # Nothing went out: cancel the order (refund what was captured, cancel the authorization).
            message = self._cancel_order(number, "お客様都合のキャンセル")
            mail = self._deliver(number, draft)
            self._set_state(
                number,
                RequestState.CANCELED,
                chosen,
                result.refund,
                "キャンセル依頼をお受けし、受注をキャンセルしました(R44)。",
                refunded=True,
            )
            return DeskResult(
                number, "resolve", RequestState.CANCELED.value, message, result.refund, mail, draft.subject, draft.body
            )
        mail = self._deliver(number, draft)
        self._set_state(
            number,
            RequestState.AWAITING_RETURN,
            chosen,
            result.refund,
            f"{chosen.label}({result.refund:,}円)でお受けしました。商品の返送を待ちます(R46)。",
        )
        return DeskResult(
            number,
            "resolve",
            RequestState.AWAITING_RETURN.value,
            f"{chosen.label}({result.refund:,}円)でお受けしました。商品が届いたら返金します(kanjo returns received {number})。",
            result.refund,
            mail,
            draft.subject,
            draft.body,
        )

    def _set_state(
        self,
        number: str,
        state: RequestState,
        option: Option | None,
        amount: int | None,
        message: str,
        *,
        refunded: bool = False,
    ) -> None:
        with self._sessions.begin() as session:
            lock_order(session, number)
            order = load_order(session, number)
            row = self._request(session, order)
            row.state = state.value
            if option is not None:
                row.option = option.value
            if amount is not None:
                row.refund_amount = amount
                if refunded:
                    row.refunded = amount
            row.updated_at = self._clock.now()
            self._event(session, order, "cancellation", message, amount)

    def switch_to_full(self, number: str, *, confirmed: bool = False) -> DeskResult:
        """R48: the offer becomes a full refund in one step (before or after the half refund)."""
        with self._sessions() as session:
            order = load_order(session, number)
            row = self._request(session, order)
            state = RequestState(row.state)
            facts = self._facts(session, order)
            if row.option == Option.FULL.value:
                raise RuleViolation("すでに全額返金になっています。", code="R48")
            if state not in (
                RequestState.REPLIED,
                RequestState.OPEN,
                RequestState.AWAITING_RETURN,
                RequestState.RECEIVED,
                RequestState.REFUNDED,
                RequestState.REFUSED,
            ):
                raise RuleViolation(f"このキャンセル依頼は「{state.label}」のため切り替えられません。", code="R48")
            full = outcome_of(facts, Option.FULL).refund
            already = row.refunded
        if not confirmed:
            raise RuleViolation(f"全額返金({full:,}円)に切り替えるには確認が必要です(--yes)。", code="R48")
        draft = self._option_draft(number, Option.FULL, facts)
        if state is RequestState.REFUNDED:
            # The half refund was made: refund the rest now.
            rest = full - already
            self._refund(number, rest, "全額返金への切り替え(R48)")
            mail = self._deliver(number, draft)
            self._set_state(
                number,
                RequestState.REFUNDED,
                Option.FULL,
                full,
                f"全額返金に切り替え、残り{rest:,}円を返金しました(R48)。",
                refunded=True,
            )
            return DeskResult(
                number,
                "switch_full",
                RequestState.REFUNDED.value,
                f"残り{rest:,}円を返金しました。",
                rest,
                mail,
                draft.subject,
                draft.body,
            )
        next_state = (
            state if state in (RequestState.AWAITING_RETURN, RequestState.RECEIVED) else RequestState.AWAITING_RETURN
        )
        mail = self._deliver(number, draft)
        self._set_state(number, next_state, Option.FULL, full, f"全額返金({full:,}円)に切り替えました(R48)。")
        return DeskResult(
            number,
            "switch_full",
            next_state.value,
            f"全額返金({full:,}円)に切り替えました。",
            0,
            mail,
            draft.subject,
            draft.body,
        )

    # --- returns and resale (R46, R49) ----------------------------------------------------------

    def return_received(self, number: str) -> RequestView:
        """The returned item arrived: the refund may now be made (R46)."""
        with self._sessions.begin() as session:
            lock_order(session, number)
            order = load_order(session, number)
            row = self._request(session, order)
            if RequestState(row.state) is not RequestState.AWAITING_RETURN:
                raise RuleViolation(f"返品待ちではありません(現在: {RequestState(row.state).label})。", code="R46")
            row.state = RequestState.RECEIVED.value
            row.updated_at = self._clock.now()
            self._event(session, order, "return_received", "返品された商品を受け取りました(R46)。")
            return self._view(session, order, row)

    def return_refund(self, number: str, *, confirmed: bool = False) -> DeskResult:
        """Refund the agreed amount once the item is back (R46), through the payment service."""
        with self._sessions() as session:
            order = load_order(session, number)
            row = self._request(session, order)
            if RequestState(row.state) is RequestState.AWAITING_RETURN:
                raise RuleViolation("商品が届くまで返金はできません(届いたら kanjo returns received)。", code="R46")
            if RequestState(row.state) is not RequestState.RECEIVED:
                raise RuleViolation(
                    f"返金できる状態ではありません(現在: {RequestState(row.state).label})。", code="R46"
                )
            amount = (row.refund_amount or 0) - row.refunded
        if not confirmed:
            raise RuleViolation(f"{amount:,}円を返金するには確認が必要です(--yes)。", code="R46")
        message = self._refund(number, amount, "返品による返金")
        self._set_state(
            number, RequestState.REFUNDED, None, amount + self._refunded_before(number), message, refunded=True
        )
        return DeskResult(number, "return_refund", RequestState.REFUNDED.value, message, amount)

    def _refunded_before(self, number: str) -> int:
        with self._sessions() as session:
            return self._request(session, load_order(session, number)).refunded

    def _refund(self, number: str, amount: int, reason: str) -> str:
        """Refund through Amazon Pay (the payment service), or record it as done in Seller
        Central for a marketplace order (R61) / by the other payment method."""
        if amount <= 0:
            return "返金する額はありません。"
        with self._sessions() as session:
            order = load_order(session, number)
            amazon = self._amazon_pay(order)
            marketplace = order.kind == OrderKind.MARKETPLACE.value
        if amazon:
            result = self._payments.refund(number, amount, reason=reason)
            if not result.ok:
                raise RuleViolation(f"返金できませんでした: {result.message}", code="R46")
            return f"{amount:,}円を返金しました。"
        note = SELLER_CENTRAL_NOTE if marketplace else OTHER_METHOD_NOTE
        with self._sessions.begin() as session:
            lock_order(session, number)
            order = load_order(session, number)
            self._event(session, order, "refund_recorded", f"{amount:,}円の返金: {note}", amount)
        return f"{amount:,}円の返金を記録しました。{note}"

    def _cancel_order(self, number: str, reason: str) -> str:
        with self._sessions() as session:
            order = load_order(session, number)
            amazon = self._amazon_pay(order)
            canceled = order.order_status == OrderStatus.CANCELED.value
        if canceled:
            return "受注はキャンセル済みです。"
        if amazon:
            result = self._payments.cancel(number, reason=reason)
            if not result.ok:
                raise RuleViolation(f"キャンセルできませんでした: {result.message}", code="R35")
            return result.message
        with self._sessions.begin() as session:
            lock_order(session, number)
            order = load_order(session, number)
            marketplace = order.kind == OrderKind.MARKETPLACE.value
            order.order_status = OrderStatus.CANCELED.value
            note = SELLER_CENTRAL_NOTE if marketplace else OTHER_METHOD_NOTE
            self._event(session, order, "cancel_recorded", f"受注をキャンセルしました。{note}", order.total)
        return f"受注をキャンセルしました。{note}"

    def resale(self, number: str, amount: int, channel: str = "") -> int:
        """R49: a returned item sold again; returns the order's net result afterwards."""
        if amount < 0:
            raise BadInput("再販の金額にマイナスは指定できません。")
        with self._sessions.begin() as session:
            lock_order(session, number)
            order = load_order(session, number)
            session.add(
                Resale(
                    order_id=order.id,
                    amount=amount,
                    channel=channel.strip()[:64],
                    at=self._clock.now(),
                    operator=self.journal.operator,
                )
            )
            self._event(
                session,
                order,
                "resale",
                f"返品商品を{amount:,}円で再販しました({channel.strip() or '販路未記入'})。",
                amount,
            )
        return int(self.summary(number)["net_result"])

    # --- supplier failure (R50) ------------------------------------------------------------------

    def supplier_failure(self, number: str, *, confirmed: bool = False) -> DeskResult:
        """R50: apology signed with the operator's name, full refund with the reason 「その他」,
        cancel. Each step is journaled and remembered; calling again resumes where it stopped."""
        with self._sessions.begin() as session:
            lock_order(session, number)
            order = load_order(session, number)
            row = self._active(session, order)
            if row is None or row.kind != SUPPLIER or RequestState(row.state) in CLOSED_STATES:
                if order.order_status == OrderStatus.CANCELED.value:
                    raise RuleViolation(f"受注 {order.number} はすでにキャンセルされています。", code="R50")
                if not confirmed:
                    raise RuleViolation("お詫び・全額返金・キャンセルを行うには確認が必要です(--yes)。", code="R50")
                now = self._clock.now()
                row = CancellationRequest(
                    order_id=order.id,
                    kind=SUPPLIER,
                    requested_at=now,
                    channel="form",
                    note="仕入れ先の都合でお届けできない(R50)",
                    state=RequestState.OPEN.value,
                    refunded=0,
                    step="",
                    created_at=now,
                    updated_at=now,
                )
                session.add(row)
                self._event(
                    session,
                    order,
                    "supplier_failure",
                    "仕入れ先の都合でお届けできないため、お詫び・全額返金・キャンセルを始めます(R50)。",
                )
            step = row.step
        mail = ""
        if step == "":
            draft = self.draft(number, "supplier-apology")
            mail = self._deliver(number, draft)
            self._step(number, "apology", f"お詫びを送りました({draft.subject})。")
            step = "apology"
        if step == "apology":
            for pending in self._payments.pending(number):  # an interrupted refund: finish it, never send another
                if not pending.in_flight:
                    self._payments.recover(number)
                    break
            with self._sessions() as session:
                order = load_order(session, number)
                amazon = self._amazon_pay(order)
                open_amount = order.captured_amount - order.refunded_amount - _pending_refunds(session, order)
            if amazon and open_amount > 0:
                result = self._payments.refund(number, None, reason=SUPPLIER_REASON)
                if not result.ok:
                    raise RuleViolation(
                        f"返金できませんでした(もう一度実行すると続きから再開します): {result.message}", code="R50"
                    )
                refunded = result.amount
            elif not amazon:
                with self._sessions() as session:
                    refunded = load_order(session, number).total
                self._refund(number, refunded, SUPPLIER_REASON)
            else:
                refunded = 0
            crashpoint("supplier_failure:after_refund")
            self._step(number, "refund", f"全額返金しました(理由: {SUPPLIER_REASON})。", refunded)
            step = "refund"
        if step == "refund":
            self._cancel_order(number, SUPPLIER_REASON)
            self._step(number, "cancel", "受注をキャンセルしました(R50)。")
        with self._sessions.begin() as session:
            lock_order(session, number)
            order = load_order(session, number)
            row = self._request(session, order)
            row.state = RequestState.CANCELED.value
            row.option = Option.FULL.value
            row.updated_at = self._clock.now()
            refund_total = row.refunded
            order.updated_at = self._clock.now()
        return DeskResult(
            number,
            "supplier_failure",
            RequestState.CANCELED.value,
            "お詫び・全額返金・キャンセルが完了しました。",
            refund_total,
            mail,
        )

    def _step(self, number: str, step: str, message: str, amount: int | None = None) -> None:
        with self._sessions.begin() as session:
            lock_order(session, number)
            order = load_order(session, number)
            row = self._request(session, order)
            row.step = step
            if amount is not None:
                row.refund_amount = amount
                row.refunded = amount
            row.updated_at = self._clock.now()
            self._event(session, order, f"supplier_{step}", message, amount)

    # --- what the order shows -------------------------------------------------------------------

    def summary(self, number: str) -> dict[str, Any]:
        """``orders show --json``'s shipment, cancellation, resale and net result."""
        with self._sessions() as session:
            order = load_order(session, number)
            shipment = session.scalar(select(Shipment).where(Shipment.order_id == order.id))
            row = self._active(session, order)
            resale = int(
                session.scalar(select(func.coalesce(func.sum(Resale.amount), 0)).where(Resale.order_id == order.id))
                or 0
            )
            costs = session.get(OrderCost, order.id)
            amazon = self._amazon_pay(order)
            recorded = _recorded_refunds(session, order)
            canceled = order.order_status == OrderStatus.CANCELED.value
            if amazon:
                sales = order.captured_amount
                refunds = order.refunded_amount + _pending_refunds(session, order)
            else:
                sales = order.total if order.payment_method != "none" else 0
                refunds = recorded
            # Canceled before anything went out: the items are still in stock, they cost nothing.
            cost = 0 if canceled and shipment is None else sum(i.cost_price * i.quantity for i in order.items)
            return {
                "shipment": {
                    "carrier": shipment.carrier,
                    "carrier_label": carrier_label(shipment.carrier),
                    "tracking": shipment.tracking_number,
                    "tracking_url": tracking_url(shipment.carrier, shipment.tracking_number),
                    "shipped_at": shipment.shipped_at.isoformat(),
                }
                if shipment
                else None,
                "cancellation": {
                    "state": row.state,
                    "state_label": RequestState(row.state).label,
                    "option": row.option,
                    "kind": row.kind,
                    "refund_amount": row.refund_amount,
                }
                if row
                else None,
                "resale": resale,
                "net_result": net_result(
                    sales=sales, refunds=refunds, fees=costs.payment_fee if costs else 0, cost=cost, resale=resale
                ),
            }

    def needs_action(self) -> list[str]:
        """Orders with an open request or a return awaiting the item (the 要対応 filter)."""
        with self._sessions() as session:
            rows = session.execute(
                select(Order.number)
                .join(CancellationRequest, CancellationRequest.order_id == Order.id)
                .where(CancellationRequest.state.in_(ACTION_STATES))
                .order_by(Order.number)
            ).scalars()
            return list(dict.fromkeys(rows))


ACTION_STATES: Final = (
    RequestState.OPEN.value,
    RequestState.REPLIED.value,
    RequestState.AWAITING_RETURN.value,
    RequestState.RECEIVED.value,
)


def _pending_refunds(session: Session, order: Order) -> int:
    return int(
        session.scalar(
            select(func.coalesce(func.sum(Refund.amount), 0)).where(
                Refund.order_id == order.id, Refund.state == RefundState.REFUND_INITIATED.value
            )
        )
        or 0
    )


def _recorded_refunds(session: Session, order: Order) -> int:
    """Refunds recorded for an order whose money moves outside Amazon Pay (R61, other methods)."""
    from core.db.schema import JournalEntry

    return int(
        session.scalar(
            select(func.coalesce(func.sum(JournalEntry.amount), 0)).where(
                JournalEntry.order_number == order.number, JournalEntry.action == "refund_recorded"
            )
        )
        or 0
    )


def _skip_or_refuse(result: BulkResult, row: ShipLine, exc: UserError) -> None:
    """A shipping file's line that cannot ship: an order shipped already is skipped, not shipped
    twice; anything else is refused with its line and reason."""
    if isinstance(exc, AlreadyShipped):
        result.skipped += 1
        result.skipped_numbers.append(row.number)
    else:
        result.refused.append({"line": row.line, "number": row.number, "reason": exc.message})
