"""``kanjo ship``, ``kanjo cancellation``, ``kanjo returns`` and ``kanjo resale`` (issue 15)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.cli.command_group import CommandGroup
from core.cli.output import Parser, emit, line_text, print_json
from core.clock import format_jst, parse_iso
from core.domain import OrderStatus
from core.errors import BadInput
from core.money import format_yen, parse_yen
from core.shipping.carriers import carrier_label

if TYPE_CHECKING:
    from core.app import Kanjo


def _register_ship(sub: Any) -> None:
    ship = sub.add_parser("ship", help="発送を登録します(承認済なら先に入金処理、発送通知も)")
    ship.add_argument("number", nargs="?", help="受注番号(--from-csv のときは不要)")
    ship.add_argument("--carrier", help="yamato / sagawa / japanpost / other")
    ship.add_argument("--tracking", help="送り状番号")
    ship.add_argument("--date", help="発送日(例: 2026-11-21、省略すると今日)")
    ship.add_argument("--notify", action="store_true", help="発送通知を送ります(SMTPの設定が必要)")
    ship.add_argument("--from-csv", metavar="FILE", help="発送ファイル(B2クラウド・e飛伝など、見出し行つきCSV)")
    ship.add_argument("--dry-run", action="store_true", help="--from-csv: 確認だけして何も変えません")
    ship.add_argument("--no-notify", action="store_true", help="--from-csv: 発送通知を送りません")
    ship.add_argument(
        "--mark",
        choices=("new", "preparing", "done"),
        help="受注ステータスだけを変えます(新規受付・発送準備中・処理済)",
    )


def _progress(done: int, total: int) -> None:
    sys.stderr.write(f"\r{done}/{total}")


def _run_ship(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    service = app.shipping
    if args.from_csv:
        if args.number or args.tracking:
            raise BadInput("--from-csv のときは受注番号と --tracking を指定しません。")
        result = service.ship_file(
            Path(args.from_csv),
            dry_run=args.dry_run,
            notify=not args.no_notify,
            default_carrier=args.carrier,
            progress=None if as_json else _progress,
        )
        if not as_json and not args.dry_run and result.planned:
            sys.stderr.write("\n")
        for row in result.refused:
            sys.stderr.write(f"kanjo: {row['line']}行目: {line_text(row['reason'])}\n")
        lines = []
        if args.dry_run:
            lines.append(f"確認のみ(何も変更していません): 発送予定 {len(result.planned)}件")
            lines += [
                f"  {line_text(p['number'])}: {carrier_label(p['carrier'])} {p['tracking']}"
                + (" (先に入金処理)" if p["capture"] else "")
                for p in result.planned
            ]
        else:
            lines.append(f"発送済 {result.shipped}件(入金処理 {result.captured}件、発送通知 {result.notified}件)")
        lines.append(f"発送済みのため飛ばした受注 {result.skipped}件、登録できなかった行 {len(result.refused)}件")
        if result.notice_note:
            lines.append(result.notice_note)
        emit(as_json, result.to_json(), "\n".join(lines))
        return 1 if result.refused else 0
    if args.mark:
        if not args.number or args.carrier or args.tracking:
            raise BadInput("--mark には受注番号だけを指定します(例: kanjo ship 1001 --mark preparing)。")
        status = OrderStatus(args.mark)
        service.set_order_status(args.number, status)
        emit(
            as_json,
            {"number": args.number, "order_status": status.value, "label": status.label},
            f"受注 {line_text(args.number)} を{status.label}にしました。",
        )
        return 0
    if not args.number or not args.carrier or not args.tracking:
        raise BadInput("受注番号、--carrier と --tracking を指定してください(または --from-csv ファイル)。")
    if args.dry_run or args.no_notify:
        raise BadInput("--dry-run と --no-notify は --from-csv のときだけ使えます。")
    from core.shipping.service import parse_ship_date

    shipped_on = parse_ship_date(args.date) if args.date else None
    shipped = service.ship(args.number, args.carrier, args.tracking, shipped_on=shipped_on, notify=args.notify)
    text = shipped.message
    if shipped.tracking_url:
        text += f"\n追跡: {shipped.tracking_url}"
    emit(as_json, shipped.to_json(), text)
    if shipped.notice_error:
        sys.stderr.write(f"kanjo: {line_text(shipped.notice_error)}\n")
    return 0


def _register_cancellation(sub: Any) -> None:
    desk = sub.add_parser("cancellation", help="キャンセル依頼の受付と対応(R44–R48, R50)").add_subparsers(
        dest="cancellation_command", parser_class=Parser
    )
    opener = desk.add_parser("open", help="キャンセル依頼を記録します")
    opener.add_argument("number")
    opener.add_argument("--at", help="依頼を受けた日時(ISO 8601、オフセットなしは日本時間。省略すると今)")
    opener.add_argument("--channel", default="mail", help="mail / phone / form")
    opener.add_argument("--note", default="", help="お客様のことば")
    desk.add_parser("options", help="全額返金・半額返金・お断りの結果を計算します(R47)").add_argument("number")
    desk.add_parser("show", help="キャンセル依頼の状態").add_argument("number")
    desk.add_parser("reply", help="最初の返信を送ります(24時間後はワンクッション, R45)").add_argument("number")
    resolver = desk.add_parser("resolve", help="選んだ対応で返信し、返金(または返品待ち)にします")
    resolver.add_argument("number")
    resolver.add_argument("--option", required=True, help="full / half / refuse")
    resolver.add_argument("--yes", action="store_true", help="返金を伴う対応を確定します")
    switch = desk.add_parser("switch-full", help="全額返金に切り替えます(R48)")
    switch.add_argument("number")
    switch.add_argument("--yes", action="store_true")
    supplier = desk.add_parser(
        "supplier-failure",
        help="仕入れ先の都合でお届けできない: お詫び・全額返金・キャンセル(R50、中断しても再実行で再開)",
    )
    supplier.add_argument("number")
    supplier.add_argument("--yes", action="store_true")


def _run_cancellation(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    service = app.shipping
    command = args.cancellation_command
    if command == "open":
        at = None
        if args.at:
            try:
                at = parse_iso(args.at)
            except ValueError:
                raise BadInput(f"--at「{args.at}」を日時として読めません(例: 2026-11-21T10:30)。") from None
        view = service.open_request(args.number, at=at, channel=args.channel, note=args.note)
        proposal = view.proposal.text if view.proposal else ""
        emit(as_json, view.to_json(), f"受注 {line_text(view.number)} のキャンセル依頼を記録しました。{proposal}")
        return 0
    if command == "options":
        found = service.options(args.number)
        lines = [
            f"{o.option.label:<16} 返金 {format_yen(o.refund):>10}  ショップの収支 {format_yen(o.shop_result):>10}"
            for o in found
        ]
        emit(as_json, [o.to_json() for o in found], "\n".join(lines))
        return 0
    if command == "show":
        current = service.request(args.number)
        if current is None:
            emit(as_json, None, "キャンセル依頼はありません。")
            return 0
        emit(
            as_json,
            current.to_json(),
            f"{current.state_label}(受付 {format_jst(current.requested_at)}、{current.option or '対応未定'})",
        )
        return 0
    if command == "reply":
        result = service.reply(args.number)
    elif command == "resolve":
        result = service.resolve(args.number, args.option, confirmed=args.yes)
    elif command == "switch-full":
        result = service.switch_to_full(args.number, confirmed=args.yes)
    elif command == "supplier-failure":
        result = service.supplier_failure(args.number, confirmed=args.yes)
    else:
        raise BadInput(
            "cancellation の後に open / options / show / reply / resolve / switch-full / supplier-failure を指定してください。"
        )
    text = result.message
    if result.mail == "manual":
        text += "\nSMTPが未設定のため、次の文面を「手動送信」として記録しました。コピーしてお送りください:\n"
        text += f"件名: {result.mail_subject}\n\n{result.mail_body}"
    elif result.mail == "failed":
        sys.stderr.write("kanjo: メッセージを送信できませんでした(受注の履歴に「送信失敗」として残っています)。\n")
    emit(as_json, result.to_json(), text)
    return 0


def _register_returns(sub: Any) -> None:
    returns = sub.add_parser("returns", help="返品の受け取りと返金(R46)").add_subparsers(
        dest="returns_command", parser_class=Parser
    )
    returns.add_parser("received", help="返品された商品が届きました").add_argument("number")
    refund = returns.add_parser("refund", help="届いた返品の返金をします")
    refund.add_argument("number")
    refund.add_argument("--yes", action="store_true")


def _run_returns(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    if args.returns_command == "received":
        view = app.shipping.return_received(args.number)
        amount = (view.refund_amount or 0) - view.refunded
        emit(
            as_json,
            view.to_json(),
            f"返品を受け取りました。返金できます: {format_yen(amount)}(kanjo returns refund {line_text(view.number)} --yes)",
        )
        return 0
    if args.returns_command == "refund":
        result = app.shipping.return_refund(args.number, confirmed=args.yes)
        emit(as_json, result.to_json(), result.message)
        return 0
    raise BadInput("returns の後に received または refund を指定してください。")


def _register_resale(sub: Any) -> None:
    resale = sub.add_parser("resale", help="返品商品の再販を記録します(R49)")
    resale.add_argument("number")
    resale.add_argument("--amount", required=True, help="売れた金額(円)")
    resale.add_argument("--channel", default="", help="販路(例: ヤフオク)")


def _run_resale(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    amount = parse_yen(args.amount, field="--amount")
    net = app.shipping.resale(args.number, amount, args.channel)
    data = {"number": args.number, "resale": amount, "channel": args.channel, "net_result": net}
    if as_json:
        print_json(data)
    else:
        emit(False, data, f"再販 {format_yen(amount)} を記録しました。受注の収支: {format_yen(net)}")
    return 0


GROUPS = (
    CommandGroup(command="ship", register=_register_ship, run=_run_ship),
    CommandGroup(command="cancellation", register=_register_cancellation, run=_run_cancellation),
    CommandGroup(command="returns", register=_register_returns, run=_run_returns),
    CommandGroup(command="resale", register=_register_resale, run=_run_resale),
)
GROUP = GROUPS[0]


def register_set_cost(orders: Any) -> None:
    """``kanjo orders set-cost`` (in the orders group of ``core/cli/__init__.py``)."""
    coster = orders.add_parser("set-cost", help="原価(商品ごと)・送料の実費・決済手数料・再販の見込み額を記録します")
    coster.add_argument("number")
    coster.add_argument("--sku", help="SKU(または商品名・1から数えた行番号)")
    coster.add_argument("--cost", help="--sku の商品1個あたりの原価(円)")
    coster.add_argument("--shipping-cost", help="この受注の送料の実費(円)")
    coster.add_argument("--payment-fee", help="決済手数料(円)")
    coster.add_argument("--resale-estimate", help="返品された場合の再販の見込み額(円)")


def run_set_cost(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    if (args.sku is None) != (args.cost is None):
        raise BadInput("--sku と --cost は一緒に指定してください。")
    extra = {
        "shipping_cost": args.shipping_cost,
        "payment_fee": args.payment_fee,
        "resale_estimate": args.resale_estimate,
    }
    if args.sku is None and all(v is None for v in extra.values()):
        raise BadInput(
            "--sku と --cost、または --shipping-cost / --payment-fee / --resale-estimate を指定してください。"
        )
    amounts = {k: parse_yen(v, field=f"--{k.replace('_', '-')}") for k, v in extra.items() if v is not None}
    cost = parse_yen(args.cost, field="--cost") if args.cost is not None else None
    lines = 0
    if args.sku is not None and cost is not None:
        lines = app.shipping.set_item_cost(args.number, args.sku, cost)
    if amounts:
        app.shipping.set_costs(args.number, **amounts)
    data: dict[str, Any] = {"number": args.number, "items": lines, **amounts}
    if cost is not None:
        data.update({"sku": args.sku, "cost": cost})
    emit(as_json, data, f"受注 {line_text(args.number)} の原価・費用を記録しました。")
    return 0
