"""Tests for core.amazonpay.client: URL prefix, signing, retries, transport errors, parsing.

The client talks over real HTTP on loopback, either to the local sandbox (``SandboxServer``;
faults injected through ``SandboxControl``) or, for answers the sandbox never gives (a
``Retry-After`` header, a 502 HTML page, a non-JSON success), to a small scripted HTTP server
standing in for Amazon. ``sleep`` is injected and recorded, so retry delays cost no time.

Rules: amazonpay-api.md §1 (URLs, signing), §4 (idempotency), §5 (errors and retries).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from core.amazonpay.client import (
    MAX_RETRY_AFTER,
    RETRY_DELAYS,
    USER_AGENT,
    AmazonPayClient,
    ApiRequest,
    Credentials,
    api_prefix,
    new_idempotency_key,
)
from core.amazonpay.errors import (
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
    japanese_message,
)
from core.amazonpay.models import ChargeInfo, ChargePermissionInfo, RefundInfo, Status, money, yen
from core.amazonpay.signing import (
    ALGORITHM_V2,
    format_amz_date,
    generate_key_pair,
    load_private_key,
    load_public_key,
    parse_authorization_header,
    verify_request,
)
from core.clock import FixedClock, add_months
from core.errors import GatewayError, GatewayOutcomeUnknown, GatewayUnreachable, UserError
from core.gateway import SANDBOX_PUBLIC_KEY_ID, ensure_sandbox_key, open_gateway, read_private_key
from core.sandbox.backend import SandboxBackend
from core.sandbox.control import SandboxControl
from core.sandbox.server import SandboxServer
from core.settings import AppSettings

KEY_ID = "SANDBOX-KANJO-CLIENT"
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


# --- helpers and fixtures -------------------------------------------------------------------


@dataclass(frozen=True)
class KeyPair:
    private_key: RSAPrivateKey
    public_pem: str


@pytest.fixture(scope="module")
def keys() -> KeyPair:
    private_pem, public_pem = generate_key_pair()
    return KeyPair(load_private_key(private_pem), public_pem.decode("ascii"))


class SleepLog(list[float]):
    """The injected ``sleep``: records each delay instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def stop_quickly(stop: Callable[[], None], url: str) -> None:
    """Run ``stop`` (which waits for ``serve_forever``'s 0.5 s poll) and wake the poll with a connection."""
    address = urlsplit(url)
    stopper = threading.Thread(target=stop, daemon=True)
    stopper.start()
    while stopper.is_alive():
        with contextlib.suppress(OSError):
            socket.create_connection((address.hostname, address.port), timeout=0.2).close()
        stopper.join(0.02)


def no_nagle(httpd: ThreadingHTTPServer) -> None:
    # The handlers write headers and body in two sends; with Nagle's algorithm each answer waits ~40 ms for
    # the client's delayed ACK. A TCP option only: no behaviour under test changes.
    httpd.RequestHandlerClass.disable_nagle_algorithm = True  # type: ignore[attr-defined]


@dataclass
class Sandbox:
    backend: SandboxBackend
    server: SandboxServer
    control: SandboxControl
    clock: FixedClock
    keys: KeyPair
    clients: list[AmazonPayClient] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def client(
        self,
        *,
        retry_delays: tuple[float, ...] = (),
        sleep: Callable[[float], None] | None = None,
        timeout: float = 5.0,
        key_id: str = KEY_ID,
        base_url: str | None = None,
    ) -> AmazonPayClient:
        client = AmazonPayClient(
            Credentials(key_id, self.keys.private_key, environment="sandbox"),
            base_url=base_url or self.url,
            clock=self.clock,
            timeout=timeout,
            retry_delays=retry_delays,
            sleep=sleep if sleep is not None else SleepLog(),
        )
        self.clients.append(client)
        return client

    def checkout(self, number: str, total: int = 10_000, **options: Any) -> tuple[str, str]:
        placed = self.control.checkout(number=number, total=total, **options)
        return placed["chargePermissionId"], placed["chargeId"]

    def calls(self, key: str | None = None) -> list[tuple[str, str, int, int]]:
        return [
            (c["method"], c["path"], c["status"], c["replayed"])
            for c in self.control.calls()
            if key is None or c["idempotency_key"] == key
        ]


@pytest.fixture
def sandbox(state_dir: Path, clock: FixedClock, keys: KeyPair) -> Iterator[Sandbox]:
    backend = SandboxBackend(state_dir / "sandbox.sqlite3", clock)
    backend.register_public_key(KEY_ID, keys.public_pem)
    server = SandboxServer(backend)
    server.start()
    sb = Sandbox(backend, server, SandboxControl(server.url, secret=server.secret, timeout=10.0), clock, keys)
    yield sb
    for client in sb.clients:
        client.close()
    sb.control.close()
    stop_quickly(server.stop, server.url)


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    status: int
    body: bytes | str | dict[str, Any] = b""
    headers: dict[str, str] = field(default_factory=dict)


