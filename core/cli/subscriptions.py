"""``kanjo subscriptions …``: the subscription desk on the command line (issue 12)."""

from __future__ import annotations

import argparse
from datetime import date
from typing import TYPE_CHECKING, Any

from core.cli.command_group import CommandGroup
from core.cli.output import Parser, emit, line_text, out, print_json
from core.errors import BadInput
from core.money import format_yen, parse_yen

if TYPE_CHECKING:
    from core.app import Kanjo
    from core.subscriptions.service import ContractView, GenerationReport


def register(sub: Any) -> None:
    group = sub.add_parser("subscriptions", help="定期購入(定期・頒布会)と受注生成").add_subparsers(
        dest="subscriptions_command", parser_class=Parser
    )
    listing = group.add_parser("list", help="定期購入の一覧")
    listing.add_argument("--state", metavar="STATE", help="状態で絞り込み(継続、休止、申込取消、完了、Amazon側で終了)")
    group.add_parser("show", help="定期購入の詳細と各回").add_argument("id")
    adder = group.add_parser("add", help="定期・頒布会の受注から定期購入を登録します")
    adder.add_argument("number")
    adder.add_argument("--every", required=True, metavar="1m|2w|30d")
    adder.add_argument("--rounds", metavar="N", help="頒布会の回数(初回を含む)")
    adder.add_argument("--next-date", metavar="YYYY-MM-DD")
    generate = group.add_parser("generate", help="受注生成: 予定日の来た定期購入の受注を作り、与信します")
    generate.add_argument("--until", metavar="YYYY-MM-DD", help="この日までに予定のある回を生成します(既定: 今日)")
    group.add_parser("pause", help="休止します").add_argument("id")
    group.add_parser("resume", help="再開します").add_argument("id")
    canceler = group.add_parser("cancel", help="申込取消(Amazon Payの支払い許可を削除します)")
    canceler.add_argument("id")
    canceler.add_argument("--yes", action="store_true", help="取り消せないことを確認のうえ実行します")
    editor = group.add_parser("edit", help="1回分の金額・送料・次回の受注生成日を変更します")
    editor.add_argument("id")
    editor.add_argument("--amount", metavar="YEN", help="1回分の商品金額")
    editor.add_argument("--shipping", metavar="YEN", help="1回分の送料")
    editor.add_argument("--next-date", metavar="YYYY-MM-DD")
    retry = group.add_parser("retry", help="保留の受注をもう一度与信します")
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("number", nargs="?")
    which.add_argument("--all", action="store_true")
    group.add_parser("held", help="保留中の生成受注の一覧")
    plan = group.add_parser("ship-date", help="予約商品の発送予定日を登録します")
    plan.add_argument("number")
    plan.add_argument("date", metavar="YYYY-MM-DD")
    group.add_parser("reservations", help="発送予定日より前に与信が切れる予約受注")
    reauth = group.add_parser("reauth-reservations", help="発送前の予約受注を再与信します(1件または一括)")
    reauth_which = reauth.add_mutually_exclusive_group(required=True)
    reauth_which.add_argument("numbers", nargs="*", default=None)
    reauth_which.add_argument("--all", action="store_true", help="再与信できる予約受注すべて")
    deleter = group.add_parser("delete", help="定期購入を削除します(Amazon Payの支払い許可も削除します)")
    deleter.add_argument("id")
    deleter.add_argument("--yes", action="store_true", help="取り消せないことを確認のうえ実行します")


def parse_date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise BadInput(f"{option} の日付「{line_text(text)[:20]}」を読めません(例: 2026-12-01)。") from None


