"""Tests for core.amazonpay.errors: reasonCode → typed error → Japanese operator message."""

from __future__ import annotations

import json
import pickle
import re

import pytest

from core.amazonpay.errors import (
    R41_CHANGE_METHOD_MESSAGE,
    R41_PAYMENT_SETTINGS_MESSAGE,
    RETRYABLE_HTTP_STATUSES,
    AmazonPayError,
    AuthenticationError,
    DeclinedError,
    InvalidStateError,
    LimitExceededError,
    RequestRejectedError,
    ResourceNotFoundError,
    ServiceError,
    ThrottledError,
    error_from_response,
    japanese_message,
    reauthorization_failure_message,
)
from core.errors import GatewayError, UserError

DECLINED = [
    "SoftDeclined",
    "HardDeclined",
    "AmazonRejected",
    "ProcessingFailure",
    "TransactionTimedOut",
    "PaymentMethodNotAllowed",
    "MFANotCompleted",
]
LIMITS = ["TransactionAmountExceeded", "TransactionCountExceeded", "PeriodicAmountExceeded"]
STATES = ["InvalidChargeStatus", "InvalidChargePermissionStatus"]
REQUEST_PROBLEMS = [
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
]
AUTHENTICATION = ["InvalidRequestSignature", "UnauthorizedAccess", "InvalidAccountStatus"]

# (reasonCode, typical HTTP status, expected class)
ERROR_CODES: list[tuple[str, int, type[AmazonPayError]]] = [
    *[(code, 400, DeclinedError) for code in DECLINED],
    *[(code, 400, LimitExceededError) for code in LIMITS],
    *[(code, 422, InvalidStateError) for code in STATES],
    *[(code, 400, RequestRejectedError) for code in REQUEST_PROBLEMS],
    *[(code, 401, AuthenticationError) for code in AUTHENTICATION],
    ("ResourceNotFound", 404, ResourceNotFoundError),
    ("TooManyRequests", 429, ThrottledError),
    ("InternalServerError", 500, ServiceError),
    ("ServiceUnavailable", 503, ServiceError),
]

STATE_REASONS = [
    "PaymentMethodInvalid",
    "PaymentMethodDeleted",
    "BillingAddressDeleted",
    "PaymentMethodExpired",
    "PaymentMethodNotAllowed",
    "PaymentMethodNotSet",
    "ChargeInProgress",
    "MFAFailed",
    "MerchantClosed",
    "BuyerClosed",
    "AmazonCanceled",
    "AmazonClosed",
    "Expired",
    "ExpiredUnused",
    "MerchantCanceled",
    "ChargePermissionCanceled",
    "BuyerCanceled",
]

# Latin text allowed in an operator message: the brand, and "ID" as in 公開鍵ID / 決済ID.
_ALLOWED_LATIN = ("Amazon Pay", "ID")
_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _assert_japanese(message: str, *allowed: str) -> None:
    assert message
    assert _JAPANESE.search(message), message
    assert message.endswith("。"), message
    rest = message
    for word in (*allowed, *_ALLOWED_LATIN):
        rest = rest.replace(word, "")
    assert not re.search(r"[A-Za-z]", rest), message


def _body(code: str, message: str = "Some English text from Amazon.") -> bytes:
    return json.dumps({"reasonCode": code, "message": message}).encode()


@pytest.mark.parametrize(("code", "status", "cls"), ERROR_CODES)
def test_known_codes_map_to_class_and_message(code: str, status: int, cls: type[AmazonPayError]) -> None:
    error = error_from_response(status, _body(code, "English detail"), request_id="req-1")
    assert type(error) is cls
    assert isinstance(error, GatewayError)
    assert isinstance(error, UserError)
    assert error.reason_code == code
    assert error.http_status == status
    assert error.amazon_message == "English detail"
    assert error.request_id == "req-1"
    assert error.message == japanese_message(code)
    assert str(error) == error.message
    _assert_japanese(error.message)
    assert "English" not in error.message


@pytest.mark.parametrize(("code", "status", "cls"), ERROR_CODES)
def test_class_comes_from_code_even_with_other_status(code: str, status: int, cls: type[AmazonPayError]) -> None:
    assert type(error_from_response(400 if status != 400 else 500, _body(code))) is cls


@pytest.mark.parametrize("code", [code for code, _, _ in ERROR_CODES] + STATE_REASONS)
def test_every_code_has_its_own_japanese_message(code: str) -> None:
    message = japanese_message(code)
    _assert_japanese(message)
    assert code not in message
    assert message != japanese_message("SomethingNobodyKnows")


def test_messages_are_distinct_enough() -> None:
    codes = [code for code, _, _ in ERROR_CODES if code not in ("MissingHeader", "MissingHeaderValue")]
    messages = [japanese_message(code) for code in codes]
    assert len(set(messages)) == len(messages)