class ScriptedAmazon:
    """A real HTTP server that answers with scripted replies (the last one repeats) and records requests."""

    def __init__(self, replies: list[Reply]) -> None:
        self.replies = list(replies)
        self.received: list[Received] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.received.append(
                    Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                reply = outer.replies.pop(0) if len(outer.replies) > 1 else outer.replies[0]
                data = reply.body
                if isinstance(data, dict):
                    data = json.dumps(data)
                if isinstance(data, str):
                    data = data.encode("utf-8")
                # A scripted 'date' replaces the real one; an empty one means no Date header at all.
                self.send_response_only(reply.status)
                self.send_header("server", self.version_string())
                if "date" not in reply.headers:
                    self.send_header("date", self.date_time_string())
                for name, value in {"content-length": str(len(data)), **reply.headers}.items():
                    if value:
                        self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = do_PATCH = _answer  # noqa: N815

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        no_nagle(self.httpd)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        def stop() -> None:
            self.httpd.shutdown()
            self.httpd.server_close()

        stop_quickly(stop, self.url)


@pytest.fixture
def scripted(keys: KeyPair, clock: FixedClock) -> Iterator[Callable[..., tuple[ScriptedAmazon, AmazonPayClient]]]:
    made: list[tuple[ScriptedAmazon, AmazonPayClient]] = []

    def make(
        *replies: Reply,
        key_id: str = KEY_ID,
        environment: str = "sandbox",
        retry_delays: tuple[float, ...] = (),
        sleep: Callable[[float], None] | None = None,
        url_suffix: str = "",
    ) -> tuple[ScriptedAmazon, AmazonPayClient]:
        server = ScriptedAmazon(list(replies) or [Reply(200, {})])
        client = AmazonPayClient(
            Credentials(key_id, keys.private_key, environment=environment),
            base_url=server.url + url_suffix,
            clock=clock,
            timeout=5.0,
            retry_delays=retry_delays,
            sleep=sleep if sleep is not None else SleepLog(),
        )
        made.append((server, client))
        return server, client

    yield make
    for server, client in made:
        client.close()
        server.stop()


def free_closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


CHARGE_JSON: dict[str, Any] = {
    "chargeId": "S03-5105180-3221187-C056351",
    "chargePermissionId": "S03-5105180-3221187",
    "chargeAmount": {"amount": "14000", "currencyCode": "JPY"},
    "captureAmount": {"amount": "14000.00", "currencyCode": "JPY"},
    "refundedAmount": None,
    "softDescriptor": None,
    "creationTimestamp": "20190714T155300Z",
    "expirationTimestamp": "20190813T155300Z",
    "statusDetails": {
        "state": "Captured",
        "reasonCode": None,
        "reasonDescription": None,
        "lastUpdatedTimestamp": "20190715T010203Z",
    },
    "releaseEnvironment": "Live",
}


# --- api_prefix (§1) -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("public_key_id", "environment", "prefix"),
    [
        ("LIVE-AE3CDJZGK7RZ2Q", "live", "/v2"),
        ("LIVE-AE3CDJZGK7RZ2Q", "sandbox", "/v2"),  # the key decides, not the setting
        ("SANDBOX-AE3CDJZGK7RZ2Q", "live", "/v2"),
        ("SANDBOX-AE3CDJZGK7RZ2Q", "sandbox", "/v2"),
        ("live-ae3cdjzgk7rz2q", "sandbox", "/v2"),  # upper-cased prefix test
        ("Sandbox-ae3cdjzgk7rz2q", "live", "/v2"),
        ("LIVEAE3CDJZGK7RZ2Q", "sandbox", "/v2"),  # the SDKs test the prefix without the dash
        ("AE3CDJZGK7RZ2Q", "sandbox", "/sandbox/v2"),
        ("AE3CDJZGK7RZ2Q", "live", "/live/v2"),
        ("AHLIVE-not-a-prefix", "sandbox", "/sandbox/v2"),
    ],
)
def test_api_prefix(public_key_id: str, environment: str, prefix: str) -> None:
    assert api_prefix(public_key_id, environment) == prefix


@pytest.mark.parametrize("environment", ["", "Live", "production", "SANDBOX"])
def test_api_prefix_refuses_an_unknown_environment_for_plain_keys(environment: str) -> None:
    with pytest.raises(ValueError, match="unknown environment"):
        api_prefix("AE3CDJZGK7RZ2Q", environment)


def test_the_client_refuses_an_unknown_environment(keys: KeyPair) -> None:
    with pytest.raises(ValueError):
        AmazonPayClient(Credentials("AE3CDJZGK7RZ2Q", keys.private_key, environment="test"))


@pytest.mark.parametrize(
    ("public_key_id", "environment", "path"),
    [
        ("LIVE-ABC", "live", "/v2/charges/C1"),
        ("SANDBOX-ABC", "sandbox", "/v2/charges/C1"),
        ("ABC", "live", "/live/v2/charges/C1"),
        ("ABC", "sandbox", "/sandbox/v2/charges/C1"),
    ],
)
def test_the_client_sends_to_the_prefixed_path(
    scripted: Callable[..., tuple[ScriptedAmazon, AmazonPayClient]], public_key_id: str, environment: str, path: str
) -> None:
    server, client = scripted(Reply(200, CHARGE_JSON), key_id=public_key_id, environment=environment, url_suffix="/")
    client.get_charge("C1")
    assert [r.path for r in server.received] == [path]  # a trailing '/' on base_url is not doubled


# --- what goes on the wire (§1, §4) ---------------------------------------------------------


