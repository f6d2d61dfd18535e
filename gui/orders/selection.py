"""What several selected orders add up to, for the detail panel (issue 16 item 5).

Pure: rows in, a summary and its text out (no Qt), so the window shows the count, the total
and what 一括入金処理 / 一括再与信 will take in before the operator presses them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from html import escape

from core.domain import PaymentStatus
from core.order_pages import OrderRow
from gui.labels import yen

SUMMARY_LIMIT = 5_000  # above this many selected orders only the count is shown (no read of them all)
# The badges the bulk actions act on; core checks each order again and explains a refusal.
CAPTURE_CANDIDATES = frozenset({PaymentStatus.AUTHORIZED})  # 承認済 (R24)
REAUTHORIZE_CANDIDATES = frozenset({PaymentStatus.AUTH_LAPSED, PaymentStatus.AUTH_FAILED})  # R40, R41


@dataclass(frozen=True)
class SelectionSummary:
    count: int  # orders selected
    read: int  # of them, read for the summary (all, up to SUMMARY_LIMIT)
    total: int = 0
    capturable: int = 0
    reauthorizable: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


def summarize(count: int, rows: Iterable[OrderRow]) -> SelectionSummary:
    rows = list(rows)
    statuses = Counter(r.payment_status.value if r.payment_status else r.no_badge for r in rows)
    return SelectionSummary(
        count=count,
        read=len(rows),
        total=sum(r.total for r in rows),
        capturable=sum(1 for r in rows if r.payment_status in CAPTURE_CANDIDATES),
        reauthorizable=sum(1 for r in rows if r.payment_status in REAUTHORIZE_CANDIDATES),
        by_status=dict(statuses.most_common()),
    )


def summary_html(summary: SelectionSummary) -> str:
    """The panel's text for a selection of several orders."""
    lines = [f"<h3>{summary.count:,}件の受注を選択中</h3>"]
    if summary.read < summary.count:
        lines.append(
            f"<p>{SUMMARY_LIMIT:,}件を超える選択は、件数だけを表示します。一括処理はすべての選択に対して"
            "行い、ルール上できない受注は処理せず理由を表示します。</p>"
        )
        return "".join(lines)
    lines.append(f"<p>受注金額の合計: <b>{yen(summary.total)}</b></p>")
    others_capture = summary.count - summary.capturable
    others_reauth = summary.count - summary.reauthorizable
    lines.append("<p>")
    lines.append(
        f"「一括入金処理」: 承認済の<b>{summary.capturable:,}件</b>の売上を確定します"
        + (f"(ほかの{others_capture:,}件は処理せず、理由を表示します)" if others_capture else "")
        + "。<br>"
    )
    lines.append(
        f"「一括再与信」: 承認完了・承認失敗の<b>{summary.reauthorizable:,}件</b>の与信を取り直します"
        + (f"(ほかの{others_reauth:,}件は処理せず、理由を表示します)" if others_reauth else "")
        + "。"
    )
    lines.append("</p>")
    if summary.by_status:
        items = "".join(f"<li>{escape(label)}: {n:,}件</li>" for label, n in summary.by_status.items())
        lines.append(f"<p>与信ステータスの内訳:</p><ul>{items}</ul>")
    lines.append("<p>1件の詳細を見るには、一覧で1件だけを選んでください。</p>")
    return "".join(lines)
