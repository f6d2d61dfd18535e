"""The ``kanjo`` command line, over the same services as the window.

Errors print one Japanese line on stderr and exit non-zero; ``--json`` (before or after the
subcommand's own arguments) prints machine-readable results on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from core import __version__
from core.amount_rules import MAX_ORDER_TOTAL
from core.app import Kanjo, chosen_db_url, data_dir, default_db_url, open_app, secure_data_dir
from core.bug_log import write_bug_log
from core.cli.groups import GROUPS, GROUPS_BY_COMMAND
from core.cli.output import EXIT_BUG, EXIT_USAGE, EXIT_USER_ERROR
from core.cli.output import Parser as _Parser
from core.cli.output import emit as _emit
from core.cli.output import fail as _fail
from core.cli.output import line_text as _line
from core.cli.output import out as _out
from core.cli.output import print_json as _print_json
from core.cli.shipping import register_set_cost, run_set_cost
from core.clock import format_jst, parse_iso
from core.db.errors import store_error
from core.domain import OrderKind
from core.environment import LIVE, connection_environment
from core.environment import label as environment_label
from core.errors import BadInput, RuleViolation, UserError
from core.gateway import read_private_key
from core.journal import HELD, NOT_SENT, UNKNOWN
from core.money import format_yen, parse_yen
from core.services.orders import LineItem
from core.settings import CONNECTION_FIELDS, AppSettings, SettingsStore, coerce, connection_problem, parse_int

log = logging.getLogger("kanjo")

MAX_DEMO_ORDERS = 10_000
MAX_LIST_LIMIT = 10_000_000  # a larger --limit means "all of them" and is lowered to this
MAX_FAULT_COUNT = 10_000
EARLIEST_ORDER = datetime(2000, 1, 1, tzinfo=UTC)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kanjo", description="勘定 — Amazon Pay 受注デスク")
    parser.add_argument("--version", action="version", version=f"kanjo {__version__}")
    parser.add_argument("--db", metavar="URL", help="SQLAlchemyのデータベースURL(既定: データフォルダのSQLiteファイル)")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    sub.add_parser("init", help="データフォルダとデータベースを作成します")
    demo = sub.add_parser("demo", help="サンドボックスにデモ注文を作成します")
    demo.add_argument("--orders", default="26", metavar="N")
    demo.add_argument("--seed", default="1", metavar="S")

    orders = sub.add_parser("orders", help="受注の一覧と詳細").add_subparsers(
        dest="orders_command", parser_class=_Parser
    )
    listing = orders.add_parser("list", help="受注一覧")
    listing.add_argument("--status", metavar="LABEL", help="与信ステータスで絞り込み(例: 承認済)")
    listing.add_argument("--limit", metavar="N")
    show = orders.add_parser("show", help="受注の詳細")
    show.add_argument("number")
    adder = orders.add_parser("add", help="Charge Permission IDから受注を追加します(残りはAmazon Payから取得)")
    adder.add_argument("--charge-permission", required=True, metavar="ID")
    adder.add_argument("--number", metavar="N")
    adder.add_argument("--charge", action="append", default=[], metavar="ID")
    remover = orders.add_parser(
        "remove-sandbox", help="サンドボックス(内蔵を含む)の受注を一覧から削除します(記録は残ります)"
    )
    remover.add_argument("--yes", action="store_true", help="確認のうえ削除します(付けないと件数を表示するだけ)")
    linker = orders.add_parser(
        "link", help="未連携の受注をCharge Permissionと連携します(連携済みでCharge IDのない受注にはCharge IDを追加)"
    )
    linker.add_argument("number")
    linker.add_argument("--charge-permission", required=True, metavar="ID")
    linker.add_argument("--charge", action="append", default=[], metavar="ID")
    register_set_cost(orders)  # issue 15: cost prices and costs for R47 and the net result

    importer = sub.add_parser("import", help="ショップの受注ファイルを取り込みます")
    importer.add_argument("file")
    importer.add_argument(
        "--format", default="auto", help="auto, futureshop, eccube, shopify, amazon-orders, 保存した対応表の名前"
    )
    importer.add_argument("--encoding", default="auto", choices=["auto", "cp932", "utf-8", "utf-8-sig"])
    importer.add_argument("--dry-run", action="store_true", help="取り込まずに内容だけ確認します")
    importer.add_argument("--skip-bad", action="store_true", help="取り込めない行を除いて取り込みます")
    mapping = sub.add_parser("import-mapping", help="その他のCSVの列の対応表(--format 名前)").add_subparsers(
        dest="mapping_command", parser_class=_Parser
    )
    saver = mapping.add_parser("save", help="対応表を保存します(例: number=注文番号 ordered_at=注文日 total=合計)")
    saver.add_argument("name")
    saver.add_argument("columns", nargs="+", metavar="項目=列名")
    mapping.add_parser("list", help="保存した対応表の一覧")

    sub.add_parser("capture", help="入金処理(売上確定)").add_argument("number")
    sub.add_parser("reauth", help="再与信").add_argument("number")
    sub.add_parser("sync", help="Amazon Payの状態を取得").add_argument("number", nargs="?")
    sub.add_parser("recover", help="中断した決済処理を完了または報告します")

    amount = sub.add_parser("amount", help="売上確定前に受注金額を変更します(R26–R30)")
    amount.add_argument("number")
    amount.add_argument("yen")
    amount.add_argument(
        "--void-amazon", action="store_true", help="0円のときAmazonの取引情報を取り消す(取り消せません)"
    )
    amount.add_argument("--yes", action="store_true", help="取り消せない操作を確認済みとして実行します")
    refund = sub.add_parser("refund", help="返金(一部または全額)")
    refund.add_argument("number")
    how = refund.add_mutually_exclusive_group(required=True)
    how.add_argument("--amount", dest="refund_amount", metavar="YEN")
    how.add_argument("--full", action="store_true")
    refund.add_argument("--reason", default="")
    cancel = sub.add_parser("cancel", help="受注をキャンセルします(売上後は全額返金)")
    cancel.add_argument("number")
    cancel.add_argument("--void-amazon", action="store_true", help="Amazonの取引情報を取り消す(取り消せません)")
    cancel.add_argument("--yes", action="store_true", help="取り消せない操作を確認済みとして実行します")
    cancel.add_argument("--reason", default="")
    method = sub.add_parser("change-method", help="Amazon Payから他の決済方法へ変更します")
    method.add_argument("number")
    method.add_argument("method", help="credit_card, bank_transfer, cod, convenience_store, other")
    method.add_argument("--void-amazon", action="store_true")
    method.add_argument("--yes", action="store_true")
    sub.add_parser("clear-payment-date", help="入金日を取り消します(この端末の記録のみ)").add_argument("number")

    backup = sub.add_parser("backup", help="データベースのバックアップを作成します(backup list で一覧)")
    backup.add_argument("backup_action", nargs="?", choices=["list"], metavar="list")
    backup.add_argument("--out", metavar="FILE", help="バックアップの保存先(既定: データフォルダのbackups)")
    restore = sub.add_parser("restore", help="バックアップからデータベースを復元します(現在のデータは別名で残します)")
    restore.add_argument("file", metavar="FILE")
    restore.add_argument("--yes", action="store_true", help="表示した手順を確認済みとして復元します")

    store = sub.add_parser("store", help="データベースの移行").add_subparsers(
        dest="store_command", parser_class=_Parser, required=True
    )
    copier = store.add_parser("copy", help="SQLiteのデータベースを空のPostgreSQL(共有データベース)にコピーします")
    copier.add_argument("--to", required=True, metavar="URL", help="コピー先 postgresql+psycopg://USER@HOST:PORT/DB")

    settings = sub.add_parser("settings", help="設定").add_subparsers(dest="settings_command", parser_class=_Parser)
    settings.add_parser("show")
    setter = settings.add_parser("set")
    setter.add_argument("key")
    setter.add_argument("value")
    setter.add_argument(
        "more", nargs="*", metavar="KEY VALUE", help="同時に変更する項目(接続設定を一度に切り替えるとき)"
    )

    message = sub.add_parser("message", help="お客様へのメッセージ(テンプレート・作成・送信)").add_subparsers(
        dest="message_command", parser_class=_Parser
    )
    message.add_parser("templates", help="テンプレートの一覧(IDと題名)")
    render = message.add_parser("render", help="受注についてメッセージを作成して表示します(送信しません)")
    render.add_argument("template", help="テンプレートID(kanjo message templates で確認)")
    render.add_argument("number", help="受注番号")
    send = message.add_parser("send", help="メッセージを作成してSMTPで送信します")
    send.add_argument("template", help="テンプレートID")
    send.add_argument("number", help="受注番号")
    send.add_argument("--yes", action="store_true", help="表示した内容を確認済みとして送信します")
    send.add_argument("--manual", action="store_true", help="送信せず、手動送信として記録して文面を表示します")
    message.add_parser("history", help="受注のメッセージ履歴").add_argument("number")
    password = message.add_parser("password", help="SMTPのパスワードをOSのキーチェーンに保存します")
    password.add_argument("--stdin", action="store_true", help="標準入力の1行目をパスワードとして読みます")
    password.add_argument("--delete", action="store_true", help="保存したパスワードを削除します")

    sandbox = sub.add_parser("sandbox", help="ローカルのサンドボックス").add_subparsers(
        dest="sandbox_command", parser_class=_Parser
    )
    serve = sandbox.add_parser("serve", help="サンドボックスのサーバーを起動します")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", default="0")
    place = sandbox.add_parser("place-order", help="購入者としてAmazon Payで注文します")
    place.add_argument("--number", required=True)
    place.add_argument("--total", required=True)
    place.add_argument(
        "--kind", choices=[k.value for k in OrderKind if k is not OrderKind.MARKETPLACE], default="normal"
    )
    place.add_argument("--instrument", choices=["card", "gift", "gift+card"], default="card")
    place.add_argument("--ordered-at", metavar="ISO")
    place.add_argument("--pending", action="store_true", help="承認中のまま受け付けます")
    place.add_argument(
        "--extended-expiry",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="支払い許可の有効期限を13か月に延長します(既定)。--no-extended-expiry で180日(R54、通常・予約注文)",
    )
    place.add_argument("--member", action="store_true")
    place.add_argument("--every", metavar="1m|2w|30d", help="定期購入の周期(--kind subscription、issue 12)")
    place.add_argument("--rounds", metavar="N", help="頒布会の回数(初回を含む)")
    place.add_argument(
        "--no-store", action="store_true", help="Amazon Pay側の決済だけを作り、受注は保存しません(取込で登録)"
    )
    export = sandbox.add_parser("shop-export", help="サンドボックスの注文をショップの受注ファイルとして書き出します")
    export.add_argument("--format", required=True, choices=["futureshop", "eccube", "shopify", "amazon-orders"])
    export.add_argument("--out", required=True, metavar="FILE")
    export.add_argument("--encoding", choices=["cp932", "utf-8", "utf-8-sig"])
    buyer = sandbox.add_parser("buyer", help="購入者の操作").add_subparsers(dest="buyer_command", parser_class=_Parser)
    decline = buyer.add_parser("decline-next", help="次の与信(または売上・返金)を失敗させます")
    decline.add_argument("number")
    group = decline.add_mutually_exclusive_group(required=True)
    group.add_argument("--soft", action="store_const", const="soft", dest="decline_kind")
    group.add_argument("--hard", action="store_const", const="hard", dest="decline_kind")
    decline.add_argument("--on", choices=["auth", "capture", "refund"], default="auth")
    buyer.add_parser("fix-payment", help="購入者が支払い設定を修正します").add_argument("number")
    buyer.add_parser("close-subscription", help="購入者がAmazon Payで定期購入の支払い許可を終了します").add_argument(
        "number"
    )
    seller = sandbox.add_parser("seller-central", help="Seller Centralでの操作")
    seller.add_argument("action", choices=["refund", "increase", "capture", "chargeback"])
    seller.add_argument("number")
    seller.add_argument("--charge", metavar="ID")
    seller.add_argument("--amount")
    settle = sandbox.add_parser("settlement", help="精算期間と手数料(issue 13)").add_subparsers(
        dest="settlement_command", parser_class=_Parser
    )
    settle.add_parser("close", help="今の精算期間を今すぐ締めます")
    settle.add_parser("fee-rate", help="売上にかかる手数料率(%%)を設定します").add_argument("percent")
    fault = sandbox.add_parser("fault", help="障害を注入します").add_subparsers(
        dest="fault_command", parser_class=_Parser
    )
    add = fault.add_parser("add")
    add.add_argument("kind", choices=["429", "500", "503", "timeout"])
    add.add_argument("--count", default="1", metavar="N")
    add.add_argument("--rate", metavar="P")
    add.add_argument("--path", default="")
    fault.add_parser("clear")
    for command_group in GROUPS:
        command_group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None, *, open_window: Callable[[str | None], int] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in args_list
    args_list = [a for a in args_list if a != "--json"]
    args = build_parser().parse_args(args_list)
    if args.command is None:
        if open_window is None:
            build_parser().print_help()
            return EXIT_USAGE
        return open_window(args.db)
    try:
        return _run(args, as_json)
    except UserError as exc:
        _fail(exc.message)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        _fail("中断しました。")
        return 130
    except Exception as exc:
        return _unexpected(exc, args.db)


def _unexpected(exc: Exception, db_url: str | None) -> int:
    """A store failure the operator can act on (full, read-only, damaged …) is a one-line
    refusal (exit 1, core.db.errors); anything else is a bug: one line here, and the types and
    frames, never the values, in the 0600 error log (core.bug_log)."""
    try:
        mapped = store_error(exc, db_url or chosen_db_url())
    except Exception:  # the mapping must never turn a bug report into a traceback
        mapped = None
    if mapped is not None:
        sys.stderr.write(f"kanjo: {mapped.message}\n")
        return EXIT_USER_ERROR
    log_path = data_dir() / "kanjo-error.log"
    try:
        secure_data_dir()
        write_bug_log(log_path, exc)
    except OSError:
        pass
    sys.stderr.write(f"kanjo: 予期しないエラーが発生しました({type(exc).__name__})。詳細: {log_path}\n")
    return EXIT_BUG


def _read_numbers(args: argparse.Namespace) -> None:
    """Numbers typed as arguments, read before anything is opened (issue 10 item 9).

    argparse's ``type=int`` would take ①-free Unicode digits, 20-digit counts and ``nan``;
    each of these is refused here with a Japanese line and nothing is written.
    """
    command = args.command
    if command == "demo":
        args.orders = parse_int(args.orders, field="--orders", minimum=0, maximum=MAX_DEMO_ORDERS)
        args.seed = parse_int(args.seed, field="--seed", minimum=0, maximum=9999)
    elif command == "orders" and args.orders_command == "list" and args.limit is not None:
        args.limit = parse_int(args.limit, field="--limit", minimum=1, maximum=MAX_LIST_LIMIT, cap=True)
    elif command == "sandbox" and args.sandbox_command == "serve":
        args.port = parse_int(args.port, field="--port", minimum=0, maximum=65535)
    elif command == "sandbox" and args.sandbox_command == "fault" and args.fault_command == "add":
        args.count = parse_int(args.count, field="--count", minimum=1, maximum=MAX_FAULT_COUNT)
        args.rate = None if args.rate is None else _parse_rate(args.rate)


def _parse_rate(text: str) -> float:
    problem = BadInput("--rate には0から1までの数を指定してください(例: 0.2)。")
    value = text.translate(str.maketrans("０１２３４５６７８９．", "0123456789.")).strip()
    if not re.fullmatch(r"[0-9]*\.?[0-9]+|[0-9]+\.", value, re.ASCII):  # no nan, inf, 1e3, 1_0 or ٣
        raise problem
    rate = float(value)
    if not (math.isfinite(rate) and 0.0 <= rate <= 1.0):
        raise problem
    return rate


def _parse_ordered_at(text: str, now: datetime) -> datetime:
    problem = "--ordered-at には日時をISO 8601で指定してください(例: 2026-11-01T10:00:00+09:00)。"
    try:
        moment = parse_iso(text)
    except (ValueError, OverflowError) as exc:
        raise BadInput(problem) from exc
    if moment < EARLIEST_ORDER or moment > now:
        raise BadInput(f"--ordered-at には2000年以降、現在({format_jst(now)})までの日時を指定してください。")
    return moment


def _run(args: argparse.Namespace, as_json: bool) -> int:
    _read_numbers(args)
    if args.command == "sandbox" and args.sandbox_command == "serve":
        return _serve(args, as_json)
    if args.command in ("backup", "restore"):  # never through open_app: the store may be damaged or busy
        return _cmd_backup_restore(args, as_json)
    if args.command == "store":  # never through open_app: the source is only read, never migrated
        return _cmd_store_copy(args, as_json)
    with open_app(args.db) as app:
        handler = _HANDLERS.get(args.command) or GROUPS_BY_COMMAND[args.command].run
        return handler(app, args, as_json)


def _cmd_init(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    _emit(as_json, {"db": app.db_url, "data_dir": str(data_dir())}, f"データベースを用意しました: {app.db_url}")
    return 0


def _cmd_demo(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    from core.demo import seed_demo

    if args.orders < 0:
        raise BadInput("--orders には0以上の数を指定してください。")
    made = seed_demo(app, orders=args.orders, seed=args.seed)
    app.settings.save(demo_seeded=True)
    data = [{"number": o.number, "payment_status": o.payment_status} for o in made]
    _emit(as_json, data, f"デモ注文を{len(made)}件作成しました。")
    return 0


def _cmd_orders(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    if args.orders_command == "list":
        rows = app.orders.list(status=args.status, limit=args.limit)
        if as_json:
            _print_json([r.to_json() for r in rows])
            return 0
        lines = [
            f"{'受注番号':<12}{'受注日時(JST)':<18}{'合計':>12}  {'与信ステータス':<12}{'受注ステータス':<8}  購入者"
        ]
        for row in rows:
            # Issue 11 item 8: an order of another environment than the connection is tagged.
            tag = f" [{environment_label(row.environment)}・送信しません]" if row.other_environment else ""
            lines.append(
                f"{_line(row.number):<12}{format_jst(row.ordered_at):<18}{format_yen(row.total):>12}  "
                f"{_line(row.payment_status or '決済なし'):<12}{_line(row.order_status):<8}  "
                f"{_line(row.customer_name)} {_line(row.auth_expiry)}{tag}"
            )
        lines.append(f"{len(rows)}件")
        other = sum(1 for row in rows if row.other_environment)
        if other:
            lines.append(
                f"うち{other}件は現在の接続先({environment_label(app.orders.connection_environment())})"
                "とは別の環境の受注です。Amazon Payへは送信しません"
                "(削除するには kanjo orders remove-sandbox)。"
            )
        _out("\n".join(lines))
        return 0
    if args.orders_command == "set-cost":
        return run_set_cost(app, args, as_json)
    if args.orders_command == "show":
        detail = app.orders.detail(args.number)
        if as_json:  # issue 15: shipment, cancellation, resale, net_result; 12: contract, round; 13: amazon_fee, net
            from core.settlements.service import service_for

            round_of = app.subscriptions.round_of(detail.number)
            _print_json(
                {
                    **detail.to_json(),
                    **app.shipping.summary(detail.number),
                    "subscription_id": round_of[0] if round_of else None,
                    "round": round_of[1] if round_of else None,
                    **service_for(app).order_money(detail.number).to_json(),
                }
            )
            return 0
        d = detail
        out = [
            f"受注番号: {_line(d.number)}  ({_line(d.kind_label)})",
            f"受注日時: {format_jst(d.ordered_at)}",
            f"与信ステータス: {_line(d.payment_status or '決済なし')}   受注ステータス: {_line(d.order_status)}",
            f"購入者: {_line(d.customer_name)} <{_line(d.customer_email)}>",
            f"お届け先: 〒{_line(d.ship_postal_code)} {_line(d.ship_prefecture)}{_line(d.ship_address)}",
            f"合計: {format_yen(d.total)}  与信: {format_yen(d.authorized)}  "
            f"売上: {format_yen(d.captured)}  返金: {format_yen(d.refunded)}",
            f"取込元: {_line(d.source)}  環境: {_line(environment_label(d.environment))}  Amazon Pay: "
            + (
                f"連携済 {_line(d.charge_permission_id)}"
                + ("(Charge ID未連携: orders link で追加してください)" if d.charges_unknown else "")
                if d.linked
                else ("未連携" if d.payment_method == "amazon_pay" and d.kind != "marketplace" else "対象外")
            ),
        ]
        if d.other_environment:  # issue 11 item 8
            out.append(f"注意: {_line(d.environment_note)}")
        if d.shop_total_mismatch is not None:
            out.append(
                f"注意: ショップのファイルの合計({format_yen(d.shop_total_mismatch)})がAmazon Payの金額と異なります。"
            )
        out.extend(f"  与信 {_line(c.id)}  {format_yen(c.amount)}  {_line(c.label)}" for c in d.charges)
        out.extend(f"  返金 {_line(f.id)}  {format_yen(f.amount)}  {_line(f.label)}" for f in d.refunds)
        if d.reauth_message:
            out.append(f"再与信エラー: {_line(d.reauth_message)}")
        out.extend(
            f"  メッセージ {format_jst(m.sent_at or m.created_at)}  {_line(m.status_label)}  {_line(m.subject)}"
            for m in getattr(d, "messages", ())
        )
        if d.sync_error:
            out.append(f"同期エラー: {_line(d.sync_error)}")
        if not d.can_capture:
            out.append(f"入金処理不可: {_line(d.capture_blocked_reason)}")
        _out("\n".join(out))
        return 0
    if args.orders_command == "add":
        number = app.imports.add_by_charge_permission(args.charge_permission, args.number, args.charge)
        detail = app.orders.detail(number)
        _emit(
            as_json, detail.to_json(), f"受注 {_line(number)} を追加しました({detail.payment_status or '決済なし'})。"
        )
        return 0
    if args.orders_command == "remove-sandbox":
        return _remove_sandbox(app, args, as_json)
    if args.orders_command == "link":
        app.imports.link(args.number, args.charge_permission, args.charge)
        detail = app.orders.detail(args.number)
        _emit(
            as_json,
            detail.to_json(),
            f"受注 {_line(detail.number)} をAmazon Payと連携しました({detail.payment_status or '決済なし'})。",
        )
        return 0
    raise BadInput("orders の後に list, show, add, link, remove-sandbox のいずれかを指定してください。")


def _remove_sandbox(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    """Issue 11 item 8: the test orders (sandbox and built-in sandbox) go, the journal stays.

    Without ``--yes`` it says how many and which would go, changes nothing and exits 1 with the
    hint; with it they are removed in one transaction. An order with a money call in flight or
    in doubt is kept (named on stderr, exit 1).
    """
    removal = app.orders.remove_sandbox_orders(dry_run=not args.yes)
    if not args.yes:
        if as_json:
            _print_json(removal.to_json())
        else:
            _out(
                f"削除の対象: サンドボックスの受注{removal.describe()}"
                + "".join(f"\n  {_line(n)}" for n in removal.numbers)
            )
        for number, reason in removal.kept:
            _fail(f"{_line(number)}: {reason}")
        if not removal.numbers:
            _fail("削除するサンドボックスの受注はありません。")
            return EXIT_USER_ERROR
        _fail(
            f"まだ何も削除していません。サンドボックスの受注{removal.count}件を一覧から削除するには --yes を付けて"
            "実行してください(kanjo orders remove-sandbox --yes。操作の記録は残ります)。"
        )
        return EXIT_USER_ERROR
    _emit(
        as_json,
        removal.to_json(),
        f"サンドボックスの受注{removal.describe()}を一覧から削除しました(操作の記録は残ります)。",
    )
    for number, reason in removal.kept:
        _fail(f"{_line(number)}: {reason}")
    return EXIT_USER_ERROR if removal.kept else 0


def _cmd_import(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    from pathlib import Path

    from core.imports.mapping import BUILTIN_NAMES

    path = Path(args.file)
    if args.format not in BUILTIN_NAMES and args.format not in (saved := app.imports.mappings()):
        # A format name is an argument: a wrong one is a usage error (exit 2) listing the choices.
        names = "、".join(_line(name) for name in sorted(saved)) or "なし"
        _fail(
            f"引数が正しくありません: 形式「{_line(args.format)}」はありません"
            f"(選べるのは {', '.join(BUILTIN_NAMES)}、保存した対応表: {names})。"
        )
        return EXIT_USAGE
    try:
        summary = app.imports.import_file(
            path, format=args.format, encoding=args.encoding, dry_run=args.dry_run, skip_bad=args.skip_bad
        )
    except BadInput as exc:
        checked = getattr(exc, "summary", None)
        if as_json and checked is not None:
            _print_json(checked.to_json())  # the rows are in it; stderr keeps the one-line refusal
        else:
            # Refused rows block the import: each one on stderr before the one-line refusal.
            _print_refused(getattr(exc, "refused", ()))
        raise
    data = summary.to_json()
    if as_json:
        _print_json(data)
    else:
        head = "取込の確認(まだ何も書き込んでいません)" if args.dry_run else "取込結果"
        _out(
            f"{head}: 形式 {_line(summary.format)} / 文字コード {_line(summary.encoding)}\n"
            f"追加 {summary.added}件  更新 {summary.updated}件  変更なし {summary.unchanged}件  "
            f"連携 {summary.linked}件  未連携 {summary.unlinked}件  除外 {len(summary.refused)}件"
            + ("\n途中で中止しました。" if summary.cancelled else "")
            + "".join(f"\n要対応 受注 {_line(n.number)}({n.line}行目): {_line(n.reason)}" for n in summary.notices)
        )
        _print_refused(summary.refused)
    if summary.refused and not args.dry_run and not args.skip_bad:
        # Every row passed the check, but another import or operator changed these orders before
        # they were written (the write pass checks again under the lock): the rest is in.
        sys.stderr.write(
            f"kanjo: 取込中に他の処理と競合したため、{len(summary.refused)}件を取り込めませんでした"
            "(ほかの受注は取り込み済みです)。もう一度取り込んでください。\n"
        )
        return EXIT_USER_ERROR
    return 0


def _cmd_import_mapping(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    from core.imports.mapping import ColumnMapping

    if args.mapping_command == "save":
        columns: dict[str, str] = {}
        for pair in args.columns:
            key, sep, header = pair.partition("=")
            if not sep or not key.strip() or not header.strip():
                raise BadInput(f"「{pair}」は「項目=列名」の形で指定してください(例: number=注文番号)。")
            columns[key.strip()] = header.strip()
        saved = ColumnMapping(name=args.name.strip(), columns=columns)
        app.imports.save_mapping(saved)
        _emit(as_json, {"name": saved.name, "columns": saved.columns}, f"対応表「{_line(saved.name)}」を保存しました。")
        return 0
    if args.mapping_command == "list":
        found = app.imports.mappings()
        data = [{"name": name, "columns": m.columns} for name, m in sorted(found.items())]
        _emit(as_json, data, "\n".join(_line(name) for name in sorted(found)) or "保存した対応表はありません。")
        return 0
    raise BadInput("import-mapping の後に save または list を指定してください。")


def _print_refused(refused: Sequence[Any]) -> None:
    for row in refused:
        column = f" [{_line(row.column)}]" if row.column else ""
        sys.stderr.write(f"kanjo: {row.line}行目{column}: {_line(row.reason)}\n")


def _exit_code(result: Any) -> int:
    return 0 if result.ok else EXIT_USER_ERROR if result.outcome != "unknown" else 3


def _operation(result: Any, as_json: bool, extra: dict[str, Any] | None = None) -> int:
    """An operation's outcome: JSON (or, on success, the message) on stdout; a refusal or failure
    also says why in one line on stderr (issue 10 item 4), with or without ``--json``."""
    code = _exit_code(result)
    if as_json:
        _print_json({**result.to_json(), **(extra or {})})
    elif code == 0:
        _out(_line(result.message))
    if code != 0:
        _fail(result.message or f"処理できませんでした({result.outcome})。")
    return code


def _cmd_capture(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    return _operation(app.payments.capture(args.number), as_json)


def _cmd_reauth(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    return _operation(app.payments.reauthorize(args.number), as_json)


def _cmd_sync(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    results = [app.sync.sync_order(args.number)] if args.number else app.sync.sync_all()
    failed = [r for r in results if not r.ok]
    skipped = [r for r in results if r.skipped]  # another environment's orders (issue 11 item 8)
    if args.number and skipped:
        _fail(f"{_line(skipped[0].order_number)}: {_line(skipped[0].message)}")
        return EXIT_USER_ERROR
    if as_json:
        _print_json([r.to_json() for r in results] if not args.number else results[0].to_json())
    else:
        for r in failed:
            _out(f"{_line(r.order_number)}: {_line(r.message)}")
        _out(
            f"{len(results) - len(failed) - len(skipped)}件の状態を取得しました。"
            + (f" {len(failed)}件失敗" if failed else "")
            + (f" {len(skipped)}件は接続先と別の環境の受注のため送信していません(スキップ)" if skipped else "")
        )
    for notice in app.subscriptions.notice_closed():  # issue 12: a buyer ended a subscription at Amazon
        _out(f"お知らせ: {_line(notice)}")
    if not failed:
        return 0
    first = f"{_line(failed[0].order_number)}: {_line(failed[0].message)}"
    _fail(first if len(failed) == 1 else f"{len(failed)}件の状態を取得できませんでした(最初の1件 {first})")
    return EXIT_USER_ERROR


def _cmd_amount(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    total = parse_yen(args.yen, field="金額")
    change = app.payments.amount_preview(args.number, total, void_amazon=args.void_amazon)
    if change.allowed and change.needs_confirmation and not args.yes:  # a total of 0 (R34)
        lead = "取り消せない操作です" if args.void_amazon else "確認が必要な変更です"
        raise UserError(f"{lead}。内容を確認し --yes を付けて実行してください: " + " ".join(change.consequences))
    return _operation(
        app.payments.change_amount(args.number, total=total, void_amazon=args.void_amazon, confirmed=args.yes),
        as_json,
    )


def _cmd_refund(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    amount = None if args.full else parse_yen(args.refund_amount, field="--amount", allow_zero=False)
    plan = app.payments.refund_preview(args.number, amount)
    result = app.payments.refund(args.number, amount, args.reason)
    allocation = [{"charge_id": line.charge_id, "amount": line.amount} for line in plan.lines]
    if not as_json and result.ok:  # a refused refund says only why, on stderr (issue 10 item 4)
        for line in plan.lines:
            _out(f"  {_line(line.charge_id)}: {format_yen(line.amount)}")
    return _operation(result, as_json, {"allocation": allocation})


def _confirm(plan: Any, yes: bool) -> None:
    """Irreversible steps need --yes; without it nothing happens and the consequences are named."""
    if plan.needs_confirmation and not yes:
        raise UserError(
            "取り消せない操作です。内容を確認し --yes を付けて実行してください: " + " ".join(plan.irreversible)
        )


def _cmd_cancel(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    plan = app.payments.cancel_preview(args.number, void_amazon=args.void_amazon)
    _confirm(plan, args.yes)
    result = app.payments.cancel(args.number, void_amazon=args.void_amazon, confirmed=args.yes, reason=args.reason)
    return _operation(result, as_json, {"plan": plan.to_json()})


def _cmd_change_method(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    plan = app.payments.change_method_preview(args.number, args.method, void_amazon=args.void_amazon)
    _confirm(plan, args.yes)
    result = app.payments.change_method(args.number, args.method, void_amazon=args.void_amazon, confirmed=args.yes)
    return _operation(result, as_json, {"plan": plan.to_json()})


def _cmd_clear_payment_date(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    return _operation(app.payments.clear_payment_date(args.number), as_json)


def _cmd_recover(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    results = app.payments.recover()
    unsettled = [r for r in results if r.outcome in (UNKNOWN, NOT_SENT, HELD)]  # the operator must look
    if as_json:
        _print_json([r.to_json() for r in results])
    elif not results:
        _out("中断した決済処理はありません。")
    else:
        for r in results:
            _out(f"{_line(r.order_number)} {_line(r.action)}: {_line(r.message or r.outcome)}")
    if not unsettled:
        return 0
    first = unsettled[0]
    _fail(
        f"{len(unsettled)}件の決済処理がまだ完了していません(最初の1件 {_line(first.order_number)} {_line(first.action)}: "
        f"{_line(first.message or first.outcome)})。kanjo orders show で確認してください。"
    )
    return EXIT_USER_ERROR


def _cmd_settings(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    if args.settings_command == "set":
        typed = [args.key, args.value, *args.more]
        if len(typed) % 2:
            raise BadInput("設定は「項目 値」の組で指定してください(例: kanjo settings set smtp_port 587)。")
        changes: dict[str, Any] = {}
        for key, text in zip(typed[::2], typed[1::2], strict=True):
            changes[key] = value = coerce(key, text)
            if key == "amazon_private_key_path" and value:
                read_private_key(value)  # refuse a file that holds no usable key, before saving it
        if CONNECTION_FIELDS_SET & changes.keys():
            # The environment and the keys must agree after the change (issue 10 item 3).
            problem = connection_problem(replace(app.settings.load(), **changes), saving=True)
            if problem is not None:
                hint = ""
                if len(changes) == 1:
                    hint = " 複数の項目は一度に変更できます(例: kanjo settings set amazon_public_key_id LIVE-… amazon_environment live)。"
                raise BadInput(problem + hint)
        before = connection_environment(app.settings.load())
        app.settings.save(**changes)
        after = connection_environment(app.settings.load())
        if after == LIVE and before != LIVE:
            left = app.orders.sandbox_order_count()
            if left:  # issue 11 item 8: going live offers to remove the test orders
                _fail(
                    f"サンドボックスの受注が{left}件残っています(本番では送信されません)。一覧から削除するには"
                    " kanjo orders remove-sandbox --yes を実行してください(操作の記録は残ります)。"
                )
    values = SettingsStore.as_dict(app.settings.load())
    _emit(as_json, values, "\n".join(f"{k} = {v}" for k, v in values.items()))
    return 0


def _message_text(draft: Any) -> str:
    return f"宛先: {_line(draft.to_name)} <{_line(draft.to_email)}>\n件名: {_line(draft.subject)}\n\n{draft.body}"


def _cmd_message(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    import dataclasses

    command = args.message_command
    if command == "templates":
        templates = app.messages.templates()
        lines = [f"{_line(t.id):<24}{'[標準] ' if t.builtin else ''}{_line(t.title)}" for t in templates]
        _emit(as_json, [t.to_json() for t in templates], "\n".join(lines))
        return 0
    if command == "render":
        draft = app.messages.render(args.template, args.number)
        _emit(as_json, draft.to_json(), _message_text(draft))
        return 0
    if command == "send":
        draft = app.messages.render(args.template, args.number)
        fields: dict[str, Any] = {
            "template_id": draft.template_id,
            "template_version": draft.template_version,
            "subject": draft.subject,
            "body": draft.body,
        }
        if args.manual:
            record = app.messages.record_manual(draft.order_number, **fields)
            _emit(
                as_json,
                {**draft.to_json(), "message": dataclasses.asdict(record)},
                _message_text(draft)
                + "\n手動送信として記録しました。この文面をお使いのメールソフトから送ってください。",
            )
            return 0
        if not args.yes:
            _out(_message_text(draft))
            raise UserError("まだ送信していません。内容を確認し、--yes を付けて実行すると送信します。")
        record = app.messages.send(draft.order_number, **fields)
        _emit(
            as_json,
            {**draft.to_json(), "message": dataclasses.asdict(record)},
            f"{_line(draft.to_email)} へ送信しました(受注 {_line(draft.order_number)} の履歴に記録しました)。",
        )
        return 0
    if command == "history":
        records = app.messages.history(args.number)
        lines = [
            f"{format_jst(m.sent_at or m.created_at)}  {_line(m.status_label)}  {_line(m.subject)}"
            + (f"  ({_line(m.error)})" if m.error else "")
            for m in records
        ]
        _emit(as_json, [dataclasses.asdict(m) for m in records], "\n".join(lines) or "メッセージはまだありません。")
        return 0
    if command == "password":
        if args.delete:
            app.messages.delete_smtp_password()
            _emit(as_json, {"ok": True}, "SMTPのパスワードを削除しました。")
            return 0
        if args.stdin or not sys.stdin.isatty():
            secret = sys.stdin.readline().rstrip("\r\n")
        else:
            import getpass

            secret = getpass.getpass("SMTPのパスワード: ")
        app.messages.set_smtp_password(secret)
        _emit(as_json, {"ok": True}, "SMTPのパスワードをOSのキーチェーンに保存しました(データベースには保存しません)。")
        return 0
    raise BadInput("message の後に templates, render, send, history, password のいずれかを指定してください。")


def _cmd_sandbox(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    control = app.gateway().control
    if control is None:
        raise UserError("Amazon Payの認証情報が設定されているため、サンドボックスの操作はできません。")
    command = args.sandbox_command
    if command == "place-order":
        # Everything is checked before the checkout reaches the sandbox: a refusal after it
        # would leave an authorized Charge Permission that no order points to (issue 10, item 12).
        number = app.orders.check_new_number(args.number)
        total = parse_yen(args.total, field="--total", allow_zero=False)
        if total > MAX_ORDER_TOTAL:
            raise RuleViolation("Amazon Payで決済できる金額は1円から10,000,000円までです。", code="R5")
        ordered_at = _parse_ordered_at(args.ordered_at, app.clock.now()) if args.ordered_at else None
        every = _subscription_terms(args)
        if args.no_store and args.member:
            raise BadInput("--member は --no-store と一緒には指定できません(会員情報は取込で登録します)。")
        placed = control.checkout(
            number=number,
            total=total,
            kind=args.kind,
            instrument=args.instrument,
            ordered_at=ordered_at,
            pending=args.pending,
            extended_expiry=args.extended_expiry,
        )
        if args.no_store:
            # Issue 11 item 7: the checkout exists at Amazon only; the order arrives by import.
            data = {
                "number": number,
                "charge_permission_id": placed["chargePermissionId"],
                "charge_ids": [placed["chargeId"]] if placed.get("chargeId") else [],
            }
            _emit(
                as_json,
                data,
                f"サンドボックスで注文 {_line(number)} の決済を作成しました(受注は保存していません): "
                f"{_line(placed['chargePermissionId'])}",
            )
            return 0
        detail = app.orders.receive_checkout(
            number=number,
            kind=OrderKind(args.kind),
            charge_permission_id=placed["chargePermissionId"],
            charge_id=placed["chargeId"],
            items=[LineItem("ご注文商品", total, 1, 0)],
            ordered_at=ordered_at,
            member=args.member,
        )
        data = detail.to_json()
        text = f"受注 {_line(detail.number)} を受け付けました({detail.payment_status})。"
        if every is not None:  # issue 12: the subscription contract starts with this checkout
            contract = app.subscriptions.create(number, every[0], rounds_total=every[1])
            data["subscription_id"] = contract.id
            text += f" 定期購入 {contract.id}({contract.every_label}、次回{contract.next_date.isoformat()})"
        _emit(as_json, data, text)
        return 0
    if command == "shop-export":
        return _shop_export(control.checkouts(), args, as_json)
    if command == "buyer":
        buyer_order = app.orders.detail(args.number)  # unknown order → clear message
        if args.buyer_command == "close-subscription":
            control.close_subscription(args.number, buyer_order.charge_permission_id)
            _emit(as_json, {"ok": True}, f"{_line(args.number)}: 購入者がAmazon Payで定期購入を終了しました。")
        elif args.buyer_command == "decline-next":
            control.decline_next(
                args.number, args.decline_kind, args.on, charge_permission_id=buyer_order.charge_permission_id
            )
            _emit(as_json, {"ok": True}, f"{_line(args.number)}: 次の処理を{args.decline_kind}で失敗させます。")
        elif args.buyer_command == "fix-payment":
            control.fix_payment(args.number, charge_permission_id=buyer_order.charge_permission_id)
            _emit(as_json, {"ok": True}, f"{_line(args.number)}: 購入者が支払い設定を修正しました。")
        else:
            raise BadInput("buyer の後に decline-next、fix-payment、close-subscription のいずれかを指定してください。")
        return 0
    if command == "seller-central":
        app.orders.detail(args.number)
        amount = parse_yen(args.amount, field="--amount", allow_zero=False) if args.amount is not None else None
        if amount is None and args.action != "capture":
            raise BadInput("--amount を指定してください。")
        result = control.seller_central(args.action, args.number, amount, args.charge)
        _emit(as_json, result, f"Seller Centralで{args.action}を行いました。")
        return 0
    if command == "settlement":
        from core.cli.settlements import sandbox_settlement

        return sandbox_settlement(control, args, as_json)
    if command == "fault":
        if args.fault_command == "add":
            control.add_fault(args.kind, count=args.count, rate=args.rate, path=args.path)
        elif args.fault_command == "clear":
            control.clear_faults()
        else:
            raise BadInput("fault の後に add または clear を指定してください。")
        _emit(as_json, {"ok": True}, "障害設定を更新しました。")
        return 0
    raise BadInput(
        "sandbox の後に serve, place-order, shop-export, buyer, seller-central, settlement, fault のいずれかを指定してください。"
    )


_EXPORT_ENCODINGS = {"futureshop": "cp932", "eccube": "cp932", "shopify": "utf-8", "amazon-orders": "utf-8"}


def _subscription_terms(args: argparse.Namespace) -> tuple[str, int | None] | None:
    """``--every`` / ``--rounds`` of ``place-order`` (issue 12), checked before the checkout."""
    if args.every is None:
        if args.rounds is not None:
            raise BadInput("--rounds は --every と一緒に指定してください。")
        return None
    if args.kind != OrderKind.SUBSCRIPTION.value:
        raise BadInput("--every は --kind subscription の注文にだけ指定できます。")
    if args.no_store:
        raise BadInput(
            "--every は --no-store と一緒には指定できません(定期購入は取込後に subscriptions add で登録します)。"
        )
    from core.cli.subscriptions import parse_rounds
    from core.subscriptions.rules import Frequency

    try:
        Frequency.parse(args.every)
    except ValueError as exc:
        raise BadInput(str(exc)) from exc
    rounds = parse_rounds(args.rounds)
    if rounds is not None and not 2 <= rounds <= 120:
        raise BadInput("頒布会の回数は2から120までで指定してください(初回の注文を含みます)。")
    return args.every, rounds


def _checkout_kind(placed: dict[str, Any]) -> str:
    """The kind the buyer's checkout was placed as (R2); a sandbox state made before kinds were
    kept knows only the permission's type."""
    kind = placed.get("kind")
    if kind in ("normal", "reservation", "subscription"):
        return str(kind)
    return "subscription" if placed["chargePermissionType"] == "Recurring" else "normal"


