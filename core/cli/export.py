"""``kanjo export orders|payments|settlements --from DATE --to DATE --out FILE`` (issue 13 item 5)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.cli.command_group import CommandGroup
from core.cli.output import emit, line_text

if TYPE_CHECKING:
    from core.app import Kanjo


def register(sub: Any) -> None:
    parser = sub.add_parser("export", help="会計用の書き出し(受注・入出金・精算)")
    parser.add_argument("what", choices=["orders", "payments", "settlements"])
    parser.add_argument("--from", dest="start", required=True, metavar="DATE")
    parser.add_argument("--to", dest="end", required=True, metavar="DATE")
    parser.add_argument("--out", required=True, metavar="FILE")
    parser.add_argument("--format", dest="fmt", choices=["csv", "xlsx"], default=None)
    parser.add_argument("--encoding", choices=["cp932", "utf-8-sig"], default="cp932")


def run(app: Kanjo, args: argparse.Namespace, as_json: bool) -> int:
    from core.exports.service import ExportService, parse_day

    out = Path(args.out).expanduser()
    fmt = args.fmt or ("xlsx" if out.suffix.lower() == ".xlsx" else "csv")
    start, end = parse_day(args.start, "--from"), parse_day(args.end, "--to")
    result = ExportService(app.sessions, app.clock).export(args.what, start, end, out, fmt=fmt, encoding=args.encoding)
    data = {**result.to_json(), "what": args.what, "format": fmt, "encoding": args.encoding if fmt == "csv" else None}
    text = f"{result.rows}行を書き出しました: {line_text(result.path)}"
    if result.replaced:
        text += f"(Shift_JISで表せない{result.replaced}文字を〓に置き換えました)"
    emit(as_json, data, text)
    return 0


GROUP = CommandGroup(command="export", register=register, run=run)
