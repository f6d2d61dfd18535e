"""Which templates fit an order now (issue 5 §4): pure rules over the order's detail.

* A failed (re-)authorization offers the guidance that matches the R41 message on the order:
  "change the payment method" → the payment-method request first; "payment settings" (and any
  declined authorization) → the R43 guidance, the shop's order-history page for members when
  the shop's domain is set, else Amazon Pay's own page.
* A cancellation request (the operator says so) offers the "one cushion" reply (R45), and the
  return instructions (R46) once that reply has gone out.
* Otherwise the happy path (R24): the thank-you mail until one was sent, the shipping notice
  once the order has shipped, and for shipped orders the R45 and R50 replies further down.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from core.amazonpay.errors import R41_CHANGE_METHOD_MESSAGE, R41_PAYMENT_SETTINGS_MESSAGE
from core.domain import OrderStatus, PaymentStatus
from core.messages.status import MessageStatus
from core.queries import OrderDetail
from core.settings import AppSettings

SITUATIONS: Final = {"cancel_request": "キャンセル依頼への返信", "payment_failure": "お支払いの案内"}
_DONE = frozenset({MessageStatus.SENT.value, MessageStatus.MANUAL.value})
_OPEN = frozenset({OrderStatus.NEW.label, OrderStatus.RESERVED.label, OrderStatus.PROCESSING.label})
_SHIPPED = frozenset({OrderStatus.SHIPPED.label, OrderStatus.DONE.label})


@dataclass(frozen=True)
class Suggestion:
    template_id: str
    reason: str


def suggest(
    detail: OrderDetail,
    settings: AppSettings,
    situation: str | None = None,
    builtin_of: Callable[[str], str | None] = lambda template_id: template_id,
) -> list[Suggestion]:
    """Built-in template ids that fit ``detail``, best first, each with the reason in Japanese.

    Args:
        builtin_of: Maps a stored message's template id to the built-in it comes from (an
            operator's copy counts as its built-in), to know what was already sent.
    """
    # Here, not at the top: the window's detail panel imports SITUATIONS before its first paint,
    # and variables brings Jinja2 (issue 10 item 16).
    from core.messages.variables import clean_domain

    done = {builtin_of(m.template_id) for m in detail.messages if m.status in _DONE}
    found: list[Suggestion] = []

    def add(template_id: str, reason: str) -> None:
        if all(s.template_id != template_id for s in found):
            found.append(Suggestion(template_id, reason))

    if situation == "cancel_request":
        if "cancel-reply" in done:
            add(
                "return-steps",
                "条件付きキャンセルの返信は送信済みです。それでもキャンセルをご希望なら返品手続きを案内します(R46)。",
            )
        add("cancel-reply", "発送後のキャンセル依頼には、まず条件付きでお受けする旨を返信します(R45)。")
        add("return-steps", "条件付きキャンセルに同意されたら、返品手続きを案内します(R46)。")

    r41 = detail.reauth_message
    declined = r41 is not None or detail.payment_status == PaymentStatus.AUTH_FAILED.value
    if r41 == R41_CHANGE_METHOD_MESSAGE:
        add(
            "payment-method-change",
            "与信に失敗し、この支払い方法では続けられません。お支払い方法の変更をお願いします(R41)。",
        )
    if declined or situation == "payment_failure":
        why = "与信に失敗しました。購入者にAmazon Payのお支払い設定の変更をお願いします(R41・R43)。"
        member = detail.customer_is_member
        if member and clean_domain(settings.shop_domain):
            add("payment-history", why + "会員のご注文なので、ショップの注文履歴ページを案内できます。")
            add("payment-amazon", "Amazon Payのページを直接案内する場合(退会済みの会員にも使えます, R43)。")
        else:
            note = "ゲストのご注文なので" if not member else "ショップのドメインが未設定なので"
            add("payment-amazon", why + f"{note}、Amazon Payのページを案内します。")
            if member:
                add("payment-history", "ショップの注文履歴ページを案内する場合(ドメインの設定が必要です, R43)。")
    if r41 == R41_PAYMENT_SETTINGS_MESSAGE or declined:
        add("payment-method-change", "Amazon Pay以外のお支払い方法への変更をお願いする場合(R41)。")

    shipped = detail.order_status in _SHIPPED or bool(detail.tracking_number)
    if detail.order_status in _OPEN and not declined and "thanks" not in done:
        add("thanks", "ご注文のお礼(サンクスメール)はまだ送っていません(R24)。")
    if shipped:
        if "shipping" not in done:
            add("shipping", "発送のお知らせはまだ送っていません(R24)。")
        add("cancel-reply", "発送後にキャンセルを希望されたときの返信です(R45)。")
        add("supplier-apology", "発送の連絡後に商品をお届けできなくなったときのお詫びと全額返金です(R50)。")
    return found