def _shop_export(checkouts: Sequence[dict[str, Any]], args: argparse.Namespace, as_json: bool) -> int:
    """Issue 11, item 7: the sandbox's checkouts as the chosen shop system would export them."""
    from pathlib import Path

    from core.imports.model import ImportedItem, ImportedOrder
    from core.imports.writers import write_export

    orders = []
    for line, placed in enumerate(checkouts, start=2):
        buyer, address = placed["buyer"], placed["shippingAddress"]
        marketplace = args.format == "amazon-orders"
        orders.append(
            ImportedOrder(
                number=placed["number"],
                line=line,
                ordered_at=parse_iso(placed["creationTimestamp"]),
                kind="marketplace" if marketplace else _checkout_kind(placed),
                customer_name=buyer.get("name", ""),
                customer_email=buyer.get("email", ""),
                customer_phone=buyer.get("phoneNumber", ""),
                ship_name=address.get("name", ""),
                ship_postal_code=address.get("postalCode", ""),
                ship_prefecture=address.get("stateOrRegion", ""),
                ship_address=" ".join(part for part in (address.get("city"), address.get("addressLine1")) if part),
                ship_phone=address.get("phoneNumber", ""),
                items=(ImportedItem("SANDBOX-1", "ご注文商品", int(placed["amount"]), 1),),
                shipping_fee=0,
                total=int(placed["amount"]),
                payment_method="other" if marketplace else "amazon_pay",
                payment_label="Amazon" if marketplace else "Amazon Pay",
                charge_permission_id=None if marketplace else placed["chargePermissionId"],
                charge_ids=() if marketplace else tuple(placed["chargeIds"]),
            )
        )
    encoding = args.encoding or _EXPORT_ENCODINGS[args.format]
    out = Path(args.out)
    try:
        write_export(out, args.format, orders, encoding=encoding)
    except OSError as exc:
        raise UserError(f"ファイル {out} に書き込めません({exc.strerror or type(exc).__name__})。") from exc
    _emit(
        as_json,
        {"file": str(out), "format": args.format, "encoding": encoding, "orders": len(orders)},
        f"{len(orders)}件の注文を{args.format}の形式で書き出しました: {out}",
    )
    return 0