def test_requests_are_signed_with_the_jp_headers(
    scripted: Callable[..., tuple[ScriptedAmazon, AmazonPayClient]], keys: KeyPair, clock: FixedClock
) -> None:
    server, client = scripted(Reply(200, CHARGE_JSON))
    key = new_idempotency_key()
    client.create_charge("S03-1", 1_000, idempotency_key=key, merchant_reference_id="注文-1")
    client.get_charge("S03-1-C1")

    post, get = server.received
    host = urlsplit(server.url).hostname
    assert post.method == "POST" and post.path == "/v2/charges"
    assert post.headers["accept"] == post.headers["content-type"] == "application/json"
    assert post.headers["x-amz-pay-date"] == format_amz_date(clock.now()) == "20261121T030000Z"
    assert post.headers["x-amz-pay-host"] == host
    assert post.headers["x-amz-pay-region"] == "jp"
    assert post.headers["x-amz-pay-idempotency-key"] == key
    assert post.headers["user-agent"] == USER_AGENT
    authorization = parse_authorization_header(post.headers["authorization"])
    assert authorization.algorithm == ALGORITHM_V2
    assert authorization.public_key_id == KEY_ID
    assert authorization.signed_headers == (
        "accept",
        "content-type",
        "x-amz-pay-date",
        "x-amz-pay-host",
        "x-amz-pay-idempotency-key",
        "x-amz-pay-region",
    )
    assert "user-agent" not in authorization.signed_headers
    assert json.loads(post.body) == {
        "chargePermissionId": "S03-1",
        "chargeAmount": {"amount": "1000", "currencyCode": "JPY"},
        "captureNow": False,
        "canHandlePendingAuthorization": False,
        "merchantMetadata": {"merchantReferenceId": "注文-1"},
    }
    assert "注文-1".encode() in post.body  # UTF-8, not \\u escapes
    public_key = load_public_key(keys.public_pem.encode("ascii"))
    for received in (post, get):
        assert verify_request(
            method=received.method,
            path=received.path,
            query=(),
            headers=received.headers,
            body=received.body,
            authorization=received.headers["authorization"],
            public_key=public_key,
        )
    assert get.body == b""
    assert "x-amz-pay-idempotency-key" not in get.headers


def test_request_builders() -> None:
    charge = AmazonPayClient.create_charge_request("S03-1", 5_000, idempotency_key="k1", capture_now=True)
    assert (charge.method, charge.path, charge.idempotency_key) == ("POST", "/charges", "k1")
    assert charge.body == {
        "chargePermissionId": "S03-1",
        "chargeAmount": {"amount": "5000", "currencyCode": "JPY"},
        "captureNow": True,
        "canHandlePendingAuthorization": False,
    }
    assert charge.body_text() == (
        '{"chargePermissionId":"S03-1","chargeAmount":{"amount":"5000","currencyCode":"JPY"},'
        '"captureNow":true,"canHandlePendingAuthorization":false}'
    )
    capture = AmazonPayClient.capture_request("S03-1-C1", 4_000, idempotency_key="k2")
    assert (capture.method, capture.path, capture.body) == (
        "POST",
        "/charges/S03-1-C1/capture",
        {"captureAmount": money(4_000)},
    )
    cancel = AmazonPayClient.cancel_charge_request("S03-1-C1", "在庫切れ")
    assert (cancel.method, cancel.path, cancel.idempotency_key) == ("DELETE", "/charges/S03-1-C1/cancel", None)
    assert cancel.body_text() == '{"cancellationReason":"在庫切れ"}'
    refund = AmazonPayClient.create_refund_request("S03-1-C1", 300, idempotency_key="k3")
    assert refund.body == {"chargeId": "S03-1-C1", "refundAmount": {"amount": "300", "currencyCode": "JPY"}}
    close = AmazonPayClient.close_charge_permission_request("S03-1", "完了", cancel_pending_charges=True)
    assert (close.method, close.path) == ("DELETE", "/chargePermissions/S03-1/close")
    assert close.body == {"closureReason": "完了", "cancelPendingCharges": True}
    assert ApiRequest("GET", "/charges/X").body_text() is None


def test_new_idempotency_keys_are_32_hex_characters_and_unique() -> None:
    made = {new_idempotency_key() for _ in range(200)}
    assert len(made) == 200
    assert all(re.fullmatch(r"[0-9a-f]{32}", key) for key in made)


def test_default_retry_delays() -> None:
    assert RETRY_DELAYS == (1.0, 2.0, 4.0)


# --- retries (§5) ---------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "status"), [("429", 429), ("500", 500), ("503", 503)])
def test_throttling_and_server_errors_are_retried_with_the_configured_delays(
    sandbox: Sandbox, kind: str, status: int
) -> None:
    cp_id, _ = sandbox.checkout("3001", 5_000)
    sleeps = SleepLog()
    client = sandbox.client(retry_delays=(1.0, 2.0, 4.0), sleep=sleeps)
    sandbox.control.add_fault(kind, count=2)
    key = new_idempotency_key()

    charge = client.create_charge(cp_id, 1_000, idempotency_key=key)

    assert charge.status.state == "Authorized"
    assert sleeps == [1.0, 2.0]
    assert sandbox.calls(key) == [
        ("POST", "/charges", status, 0),
        ("POST", "/charges", status, 0),
        ("POST", "/charges", 200, 0),
    ]
    assert len(sandbox.control.snapshot("3001")["charges"]) == 2


@pytest.mark.parametrize(
    ("kind", "error", "reason"),
    [
        ("429", ThrottledError, "TooManyRequests"),
        ("500", ServiceError, "InternalServerError"),
        ("503", ServiceError, "ServiceUnavailable"),
    ],
)
def test_after_the_last_retry_the_error_is_raised(
    sandbox: Sandbox, kind: str, error: type[AmazonPayError], reason: str
) -> None:
    cp_id, _ = sandbox.checkout("3002", 5_000)
    sleeps = SleepLog()
    client = sandbox.client(retry_delays=(0.5, 1.5, 3.0), sleep=sleeps)
    sandbox.control.add_fault(kind, count=5)
    key = new_idempotency_key()

    with pytest.raises(error) as info:
        client.create_charge(cp_id, 1_000, idempotency_key=key)

    assert (info.value.http_status, info.value.reason_code) == (int(kind), reason)
    assert info.value.retryable
    assert sleeps == [0.5, 1.5, 3.0]  # exactly the delays: at most len(retry_delays) retries
    assert sandbox.calls(key) == [("POST", "/charges", int(kind), 0)] * 4
    assert len(sandbox.control.snapshot("3002")["charges"]) == 1  # never processed


