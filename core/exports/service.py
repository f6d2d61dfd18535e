"""``kanjo export orders|payments|settlements`` (issue 13 item 5): a date range for the accountant.

- orders: every order placed in the range, with its amounts and what Amazon charged and paid;
- payments: every money movement dated in the range — each capture, refund, Amazon fee (and fee
  given back), chargeback and A-to-z claim — one line each with its date;
- settlements: every settlement whose period ends in the range, with its deposit.

Dates are Japan dates, both ends included. Rows are read in pages, so memory stays flat.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import JST, Clock, to_utc
from core.db.schema import Charge, Customer, Order, Refund, Settlement, SettlementLine
from core.domain import OrderKind, OrderStatus
from core.errors import BadInput
from core.exports.writers import ENCODINGS, FORMATS, Cell, WriteResult, write_csv, write_xlsx
from core.queries import effective_payment_status

KINDS = ("orders", "payments", "settlements")
SHEETS = {"orders": "受注", "payments": "入出金", "settlements": "精算"}
PAGE = 2_000
MOVEMENT_LABELS = {
    "capture": "売上",
    "refund": "返金",
    "fee": "Amazon手数料",
    "Chargeback": "チャージバック",
    "A-to-z Guarantee Claim": "A-to-z保証申立て",
    "Adjustment": "調整",
}


def parse_day(text: str, option: str) -> date:
    value = text.strip().replace("/", "-")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadInput(f"{option} の日付を読めません: 「{text[:20]}」(例: 2026-11-01)") from None


def day_range(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, end+1 00:00) in Japan time, as UTC."""
    if end < start:
        raise BadInput("--to は --from と同じ日か、それより後の日付にしてください。")
    return (
        to_utc(datetime.combine(start, time(), JST)),
        to_utc(datetime.combine(end + timedelta(days=1), time(), JST)),
    )


