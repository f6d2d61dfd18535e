"""Money is always an ``int`` number of yen.

JPY has no minor unit, so there are no floats, no ``Decimal`` and no "sen" anywhere in
the product. This module turns what an operator types into yen and yen into display text.

Operators type amounts the Japanese way: full-width digits (``１，２００``), a yen sign in
front (``¥`` / ``￥``, or ``\\``, which Japanese fonts draw as a yen sign) or ``円`` behind,
and full-width spaces. NFKC normalisation folds the full-width forms to ASCII; everything
else is checked against a strict grammar so that a typo is rejected with a clear Japanese
message instead of being read as a different amount.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from core.errors import BadInput

MAX_YEN: Final = 10_000_000_000
"""Largest amount ``parse_yen`` accepts; anything above is certainly a typo (Amazon Pay's
own per-charge ceiling in Japan is far lower, ¥10,000,000)."""

# Characters an operator may use to mean "minus". After NFKC, U+FF0D (－), U+FE63 (﹣) and
# U+208B (₋) have become "-" and U+207B (⁻) has become U+2212 (−); halfwidth ｰ has become
# ー (the katakana prolonged sound mark, a common IME slip for a minus). △ and ▲ are the
# negative markers of Japanese bookkeeping.
_MINUS_CHARS: Final = "-\u2212\u2010\u2011\u2012\u2013\u2014\u2015\u30fc\u25b3\u25b2"
_SIGN_CHARS: Final = _MINUS_CHARS + "+"

# The whole input after NFKC and strip(). re.ASCII keeps [0-9] and \s to ASCII, so digits
# from other scripts (which int() would accept) never get through.
_AMOUNT_RE: Final = re.compile(
    rf"""
    (?P<sign_before>[{re.escape(_SIGN_CHARS)}]*) \s*
    (?P<yen>[¥\\])? \s*
    (?P<sign_after>[{re.escape(_SIGN_CHARS)}]*) \s*
    (?P<number>[0-9][0-9,]*(?:\.[0-9]*)? | \.[0-9]+)
    \s* (?P<en>円)?
    """,
    re.VERBOSE | re.ASCII,
)
_GROUPED_RE: Final = re.compile(r"[1-9][0-9]{0,2}(?:,[0-9]{3})+", re.ASCII)

_FULLWIDTH_DIGITS: Final = frozenset("０１２３４５６７８９")


def parse_yen(text: str, *, field: str = "金額", allow_zero: bool = True) -> int:
    """Read an amount of yen typed by the operator.

    Accepts ASCII or full-width digits, commas (ASCII or full-width) grouping exactly three
    digits, one leading yen sign (``¥``, ``￥``, ``\\``, ``＼``), a trailing ``円`` and
    surrounding whitespace including U+3000.

    Args:
        text: What the operator typed.
        field: The Japanese name of the field, used in error messages.
        allow_zero: Whether 0 is an acceptable amount.

    Returns:
        The amount in yen, between 0 (or 1) and ``MAX_YEN``.

    Raises:
        BadInput: The text is blank, not a number, negative, has a fraction, has misplaced
            commas, is zero when zero is not allowed, or exceeds ``MAX_YEN``.
    """
    if text.isascii() and text.isdigit() and len(text) <= len(str(MAX_YEN)):  # plain digits: the grammar's answer
        amount = int(text)
        if amount <= MAX_YEN and (amount or allow_zero):
            return amount
    if not text or not text.strip():
        raise BadInput(f"{field}を入力してください。")

    # Digits that NFKC would fold into ASCII but that nobody types as an amount
    # (①, ¹, 𝟏 …) are refused instead of being read as numbers.
    for char in text:
        if char.isascii() or char in _FULLWIDTH_DIGITS:
            continue
        if any(c in "0123456789" for c in unicodedata.normalize("NFKC", char)):
            raise _not_a_number(field)

    normalized = unicodedata.normalize("NFKC", text).strip()
    match = _AMOUNT_RE.fullmatch(normalized)
    if match is None:
        raise _not_a_number(field)

    signs = match["sign_before"] + match["sign_after"]
    if signs:
        if len(signs) == 1 and signs in _MINUS_CHARS:
            raise BadInput(f"{field}にはマイナスの値を入力できません。")
        raise BadInput(f"{field}は符号（+ や -）を付けずに入力してください。")

    number = match["number"]
    if "." in number:
        raise BadInput(f"円には小数点以下の単位がないため、{field}は1円単位の整数で入力してください。")
    if "," in number and _GROUPED_RE.fullmatch(number) is None:
        raise BadInput(f"{field}のカンマの位置が正しくないため、3桁ごとに区切るか、カンマなしで入力してください。")

    digits = number.replace(",", "").lstrip("0") or "0"
    # Checked on the digit count first: int() refuses strings of more than 4,300 digits.
    if len(digits) > len(str(MAX_YEN)) or int(digits) > MAX_YEN:
        raise BadInput(f"{field}は{format_yen(MAX_YEN)}以下で入力してください。")
    amount = int(digits)
    if amount == 0 and not allow_zero:
        raise BadInput(f"{field}は1円以上で入力してください。")
    return amount


def format_yen(amount: int) -> str:
    """Render yen for display: ``1234`` → ``'¥1,234'``, ``-500`` → ``'-¥500'``, ``0`` → ``'¥0'``.

    ``parse_yen`` reads back every non-negative result.

    Raises:
        TypeError: ``amount`` is not an ``int`` (a float or bool here is a bug).
    """
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise TypeError(f"amount must be int yen, not {type(amount).__name__}")
    if amount < 0:
        return f"-¥{-amount:,}"
    return f"¥{amount:,}"


def _not_a_number(field: str) -> BadInput:
    return BadInput(f"{field}は数字で入力してください（例: 1,200 または 1200円）。")
