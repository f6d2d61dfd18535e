"""Amazon Pay API v2 error responses → typed errors with Japanese operator messages.

Amazon answers a failed call with an HTTP status and a body such as
``{"reasonCode": "InvalidParameterValue", "message": "The value provided for ..."}``
(``amazonpay-api.md`` §5). ``error_from_response`` turns that into one subclass of
``AmazonPayError`` chosen by the reason code (or, for a code we do not know, by the HTTP
status), whose ``message`` is a Japanese sentence for the operator. Amazon's English text is
kept in ``amazon_message`` for logs and never shown as the message.

``japanese_message`` also explains the reason codes of Charge and Charge Permission states
(``NonChargeable`` / ``Closed`` / ``Canceled`` reasons, §2), so the app can say why an order
can no longer be charged. ``reauthorization_failure_message`` picks the R41 text for an order
whose (re-)authorization failed, following the decision in R56.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

from core.errors import GatewayError

RETRYABLE_HTTP_STATUSES: Final[frozenset[int]] = frozenset({408, 425, 429, 500, 502, 503, 504})
"""Statuses after which the identical signed request may be resent (same idempotency key).

The union of the official SDKs' retry sets (PHP, Java: 408, 425, 429, 500, 502, 503, 504).
"""

# R41, quoted verbatim from the source manual [004]: the operator knows these texts.
R41_CHANGE_METHOD_MESSAGE: Final = (
    "オーソリ処理に失敗しました。この支払方法では、販売を継続できないため、決済方法を変更してください。"
)
R41_PAYMENT_SETTINGS_MESSAGE: Final = (
    "オーソリ処理に失敗しました。ご注文いただいたAmazon Payアカウントの支払い設定に問題があります。"
    "ご注文者にご連絡してAmazon Payのお支払い設定を変更いただくか、決済方法を変更してください。"
)

_MAX_AMAZON_MESSAGE_CHARS: Final = 500
# A reason code is an identifier; anything else (HTML, a huge string) is not put in a message.
_REASON_CODE_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}", re.ASCII)


class AmazonPayError(GatewayError):
    """Amazon Pay refused or failed a request.

    Attributes:
        reason_code: Amazon's ``reasonCode`` (empty when the response carried none).
        http_status: The HTTP status of the response.
        amazon_message: Amazon's own (English) ``message``, or the start of a non-JSON body;
            for logs and support, not for the operator.
        request_id: The ``x-amz-pay-request-id`` response header, if any.
        message: The Japanese operator message (from ``UserError``).
    """

    code = "amazonpay_error"

    def __init__(
        self,
        reason_code: str,
        *,
        http_status: int,
        amazon_message: str = "",
        request_id: str | None = None,
        message: str | None = None,
    ) -> None:
        """Create the error; ``message`` defaults to ``japanese_message(reason_code)``."""
        super().__init__(message if message is not None else japanese_message(reason_code))
        self.reason_code = reason_code
        self.http_status = http_status
        self.amazon_message = amazon_message
        self.request_id = request_id

    @property
    def retryable(self) -> bool:
        """Whether the client may resend the identical request after a backoff."""
        return self.http_status in RETRYABLE_HTTP_STATUSES

    @property
    def technical_detail(self) -> str:
        """One line in English for logs and the "copy details" box."""
        parts = [f"HTTP {self.http_status}", f"reasonCode={self.reason_code or '-'}"]
        if self.request_id:
            parts.append(f"requestId={self.request_id}")
        if self.amazon_message:
            parts.append(f"message={self.amazon_message!r}")
        return f"{type(self).__name__}: " + ", ".join(parts)

    def __reduce__(self) -> tuple[object, ...]:
        # The keyword-only constructor would break the default Exception pickling.
        return (
            _rebuild,
            (
                type(self),
                self.reason_code,
                self.http_status,
                self.amazon_message,
                self.request_id,
                self.message,
            ),
        )


def _rebuild(
    cls: type[AmazonPayError],
    reason_code: str,
    http_status: int,
    amazon_message: str,
    request_id: str | None,
    message: str,
) -> AmazonPayError:
    return cls(
        reason_code,
        http_status=http_status,
        amazon_message=amazon_message,
        request_id=request_id,
        message=message,
    )


_RETRY_MAY_SUCCEED: Final = frozenset({"SoftDeclined", "ProcessingFailure", "TransactionTimedOut"})
_BUYER_MUST_CHANGE_METHOD: Final = frozenset({"HardDeclined", "PaymentMethodNotAllowed"})


class DeclinedError(AmazonPayError):
    """The payment was declined (authorization, capture or refund)."""

    code = "amazonpay_declined"

    @property
    def retry_may_succeed(self) -> bool:
        """A later retry may succeed while the Charge Permission is ``Chargeable`` (R56)."""
        return self.reason_code in _RETRY_MAY_SUCCEED

    @property
    def buyer_must_change_method(self) -> bool:
        """Retrying cannot help: the buyer must choose another payment method (R41, R56)."""
        return self.reason_code in _BUYER_MUST_CHANGE_METHOD


class LimitExceededError(AmazonPayError):
    """The charge exceeds an amount or count limit of the Charge Permission (R29, R52, R53)."""

    code = "amazonpay_limit_exceeded"


class InvalidStateError(AmazonPayError):
    """The Charge or Charge Permission is in a state that does not allow the operation."""

    code = "amazonpay_invalid_state"


class RequestRejectedError(AmazonPayError):
    """Amazon rejected the request itself (HTTP 400 family); usually a bug or bad setting."""

    code = "amazonpay_request_rejected"


class AuthenticationError(AmazonPayError):
    """Signature, key or account problem (HTTP 401/403)."""

    code = "amazonpay_authentication"


class ResourceNotFoundError(AmazonPayError):
    """The Charge, Charge Permission or Refund does not exist (in this environment)."""

    code = "amazonpay_not_found"


class ThrottledError(AmazonPayError):
    """Too many requests (HTTP 429); retry after a backoff."""

    code = "amazonpay_throttled"


class ServiceError(AmazonPayError):
    """Amazon Pay failed internally (HTTP 5xx).

    For a POST the outcome may be unknown: the client resends with the same idempotency key
    or reads the object's status before treating the operation as failed.
    """

    code = "amazonpay_service_error"


_CLASS_BY_REASON_CODE: Final[Mapping[str, type[AmazonPayError]]] = {
    **dict.fromkeys(
        (
            "SoftDeclined",
            "HardDeclined",
            "AmazonRejected",
            "ProcessingFailure",
            "TransactionTimedOut",
            "PaymentMethodNotAllowed",
            "MFANotCompleted",
        ),
        DeclinedError,
    ),
    **dict.fromkeys(
        ("TransactionAmountExceeded", "TransactionCountExceeded", "PeriodicAmountExceeded"),
        LimitExceededError,
    ),
    **dict.fromkeys(("InvalidChargeStatus", "InvalidChargePermissionStatus"), InvalidStateError),
    **dict.fromkeys(
        (
            "InvalidHeaderValue",
            "InvalidRequest",
            "InvalidParameterValue",
            "InvalidRequestFormat",
            "MissingHeader",
            "MissingHeaderValue",
            "MissingParameterValue",
            "UnrecognizedField",
            "InvalidSandboxSimulationSpecified",
            "DuplicateIdempotencyKey",
            "InvalidParameterCombination",
            "CurrencyMismatch",
        ),
        RequestRejectedError,
    ),
    **dict.fromkeys(
        ("InvalidRequestSignature", "UnauthorizedAccess", "InvalidAccountStatus"),
        AuthenticationError,
    ),
    "ResourceNotFound": ResourceNotFoundError,
    "TooManyRequests": ThrottledError,
    **dict.fromkeys(("InternalServerError", "ServiceUnavailable"), ServiceError),
}

_ASK_BUYER_TO_FIX_SETTINGS: Final = "ご注文者にAmazon Payのお支払い設定の変更をご依頼ください。"
_ASK_SUPPORT: Final = "サポートにお問い合わせください。"

_MESSAGES: Final[Mapping[str, str]] = {
    # Declines (Create Charge, Capture, Refund).
    "SoftDeclined": (
        "Amazon Payで決済が一時的に承認されなかったため、時間をおいて再度お試しいただき、"
        "失敗が続く場合はご注文者にお支払い設定の確認をご依頼ください。"
    ),
    "HardDeclined": (
        "Amazon Payで決済が拒否され、この支払方法では今後も承認されないため、ご注文者に支払方法の変更をご依頼ください。"
    ),
    "AmazonRejected": (
        "Amazon Payがこの取引を承認せず、注文の支払い許可も取り消されたため、"
        "ご注文者に別の決済方法をご依頼いただくか、Amazon Payにお問い合わせください。"
    ),
    "ProcessingFailure": (
        "Amazon Pay側の処理に失敗したため、時間をおいて再度お試しいただき、"
        "失敗が続く場合はご注文者にお支払い設定の確認をご依頼ください。"
    ),
    "TransactionTimedOut": (
        "Amazon Payでの承認処理が時間内に終わらなかったため、時間をおいて再度お試しいただき、"
        "失敗が続く場合はご注文者にお支払い設定の確認をご依頼ください。"
    ),
    "PaymentMethodNotAllowed": (
        "ご注文者の支払方法はこの取引では使えないため、ご注文者に支払方法の変更をご依頼ください。"
    ),
    "MFANotCompleted": (
        "ご注文者の本人認証が完了していないため、ご注文者にAmazon Payで認証を済ませていただくようご依頼ください。"
    ),
    # Limits of the Charge Permission (R29, R52, R53).
    "TransactionAmountExceeded": (
        "請求額がこの注文の支払い許可の上限（増額は最大で注文時の金額の9倍か70,000円の"
        "高い方まで）を超えているため、金額を見直すか、ご注文者に別の決済方法をご依頼ください。"
    ),
    "TransactionCountExceeded": (
        "この注文は請求回数の上限（25回）に達しているため、これ以上は請求できず、"
        "追加の請求が必要な場合はご注文者に新しい注文をご依頼ください。"
    ),
    "PeriodicAmountExceeded": (
        "この定期購入の今月の請求額が上限の100,000円を超えるため、"
        "金額を見直すか、上限が戻る翌月1日以降に請求してください。"
    ),
    # States.
    "InvalidChargeStatus": (
        "この決済は現在の状態ではこの操作ができないため、最新の状態を読み込んでから操作し直してください。"
    ),
    "InvalidChargePermissionStatus": (
        "この注文の支払い許可が請求できない状態になっているため、最新の状態を確認し、"
        "必要に応じてご注文者にお支払い設定の変更をご依頼ください。"
    ),
    # Request problems (HTTP 400).
    "InvalidHeaderValue": (
        "Amazon Payが送信内容の一部（ヘッダー）を受け付けなかったため、"
        "パソコンの日時が正しいか確認し、解決しない場合は" + _ASK_SUPPORT
    ),
    "InvalidRequest": ("Amazon Payがこの依頼を受け付けなかったため、入力内容を確認し、解決しない場合は" + _ASK_SUPPORT),
    "InvalidParameterValue": (
        "送信した値の一部をAmazon Payが受け付けなかったため、金額などの入力内容を確認し、"
        "解決しない場合は" + _ASK_SUPPORT
    ),
    "InvalidRequestFormat": "アプリが送信した依頼の形式に誤りがあったため、" + _ASK_SUPPORT,
    "MissingHeader": "アプリが送信した依頼に必要な情報が欠けていたため、" + _ASK_SUPPORT,
    "MissingHeaderValue": "アプリが送信した依頼に必要な情報が欠けていたため、" + _ASK_SUPPORT,
    "MissingParameterValue": ("必要な項目が送信されなかったため、入力内容を確認し、解決しない場合は" + _ASK_SUPPORT),
    "UnrecognizedField": "Amazon Payが認識できない項目をアプリが送信したため、" + _ASK_SUPPORT,
    "InvalidSandboxSimulationSpecified": (
        "指定したテスト用のシミュレーションが無効なため、サンドボックスの設定を確認してください。"
    ),
    "DuplicateIdempotencyKey": (
        "アプリ内部の整合性の問題（再送した操作の内容が前回と一致しない）が見つかり処理を中止したため、" + _ASK_SUPPORT
    ),
    "InvalidParameterCombination": ("同時には指定できない項目の組み合わせをアプリが送信したため、" + _ASK_SUPPORT),
    "CurrencyMismatch": ("請求の通貨がこの注文の支払い許可の通貨と一致しないため、" + _ASK_SUPPORT),
    # Authentication and account (HTTP 401/403).
    "InvalidRequestSignature": (
        "Amazon Payが署名を確認できなかったため、設定画面で公開鍵IDと秘密鍵の組み合わせが正しいか確認してください。"
    ),
    "UnauthorizedAccess": (
        "Amazon Payでこの操作が許可されなかったため、設定画面で公開鍵IDと本番・テスト環境の"
        "選択が正しいか確認してください。"
    ),
    "InvalidAccountStatus": (
        "Amazon Payの出品者アカウントが利用できない状態のため、"
        "Amazon Payセラーセントラルでアカウントの状態を確認してください。"
    ),
    "ResourceNotFound": (
        "対象の決済がAmazon Payで見つからなかったため、注文の決済IDと本番・テスト環境の設定が正しいか確認してください。"
    ),
    "TooManyRequests": "Amazon Payが混み合っているため、少し時間をおいてから再度お試しください。",
    "InternalServerError": (
        "Amazon Pay側で一時的なエラーが起きたため、少し時間をおいてから注文の状態を確認し、"
        "必要に応じて再度お試しください。"
    ),
    "ServiceUnavailable": ("Amazon Payが一時的に利用できないため、しばらく時間をおいてから再度お試しください。"),
    # Charge Permission NonChargeable reasons (buyer side unless noted).
    "PaymentMethodInvalid": "ご注文者の支払方法が無効になっているため、" + _ASK_BUYER_TO_FIX_SETTINGS,
    "PaymentMethodDeleted": "ご注文者が支払方法を削除したため、" + _ASK_BUYER_TO_FIX_SETTINGS,
    "BillingAddressDeleted": "ご注文者が請求先住所を削除したため、" + _ASK_BUYER_TO_FIX_SETTINGS,
    "PaymentMethodExpired": ("ご注文者の支払方法の有効期限が切れているため、" + _ASK_BUYER_TO_FIX_SETTINGS),
    "PaymentMethodNotSet": "ご注文者の支払方法が未設定のため、" + _ASK_BUYER_TO_FIX_SETTINGS,
    "ChargeInProgress": (
        "この注文では別の請求が処理中のため、その請求の完了を待つか、取り消してから操作してください。"
    ),
    "MFAFailed": (
        "ご注文者の本人認証に失敗したため、ご注文者にAmazon Payで認証をやり直していただくか、"
        "お支払い設定の変更をご依頼ください。"
    ),
    # Charge Permission Closed and Charge Canceled reasons.
    "MerchantClosed": (
        "この注文の支払い許可はショップ側で終了済みのため、追加の請求が必要な場合は"
        "ご注文者に新しい注文をご依頼ください。"
    ),
    "MerchantCanceled": (
        "この決済はショップ側の操作で取り消し済みのため、追加の請求が必要な場合はご注文者に新しい注文をご依頼ください。"
    ),
    "BuyerClosed": (
        "ご注文者がAmazon Payで支払い許可を取り消したため、請求を続ける場合はご注文者に別の決済方法をご依頼ください。"
    ),
    "BuyerCanceled": ("この決済はご注文者が取り消したため、請求を続ける場合はご注文者に別の決済方法をご依頼ください。"),
    "AmazonCanceled": (
        "この決済はAmazon Payによって取り消されたため、請求を続ける場合はご注文者に別の決済方法をご依頼ください。"
    ),
    "AmazonClosed": (
        "請求がすべて完了したためAmazon Payが支払い許可を終了しており、この注文への追加の請求はできません。"
    ),
    "Expired": ("支払い許可の有効期限が切れたため、追加の請求が必要な場合はご注文者に新しい注文をご依頼ください。"),
    "ExpiredUnused": (
        "オーソリ後30日以内に売上が確定されず有効期限が切れたため、売上を確定するには再与信を行ってください。"
    ),
    "ChargePermissionCanceled": (
        "支払い許可の終了とともにこの決済も取り消されたため、この決済にはこれ以上操作できません。"
    ),
}

# R56 (decision): which R41 message an order shows after a failed (re-)authorization.
_R41_CHANGE_METHOD_CODES: Final = frozenset({"HardDeclined", "PaymentMethodNotAllowed", "AmazonRejected"})
_R41_PAYMENT_SETTINGS_CODES: Final = frozenset(
    {
        # NonChargeable for a buyer-side reason.
        "InvalidChargePermissionStatus",
        "PaymentMethodInvalid",
        "PaymentMethodDeleted",
        "PaymentMethodExpired",
        "PaymentMethodNotSet",
        "BillingAddressDeleted",
        "MFAFailed",
        "MFANotCompleted",
        # Retryable declines: by the time the order shows a message, retries have failed
        # and only the buyer can fix it.
        "SoftDeclined",
        "ProcessingFailure",
        "TransactionTimedOut",
    }
)


def japanese_message(reason_code: str) -> str:
    """The Japanese operator message for an Amazon Pay reason code.

    Covers error reason codes and the reasons of Charge / Charge Permission states; an
    unknown code gets a generic message that names it.
    """
    message = _MESSAGES.get(reason_code)
    if message is not None:
        return message
    if not reason_code:
        return "Amazon Payから理由の分からないエラーが返されたため、注文の状態を確認し、解決しない場合は" + _ASK_SUPPORT
    return (
        f"Amazon Payから想定外の理由コード（{_safe_code(reason_code)}）が返されたため、"
        "注文の状態を確認し、解決しない場合は" + _ASK_SUPPORT
    )


def reauthorization_failure_message(reason_code: str) -> str | None:
    """The R41 message for an order whose (re-)authorization failed with ``reason_code``.

    Per R56: ``HardDeclined``, ``PaymentMethodNotAllowed`` and ``AmazonRejected`` (the
    Charge Permission is canceled) need another payment method; buyer-side ``NonChargeable``
    reasons and declines that still fail after retries need the buyer's payment settings
    fixed. Codes that are not declines (limits, request problems, outages) return ``None``:
    show ``japanese_message`` instead.
    """
    if reason_code in _R41_CHANGE_METHOD_CODES:
        return R41_CHANGE_METHOD_MESSAGE
    if reason_code in _R41_PAYMENT_SETTINGS_CODES:
        return R41_PAYMENT_SETTINGS_MESSAGE
    return None


def error_from_response(
    http_status: int,
    body: bytes | str | Mapping[str, object] | None,
    request_id: str | None = None,
) -> AmazonPayError:
    """Build the typed error for a failed Amazon Pay response.

    Args:
        http_status: The response status.
        body: The raw body (bytes or text), an already decoded JSON object, or ``None``.
            A missing, non-JSON or HTML body is tolerated.
        request_id: The ``x-amz-pay-request-id`` response header.

    Returns:
        An ``AmazonPayError`` subclass chosen by ``reasonCode``; for a missing or unknown code,
        by the HTTP status (429 → ``ThrottledError``, 5xx → ``ServiceError``, 401/403 →
        ``AuthenticationError``, 404 → ``ResourceNotFoundError``, otherwise
        ``RequestRejectedError``).
    """
    reason_code, amazon_message = _parse_body(body)
    cls = _CLASS_BY_REASON_CODE.get(reason_code)
    message: str | None = None
    if cls is None:
        cls = _class_for_status(http_status)
        if reason_code not in _MESSAGES:
            message = _generic_message(cls, reason_code, http_status)
    return cls(
        reason_code,
        http_status=http_status,
        amazon_message=amazon_message,
        request_id=request_id,
        message=message,
    )


def _class_for_status(http_status: int) -> type[AmazonPayError]:
    if http_status == 429:
        return ThrottledError
    if http_status >= 500:
        return ServiceError
    if http_status in (401, 403):
        return AuthenticationError
    if http_status == 404:
        return ResourceNotFoundError
    return RequestRejectedError


def _generic_message(cls: type[AmazonPayError], reason_code: str, http_status: int) -> str:
    detail = f"HTTPステータス: {http_status}"
    if reason_code:
        detail = f"理由コード: {reason_code}、{detail}"
    if cls is ThrottledError:
        return f"Amazon Payが混み合っているため（{detail}）、少し時間をおいてから再度お試しください。"
    if cls is ServiceError:
        return (
            f"Amazon Pay側でエラーが起きたため（{detail}）、少し時間をおいてから"
            "注文の状態を確認し、必要に応じて再度お試しください。"
        )
    if cls is AuthenticationError:
        return (
            f"Amazon Payで認証または権限のエラーが起きたため（{detail}）、設定画面で公開鍵ID・"
            "秘密鍵と本番・テスト環境の選択が正しいか確認してください。"
        )
    if cls is ResourceNotFoundError:
        return (
            f"対象の決済がAmazon Payで見つからなかったため（{detail}）、注文の決済IDと"
            "本番・テスト環境の設定が正しいか確認してください。"
        )
    return f"Amazon Payが依頼を受け付けなかったため（{detail}）、入力内容を確認し、解決しない場合は" + _ASK_SUPPORT


def _parse_body(body: bytes | str | Mapping[str, object] | None) -> tuple[str, str]:
    """Return ``(reason_code, amazon_message)``; both empty when the body says nothing usable."""
    if body is None:
        return "", ""
    if isinstance(body, Mapping):
        return _fields(body), _text_field(body, "message")
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    text = text.lstrip("\ufeff").strip()
    try:
        decoded: object = json.loads(text)
    except (
        ValueError,
        RecursionError,
    ):  # Not JSON (an HTML error page from a proxy, an empty body).
        return "", _truncate(text)
    if not isinstance(decoded, Mapping):
        return "", _truncate(text)
    return _fields(decoded), _text_field(decoded, "message") or _truncate(text)


def _fields(obj: Mapping[Any, object]) -> str:
    code = _text_field(obj, "reasonCode")
    return code if _REASON_CODE_RE.fullmatch(code) else ""


def _text_field(obj: Mapping[Any, object], name: str) -> str:
    """The string value of ``name``, matched case-insensitively (``reasonCode``/``ReasonCode``)."""
    value = obj.get(name)
    if value is None:
        wanted = name.lower()
        value = next((v for k, v in obj.items() if isinstance(k, str) and k.lower() == wanted), None)
    return _truncate(value.strip()) if isinstance(value, str) else ""


def _truncate(text: str) -> str:
    if len(text) <= _MAX_AMAZON_MESSAGE_CHARS:
        return text
    return text[: _MAX_AMAZON_MESSAGE_CHARS - 1] + "…"


def _safe_code(reason_code: str) -> str:
    """The code as shown in a message: identifiers as-is, anything else shortened and marked."""
    if _REASON_CODE_RE.fullmatch(reason_code):
        return reason_code
    return repr(reason_code[:64])