# --- backup and restore (issue 14 item 6; core/backup) -------------------------------------


def _backup_store_path(args: argparse.Namespace) -> Any:
    from core.db.engine import sqlite_path

    url = args.db or chosen_db_url()
    try:
        path = sqlite_path(url)
    except Exception as exc:  # not a URL at all
        raise BadInput(f"データベースのURLを読めません: {url}") from exc
    if path is None:
        if url.startswith(("postgresql", "postgres")):
            raise UserError(
                "PostgreSQLのデータベースはKanjoではバックアップ・復元しません。PostgreSQLはpg_dumpでバックアップし、"
                "pg_restore(またはpsql)で復元してください(READMEの「Backups」)。何も変更していません。"
            )
        raise BadInput(f"バックアップ・復元できるのはSQLiteのデータベースファイルだけです: {url}")
    return path


def _cmd_backup_restore(args: argparse.Namespace, as_json: bool) -> int:
    from pathlib import Path

    from core.backup import list_backups, make_backup
    from core.backup.restore import aside_path, inspect_backup, restore
    from core.clock import clock_from_env

    store = _backup_store_path(args)
    now = clock_from_env().now()
    home = data_dir()
    if args.command == "backup" and args.backup_action == "list":
        found = list_backups(store, home)
        data = [
            {
                "path": str(path),
                "bytes": path.stat().st_size,
                "revision": parsed.revision,
                "at": parsed.at.isoformat(),
                "before_migration_to": parsed.to_revision,
            }
            for parsed, path in found
        ]
        lines = [
            f"{format_jst(parsed.at, seconds=True)}  スキーマ {_line(parsed.revision)}"
            + (f"(更新前 → {_line(parsed.to_revision)})" if parsed.to_revision else "")
            + f"  {path.stat().st_size:,} バイト  {_line(path)}"
            for parsed, path in found
        ]
        _emit(as_json, data, "\n".join(lines) or "バックアップはまだありません。")
        return 0
    if args.command == "backup":
        if not store.is_file():
            raise UserError(f"バックアップするデータベースがありません: {store}")
        out = Path(args.out) if args.out else None
        if out is not None and not out.parent.is_dir():
            raise BadInput(f"出力先のフォルダがありません: {out.parent}")
        result = make_backup(store, now=now, data_dir=home, out=out)
        assert result is not None
        _emit(
            as_json,
            result.to_json(),
            f"バックアップを作成しました: {_line(result.path)}({result.bytes:,} バイト、スキーマ {_line(result.revision)}、"
            f"記録 {result.journal_rows}件、検査済み)",
        )
        return 0
    file = Path(args.file)
    info = inspect_backup(file)
    if not args.yes:
        aside = aside_path(store, now)
        steps = [
            f"復元するバックアップ: {_line(file)}(スキーマ {_line(info.revision)}、受注 {info.orders}件、"
            f"記録 {info.journal_rows}件、整合性検査済み)",
            f"1. 現在のデータベース {_line(store)} を {_line(aside)} に移します(削除しません)。"
            if store.exists()
            else f"1. 現在のデータベース {_line(store)} はありません。",
            f"2. バックアップを {_line(store)} として置きます。",
        ]
        if info.needs_migration:
            steps.append(f"3. スキーマを {_line(info.revision)} から {_line(info.head)} に更新します。")
        steps.append("復元後、バックアップ以降の変更は画面に表示されなくなります(移したファイルに残ります)。")
        if as_json:
            _print_json(
                {
                    "plan": {
                        "from": str(file),
                        "store": str(store),
                        "previous": str(aside) if store.exists() else None,
                        "revision": info.revision,
                        "migrate_to": info.head if info.needs_migration else None,
                    }
                }
            )
        else:
            _out("\n".join(steps))
        raise UserError("まだ何も変更していません。内容を確認し、--yes を付けて実行すると復元します。")
    restored = restore(file, store, now=now, data_dir=home)
    _emit(
        as_json,
        restored.to_json(),
        f"{_line(file)} を復元しました: {_line(store)}"
        + (f"(スキーマを{_line(restored.migrated_to)}に更新しました)" if restored.migrated_to else "")
        + (f"。元のデータベースは {_line(restored.previous)} にあります。" if restored.previous else "。"),
    )
    return 0


