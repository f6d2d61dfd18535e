"""``kanjo settlements fetch|import FILE|list|show ID`` (issue 13)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from core.cli.command_group import CommandGroup
from core.cli.output import Parser, emit, line_text
from core.clock import format_jst
from core.errors import BadInput
from core.money import format_yen

if TYPE_CHECKING:
    from core.app import Kanjo

KIND_LABELS = {
    "amount_differs": "金額違い",
    "seller_central_refund": "Seller Centralでの返金",
    "unknown_capture": "記録のない売上",
    "chargeback": "チャージバック",
    "atoz_claim": "A-to-z保証申立て",
    "unmatched": "受注不明",
    "missing_capture": "精算漏れ",
}


def register(sub: Any) -> None:
    group = sub.add_parser("settlements", help="Amazon Payの精算(入金)レポート").add_subparsers(
        dest="settlements_command", parser_class=Parser
    )
    group.add_parser("fetch", help="Amazon Payから新しい精算レポートを読み込みます")
    group.add_parser("import", help="Seller Centralからダウンロードした精算レポートを読み込みます").add_argument(
        "file", metavar="FILE"
    )
    group.add_parser("list", help="読み込んだ精算の一覧")
    group.add_parser("show", help="精算の明細と要確認事項").add_argument("id", metavar="ID")


def _import_line(result: Any) -> str:
    if result.already_read:
        return f"{line_text(result.name)}: 読み込み済みのレポートです(追加なし、{result.rows_read}行)。"
    return (
        f"{line_text(result.name)}: {result.rows_read}行を読み、{result.rows_added}行を追加しました"
        f"(既知 {result.rows_read - result.rows_added}行、要確認 {result.problems}件)。"
    )


def run(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    from core.settlements.service import service_for

    service = service_for(app)
    command = args.settlements_command
    if command == "import":
        result = service.import_file(args.file)
        emit(as_json, result.to_json(), _import_line(result))
        return 0
    if command == "fetch":
        fetched = service.fetch()
        lines = [f"精算レポート {fetched.reports_seen}件中、新しい{len(fetched.imported)}件を読み込みました。"]
        lines.extend(_import_line(r) for r in fetched.imported)
        lines.append(f"入金(支払い)情報: {fetched.disbursements}件")
        emit(as_json, fetched.to_json(), "\n".join(lines))
        return 0
    if command == "list":
        summaries = service.summaries()
        text = "\n".join(
            f"{line_text(s.id)}  {format_jst(s.start)}〜{format_jst(s.end)}  "
            f"入金 {format_yen(s.deposit) if s.deposit is not None else '未確定'}  売上 {format_yen(s.captured)}  "
            f"返金 {format_yen(s.refunded)}  手数料 {format_yen(s.fees)}  {s.rows}行  要確認 {s.problems}件"
            for s in summaries
        )
        emit(as_json, [s.to_json() for s in summaries], text or "読み込んだ精算はありません。")
        return 0
    if command == "show":
        detail = service.show(args.id)
        s = detail.summary
        lines = [
            f"精算 {line_text(s.id)}  {format_jst(s.start)}〜{format_jst(s.end)}",
            f"売上 {format_yen(s.captured)}  返金 {format_yen(s.refunded)}  手数料 {format_yen(s.fees)}  "
            f"チャージバック等 {format_yen(s.chargebacks)}  その他 {format_yen(s.other)}  "
            f"入金 {format_yen(s.deposit) if s.deposit is not None else '未確定'}"
            + (f"  振込参照 {line_text(s.disbursement_reference)}" if s.disbursement_reference else ""),
        ]
        lines.extend(
            f"  {format_jst(r.posted_at)}  {line_text(r.transaction_type)}  {line_text(r.order_number or '-')}  "
            f"{format_yen(r.amount)}  手数料 {format_yen(r.fee)}  差引 {format_yen(r.net)}"
            for r in detail.rows
        )
        lines.extend(
            f"要確認: {KIND_LABELS.get(p.kind, p.kind)}  {line_text(p.order_number or '-')}  {line_text(p.message)}"
            for p in detail.problems
        )
        emit(as_json, detail.to_json(), "\n".join(lines))
        return 0
    raise BadInput("settlements の後に fetch, import, list, show のいずれかを指定してください。")


GROUP = CommandGroup(command="settlements", register=register, run=run)


def sandbox_settlement(control: Any, args: argparse.Namespace, as_json: bool) -> int:
    """``kanjo sandbox settlement close`` and ``kanjo sandbox settlement fee-rate PERCENT``."""
    if args.settlement_command == "close":
        report = control.close_settlement()
        emit(
            as_json,
            report,
            f"精算期間 {line_text(report['settlementId'])} を締めました(レポート {line_text(report['reportId'])})。",
        )
        return 0
    if args.settlement_command == "fee-rate":
        text = str(args.percent).strip().removesuffix("%").strip()
        try:
            rate = float(text)
        except ValueError:
            rate = -1.0
        if not 0.0 <= rate <= 100.0 or text.lower() in ("nan", "inf", "-inf"):
            raise BadInput(f"手数料率は0から100までの数で指定してください(例: 4.0): 「{line_text(args.percent)[:20]}」")
        control.settings(fee_rate_percent=rate)
        emit(as_json, {"fee_rate_percent": rate}, f"サンドボックスの手数料率を{rate:g}%にしました。")
        return 0
    raise BadInput("sandbox settlement の後に close または fee-rate を指定してください。")
