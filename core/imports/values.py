"""Reading one cell of a shop's file: amounts, quantities, dates, payment methods."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Final

from core.clock import JST
from core.errors import BadInput
from core.money import parse_yen

_FRACTION_ZERO_RE: Final = re.compile(r"\.0+(?=\s*円?\s*$)")
_DATE_RE: Final = re.compile(
    r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})"
    r"(?:[ T]+(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,6})\d*)?)?)?"
    r"\s*(Z|UTC|GMT|JST|[+-]\d{2}:?\d{2})?",
    re.ASCII,
)
CHARGE_PERMISSION_RE: Final = re.compile(r"[A-Z]\d{2}-\d{7}-\d{7}", re.ASCII)


def parse_amount(text: str, column: str) -> int:
    """Yen in a shop's file: full-width digits, ``¥``/``円``, grouping commas; ``1200.00`` is 1200.

    Raises:
        BadInput: the reason names ``column``.
    """
    if text.isascii() and text.isdigit():  # the common cell: nothing to fold (parse_yen's fast path)
        return parse_yen(text, field=column)
    normalized = unicodedata.normalize("NFKC", text).strip()
    normalized = _FRACTION_ZERO_RE.sub("", normalized)
    return parse_yen(normalized, field=column)


def parse_quantity(text: str, column: str) -> int:
    normalized = unicodedata.normalize("NFKC", text).strip().replace(",", "")
    normalized = re.sub(r"\.0+$", "", normalized)
    if not normalized.isascii() or not normalized.isdigit() or int(normalized) < 1:
        raise BadInput(f"{column}は1以上の整数でなければなりません（「{text.strip()}」）。")
    return int(normalized)


def parse_datetime(text: str, column: str) -> datetime:
    """A date and time as shops write them; without an offset it is Japan time. Returns UTC.

    ``2026/11/21 12:34:56``, ``2026-11-21 12:34``, ``2026-11-21T03:34:56+00:00``,
    ``2026-11-21 12:34:56 +0900`` (Shopify), ``2026年11月21日 12:34``.
    """
    normalized = unicodedata.normalize("NFKC", text).strip()
    normalized = normalized.replace("年", "-").replace("月", "-").replace("日", " ").strip()
    match = _DATE_RE.fullmatch(normalized)
    if match is not None:
        year, month, day, hour, minute, second, fraction, offset = match.groups()
        try:
            moment = datetime(
                int(year),
                int(month),
                int(day),
                int(hour or 0),
                int(minute or 0),
                int(second or 0),
                int((fraction or "0").ljust(6, "0")),
                tzinfo=_zone(offset),
            )
        except ValueError:
            pass
        else:
            return moment.astimezone(UTC)
    raise BadInput(f"{column}の日時「{text.strip()}」を読めません（例: 2026/11/21 12:34:56）。")


def _zone(offset: str | None) -> tzinfo:
    if offset is None or offset == "JST":
        return JST
    if offset in ("Z", "UTC", "GMT"):
        return UTC
    sign = -1 if offset[0] == "-" else 1
    digits = offset[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def payment_method(label: str) -> str:
    """The payment method code for a shop's own text (Amazon Pay, クレジットカード決済, 銀行振込 …)."""
    text = unicodedata.normalize("NFKC", label).strip().lower()
    if not text:
        return "other"
    if "amazon" in text or "アマゾン" in text or "amazonペイ" in text:
        return "amazon_pay"
    if "代引" in text or "代金引換" in text or "cash on delivery" in text or text == "cod":
        return "cod"
    if "コンビニ" in text or "convenience" in text:
        return "convenience_store"
    if "銀行" in text or "振込" in text or "bank" in text:
        return "bank_transfer"
    if "クレジット" in text or "カード" in text or "credit" in text or "card" in text or text == "shopify_payments":
        return "credit_card"
    return "other"


# R2's kinds as a shop's export may write them: our labels, our values and the short words.
_KIND_WORDS: Final = {
    "通常商品": "normal",
    "通常": "normal",
    "normal": "normal",
    "予約商品": "reservation",
    "予約": "reservation",
    "reservation": "reservation",
    "定期・頒布会": "subscription",
    "定期": "subscription",
    "頒布会": "subscription",
    "定期購入": "subscription",
    "subscription": "subscription",
}


def parse_kind(text: str, column: str) -> str:
    """The order kind (normal, reservation, subscription) of a shop's 注文種別 cell.

    Raises:
        BadInput: a word that names none of them.
    """
    kind = _KIND_WORDS.get(text.strip()) or _KIND_WORDS.get(text.strip().lower())
    if kind is None:
        raise BadInput(f"{column}「{text}」は不明です（通常商品・予約商品・定期・頒布会 のいずれか）。")
    return kind
