"""Amazon Pay API v2 client on httpx: signed requests, JP region, retries, typed errors.

Every money-moving POST is described by an ``ApiRequest`` first, so the journal can record
exactly what will be sent (with its idempotency key) before it is sent, and recovery can
send the same request again: Amazon replays the stored response for a known key
(amazonpay-api.md §4), so a replay never moves money twice.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

from core.amazonpay.errors import RETRYABLE_HTTP_STATUSES, error_from_response
from core.amazonpay.models import (
    ChargeInfo,
    ChargePermissionInfo,
    RefundInfo,
    money,
)
from core.amazonpay.signing import ALGORITHM_V2, format_amz_date, sign_request
from core.clock import Clock, SystemClock, to_utc
from core.errors import GatewayOutcomeUnknown, GatewayUnreachable

# httpx is imported when a client is made (on the worker), not by the services' imports at
# start-up (issue 10 item 16); cryptography is imported by core.amazonpay.signing when it signs.
if TYPE_CHECKING:
    import httpx
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

REGION = "jp"
LIVE_BASE_URL = "https://pay-api.amazon.jp"
USER_AGENT = "Kanjo/0.1 (Python; httpx)"
RETRY_DELAYS = (1.0, 2.0, 4.0)  # seconds before the 1st, 2nd and 3rd retry
MAX_RETRY_AFTER = 10.0  # seconds: the worker must not hang for minutes on a server's wish


def retry_after_seconds(value: str, *, now: datetime, server_date: str | None = None) -> float | None:
    """The wait a ``Retry-After`` header asks for, in seconds, or None when it says nothing usable.

    RFC 7231 §7.1.3 allows delay-seconds or an HTTP-date. A date is measured from the
    response's own ``Date`` header when it has a valid one (the two come from the same server
    clock, so a skewed local clock does not matter), else from ``now`` (the injectable
    clock). A date in the past means "now" (0). The caller caps the result.
    """
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    retry_at = _http_date(text)
    if retry_at is None:
        return None
    reference = _http_date(server_date) if server_date else None
    return max((retry_at - (reference or to_utc(now))).total_seconds(), 0.0)


def _http_date(text: str) -> datetime | None:
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return to_utc(moment)  # a date without a zone ('-0000') is GMT, as every HTTP date is


def new_idempotency_key() -> str:
    """32 characters from [0-9a-f]: within Amazon's limit of 32 from a-z A-Z 0-9 - _."""
    return secrets.token_hex(16)


def api_prefix(public_key_id: str, environment: str) -> str:
    """'/v2' for environment-specific keys (LIVE-…, SANDBOX-…), else '/{live|sandbox}/v2' (§1)."""
    upper = public_key_id.upper()
    if upper.startswith("LIVE") or upper.startswith("SANDBOX"):
        return "/v2"
    if environment not in ("live", "sandbox"):
        raise ValueError(f"unknown environment {environment!r}")
    return f"/{environment}/v2"


@dataclass(frozen=True)
class Credentials:
    public_key_id: str
    private_key: RSAPrivateKey = field(repr=False)
    environment: str = "sandbox"  # or "live"
    merchant_id: str = ""
    algorithm: str = ALGORITHM_V2


