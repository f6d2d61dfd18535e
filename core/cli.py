"""The ``kanjo`` command line, over the same services as the window.

Errors print one Japanese line on stderr and exit non-zero; ``--json`` (before or after the
subcommand's own arguments) prints machine-readable results on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from core import __version__
from core.app import Kanjo, data_dir, default_db_url, open_app, secure_data_dir
from core.bug_log import write_bug_log
from core.clock import format_jst, parse_iso
from core.db.errors import store_error
from core.domain import OrderKind
from core.errors import BadInput, UserError
from core.gateway import read_private_key
from core.journal import HELD, NOT_SENT, UNKNOWN
from core.money import format_yen, parse_yen
from core.services.orders import LineItem
from core.settings import AppSettings, SettingsStore, coerce

EXIT_USER_ERROR = 1
EXIT_USAGE = 2
EXIT_BUG = 70
log = logging.getLogger("kanjo")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"kanjo: 引数が正しくありません: {message}\n")
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kanjo", description="勘定 — Amazon Pay 受注デスク")
    parser.add_argument("--version", action="version", version=f"kanjo {__version__}")
    parser.add_argument("--db", metavar="URL", help="SQLAlchemyのデータベースURL(既定: データフォルダのSQLiteファイル)")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    sub.add_parser("init", help="データフォルダとデータベースを作成します")
    demo = sub.add_parser("demo", help="サンドボックスにデモ注文を作成します")
    demo.add_argument("--orders", type=int, default=26)
    demo.add_argument("--seed", type=int, default=1)

    orders = sub.add_parser("orders", help="受注の一覧と詳細").add_subparsers(
        dest="orders_command", parser_class=_Parser
    )
    listing = orders.add_parser("list", help="受注一覧")
    listing.add_argument("--status", metavar="LABEL", help="与信ステータスで絞り込み(例: 承認済)")
    listing.add_argument("--limit", type=int)
    show = orders.add_parser("show", help="受注の詳細")
    show.add_argument("number")

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

    settings = sub.add_parser("settings", help="設定").add_subparsers(dest="settings_command", parser_class=_Parser)
    settings.add_parser("show")
    setter = settings.add_parser("set")
    setter.add_argument("key")
    setter.add_argument("value")

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
    serve.add_argument("--port", type=int, default=0)
    place = sandbox.add_parser("place-order", help="購入者としてAmazon Payで注文します")
    place.add_argument("--number", required=True)
    place.add_argument("--total", required=True)
    place.add_argument("--kind", choices=[k.value for k in OrderKind], default="normal")
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
    buyer = sandbox.add_parser("buyer", help="購入者の操作").add_subparsers(dest="buyer_command", parser_class=_Parser)
    decline = buyer.add_parser("decline-next", help="次の与信(または売上・返金)を失敗させます")
    decline.add_argument("number")
    group = decline.add_mutually_exclusive_group(required=True)
    group.add_argument("--soft", action="store_const", const="soft", dest="decline_kind")
    group.add_argument("--hard", action="store_const", const="hard", dest="decline_kind")
    decline.add_argument("--on", choices=["auth", "capture", "refund"], default="auth")
    buyer.add_parser("fix-payment", help="購入者が支払い設定を修正します").add_argument("number")
    seller = sandbox.add_parser("seller-central", help="Seller Centralでの操作")
    seller.add_argument("action", choices=["refund", "increase", "capture"])
    seller.add_argument("number")
    seller.add_argument("--charge", metavar="ID")
    seller.add_argument("--amount")
    fault = sandbox.add_parser("fault", help="障害を注入します").add_subparsers(
        dest="fault_command", parser_class=_Parser
    )
    add = fault.add_parser("add")
    add.add_argument("kind", choices=["429", "500", "503", "timeout"])
    add.add_argument("--count", type=int, default=1)
    add.add_argument("--rate", type=float)
    add.add_argument("--path", default="")
    fault.add_parser("clear")
    return parser


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def _emit(as_json: bool, data: Any, text: str) -> None:
    if as_json:
        _print_json(data)
    else:
        sys.stdout.write(text + "\n")


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
        sys.stderr.write(f"kanjo: {exc.message}\n")
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        sys.stderr.write("kanjo: 中断しました。\n")
        return 130
    except Exception as exc:
        return _unexpected(exc, args.db)


def _unexpected(exc: Exception, db_url: str | None) -> int:
    """A store failure the operator can act on (full, read-only, damaged …) is a one-line
    refusal (exit 1, core.db.errors); anything else is a bug: one line here, and the types and
    frames, never the values, in the 0600 error log (core.bug_log)."""
    try:
        mapped = store_error(exc, db_url or default_db_url())
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


def _run(args: argparse.Namespace, as_json: bool) -> int:
    if args.command == "sandbox" and args.sandbox_command == "serve":
        return _serve(args, as_json)
    with open_app(args.db) as app:
        handler = _HANDLERS[args.command]
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
            lines.append(
                f"{row.number:<12}{format_jst(row.ordered_at):<18}{format_yen(row.total):>12}  "
                f"{(row.payment_status or '決済なし'):<12}{row.order_status:<8}  {row.customer_name} {row.auth_expiry}"
            )
        lines.append(f"{len(rows)}件")
        sys.stdout.write("\n".join(lines) + "\n")
        return 0
    if args.orders_command == "show":
        detail = app.orders.detail(args.number)
        if as_json:
            _print_json(detail.to_json())
            return 0
        out = [
            f"受注番号: {detail.number}  ({detail.kind_label})",
            f"受注日時: {format_jst(detail.ordered_at)}",
            f"与信ステータス: {detail.payment_status or '決済なし'}   受注ステータス: {detail.order_status}",
            f"購入者: {detail.customer_name} <{detail.customer_email}>",
            f"お届け先: 〒{detail.ship_postal_code} {detail.ship_prefecture}{detail.ship_address}",
            f"合計: {format_yen(detail.total)}  与信: {format_yen(detail.authorized)}  "
            f"売上: {format_yen(detail.captured)}  返金: {format_yen(detail.refunded)}",
        ]
        out.extend(f"  与信 {c.id}  {format_yen(c.amount)}  {c.label}" for c in detail.charges)
        out.extend(f"  返金 {f.id}  {format_yen(f.amount)}  {f.label}" for f in detail.refunds)
        if detail.reauth_message:
            out.append(f"再与信エラー: {detail.reauth_message}")
        out.extend(
            f"  メッセージ {format_jst(m.sent_at or m.created_at)}  {m.status_label}  {m.subject}"
            for m in getattr(detail, "messages", ())
        )
        if detail.sync_error:
            out.append(f"同期エラー: {detail.sync_error}")
        if not detail.can_capture:
            out.append(f"入金処理不可: {detail.capture_blocked_reason}")
        sys.stdout.write("\n".join(out) + "\n")
        return 0
    raise BadInput("orders の後に list または show を指定してください。")


def _exit_code(result: Any) -> int:
    return 0 if result.ok else EXIT_USER_ERROR if result.outcome != "unknown" else 3


def _operation(result: Any, as_json: bool) -> int:
    _emit(as_json, result.to_json(), result.message)
    return _exit_code(result)


def _cmd_capture(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    return _operation(app.payments.capture(args.number), as_json)


def _cmd_reauth(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    return _operation(app.payments.reauthorize(args.number), as_json)


def _cmd_sync(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    results = [app.sync.sync_order(args.number)] if args.number else app.sync.sync_all()
    failed = [r for r in results if not r.ok]
    if as_json:
        _print_json([r.to_json() for r in results] if not args.number else results[0].to_json())
    else:
        for r in failed:
            sys.stderr.write(f"kanjo: {r.order_number}: {r.message}\n")
        sys.stdout.write(
            f"{len(results) - len(failed)}件の状態を取得しました。" + (f" {len(failed)}件失敗" if failed else "") + "\n"
        )
    return EXIT_USER_ERROR if failed else 0


def _cmd_amount(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    total = parse_yen(args.yen, field="金額")
    change = app.payments.amount_preview(args.number, total)
    if change.allowed and change.needs_confirmation and not args.yes:  # a total of 0 (R34)
        raise UserError(
            "確認が必要な変更です。内容を確認し --yes を付けて実行してください: " + " ".join(change.consequences)
        )
    return _operation(
        app.payments.change_amount(args.number, total=total, void_amazon=args.void_amazon, confirmed=args.yes),
        as_json,
    )


def _cmd_refund(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    amount = None if args.full else parse_yen(args.refund_amount, field="--amount", allow_zero=False)
    plan = app.payments.refund_preview(args.number, amount)
    result = app.payments.refund(args.number, amount, args.reason)
    allocation = [{"charge_id": line.charge_id, "amount": line.amount} for line in plan.lines]
    if as_json:
        _print_json({**result.to_json(), "allocation": allocation})
    else:
        for line in plan.lines:
            sys.stdout.write(f"  {line.charge_id}: {format_yen(line.amount)}\n")
        sys.stdout.write(result.message + "\n")
    return _exit_code(result)


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
    if as_json:
        _print_json({**result.to_json(), "plan": plan.to_json()})
        return _exit_code(result)
    return _operation(result, as_json)


def _cmd_change_method(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    plan = app.payments.change_method_preview(args.number, args.method, void_amazon=args.void_amazon)
    _confirm(plan, args.yes)
    result = app.payments.change_method(args.number, args.method, void_amazon=args.void_amazon, confirmed=args.yes)
    if as_json:
        _print_json({**result.to_json(), "plan": plan.to_json()})
        return _exit_code(result)
    return _operation(result, as_json)


def _cmd_clear_payment_date(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    return _operation(app.payments.clear_payment_date(args.number), as_json)


def _cmd_recover(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    results = app.payments.recover()
    unsettled = [r for r in results if r.outcome in (UNKNOWN, NOT_SENT, HELD)]  # the operator must look
    if as_json:
        _print_json([r.to_json() for r in results])
    elif not results:
        sys.stdout.write("中断した決済処理はありません。\n")
    else:
        for r in results:
            sys.stdout.write(f"{r.order_number} {r.action}: {r.message or r.outcome}\n")
    return EXIT_USER_ERROR if unsettled else 0


def _cmd_settings(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    if args.settings_command == "set":
        value = coerce(args.key, args.value)
        if args.key == "amazon_private_key_path" and value:
            read_private_key(value)  # refuse a file that holds no usable key, before saving it
        app.settings.save(**{args.key: value})
    values = SettingsStore.as_dict(app.settings.load())
    _emit(as_json, values, "\n".join(f"{k} = {v}" for k, v in values.items()))
    return 0


def _message_text(draft: Any) -> str:
    return f"宛先: {draft.to_name} <{draft.to_email}>\n件名: {draft.subject}\n\n{draft.body}"


def _cmd_message(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    import dataclasses

    command = args.message_command
    if command == "templates":
        templates = app.messages.templates()
        lines = [f"{t.id:<24}{'[標準] ' if t.builtin else ''}{t.title}" for t in templates]
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
            sys.stdout.write(_message_text(draft) + "\n")
            raise UserError("まだ送信していません。内容を確認し、--yes を付けて実行すると送信します。")
        record = app.messages.send(draft.order_number, **fields)
        _emit(
            as_json,
            {**draft.to_json(), "message": dataclasses.asdict(record)},
            f"{draft.to_email} へ送信しました(受注 {draft.order_number} の履歴に記録しました)。",
        )
        return 0
    if command == "history":
        records = app.messages.history(args.number)
        lines = [
            f"{format_jst(m.sent_at or m.created_at)}  {m.status_label}  {m.subject}"
            + (f"  ({m.error})" if m.error else "")
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
        total = parse_yen(args.total, field="--total", allow_zero=False)
        ordered_at = parse_iso(args.ordered_at) if args.ordered_at else None
        placed = control.checkout(
            number=args.number.strip(),
            total=total,
            kind=args.kind,
            instrument=args.instrument,
            ordered_at=ordered_at,
            pending=args.pending,
            extended_expiry=args.extended_expiry,
        )
        detail = app.orders.receive_checkout(
            number=args.number,
            kind=OrderKind(args.kind),
            charge_permission_id=placed["chargePermissionId"],
            charge_id=placed["chargeId"],
            items=[LineItem("ご注文商品", total, 1, 0)],
            ordered_at=ordered_at,
            member=args.member,
        )
        _emit(as_json, detail.to_json(), f"受注 {detail.number} を受け付けました({detail.payment_status})。")
        return 0
    if command == "buyer":
        app.orders.detail(args.number)  # unknown order → clear message
        if args.buyer_command == "decline-next":
            control.decline_next(args.number, args.decline_kind, args.on)
            _emit(as_json, {"ok": True}, f"{args.number}: 次の処理を{args.decline_kind}で失敗させます。")
        elif args.buyer_command == "fix-payment":
            control.fix_payment(args.number)
            _emit(as_json, {"ok": True}, f"{args.number}: 購入者が支払い設定を修正しました。")
        else:
            raise BadInput("buyer の後に decline-next または fix-payment を指定してください。")
        return 0
    if command == "seller-central":
        app.orders.detail(args.number)
        amount = parse_yen(args.amount, field="--amount", allow_zero=False) if args.amount is not None else None
        if amount is None and args.action != "capture":
            raise BadInput("--amount を指定してください。")
        result = control.seller_central(args.action, args.number, amount, args.charge)
        _emit(as_json, result, f"Seller Centralで{args.action}を行いました。")
        return 0
    if command == "fault":
        if args.fault_command == "add":
            control.add_fault(args.kind, count=args.count, rate=args.rate, path=args.path)
        elif args.fault_command == "clear":
            control.clear_faults()
        else:
            raise BadInput("fault の後に add または clear を指定してください。")
        _emit(as_json, {"ok": True}, "障害設定を更新しました。")
        return 0
    raise BadInput("sandbox の後に serve, place-order, buyer, seller-central, fault のいずれかを指定してください。")


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
    server = SandboxServer(backend, host=args.host, port=args.port)
    _emit(as_json, {"url": server.url, "state": str(path)}, f"サンドボックス: {server.url}  (状態: {path})")
    sys.stdout.flush()
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


_HANDLERS: dict[str, Callable[[Kanjo, argparse.Namespace, bool], int]] = {
    "init": _cmd_init,
    "demo": _cmd_demo,
    "orders": _cmd_orders,
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

__all__ = ["AppSettings", "build_parser", "main"]