def test_no_retry_delays_means_no_retries(sandbox: Sandbox) -> None:
    cp_id, _ = sandbox.checkout("3003", 5_000)
    sleeps = SleepLog()
    client = sandbox.client(retry_delays=(), sleep=sleeps)
    sandbox.control.add_fault("503")
    with pytest.raises(ServiceError):
        client.get_charge_permission(cp_id)
    assert sleeps == []
    assert [c[2] for c in sandbox.calls()] == [503]


def test_reads_are_retried_too(sandbox: Sandbox) -> None:
    cp_id, _ = sandbox.checkout("3004", 5_000)
    sleeps = SleepLog()
    client = sandbox.client(retry_delays=(0.0, 0.0, 0.0), sleep=sleeps)
    sandbox.control.add_fault("500", count=3)
    assert client.get_charge_permission(cp_id).id == cp_id
    assert sleeps == [0.0, 0.0, 0.0]
    assert [c[2] for c in sandbox.calls()] == [500, 500, 500, 200]


def test_client_errors_are_not_retried(sandbox: Sandbox) -> None:
    cp_id, charge_id = sandbox.checkout("3005", 5_000)
    sleeps = SleepLog()
    client = sandbox.client(retry_delays=(1.0, 2.0, 4.0), sleep=sleeps)
    key = new_idempotency_key()
    client.create_charge(cp_id, 1_000, idempotency_key=key)

    with pytest.raises(RequestRejectedError):  # 400 DuplicateIdempotencyKey
        client.create_charge(cp_id, 2_000, idempotency_key=key)
    with pytest.raises(LimitExceededError):  # 400 TransactionAmountExceeded
        client.create_charge(cp_id, 1_000_000, idempotency_key=new_idempotency_key())
    with pytest.raises(ResourceNotFoundError):  # 404
        client.get_charge(charge_id + "9")
    client.cancel_charge(charge_id, "取消")
    with pytest.raises(InvalidStateError):  # 422
        client.cancel_charge(charge_id, "取消")
    with pytest.raises(AuthenticationError):  # 401
        sandbox.client(retry_delays=(1.0,), sleep=sleeps, key_id="SANDBOX-NOBODY").get_charge(charge_id)

    assert sleeps == []  # the client sleeps before every retry: no sleep, no retry
    # Each was sent once: the sandbox's call log holds every answer, errors included.
    assert [c[2] for c in sandbox.calls()] == [200, 400, 400, 404, 200, 422, 401]


@pytest.mark.parametrize("status", sorted(RETRYABLE_HTTP_STATUSES))
def test_every_retryable_status_is_retried(
    scripted: Callable[..., tuple[ScriptedAmazon, AmazonPayClient]], status: int
) -> None:
    sleeps = SleepLog()
    server, client = scripted(Reply(status, b""), Reply(200, CHARGE_JSON), retry_delays=(0.25,), sleep=sleeps)
    key = new_idempotency_key()
    client.capture_charge("S03-1-C1", 1_000, idempotency_key=key)
    assert sleeps == [0.25]
    first, second = server.received
    assert first.body == second.body  # the identical request is resent
    assert first.headers["x-amz-pay-idempotency-key"] == second.headers["x-amz-pay-idempotency-key"] == key


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 409, 422, 501])
def test_other_error_statuses_are_not_retried(
    scripted: Callable[..., tuple[ScriptedAmazon, AmazonPayClient]], status: int
) -> None:
    sleeps = SleepLog()
    server, client = scripted(
        Reply(status, {"reasonCode": "Whatever", "message": "no"}), retry_delays=(1.0,), sleep=sleeps
    )
    with pytest.raises(AmazonPayError) as info:
        client.get_charge("C1")
    assert info.value.http_status == status
    assert sleeps == []
    assert len(server.received) == 1


def test_retry_after_lengthens_the_delay(scripted: Callable[..., tuple[ScriptedAmazon, AmazonPayClient]]) -> None:
    sleeps = SleepLog()
    past = {"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT", "date": "Wed, 21 Oct 2026 07:29:00 GMT"}
    _, client = scripted(
        Reply(429, {"reasonCode": "TooManyRequests"}, {"retry-after": "5"}),
        Reply(503, {"reasonCode": "ServiceUnavailable"}, past),
        Reply(503, {"reasonCode": "ServiceUnavailable"}, {"retry-after": "0"}),
        Reply(200, CHARGE_JSON),
        retry_delays=(1.0, 2.0, 3.0),
        sleep=sleeps,
    )
    client.get_charge("C1")
    assert sleeps == [5.0, 2.0, 3.0]  # never shorter than the configured delay; a date already past adds nothing


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        # RFC 7231 HTTP-date, measured from the response's own Date header (same server clock).
        ({"retry-after": "Wed, 21 Oct 2026 07:28:07 GMT", "date": "Wed, 21 Oct 2026 07:28:00 GMT"}, 7.0),
        # The obsolete RFC 850 and asctime forms are HTTP-dates too.
        ({"retry-after": "Wednesday, 21-Oct-26 07:28:04 GMT", "date": "Wed, 21 Oct 2026 07:28:00 GMT"}, 4.0),
        ({"retry-after": "Wed Oct 21 07:28:03 2026", "date": "Wed, 21 Oct 2026 07:28:00 GMT"}, 3.0),
        # Without a Date header: measured from the injectable clock (conftest NOW = 2026-11-21 03:00 UTC).
        ({"retry-after": "Sat, 21 Nov 2026 03:00:06 GMT", "date": ""}, 6.0),
        # A Date header that cannot be read: the clock again.
        ({"retry-after": "Sat, 21 Nov 2026 03:00:06 GMT", "date": "yesterday"}, 6.0),
        # An hour away: capped, the worker does not hang.
        ({"retry-after": "Wed, 21 Oct 2026 08:28:00 GMT", "date": "Wed, 21 Oct 2026 07:28:00 GMT"}, MAX_RETRY_AFTER),
        ({"retry-after": "3600"}, MAX_RETRY_AFTER),
        # Not a number, not a date: the configured delay.
        ({"retry-after": "soon"}, 1.0),
        ({"retry-after": "-5"}, 1.0),
    ],
)
def test_retry_after_http_date_is_honoured_and_capped(
    scripted: Callable[..., tuple[ScriptedAmazon, AmazonPayClient]], headers: dict[str, str], expected: float
) -> None:
    sleeps = SleepLog()
    _, client = scripted(
        Reply(503, {"reasonCode": "ServiceUnavailable"}, headers),
        Reply(200, CHARGE_JSON),
        retry_delays=(1.0,),
        sleep=sleeps,
    )
    client.get_charge("C1")
    assert sleeps == [expected]