@pytest.mark.parametrize(
    ("code", "keywords"),
    [
        ("TransactionAmountExceeded", ["上限", "70,000円"]),
        ("TransactionCountExceeded", ["25回"]),
        ("PeriodicAmountExceeded", ["100,000円", "定期"]),
        ("HardDeclined", ["支払方法の変更"]),
        ("PaymentMethodNotAllowed", ["支払方法の変更"]),
        ("SoftDeclined", ["時間をおいて"]),
        ("TooManyRequests", ["混み合って", "時間をおいて"]),
        ("DuplicateIdempotencyKey", ["整合性", "サポート"]),
        ("InvalidRequestSignature", ["公開鍵ID", "秘密鍵", "設定"]),
        ("InvalidHeaderValue", ["日時"]),
        ("ChargeInProgress", ["処理中"]),
        ("ExpiredUnused", ["30日", "再与信"]),
        ("PaymentMethodExpired", ["有効期限", "お支払い設定"]),
    ],
)
def test_messages_say_what_to_do(code: str, keywords: list[str]) -> None:
    message = japanese_message(code)
    for keyword in keywords:
        assert keyword in message


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (429, ThrottledError),
        (500, ServiceError),
        (502, ServiceError),
        (503, ServiceError),
        (504, ServiceError),
        (599, ServiceError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, ResourceNotFoundError),
        (400, RequestRejectedError),
        (405, RequestRejectedError),
        (408, RequestRejectedError),
        (409, RequestRejectedError),
        (422, RequestRejectedError),
    ],
)
def test_unknown_code_is_classified_by_status(status: int, cls: type[AmazonPayError]) -> None:
    error = error_from_response(status, _body("BrandNewReason"))
    assert type(error) is cls
    assert error.reason_code == "BrandNewReason"
    assert "BrandNewReason" in error.message
    assert str(status) in error.message
    _assert_japanese(error.message, "BrandNewReason", "HTTP")


@pytest.mark.parametrize(
    "body",
    [
        None,
        b"",
        "",
        b"   ",
        b"<html><body><h1>502 Bad Gateway</h1></body></html>",
        "Service Unavailable",
        b"\xff\xfe\x00garbage",
        b"[1, 2, 3]",
        b'"just a string"',
        b"null",
        b'{"message": "no code here"}',
        b'{"reasonCode": 42, "message": "code is not a string"}',
        b'{"reasonCode": "<b>html</b>", "message": "not an identifier"}',
        b'{"reasonCode": "",',
        {"unexpected": "shape"},
        b"[" * 100_000,
    ],
)
@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (502, ServiceError),
        (429, ThrottledError),
        (403, AuthenticationError),
        (400, RequestRejectedError),
    ],
)
def test_missing_or_unreadable_body(
    body: bytes | str | dict[str, object] | None, status: int, cls: type[AmazonPayError]
) -> None:
    error = error_from_response(status, body, request_id=None)
    assert type(error) is cls
    assert error.reason_code == ""
    assert error.request_id is None
    assert str(status) in error.message
    _assert_japanese(error.message, "HTTP")
    assert len(error.amazon_message) <= 500


def test_html_body_is_kept_for_logs_not_shown() -> None:
    html = "<html><body>Bad Gateway</body></html>"
    error = error_from_response(502, html)
    assert error.amazon_message == html
    assert "html" not in error.message


def test_body_as_mapping_and_str() -> None:
    mapping = error_from_response(400, {"reasonCode": "HardDeclined", "message": "Declined."})
    text = error_from_response(400, '{"reasonCode": "HardDeclined", "message": "Declined."}')
    for error in (mapping, text):
        assert isinstance(error, DeclinedError)
        assert error.amazon_message == "Declined."


def test_body_keys_are_matched_case_insensitively_and_bom_is_ignored() -> None:
    error = error_from_response(400, '\ufeff{"ReasonCode": "SoftDeclined", "Message": "Soft."}'.encode())
    assert isinstance(error, DeclinedError)
    assert error.reason_code == "SoftDeclined"
    assert error.amazon_message == "Soft."


def test_doc_example_body() -> None:
    body = b'{"reasonCode":"InvalidParameterValue","message":"The value provided for [Parameter] is invalid."}'
    error = error_from_response(400, body, "abc-123")
    assert isinstance(error, RequestRejectedError)
    assert error.amazon_message == "The value provided for [Parameter] is invalid."
    assert "abc-123" in error.technical_detail
    assert "InvalidParameterValue" in error.technical_detail


def test_state_reason_as_error_code_keeps_its_message() -> None:
    error = error_from_response(400, _body("PaymentMethodExpired"))
    assert isinstance(error, RequestRejectedError)
    assert error.message == japanese_message("PaymentMethodExpired")


def test_long_amazon_message_is_truncated() -> None:
    error = error_from_response(400, _body("InvalidRequest", "x" * 10_000))
    assert len(error.amazon_message) == 500