class ExportService:
    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def export(
        self, kind: str, start: date, end: date, out: Path, *, fmt: str = "csv", encoding: str = "cp932"
    ) -> WriteResult:
        if kind not in KINDS:
            raise BadInput(f"書き出す内容は {', '.join(KINDS)} のいずれかです。")
        if fmt not in FORMATS:
            raise BadInput("--format は csv または xlsx です。")
        if encoding not in ENCODINGS:
            raise BadInput("--encoding は cp932 または utf-8-sig です。")
        if out.is_dir():
            raise BadInput(f"--out にはフォルダーではなくファイルを指定してください: {out}")
        low, high = day_range(start, end)
        header, rows = {
            "orders": self._orders,
            "payments": self._payments,
            "settlements": self._settlements,
        }[kind](low, high)
        try:
            if fmt == "xlsx":
                return write_xlsx(out, SHEETS[kind], header, rows)
            return write_csv(out, header, rows, encoding)
        except OSError as exc:
            raise BadInput(f"書き出し先に書き込めません: {out}") from exc

    def _orders(self, low: datetime, high: datetime) -> tuple[Sequence[str], Iterator[Sequence[Cell]]]:
        header = (
            "受注番号",
            "受注日時",
            "種別",
            "購入者",
            "受注ステータス",
            "与信ステータス",
            "合計",
            "売上確定",
            "返金",
            "Amazon手数料",
            "Amazon入金(差引)",
            "Charge Permission ID",
        )

        def rows() -> Iterator[Sequence[Cell]]:
            now = self._clock.now()
            after = 0
            fees = (
                select(
                    SettlementLine.order_id,
                    func.count().label("n"),
                    func.sum(SettlementLine.fee).label("fee"),
                    func.sum(SettlementLine.net).label("net"),
                )
                .group_by(SettlementLine.order_id)
                .subquery()
            )
            while True:
                with self._sessions() as session:
                    page = session.execute(
                        select(
                            Order.id,
                            Order.number,
                            Order.ordered_at,
                            Order.kind,
                            Customer.name,
                            Order.order_status,
                            effective_payment_status(now),
                            Order.total,
                            Order.captured_amount,
                            Order.refunded_amount,
                            fees.c.n,
                            fees.c.fee,
                            fees.c.net,
                            Order.charge_permission_id,
                        )
                        .join(Customer, Customer.id == Order.customer_id)
                        .outerjoin(fees, fees.c.order_id == Order.id)
                        .where(Order.ordered_at >= low, Order.ordered_at < high, Order.id > after)
                        .order_by(Order.id)
                        .limit(PAGE)
                    ).all()
                if not page:
                    return
                for r in page:
                    after = r[0]
                    settled = bool(r[10])
                    yield (
                        r[1],
                        r[2],
                        OrderKind(r[3]).label,
                        r[4],
                        OrderStatus(r[5]).label,
                        r[6] or "",
                        r[7],
                        r[8],
                        r[9],
                        -int(r[11]) if settled else None,
                        int(r[12]) if settled else None,
                        r[13] or "",
                    )

        return header, rows()

    def _payments(self, low: datetime, high: datetime) -> tuple[Sequence[str], Iterator[Sequence[Cell]]]:
        header = ("日時", "受注番号", "種類", "取引ID", "金額", "精算ID")

        def rows() -> Iterator[Sequence[Cell]]:
            moved: list[tuple[datetime, int, str, str, str, int, str]] = []
            # One date-ordered list from three queries (a range of movements is held for the sort).
            captured_at = func.coalesce(Charge.capture_requested_at, Charge.created_at)
            with self._sessions() as session:
                for when, number, charge_id, amount in session.execute(
                    select(captured_at, Order.number, Charge.id, Charge.captured_amount)
                    .join(Order, Order.id == Charge.order_id)
                    .where(Charge.captured_amount > 0, captured_at >= low, captured_at < high)
                ):
                    moved.append((to_utc(when), 0, number, "capture", charge_id, int(amount), ""))
                for when, number, refund_id, amount in session.execute(
                    select(Refund.created_at, Order.number, Refund.id, Refund.amount)
                    .join(Order, Order.id == Refund.order_id)
                    .where(Refund.state != "Declined", Refund.created_at >= low, Refund.created_at < high)
                ):
                    moved.append((to_utc(when), 1, number, "refund", refund_id, -int(amount), ""))
                for posted, number, kind, transaction, amount, fee, settlement in session.execute(
                    select(
                        SettlementLine.posted_at,
                        SettlementLine.order_number,
                        SettlementLine.transaction_type,
                        SettlementLine.transaction_id,
                        SettlementLine.amount,
                        SettlementLine.fee,
                        SettlementLine.settlement_id,
                    )
                    .where(SettlementLine.posted_at >= low, SettlementLine.posted_at < high)
                    .where(SettlementLine.transaction_type.in_(("Capture", "Refund", *MOVEMENT_LABELS)))
                ):
                    if posted is None:
                        continue
                    if fee:
                        moved.append((to_utc(posted), 2, number, "fee", transaction, int(fee), settlement))
                    if kind in ("Chargeback", "A-to-z Guarantee Claim", "Adjustment"):
                        moved.append((to_utc(posted), 3, number, kind, transaction, int(amount), settlement))
            moved.sort()
            for when, _order, number, kind, transaction, amount, settlement in moved:
                yield (when, number, MOVEMENT_LABELS[kind], transaction, amount, settlement)

        return header, rows()

    def _settlements(self, low: datetime, high: datetime) -> tuple[Sequence[str], Iterator[Sequence[Cell]]]:
        header = (
            "精算ID",
            "開始",
            "終了",
            "売上",
            "返金",
            "Amazon手数料",
            "チャージバック等",
            "その他",
            "入金額",
            "入金日",
            "振込参照",
        )

        def rows() -> Iterator[Sequence[Cell]]:
            with self._sessions() as session:
                found = session.scalars(
                    select(Settlement)
                    .where(Settlement.end_at >= low, Settlement.end_at < high)
                    .order_by(Settlement.end_at, Settlement.id)
                ).all()
            for s in found:
                yield (
                    s.id,
                    s.start_at,
                    s.end_at,
                    s.captured,
                    s.refunded,
                    s.fees,
                    s.chargebacks,
                    s.other,
                    s.deposit,
                    s.disbursed_at,
                    s.disbursement_reference or "",
                )

        return header, rows()
