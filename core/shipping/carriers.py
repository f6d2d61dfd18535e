"""Carriers and their tracking numbers (issue 15 item 1, R24). Pure: no I/O.

What each carrier's number looks like, as the carriers and the shipping software publish it:

- ヤマト運輸: 12 digits; the last is the first eleven, read as one number, modulo 7 ("7DR").
- 佐川急便: 12 digits with the same modulo-7 check digit (the published sample 512547514334
  and the shipping libraries that validate it agree).
- 日本郵便: ゆうパック / ゆうパケット / レターパック numbers are 12 digits with the same
  modulo-7 check digit; 書留・特定記録 numbers are 11 digits and some services 13 (digits and
  length only: no check rule is published for them); international items follow the UPU S10
  standard, two letters, eight digits, a check digit (weights 8 6 4 2 3 5 9 7, 11 − sum mod 11,
  10 → 0, 11 → 5) and ``JP``.
- その他: any printable text (no control characters), up to 64 characters.

Hyphens and spaces are allowed when typed (``4444-1375-8703``) and dropped; full-width digits
are read as digits.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import Final
from urllib.parse import quote


class Carrier(StrEnum):
    YAMATO = "yamato"
    SAGAWA = "sagawa"
    JAPANPOST = "japanpost"
    OTHER = "other"

    @property
    def label(self) -> str:
        return CARRIER_LABELS[self]


CARRIER_LABELS: Final[dict[Carrier, str]] = {
    Carrier.YAMATO: "ヤマト運輸",
    Carrier.SAGAWA: "佐川急便",
    Carrier.JAPANPOST: "日本郵便",
    Carrier.OTHER: "その他",
}

# Names a shipping file or a person may use for a carrier (B2クラウド, e飛伝, a shop's own sheet).
_ALIASES: Final[dict[str, Carrier]] = {
    "yamato": Carrier.YAMATO,
    "ヤマト": Carrier.YAMATO,
    "ヤマト運輸": Carrier.YAMATO,
    "クロネコヤマト": Carrier.YAMATO,
    "宅急便": Carrier.YAMATO,
    "sagawa": Carrier.SAGAWA,
    "佐川": Carrier.SAGAWA,
    "佐川急便": Carrier.SAGAWA,
    "飛脚宅配便": Carrier.SAGAWA,
    "japanpost": Carrier.JAPANPOST,
    "japan post": Carrier.JAPANPOST,
    "jp": Carrier.JAPANPOST,
    "日本郵便": Carrier.JAPANPOST,
    "郵便": Carrier.JAPANPOST,
    "ゆうパック": Carrier.JAPANPOST,
    "ゆうパケット": Carrier.JAPANPOST,
    "other": Carrier.OTHER,
    "その他": Carrier.OTHER,
}

MAX_OTHER_LENGTH: Final = 64
_S10 = re.compile(r"[A-Z]{2}\d{9}JP")
_S10_WEIGHTS: Final = (8, 6, 4, 2, 3, 5, 9, 7)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")

TRACKING_URLS: Final[dict[Carrier, str]] = {
    Carrier.YAMATO: "https://jizen.kuronekoyamato.co.jp/jizen/servlet/crjz.b.NQ0010?id={number}",
    Carrier.SAGAWA: "https://k2k.sagawa-exp.co.jp/p/web/okurijosearch.do?okurijoNo={number}",
    Carrier.JAPANPOST: (
        "https://trackings.post.japanpost.jp/services/srv/search/direct?reqCodeNo1={number}&searchKind=S002&locale=ja"
    ),
}


@dataclass(frozen=True)
class TrackingCheck:
    """A tracking number as it will be stored (``number``), or why it cannot be (``error``)."""

    carrier: Carrier
    number: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def parse_carrier(text: str) -> Carrier | None:
    """``yamato`` / ``ヤマト運輸`` / ``佐川`` … as a carrier; None when unknown."""
    key = unicodedata.normalize("NFKC", text or "").strip().lower()
    if not key:
        return None
    if key in _ALIASES:
        return _ALIASES[key]
    for alias, carrier in _ALIASES.items():  # "ヤマト運輸(宅急便)", "佐川急便 飛脚宅配便"
        if len(alias) >= 2 and not alias.isascii() and alias in key:
            return carrier
    return None


def mod7_check_digit(body: str) -> int:
    """The modulo-7 check digit of Yamato, Sagawa and Japan Post's 12-digit numbers."""
    return int(body) % 7


def s10_check_digit(serial: str) -> int:
    """UPU S10's check digit over the eight serial digits."""
    total = sum(int(d) * w for d, w in zip(serial, _S10_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: 0, 11: 5}.get(check, check)


def _compact(text: str) -> str:
    value = unicodedata.normalize("NFKC", text or "").strip()
    return re.sub(r"[\s\-‐ー−]", "", value).upper()


def _digits12(carrier: Carrier, number: str) -> str | None:
    if not re.fullmatch(r"\d{12}", number):
        return f"{carrier.label}の送り状番号は12桁の数字です(「{number}」は{len(number)}文字)。"
    if int(number[11]) != mod7_check_digit(number[:11]):
        return f"{carrier.label}の送り状番号「{number}」は正しくありません(最後の桁が一致しません。打ち間違いがないか確認してください)。"
    return None


def check_tracking(carrier: Carrier, text: str) -> TrackingCheck:
    """Validate ``text`` as ``carrier``'s tracking number (R24)."""
    if carrier is Carrier.OTHER:
        value = unicodedata.normalize("NFKC", text or "").strip()
        if not value:
            return TrackingCheck(carrier, value, "送り状番号を入力してください。")
        if _CONTROL.search(value) or not value.isprintable():
            return TrackingCheck(carrier, value, "送り状番号に使えない文字(制御文字など)が含まれています。")
        if len(value) > MAX_OTHER_LENGTH:
            return TrackingCheck(carrier, value, f"送り状番号は{MAX_OTHER_LENGTH}文字までです。")
        return TrackingCheck(carrier, value)
    number = _compact(text)
    if not number:
        return TrackingCheck(carrier, number, "送り状番号を入力してください。")
    if carrier is Carrier.JAPANPOST:
        if _S10.fullmatch(number):
            if int(number[10]) != s10_check_digit(number[2:10]):
                return TrackingCheck(
                    carrier, number, f"日本郵便(国際)の追跡番号「{number}」は正しくありません(検査数字が一致しません)。"
                )
            return TrackingCheck(carrier, number)
        if re.fullmatch(r"\d{12}", number):
            return TrackingCheck(carrier, number, _digits12(carrier, number))
        if re.fullmatch(r"\d{11}|\d{13}", number):
            return TrackingCheck(carrier, number)
        return TrackingCheck(
            carrier,
            number,
            f"日本郵便の追跡番号は11〜13桁の数字、または国際郵便の「英字2文字+数字9桁+JP」です(「{number}」)。",
        )
    return TrackingCheck(carrier, number, _digits12(carrier, number))


def tracking_url(carrier: Carrier | str | None, number: str | None) -> str | None:
    """The carrier's page for ``number``; None for その他 or without a number."""
    if not number or carrier is None:
        return None
    try:
        known = Carrier(carrier)
    except ValueError:
        return None
    template = TRACKING_URLS.get(known)
    if template is None:
        return None
    if known is Carrier.JAPANPOST and _S10.fullmatch(number):
        template = template.replace("searchKind=S002", "searchKind=S004")
    return template.format(number=quote(number, safe=""))


def carrier_label(carrier: str | None) -> str:
    try:
        return Carrier(carrier or "").label
    except ValueError:
        return carrier or ""