# --- moving to the shared store (issue 14 item 5; core/storecopy) --------------------------


def _cmd_store_copy(args: argparse.Namespace, as_json: bool) -> int:
    from core.db.engine import sqlite_path
    from core.storecopy import copy_store

    url = args.db or default_db_url()  # the local SQLite store, even when this PC chose the shared one
    try:
        source = sqlite_path(url)
    except Exception as exc:  # not a URL at all
        raise BadInput(f"データベースのURLを読めません: {url}") from exc
    if source is None:
        raise BadInput(f"コピー元にはSQLiteのデータベースファイルを指定してください(--db sqlite:///…): {url}")
    result = copy_store(source, args.to)
    lines = [f"コピーしました: {_line(source)} → {_line(result.to)}"]
    lines += [f"  {name}: {rows:,}行" for name, rows in result.tables.items()]
    lines += [
        f"記録(journal)のSHA-256: {result.journal_sha256}(コピー元と一致、全表の行数も一致)",
        f"共有データベースで始めるには: kanjo --db {_line(result.to)} …、または画面の 設定 → データベース で"
        "「共有(PostgreSQL)」を選び、接続先を入力して再起動してください。コピー元のファイルはそのまま残っています。",
    ]
    _emit(as_json, result.to_json(), "\n".join(lines))
    return 0


