"""Reading one cell of a shop's file: amounts, quantities, dates, payment methods."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Final

from core.amount_rules import MAX_ORDER_TOTAL
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
# amazonpay-api.md §2: a Charge ID is its Charge Permission's ID, "-C" and six digits.
CHARGE_RE: Final = re.compile(r"[A-Z]\d{2}-\d{7}-\d{7}-C\d{6}", re.ASCII)
CHARGE_PERMISSION_EXAMPLE: Final = "S03-1234567-1234567"
CHARGE_EXAMPLE: Final = "S03-1234567-1234567-C000001"

# Issue 11 item 9: what a shop's file may say. Quantities above this are a typo or a unit
# mistake (no shop sells a hundred thousand of one item in one order); amounts stay within one
# order's maximum (R5, core.amount_rules.MAX_ORDER_TOTAL); dates between EARLIEST_DATE and one
# day after the clock's now (a shop system's clock may run a little ahead).
MAX_QUANTITY: Final = 99_999
EARLIEST_DATE: Final = datetime(2000, 1, 1, tzinfo=JST)
FUTURE_SLACK: Final = timedelta(days=1)


def check_charge_permission_id(text: str) -> str:
    """A Charge Permission ID as typed or read from a file, stripped; refused before any call to
    Amazon Pay when it does not have the shape Amazon gives them (``S03-1234567-1234567``).

    Raises:
        BadInput: one Japanese sentence naming the value and the expected shape.
    """
    value = text.strip()
    if not CHARGE_PERMISSION_RE.fullmatch(value):
        raise BadInput(f"Charge Permission ID「{value}」の形が正しくありません(例: {CHARGE_PERMISSION_EXAMPLE})。")
    return value


def check_charge_id(text: str) -> str:
    """A Charge ID, stripped; refused when it lacks Amazon's shape (``S03-1234567-1234567-C000001``).

    Raises:
        BadInput: one Japanese sentence naming the value and the expected shape.
    """
    value = text.strip()
    if not CHARGE_RE.fullmatch(value):
        raise BadInput(f"Charge ID「{value}」の形が正しくありません(例: {CHARGE_EXAMPLE})。")
    return value


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
    if text.isdigit() and text.isascii() and len(text) <= len(str(MAX_QUANTITY)) and 1 <= int(text) <= MAX_QUANTITY:
        return int(text)  # the common cell; anything else is read (or refused) below
    normalized = unicodedata.normalize("NFKC", text).strip().replace(",", "")
    normalized = re.sub(r"\.0+$", "", normalized)
    if not normalized.isascii() or not normalized.isdigit() or int(normalized) < 1:
        raise BadInput(f"{column}は1以上の整数でなければなりません（「{text.strip()}」）。")
    if len(normalized) > len(str(MAX_QUANTITY)) or int(normalized) > MAX_QUANTITY:
        raise BadInput(f"{column}「{text.strip()}」が多すぎます（{MAX_QUANTITY:,}まで）。")
    return int(normalized)


def check_order_amount(amount: int, column: str) -> int:
    """An amount of one order (its total, a price, a fee) within R5's maximum.

    Raises:
        BadInput: the amount is above ``MAX_ORDER_TOTAL``.
    """
    if amount > MAX_ORDER_TOTAL:
        raise BadInput(f"{column}の{amount:,}円は1件の注文の上限（{MAX_ORDER_TOTAL:,}円）を超えています。")
    return amount


def check_order_date(moment: datetime, text: str, column: str, now: datetime) -> datetime:
    """An order's date between 2000-01-01 (Japan time) and one day after ``now`` (the clock).

    Raises:
        BadInput: the date is outside that range (named, with the range).
    """
    latest = now + FUTURE_SLACK
    if moment < EARLIEST_DATE or moment > latest:
        raise BadInput(
            f"{column}「{text.strip()}」はありえない日時です"
            f"（2000/01/01から{latest.astimezone(JST):%Y/%m/%d %H:%M}までの日時にしてください）。"
        )
    return moment


def parse_datetime(text: str, column: str) -> datetime:
    """A date and time as shops write them; without an offset it is Japan time. Returns UTC.

    ``2026/11/21 12:34:56``, ``2026-11-21 12:34``, ``2026-11-21T03:34:56+00:00``,
    ``2026-11-21 12:34:56 +0900`` (Shopify), ``2026年11月21日 12:34``.
    """
    if text.isascii():  # NFKC and the kanji units change nothing in ASCII
        normalized = text.strip()
    else:
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