# --- transport failures ---------------------------------------------------------------------


def test_a_closed_port_raises_gateway_unreachable(keys: KeyPair, clock: FixedClock) -> None:
    sleeps = SleepLog()
    client = AmazonPayClient(
        Credentials(KEY_ID, keys.private_key),
        base_url=f"http://127.0.0.1:{free_closed_port()}",
        clock=clock,
        timeout=2.0,
        retry_delays=(1.0, 2.0),
        sleep=sleeps,
    )
    with client, pytest.raises(GatewayUnreachable) as info:
        client.create_charge("S03-1", 1_000, idempotency_key=new_idempotency_key())
    assert not isinstance(info.value, GatewayOutcomeUnknown)
    assert isinstance(info.value, GatewayError) and info.value.code == "gateway_unreachable"
    assert JAPANESE.search(info.value.message)
    assert sleeps == []  # nothing was sent; nothing to retry


def test_a_withheld_answer_raises_gateway_outcome_unknown(sandbox: Sandbox) -> None:
    cp_id, _ = sandbox.checkout("3101", 5_000)
    sandbox.control.settings(hang_seconds=0.5)
    sandbox.control.add_fault("timeout")
    sleeps = SleepLog()
    client = sandbox.client(retry_delays=(1.0, 2.0), sleep=sleeps, timeout=0.2)
    key = new_idempotency_key()
    with pytest.raises(GatewayOutcomeUnknown) as info:
        client.create_charge(cp_id, 1_000, idempotency_key=key)
    assert info.value.code == "gateway_outcome_unknown"
    assert "結果不明" in info.value.message
    assert sleeps == []  # the outcome is settled by a replay or a status read, not by a blind retry
    assert sandbox.calls(key) == [("POST", "/charges", 200, 0)]

    # A replay with the same key learns the outcome without charging twice.
    replayed = client.create_charge(cp_id, 1_000, idempotency_key=key)
    assert replayed.status.state == "Authorized"
    assert len(sandbox.control.snapshot("3101")["charges"]) == 2
    assert sandbox.calls(key)[-1] == ("POST", "/charges", 200, 1)


def test_a_connection_dropped_without_an_answer_raises_gateway_outcome_unknown(sandbox: Sandbox) -> None:
    cp_id, _ = sandbox.checkout("3102", 5_000)
    sandbox.control.settings(hang_seconds=0.05)
    sandbox.control.add_fault("timeout")
    with pytest.raises(GatewayOutcomeUnknown):
        sandbox.client(timeout=3.0).get_charge_permission(cp_id)


def test_a_success_without_a_json_object_is_a_service_error(
    scripted: Callable[..., tuple[ScriptedAmazon, AmazonPayClient]],
) -> None:
    for body in (b"<html>ok</html>", b"[1, 2]"):
        _, client = scripted(Reply(200, body))
        with pytest.raises(ServiceError) as info:
            client.get_charge("C1")
        assert info.value.http_status == 502
        assert JAPANESE.search(info.value.message)


def test_an_empty_success_body_is_an_empty_response(
    scripted: Callable[..., tuple[ScriptedAmazon, AmazonPayClient]],
) -> None:
    _, client = scripted(Reply(200, b"", {"x-amz-pay-request-id": "req-1"}))
    response = client.send(ApiRequest("DELETE", "/chargePermissions/S03-1/close", {"closureReason": "x"}))
    assert (response.status, response.data, response.request_id) == (200, {}, "req-1")


def test_an_html_error_page_becomes_a_typed_error(
    scripted: Callable[..., tuple[ScriptedAmazon, AmazonPayClient]],
) -> None:
    _, client = scripted(Reply(502, "<html><body>Bad Gateway</body></html>", {"x-amz-pay-request-id": "req-9"}))
    with pytest.raises(ServiceError) as info:
        client.get_charge("C1")
    assert (info.value.http_status, info.value.reason_code, info.value.request_id) == (502, "", "req-9")
    assert info.value.amazon_message.startswith("<html>")
    assert JAPANESE.search(info.value.message) and "502" in info.value.message


def test_an_unknown_reason_code_keeps_the_status_class(
    scripted: Callable[..., tuple[ScriptedAmazon, AmazonPayClient]],
) -> None:
    _, client = scripted(Reply(400, {"reasonCode": "BrandNewCode", "message": "Something new."}))
    with pytest.raises(RequestRejectedError) as info:
        client.get_charge("C1")
    assert info.value.reason_code == "BrandNewCode"
    assert "BrandNewCode" in info.value.message and JAPANESE.search(info.value.message)
    assert info.value.amazon_message == "Something new."