@pytest.mark.parametrize(
    ("code", "retry", "change"),
    [
        ("SoftDeclined", True, False),
        ("ProcessingFailure", True, False),
        ("TransactionTimedOut", True, False),
        ("HardDeclined", False, True),
        ("PaymentMethodNotAllowed", False, True),
        ("AmazonRejected", False, False),
        ("MFANotCompleted", False, False),
    ],
)
def test_decline_flags(code: str, retry: bool, change: bool) -> None:
    error = error_from_response(400, _body(code))
    assert isinstance(error, DeclinedError)
    assert error.retry_may_succeed is retry
    assert error.buyer_must_change_method is change


def test_r41_texts_are_verbatim() -> None:
    assert R41_CHANGE_METHOD_MESSAGE == (
        "オーソリ処理に失敗しました。この支払方法では、販売を継続できないため、決済方法を変更してください。"
    )
    assert R41_PAYMENT_SETTINGS_MESSAGE == (
        "オーソリ処理に失敗しました。"
        "ご注文いただいたAmazon Payアカウントの支払い設定に問題があります。"
        "ご注文者にご連絡してAmazon Payのお支払い設定を変更いただくか、決済方法を変更してください。"
    )


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("HardDeclined", R41_CHANGE_METHOD_MESSAGE),
        ("PaymentMethodNotAllowed", R41_CHANGE_METHOD_MESSAGE),
        ("AmazonRejected", R41_CHANGE_METHOD_MESSAGE),
        ("InvalidChargePermissionStatus", R41_PAYMENT_SETTINGS_MESSAGE),
        ("PaymentMethodInvalid", R41_PAYMENT_SETTINGS_MESSAGE),
        ("PaymentMethodDeleted", R41_PAYMENT_SETTINGS_MESSAGE),
        ("PaymentMethodExpired", R41_PAYMENT_SETTINGS_MESSAGE),
        ("PaymentMethodNotSet", R41_PAYMENT_SETTINGS_MESSAGE),
        ("BillingAddressDeleted", R41_PAYMENT_SETTINGS_MESSAGE),
        ("MFAFailed", R41_PAYMENT_SETTINGS_MESSAGE),
        ("MFANotCompleted", R41_PAYMENT_SETTINGS_MESSAGE),
        ("SoftDeclined", R41_PAYMENT_SETTINGS_MESSAGE),
        ("ProcessingFailure", R41_PAYMENT_SETTINGS_MESSAGE),
        ("TransactionTimedOut", R41_PAYMENT_SETTINGS_MESSAGE),
        ("TransactionAmountExceeded", None),
        ("PeriodicAmountExceeded", None),
        ("InvalidChargeStatus", None),
        ("InvalidRequestSignature", None),
        ("DuplicateIdempotencyKey", None),
        ("TooManyRequests", None),
        ("InternalServerError", None),
        ("ChargeInProgress", None),
        ("Expired", None),
        ("", None),
        ("SomethingNew", None),
    ],
)
def test_reauthorization_failure_message_per_r56(code: str, expected: str | None) -> None:
    assert reauthorization_failure_message(code) == expected


def test_every_decline_code_has_an_r41_message() -> None:
    for code in DECLINED:
        assert reauthorization_failure_message(code) is not None


def test_flags_agree_with_r41_choice() -> None:
    for code in DECLINED:
        error = DeclinedError(code, http_status=400)
        if error.buyer_must_change_method:
            assert reauthorization_failure_message(code) == R41_CHANGE_METHOD_MESSAGE
        if error.retry_may_succeed:
            assert reauthorization_failure_message(code) == R41_PAYMENT_SETTINGS_MESSAGE


def test_japanese_message_fallback_names_the_code() -> None:
    message = japanese_message("SomethingNew")
    assert "SomethingNew" in message
    _assert_japanese(message, "SomethingNew")
    _assert_japanese(japanese_message(""))


def test_retryable_statuses() -> None:
    assert frozenset({408, 425, 429, 500, 502, 503, 504}) == RETRYABLE_HTTP_STATUSES
    assert error_from_response(503, None).retryable
    assert error_from_response(429, None).retryable
    assert not error_from_response(400, _body("HardDeclined")).retryable
    assert not error_from_response(501, None).retryable


def test_direct_construction_and_explicit_message() -> None:
    error = DeclinedError("HardDeclined", http_status=400)
    assert error.message == japanese_message("HardDeclined")
    assert error.amazon_message == ""
    assert error.request_id is None
    custom = ServiceError("", http_status=500, message="独自のメッセージです。")
    assert str(custom) == "独自のメッセージです。"


def test_error_codes_are_per_class() -> None:
    classes = {cls for _, _, cls in ERROR_CODES}
    codes = {cls.code for cls in classes}
    assert len(codes) == len(classes)
    assert all(code.startswith("amazonpay_") for code in codes)


def test_errors_survive_pickling() -> None:
    error = error_from_response(400, _body("SoftDeclined", "Soft."), "req-9")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is DeclinedError
    assert (copy.reason_code, copy.http_status, copy.amazon_message, copy.request_id) == (
        "SoftDeclined",
        400,
        "Soft.",
        "req-9",
    )
    assert copy.message == error.message
    assert copy.retry_may_succeed