def _serve(args: argparse.Namespace, as_json: bool) -> int:
    """Run the sandbox in the foreground; the state file is the one the app would use."""
    from core.app import default_db_url, sandbox_db_path
    from core.clock import clock_from_env
    from core.gateway import SANDBOX_PUBLIC_KEY_ID, ensure_sandbox_key
    from core.sandbox.backend import SandboxBackend
    from core.sandbox.server import SandboxServer

    path = sandbox_db_path(args.db or default_db_url())
    backend = SandboxBackend(path, clock_from_env())
    _private, public = ensure_sandbox_key(path.with_name("sandbox-key.pem"))
    backend.register_public_key(SANDBOX_PUBLIC_KEY_ID, public.decode("ascii"))
    try:
        server = SandboxServer(backend, host=args.host, port=args.port)
    except (OSError, UnicodeError) as exc:  # the port is taken, or the host is not an address of this machine
        raise UserError(
            f"サンドボックスを {args.host}:{args.port} で起動できません(ポートが使用中か、使えないアドレスです)。"
            "別の --port を指定してください(0 で空いているポート)。"
        ) from exc
    if not server.is_loopback:
        sys.stderr.write(
            f"kanjo: 警告: サンドボックスは {args.host} で待ち受けるため、他のコンピューターからも接続できます。"
            f"操作API(/_sandbox)には操作用シークレット({server.secret_path})が必要ですが、"
            "通常は --host を付けずに(127.0.0.1で)起動してください。\n"
        )
    _emit(
        as_json,
        {"url": server.url, "state": str(path), "control_secret_file": str(server.secret_path)},
        f"サンドボックス: {server.url}  (状態: {path})\n操作用シークレット: {server.secret_path}",
    )
    sys.stdout.flush()
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


_HANDLERS: dict[str, Callable[[Kanjo, argparse.Namespace, bool], int]] = {
    "init": _cmd_init,
    "demo": _cmd_demo,
    "orders": _cmd_orders,
    "import": _cmd_import,
    "import-mapping": _cmd_import_mapping,
    "capture": _cmd_capture,
    "reauth": _cmd_reauth,
    "sync": _cmd_sync,
    "recover": _cmd_recover,
    "amount": _cmd_amount,
    "refund": _cmd_refund,
    "cancel": _cmd_cancel,
    "change-method": _cmd_change_method,
    "clear-payment-date": _cmd_clear_payment_date,
    "settings": _cmd_settings,
    "message": _cmd_message,
    "sandbox": _cmd_sandbox,
}

CONNECTION_FIELDS_SET = frozenset(CONNECTION_FIELDS)

__all__ = ["AppSettings", "build_parser", "main"]