# --- typed errors with Japanese messages over real HTTP --------------------------------------


def _collect_errors(sandbox: Sandbox) -> dict[type[AmazonPayError], AmazonPayError]:
    cp_id, charge_id = sandbox.checkout("3201", 5_000)
    client = sandbox.client()
    attempts: list[tuple[type[AmazonPayError], Callable[[], object]]] = []

    def declined() -> object:
        sandbox.control.decline_next("3201", "soft")
        return client.create_charge(cp_id, 1_000, idempotency_key=new_idempotency_key())

    def throttled() -> object:
        sandbox.control.add_fault("429")
        return client.get_charge(charge_id)

    def service() -> object:
        sandbox.control.add_fault("500")
        return client.get_charge(charge_id)

    def duplicate() -> object:
        key = new_idempotency_key()
        client.create_charge(cp_id, 100, idempotency_key=key)
        return client.create_charge(cp_id, 200, idempotency_key=key)

    attempts = [
        (DeclinedError, declined),
        (LimitExceededError, lambda: client.create_charge(cp_id, 10**6, idempotency_key=new_idempotency_key())),
        (InvalidStateError, lambda: client.create_refund(charge_id, 100, idempotency_key=new_idempotency_key())),
        (RequestRejectedError, duplicate),
        (AuthenticationError, lambda: sandbox.client(key_id="SANDBOX-NOBODY").get_charge(charge_id)),
        (ResourceNotFoundError, lambda: client.get_refund(charge_id + "-R000001")),
        (ThrottledError, throttled),
        (ServiceError, service),
    ]
    caught: dict[type[AmazonPayError], AmazonPayError] = {}
    for expected, attempt in attempts:
        with pytest.raises(expected) as info:
            attempt()
        assert type(info.value) is expected
        caught[expected] = info.value
    return caught


def test_each_typed_error_carries_a_japanese_message(sandbox: Sandbox) -> None:
    caught = _collect_errors(sandbox)
    assert len(caught) == 8
    for error in caught.values():
        assert isinstance(error, GatewayError) and isinstance(error, UserError)
        assert error.reason_code
        assert error.message == japanese_message(error.reason_code) == str(error)
        assert JAPANESE.search(error.message), error.reason_code
        assert error.amazon_message and not JAPANESE.search(error.amazon_message)  # Amazon's English, for logs
        assert error.amazon_message not in error.message
        assert error.request_id and re.fullmatch(r"[0-9a-f]{32}", error.request_id)
        assert f"HTTP {error.http_status}" in error.technical_detail
        assert error.code.startswith("amazonpay_")
    assert caught[DeclinedError].reason_code == "SoftDeclined"
    assert caught[AuthenticationError].http_status == 401


# --- response parsing -----------------------------------------------------------------------


def test_charge_permission_info_from_the_sandbox(sandbox: Sandbox) -> None:
    cp_id, _ = sandbox.checkout("3301", 8_000, instrument="gift")
    cp = sandbox.client().get_charge_permission(cp_id)
    assert isinstance(cp, ChargePermissionInfo)
    assert (cp.id, cp.type, cp.status.state) == (cp_id, "OneTime", "Chargeable")
    assert (cp.amount_limit, cp.amount_balance) == (72_000, 64_000)
    assert isinstance(cp.amount_limit, int)
    assert cp.created_at == sandbox.clock.now() and cp.created_at.tzinfo is not None
    assert cp.expires_at == add_months(sandbox.clock.now(), 13)
    assert cp.status.last_updated == sandbox.clock.now()
    assert cp.payment_descriptor == "Amazonギフト券"
    assert cp.merchant_reference_id == "3301"
    assert cp.buyer is not None and cp.shipping_address is not None
    raw_buyer = cp.raw["buyer"]
    assert (cp.buyer.buyer_id, cp.buyer.name, cp.buyer.email, cp.buyer.phone) == (
        raw_buyer["buyerId"],
        raw_buyer["name"],
        raw_buyer["email"],
        raw_buyer["phoneNumber"],
    )
    raw_address = cp.raw["shippingAddress"]
    assert cp.shipping_address.prefecture == raw_address["stateOrRegion"]
    assert cp.shipping_address.postal_code == raw_address["postalCode"]
    assert cp.shipping_address.address == raw_address["addressLine1"]  # the empty city is left out


def test_charge_and_refund_info_from_the_sandbox(sandbox: Sandbox) -> None:
    _, charge_id = sandbox.checkout("3302", 8_000)
    client = sandbox.client()
    sandbox.clock.advance(timedelta(hours=1))
    captured = client.capture_charge(charge_id, 8_000, idempotency_key=new_idempotency_key())
    assert isinstance(captured, ChargeInfo)
    assert (captured.amount, captured.captured_amount, captured.refunded_amount) == (8_000, 8_000, 0)
    assert captured.created_at == sandbox.clock.now() - timedelta(hours=1)
    assert captured.expires_at == captured.created_at + timedelta(days=30)
    assert captured.status == Status("Captured", None, None, sandbox.clock.now())

    refund = client.create_refund(charge_id, 3_000, idempotency_key=new_idempotency_key())
    assert isinstance(refund, RefundInfo)
    assert (refund.charge_id, refund.amount, refund.status.state) == (charge_id, 3_000, "RefundInitiated")
    assert refund.created_at == sandbox.clock.now()
    settled = client.get_refund(refund.id)
    assert settled.status.state == "Refunded"
    assert client.get_charge(charge_id).refunded_amount == 3_000


