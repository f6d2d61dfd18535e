"""One fold for the order list's search: the index holds folded text and the query is folded
the same way (issue 16 item 6), on SQLite and on PostgreSQL.

* NFKC: ①→1, ㈱→(株), ＡＢＣ→ABC, ｶﾀｶﾅ→カタカナ, full-width digits and spaces;
* katakana → hiragana, so ヤマダ, やまだ and ﾔﾏﾀﾞ find each other and the customer's reading
  (フリガナ, imported e.g. from EC-CUBE's お名前(セイ)/(メイ));
* a phone number is searched by its digits: 03-1234-5678, 0312345678 and ０３（１２３４）５６７８
  are the same number.

SQLite calls :func:`fold` and :func:`phone_digits` themselves (registered on every connection as
``kanjo_fold`` and ``kanjo_digits``, core/db/engine.py); PostgreSQL runs the SQL functions of
:data:`PG_FUNCTIONS`, built from the same tables here, and a test checks that the two agree.
Pure Python: no database here.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

# ァ (U+30A1) … ヶ (U+30F6) map to ぁ (U+3041) … ゖ (U+3096); ヷ…ヺ and ー have no hiragana.
KATAKANA: Final = "".join(chr(c) for c in range(0x30A1, 0x30F7))
HIRAGANA: Final = "".join(chr(c - 0x60) for c in range(0x30A1, 0x30F7))
_TO_HIRAGANA: Final = str.maketrans(KATAKANA, HIRAGANA)
PHONE_MARKS: Final = frozenset("-‐‑‒–—―−ー() +.")  # what separates a phone number's digits
MIN_PHONE_DIGITS: Final = 3
_NOT_DIGIT: Final = re.compile("[^0-9]")


def fold(value: str | None) -> str:
    """The text as the index keeps it and the search matches it."""
    if not value:
        return ""
    if value.isascii():  # NFKC and the kana table change nothing in ASCII (numbers, e-mail)
        return value
    return unicodedata.normalize("NFKC", value).translate(_TO_HIRAGANA)


def phone_digits(value: str | None) -> str:
    """The digits of a phone number (NFKC first: full-width digits count)."""
    if not value:
        return ""
    return _NOT_DIGIT.sub("", value if value.isascii() else unicodedata.normalize("NFKC", value))


def phone_query(value: str) -> str | None:
    """The digits to look for when ``value`` reads as (a piece of) a phone number: digits and
    separators only, at least three digits. None for any other search."""
    text_value = unicodedata.normalize("NFKC", value).strip()
    digits = phone_digits(text_value)
    if len(digits) < MIN_PHONE_DIGITS:
        return None
    if any(not ("0" <= ch <= "9") and ch not in PHONE_MARKS for ch in text_value):
        return None
    return digits


# PostgreSQL: the same fold (normalize() needs a UTF-8 database, as pg_trgm's Japanese does).
PG_FUNCTIONS: Final = (
    "CREATE OR REPLACE FUNCTION kanjo_fold(value text) RETURNS text "
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS "
    f"$$ SELECT translate(normalize(coalesce(value, ''), NFKC), '{KATAKANA}', '{HIRAGANA}') $$",
    "CREATE OR REPLACE FUNCTION kanjo_digits(value text) RETURNS text "
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS "
    "$$ SELECT regexp_replace(normalize(coalesce(value, ''), NFKC), '[^0-9]', '', 'g') $$",
)