@dataclass(frozen=True)
class ApiRequest:
    """One API call, fully described before it is sent (what the journal stores)."""

    method: str
    path: str  # below the /v2 prefix, e.g. '/charges/S03-…/capture'
    body: Mapping[str, Any] | None = None
    idempotency_key: str | None = None
    query: tuple[tuple[str, str], ...] = ()  # GET parameters (the Reports API), signed with the rest

    def body_text(self) -> str | None:
        return None if self.body is None else json.dumps(self.body, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class ApiResponse:
    status: int
    data: Mapping[str, Any]
    request_id: str | None


class AmazonPayClient:
    """A thin, synchronous client; call it off the GUI thread."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        base_url: str = LIVE_BASE_URL,
        clock: Clock | None = None,
        timeout: float = 15.0,
        retry_delays: tuple[float, ...] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._credentials = credentials
        self._base_url = base_url.rstrip("/")
        self._host = urlsplit(self._base_url).hostname or "pay-api.amazon.jp"
        self._prefix = api_prefix(credentials.public_key_id, credentials.environment)
        self._clock = clock or SystemClock()
        self._retry_delays = RETRY_DELAYS if retry_delays is None else retry_delays
        self._sleep = sleep
        import httpx

        self._http = httpx.Client(timeout=timeout, transport=transport)

    @property
    def public_key_id(self) -> str:
        return self._credentials.public_key_id

    @property
    def environment(self) -> str:
        """'sandbox' or 'live'."""
        return self._credentials.environment

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AmazonPayClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- request builders (pure; the journal records these) -------------------------------

    @staticmethod
    def create_charge_request(
        charge_permission_id: str,
        amount: int,
        *,
        idempotency_key: str,
        capture_now: bool = False,
        can_handle_pending_authorization: bool = False,
        merchant_reference_id: str | None = None,
    ) -> ApiRequest:
        body: dict[str, Any] = {
            "chargePermissionId": charge_permission_id,
            "chargeAmount": money(amount),
            "captureNow": capture_now,
            "canHandlePendingAuthorization": can_handle_pending_authorization,
        }
        if merchant_reference_id:
            body["merchantMetadata"] = {"merchantReferenceId": merchant_reference_id}
        return ApiRequest("POST", "/charges", body, idempotency_key)

    @staticmethod
    def capture_request(charge_id: str, amount: int, *, idempotency_key: str) -> ApiRequest:
        return ApiRequest("POST", f"/charges/{charge_id}/capture", {"captureAmount": money(amount)}, idempotency_key)

    @staticmethod
    def cancel_charge_request(charge_id: str, reason: str) -> ApiRequest:
        return ApiRequest("DELETE", f"/charges/{charge_id}/cancel", {"cancellationReason": reason})

    @staticmethod
    def create_refund_request(charge_id: str, amount: int, *, idempotency_key: str) -> ApiRequest:
        return ApiRequest("POST", "/refunds", {"chargeId": charge_id, "refundAmount": money(amount)}, idempotency_key)

    @staticmethod
    def close_charge_permission_request(
        charge_permission_id: str, reason: str, *, cancel_pending_charges: bool = False
    ) -> ApiRequest:
        return ApiRequest(
            "DELETE",
            f"/chargePermissions/{charge_permission_id}/close",
            {"closureReason": reason, "cancelPendingCharges": cancel_pending_charges},
        )

    # --- operations ------------------------------------------------------------------------

    def get_charge_permission(self, charge_permission_id: str) -> ChargePermissionInfo:
        return ChargePermissionInfo.from_json(
            self.send(ApiRequest("GET", f"/chargePermissions/{charge_permission_id}")).data
        )

    def update_charge_permission(
        self, charge_permission_id: str, merchant_metadata: Mapping[str, str]
    ) -> ChargePermissionInfo:
        request = ApiRequest(
            "PATCH", f"/chargePermissions/{charge_permission_id}", {"merchantMetadata": dict(merchant_metadata)}
        )
        return ChargePermissionInfo.from_json(self.send(request).data)

    def close_charge_permission(
        self, charge_permission_id: str, reason: str, *, cancel_pending_charges: bool = False
    ) -> ChargePermissionInfo:
        request = self.close_charge_permission_request(
            charge_permission_id, reason, cancel_pending_charges=cancel_pending_charges
        )
        return ChargePermissionInfo.from_json(self.send(request).data)

    def create_charge(
        self, charge_permission_id: str, amount: int, *, idempotency_key: str, **options: Any
    ) -> ChargeInfo:
        request = self.create_charge_request(charge_permission_id, amount, idempotency_key=idempotency_key, **options)
        return ChargeInfo.from_json(self.send(request).data)

    def get_charge(self, charge_id: str) -> ChargeInfo:
        return ChargeInfo.from_json(self.send(ApiRequest("GET", f"/charges/{charge_id}")).data)

    def capture_charge(self, charge_id: str, amount: int, *, idempotency_key: str) -> ChargeInfo:
        return ChargeInfo.from_json(
            self.send(self.capture_request(charge_id, amount, idempotency_key=idempotency_key)).data
        )

    def cancel_charge(self, charge_id: str, reason: str) -> ChargeInfo:
        return ChargeInfo.from_json(self.send(self.cancel_charge_request(charge_id, reason)).data)

    def create_refund(self, charge_id: str, amount: int, *, idempotency_key: str) -> RefundInfo:
        return RefundInfo.from_json(
            self.send(self.create_refund_request(charge_id, amount, idempotency_key=idempotency_key)).data
        )

    def get_refund(self, refund_id: str) -> RefundInfo:
        return RefundInfo.from_json(self.send(ApiRequest("GET", f"/refunds/{refund_id}")).data)

    # --- reports (issue 13; R60) ----------------------------------------------------------------

    def get_reports(
        self,
        report_types: str,
        *,
        created_since: datetime | None = None,
        page_size: int = 100,
        next_token: str | None = None,
    ) -> Mapping[str, Any]:
        """Get Reports: ``{reports: [{reportId, reportType, processingStatus, reportDocumentId, …}], nextToken}``."""
        query = [("reportTypes", report_types), ("pageSize", str(page_size))]
        if created_since is not None:
            query.append(("createdSince", to_utc(created_since).strftime("%Y-%m-%dT%H:%M:%SZ")))
        if next_token:
            query.append(("nextToken", next_token))
        return self.send(ApiRequest("GET", "/reports", query=tuple(query))).data

    def get_report(self, report_id: str) -> Mapping[str, Any]:
        return self.send(ApiRequest("GET", f"/reports/{report_id}")).data

    def get_report_document(self, report_document_id: str) -> Mapping[str, Any]:
        """``{reportDocumentId, url}``: the URL lives about 30 seconds (R60), so download at once."""
        return self.send(ApiRequest("GET", f"/report-documents/{report_document_id}")).data

    def download(self, url: str, *, max_bytes: int = 1024 * 1024 * 1024) -> bytes:
        """The bytes at a report document's URL (pre-signed: no Amazon Pay signature)."""
        import httpx

        try:
            with self._http.stream("GET", url) as response:
                if response.status_code >= 400:
                    raise error_from_response(response.status_code, response.read(), None)
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise GatewayUnreachable("レポートが大きすぎるため読み込みを中止しました。")
                    chunks.append(chunk)
                return b"".join(chunks)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise GatewayUnreachable("レポートのダウンロード先に接続できませんでした。") from exc
        except httpx.TransportError as exc:
            raise GatewayUnreachable("レポートのダウンロードが途中で切れました。もう一度お試しください。") from exc

    def get_disbursements(
        self, *, start: datetime, end: datetime, page_size: int = 100, next_token: str | None = None
    ) -> Mapping[str, Any]:
        """Get Disbursements: ``{disbursements: [{settlementId, disbursementDate, disbursementAmount, …}], nextToken}``."""
        query = [
            ("startTime", to_utc(start).strftime("%Y-%m-%dT%H:%M:%SZ")),
            ("endTime", to_utc(end).strftime("%Y-%m-%dT%H:%M:%SZ")),
            ("pageSize", str(page_size)),
        ]
        if next_token:
            query.append(("nextToken", next_token))
        return self.send(ApiRequest("GET", "/disbursements", query=tuple(query))).data

    # --- transport -------------------------------------------------------------------------

    def send(self, request: ApiRequest) -> ApiResponse:
        """Send one request, retrying throttling and server errors with backoff.

        Retries resend the same body and idempotency key. Raises ``GatewayUnreachable``
        when the connection could not be made (nothing was processed),
        ``GatewayOutcomeUnknown`` when it broke after the request left, and an
        ``AmazonPayError`` subclass for an error answer.
        """
        attempt = 0
        while True:
            response = self._send_once(request)
            if response.status_code < 400:
                return ApiResponse(response.status_code, _json(response), response.headers.get("x-amz-pay-request-id"))
            if response.status_code in RETRYABLE_HTTP_STATUSES and attempt < len(self._retry_delays):
                delay = self._retry_delays[attempt]
                wanted = retry_after_seconds(
                    response.headers.get("retry-after", ""),
                    now=self._clock.now(),
                    server_date=response.headers.get("date"),
                )
                if wanted is not None:
                    # Honour the server's wish, within reason: never shorter than our own backoff,
                    # never longer than MAX_RETRY_AFTER.
                    delay = max(delay, min(wanted, MAX_RETRY_AFTER))
                self._sleep(delay)
                attempt += 1
                continue
            raise error_from_response(
                response.status_code, response.content, response.headers.get("x-amz-pay-request-id")
            )

    def _send_once(self, request: ApiRequest) -> httpx.Response:
        path = self._prefix + request.path
        body_text = request.body_text()
        body = b"" if body_text is None else body_text.encode("utf-8")
        headers = {
            "accept": "application/json",
            "content-type": "application/json",
            "x-amz-pay-date": format_amz_date(self._clock.now()),
            "x-amz-pay-host": self._host,
            "x-amz-pay-region": REGION,
        }
        if request.idempotency_key:
            headers["x-amz-pay-idempotency-key"] = request.idempotency_key
        headers["authorization"] = sign_request(
            method=request.method,
            path=path,
            query=request.query,
            headers=headers,
            body=body,
            private_key=self._credentials.private_key,
            public_key_id=self._credentials.public_key_id,
            algorithm=self._credentials.algorithm,
        )
        headers["user-agent"] = USER_AGENT
        import httpx

        try:
            url = self._base_url + path + ("?" + urlencode(request.query, quote_via=quote) if request.query else "")
            return self._http.request(request.method, url, content=body, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise GatewayUnreachable(
                "Amazon Payに接続できませんでした。ネットワークと設定を確認して、もう一度お試しください。"
            ) from exc
        except httpx.TransportError as exc:
            raise GatewayOutcomeUnknown(
                "Amazon Payからの応答が途切れました。処理されたかどうかは状態の確認で判明します(結果不明)。"
            ) from exc


def _json(response: httpx.Response) -> Mapping[str, Any]:
    if not response.content:
        return {}
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        # A success status with a body that is not a JSON object: treat as a server fault.
        raise error_from_response(502, None, response.headers.get("x-amz-pay-request-id"))
    return data