def test_charge_info_from_amazon_json() -> None:
    charge = ChargeInfo.from_json(CHARGE_JSON)
    assert charge.id == "S03-5105180-3221187-C056351"
    assert charge.charge_permission_id == "S03-5105180-3221187"
    assert (charge.amount, charge.captured_amount, charge.refunded_amount) == (14_000, 14_000, 0)
    assert charge.created_at == datetime(2019, 7, 14, 15, 53, tzinfo=UTC)
    assert charge.expires_at == datetime(2019, 8, 13, 15, 53, tzinfo=UTC)
    assert charge.status == Status("Captured", None, None, datetime(2019, 7, 15, 1, 2, 3, tzinfo=UTC))
    assert charge.raw is CHARGE_JSON

    canceled = ChargeInfo.from_json(
        {
            "chargeId": "C2",
            "statusDetails": {"state": "Canceled", "reasonCode": "ExpiredUnused", "reasonDescription": "expired"},
        }
    )
    assert (canceled.status.state, canceled.status.reason_code, canceled.status.reason_description) == (
        "Canceled",
        "ExpiredUnused",
        "expired",
    )
    assert (canceled.amount, canceled.created_at, canceled.status.last_updated) == (0, None, None)
    assert canceled.charge_permission_id == ""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("100000", 100_000),
        ("1000.00", 1_000),
        ("14.0", 14),
        ({"amount": "500", "currencyCode": "JPY"}, 500),
        (None, 0),
        ({"currencyCode": "JPY"}, 0),
        (7, 7),
    ],
)
def test_yen_parses_response_amounts(value: Any, expected: int) -> None:
    assert yen(value) == expected


@pytest.mark.parametrize("value", ["1000.50", "0.01", {"amount": "9.9", "currencyCode": "JPY"}])
def test_yen_refuses_fractions(value: Any) -> None:
    with pytest.raises(ValueError, match="fraction"):
        yen(value)


def test_money_sends_whole_yen_as_a_string() -> None:
    assert money(14_000) == {"amount": "14000", "currencyCode": "JPY"}


def test_charge_permission_info_from_amazon_json() -> None:
    cp = ChargePermissionInfo.from_json(
        {
            "chargePermissionId": "S01-5105180-3221187",
            "chargePermissionType": "Recurring",
            "limits": {"amountLimit": None, "amountBalance": None},
            "buyer": {"buyerId": "amzn1.account.X", "name": "山田 花子", "email": "h@example.jp", "phoneNumber": None},
            "shippingAddress": {
                "name": "山田 花子",
                "postalCode": "100-0001",
                "stateOrRegion": "東京都",
                "city": "千代田区",
                "addressLine1": "千代田1-1",
                "addressLine2": None,
                "addressLine3": "101号室",
                "phoneNumber": "0312345678",
            },
            "paymentPreferences": [{"paymentDescriptor": "Visa ****1111"}],
            "merchantMetadata": {"merchantReferenceId": None},
            "creationTimestamp": "20190714T155300Z",
            "expirationTimestamp": None,
            "statusDetails": {
                "state": "NonChargeable",
                "reasons": [
                    {"reasonCode": "PaymentMethodInvalid", "reasonDescription": "invalid"},
                    {"reasonCode": "BillingAddressDeleted", "reasonDescription": None},
                ],
                "lastUpdatedTimestamp": "20190715T000000Z",
            },
        }
    )
    assert (cp.type, cp.amount_limit, cp.amount_balance) == ("Recurring", None, None)
    assert (cp.status.state, cp.status.reason_code, cp.status.reason_description) == (
        "NonChargeable",
        "PaymentMethodInvalid",
        "invalid",
    )
    assert cp.buyer is not None and cp.buyer.phone == ""
    assert cp.shipping_address is not None
    assert cp.shipping_address.address == "千代田区 千代田1-1 101号室"
    assert cp.shipping_address.phone == "0312345678"
    assert cp.merchant_reference_id is None
    assert (cp.created_at, cp.expires_at) == (datetime(2019, 7, 14, 15, 53, tzinfo=UTC), None)

    bare = ChargePermissionInfo.from_json(
        {"chargePermissionId": "S01-1", "statusDetails": {"state": "Closed", "reasons": []}}
    )
    assert (bare.type, bare.buyer, bare.shipping_address, bare.payment_descriptor) == ("OneTime", None, None, "")
    assert (bare.status.state, bare.status.reason_code) == ("Closed", None)


def test_refund_info_from_amazon_json() -> None:
    refund = RefundInfo.from_json(
        {
            "refundId": "S03-5105180-3221187-R022311",
            "chargeId": "S03-5105180-3221187-C056351",
            "refundAmount": {"amount": "1400", "currencyCode": "JPY"},
            "creationTimestamp": "20190714T155300Z",
            "statusDetails": {
                "state": "Declined",
                "reasonCode": "AmazonRejected",
                "reasonDescription": None,
                "lastUpdatedTimestamp": "20190714T160000Z",
            },
        }
    )
    assert (refund.id, refund.charge_id, refund.amount) == (
        "S03-5105180-3221187-R022311",
        "S03-5105180-3221187-C056351",
        1_400,
    )
    assert (refund.status.state, refund.status.reason_code) == ("Declined", "AmazonRejected")
    assert refund.created_at == datetime(2019, 7, 14, 15, 53, tzinfo=UTC)


def test_update_charge_permission_sends_merchant_metadata(sandbox: Sandbox) -> None:
    cp_id, _ = sandbox.checkout("3303", 5_000)
    updated = sandbox.client().update_charge_permission(cp_id, {"merchantReferenceId": "3303"})
    assert updated.merchant_reference_id == "3303"
    assert sandbox.calls()[-1][:3] == ("PATCH", f"/chargePermissions/{cp_id}", 200)


