"""What an order number (受注番号) may be: the shape check, before anything is sent anywhere.

An order number becomes the Charge Permission's ``merchantReferenceId`` (domain.md, SellerOrderId)
and the key of an order in the store, so a bad one must be refused before the buyer's checkout
reaches Amazon Pay (or the sandbox): a refusal afterwards would leave an authorized Charge
Permission that no order points to (issue 10, item 12).
"""

from __future__ import annotations

import unicodedata

from core.errors import BadInput

MAX_ORDER_NUMBER_LENGTH = 64


def validate_order_number(text: str) -> str:
    """The order number ``text`` with surrounding blanks removed; ``BadInput`` in Japanese if unusable.

    Refused: blank, any control, format or line-separator character (a newline, a tab, NUL,
    a bidi override), and more than :data:`MAX_ORDER_NUMBER_LENGTH` characters.
    """
    number = text.strip()
    if not number:
        raise BadInput("受注番号を入力してください。")
    plain = number.isascii() and number.isprintable()  # ASCII without controls: nothing to look up
    if not plain and any(
        unicodedata.category(ch)[0] == "C" or unicodedata.category(ch) in ("Zl", "Zp") for ch in number
    ):
        raise BadInput("受注番号に改行やタブなどの制御文字は使えません。")
    if len(number) > MAX_ORDER_NUMBER_LENGTH:
        raise BadInput(f"受注番号は{MAX_ORDER_NUMBER_LENGTH}文字以内で入力してください({len(number)}文字)。")
    return number