def parse_rounds(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.strip().isdigit():
        raise BadInput(f"--rounds には回数を数字で指定してください(「{line_text(text)[:20]}」)。")
    return int(text.strip())


def _contract_text(view: ContractView) -> str:
    rounds = f"{view.rounds_done}/{view.rounds_total}回" if view.rounds_total else f"{view.rounds_done}回目まで"
    return (
        f"{view.id:>5}  {line_text(view.order_number):<14}{view.state_label:<10}{view.every_label:<10}"
        f"次回 {view.next_date.isoformat()}  {rounds}  1回 {format_yen(view.amount)}  "
        f"今月 {format_yen(view.month_amount)}/100,000円  {line_text(view.charge_permission_id)}"
    )


def _report_text(report: GenerationReport) -> str:
    lines = [
        f"受注生成: 生成{report.generated}件、与信成功{report.authorized}件、保留{len(report.held)}件、"
        f"見送り{report.skipped}件" + ("(中止しました)" if report.cancelled else "")
    ]
    lines.extend(f"  保留 {line_text(h['order_number'])}: {line_text(h['reason'])}" for h in report.held)
    lines.extend(f"  お知らせ: {line_text(n)}" for n in report.notices)
    return "\n".join(lines)


def run(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    service = app.subscriptions
    command = args.subscriptions_command
    if command == "list":
        views = service.contracts(state=args.state)
        if as_json:
            print_json([v.to_json() for v in views])
        else:
            out("\n".join([*map(_contract_text, views), f"{len(views)}件"]))
        return 0
    if command == "show":
        view = service.show(args.id)
        rounds = service.rounds(view.id)
        if as_json:
            print_json({**view.to_json(), "rounds": [r.to_json() for r in rounds], "note": view.note})
            return 0
        lines = [_contract_text(view)]
        if view.note:
            lines.append(f"  {line_text(view.note)}")
        lines.extend(
            f"  第{r.round}回 {line_text(r.order_number)} {format_yen(r.amount)} {r.state}"
            + (f" 保留: {line_text(r.hold_reason)}" if r.hold_reason else "")
            for r in rounds
        )
        out("\n".join(lines))
        return 0
    if command == "add":
        next_date = parse_date(args.next_date, "--next-date") if args.next_date else None
        view = service.create(args.number, args.every, rounds_total=parse_rounds(args.rounds), next_date=next_date)
        emit(as_json, view.to_json(), f"定期購入を登録しました: {_contract_text(view)}")
        return 0
    if command == "generate":
        until = parse_date(args.until, "--until") if args.until else None
        report = service.generate(until)
        emit(as_json, report.to_json(), _report_text(report))
        return 0
    if command in ("pause", "resume"):
        view = service.pause(args.id) if command == "pause" else service.resume(args.id)
        emit(as_json, view.to_json(), f"定期購入 {line_text(view.order_number)} を{view.state_label}にしました。")
        return 0
    if command == "cancel":
        view = service.cancel(args.id, confirmed=args.yes)
        emit(as_json, view.to_json(), f"定期購入 {line_text(view.order_number)} を申込取消にしました。")
        return 0
    if command == "edit":
        amount = parse_yen(args.amount, field="--amount", allow_zero=False) if args.amount is not None else None
        shipping = parse_yen(args.shipping, field="--shipping") if args.shipping is not None else None
        next_date = parse_date(args.next_date, "--next-date") if args.next_date else None
        if amount is None and shipping is None and next_date is None:
            raise BadInput("--amount、--shipping、--next-date のいずれかを指定してください。")
        view = service.edit(args.id, amount=amount, shipping_fee=shipping, next_date=next_date)
        emit(as_json, view.to_json(), f"定期購入を変更しました: {_contract_text(view)}")
        return 0
    if command == "retry":
        report = service.retry_all() if args.all else service.retry(args.number)
        emit(as_json, report.to_json(), _report_text(report))
        return 1 if (not args.all and report.held) else 0
    if command == "held":
        held = service.held()
        if as_json:
            print_json([h.to_json() for h in held])
        else:
            out(
                "\n".join(
                    [
                        *(
                            f"{line_text(h.order_number)}  {format_yen(h.amount)}  {line_text(h.reason)}  案内先: {h.guidance_url}"
                            for h in held
                        ),
                        f"{len(held)}件",
                    ]
                )
            )
        return 0
    if command == "ship-date":
        service.set_planned_ship(args.number, parse_date(args.date, "発送予定日"))
        emit(as_json, {"ok": True}, f"{line_text(args.number)}: 発送予定日を登録しました。")
        return 0
    if command == "reservations":
        warnings = service.reservation_warnings()
        emit(
            as_json,
            warnings,
            "\n".join([*(f"{line_text(w['order_number'])}: {w['message']}" for w in warnings), f"{len(warnings)}件"]),
        )
        return 0
    if command == "reauth-reservations":
        if not args.all and not args.numbers:
            raise BadInput("受注番号か --all を指定してください。")
        results = service.reauthorize_reservations(None if args.all else args.numbers)
        emit(
            as_json,
            [r.to_json() for r in results],
            "\n".join(
                [*(f"{line_text(r.order_number)}: {line_text(r.message)}" for r in results), f"{len(results)}件"]
            ),
        )
        return 0 if all(r.ok for r in results) else 1
    if command == "delete":
        view = service.delete(args.id, confirmed=args.yes)
        emit(as_json, view.to_json(), f"定期購入 {line_text(view.order_number)} を削除しました。")
        return 0
    raise BadInput(
        "subscriptions の後に list, show, add, generate, pause, resume, cancel, edit, retry, held, "
        "ship-date, reservations, reauth-reservations, delete のいずれかを指定してください。"
    )


GROUP = CommandGroup(command="subscriptions", register=register, run=run)