def test_close_and_cancel_through_the_client(sandbox: Sandbox) -> None:
    cp_id, charge_id = sandbox.checkout("3304", 5_000)
    client = sandbox.client()
    closed = client.close_charge_permission(cp_id, "注文取消", cancel_pending_charges=True)
    assert (closed.status.state, closed.status.reason_code) == ("Closed", "MerchantClosed")
    assert client.get_charge(charge_id).status.reason_code == "ChargePermissionCanceled"


# --- how the app wires a client to the in-process sandbox (core.gateway) --------------------


def _close_gateway(gateway: Any) -> None:
    stop_quickly(gateway.close, gateway.url)


def test_open_gateway_starts_a_local_sandbox_with_its_own_key(tmp_path: Path, clock: FixedClock) -> None:
    sandbox_db = tmp_path / "sandbox" / "sandbox.sqlite3"
    gateway = open_gateway(AppSettings(), clock=clock, sandbox_db=sandbox_db, timeout=5.0, retry_delays=(0.0,))
    try:
        assert gateway.is_sandbox and gateway.server is not None and gateway.control is not None
        placed = gateway.control.checkout(number="3401", total=5_000)
        charge = gateway.client.get_charge(placed["chargeId"])
        assert charge.status.state == "Authorized"
        assert gateway.server.backend.public_key_pem(SANDBOX_PUBLIC_KEY_ID) is not None
    finally:
        _close_gateway(gateway)

    key_path = sandbox_db.with_name("sandbox-key.pem")
    assert os.stat(key_path).st_mode & 0o777 == 0o600
    first = key_path.read_bytes()
    assert ensure_sandbox_key(key_path)[0] == first  # made once, then reused

    again = open_gateway(AppSettings(), clock=clock, sandbox_db=sandbox_db, timeout=5.0)
    try:
        assert again.client.get_charge(placed["chargeId"]).id == placed["chargeId"]  # same state file
    finally:
        _close_gateway(again)


def test_open_gateway_registers_its_key_with_an_external_sandbox(
    tmp_path: Path, clock: FixedClock, sandbox: Sandbox
) -> None:
    gateway = open_gateway(
        AppSettings(),
        clock=clock,
        sandbox_db=sandbox.backend.path,  # the same state: its control secret is the sandbox's
        sandbox_url=sandbox.url,
        timeout=5.0,
    )
    try:
        assert gateway.server is None and gateway.url == sandbox.url
        _, charge_id = sandbox.checkout("3402", 5_000)
        assert gateway.client.get_charge(charge_id).status.state == "Authorized"
        assert sandbox.backend.public_key_pem(SANDBOX_PUBLIC_KEY_ID) is not None
    finally:
        gateway.close()


def test_private_key_files_are_checked_with_a_japanese_message(tmp_path: Path) -> None:
    private_pem, public_pem = generate_key_pair()
    good = tmp_path / "private.pem"
    good.write_bytes(private_pem)
    assert read_private_key(str(good)).key_size == 2048
    public = tmp_path / "public.pem"
    public.write_bytes(public_pem)
    with pytest.raises(UserError, match="秘密鍵ファイルの形式が違います"):
        read_private_key(str(public))
    with pytest.raises(UserError, match="秘密鍵ファイルを読み込めません"):
        read_private_key(str(tmp_path / "missing.pem"))
    live = AppSettings(amazon_public_key_id="LIVE-1", amazon_private_key_path=str(public), amazon_environment="live")
    with pytest.raises(UserError, match="形式が違います"):
        open_gateway(live, clock=FixedClock(datetime(2026, 1, 1, tzinfo=UTC)), sandbox_db=tmp_path / "s.sqlite3")


def test_a_key_file_is_read_only_when_it_is_a_small_regular_file(tmp_path: Path) -> None:
    """Issue 10 item 8: a FIFO hung forever and /dev/zero was read until memory ran out."""
    import os
    import threading

    fifo = tmp_path / "key.fifo"
    os.mkfifo(fifo)
    big = tmp_path / "big.pem"
    with big.open("wb") as handle:
        handle.truncate(65 * 1024)
    outcomes: dict[str, str] = {}

    def attempt(path: str) -> None:
        try:
            read_private_key(path)
        except UserError as exc:
            outcomes[path] = exc.message

    for path, says in (
        (str(fifo), "通常のファイルではありません"),
        ("/dev/zero", "通常のファイルではありません"),
        (str(big), "大きすぎます"),
        (str(tmp_path), "通常のファイルではありません"),
    ):
        worker = threading.Thread(target=attempt, args=(path,), daemon=True)
        worker.start()
        worker.join(timeout=10)
        assert not worker.is_alive(), f"reading {path} hangs"
        assert says in outcomes[path], path


def test_a_stored_environment_that_disagrees_with_the_key_is_refused_before_connecting(tmp_path: Path) -> None:
    """Issue 10 item 3: a LIVE- key under サンドボックス sent real requests; live without keys used the sandbox."""
    key = tmp_path / "private.pem"
    key.write_bytes(generate_key_pair()[0])
    clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    for settings in (
        AppSettings(amazon_environment="live"),
        AppSettings(amazon_public_key_id="LIVE-1", amazon_private_key_path=str(key), amazon_environment="sandbox"),
        AppSettings(amazon_public_key_id="SANDBOX-1", amazon_private_key_path=str(key), amazon_environment="live"),
    ):
        with pytest.raises(UserError, match="接続設定が正しくない"):
            open_gateway(settings, clock=clock, sandbox_db=tmp_path / "s.sqlite3")
    assert not (tmp_path / "s.sqlite3").exists()  # not even the built-in sandbox was started
