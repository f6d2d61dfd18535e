"""HTTP front of the sandbox: Amazon Pay API v2 paths (signed) and a ``/_sandbox`` control API.

The control API plays the parties outside the product (buyer, Seller Central) and injects
faults. It is not signed; instead every control call but ``health`` must carry the sandbox's
control secret (``core.sandbox.control``), so neither a web page nor another local user can
drive it. On every path the server also refuses, before it reads a byte of the body:

- a ``Host`` that is not this server (a DNS-rebinding page names its own domain) → 421;
- a body without ``Content-Length`` (or chunked) → 411, a malformed one → 400, a body over
  :data:`MAX_BODY_BYTES` → 413;
- a body that is not ``application/json`` → 415;

and it answers malformed JSON and wrong field types with 400 and an Amazon-style error body,
keeping the connection.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import json
import logging
import math
import re
import socket
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from core.amazonpay.signing import (
    canonical_request,
    load_public_key,
    parse_amz_date,
    parse_authorization_header,
    string_to_sign,
    verify_request,
)
from core.clock import parse_iso
from core.errors import BadInput
from core.order_numbers import validate_order_number
from core.sandbox import settlement
from core.sandbox.backend import ApiFailure, SandboxBackend
from core.sandbox.control import SECRET_HEADER, control_secret_path, ensure_control_secret

_PREFIX = re.compile(r"^/(?:(?:sandbox|live)/)?v2(?=/)")
_IDEMPOTENT_POSTS = ("/charges", "/refunds")
MAX_FUTURE_SKEW = timedelta(minutes=5)
MAX_BODY_BYTES = 1024 * 1024  # an Amazon Pay request body is a few hundred bytes
_BODY_METHODS = ("POST", "PUT", "PATCH")
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
# Top-level fields of the API bodies the backend reads, with the JSON types Amazon takes.
_API_FIELDS: dict[str, tuple[type, ...]] = {
    "chargePermissionId": (str,),
    "chargeId": (str,),
    "chargeAmount": (dict,),
    "captureAmount": (dict,),
    "refundAmount": (dict,),
    "captureNow": (bool,),
    "canHandlePendingAuthorization": (bool,),
    "cancelPendingCharges": (bool,),
    "closureReason": (str, type(None)),
    "cancellationReason": (str, type(None)),
    "softDescriptor": (str, type(None)),
    "merchantMetadata": (dict,),
}
log = logging.getLogger("kanjo.sandbox")


class _Refused(ApiFailure):
    """A request refused by the HTTP front before it was handled (and before its body was read)."""

    def __init__(self, status: int, reason_code: str, message: str, *, close: bool = False) -> None:
        super().__init__(status, reason_code, message)
        self.close = close  # the body (if any) was left unread: the connection cannot be reused


class _Hang(Exception):
    """Withhold the response: the request was processed but the caller never hears back."""


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-request is no news; anything else is a sandbox bug.
        if isinstance(sys.exc_info()[1], OSError):
            return
        log.exception("sandbox: error while serving %s", client_address)


MAX_JSON_NESTING = 16  # Amazon's request bodies nest three or four levels


def _nesting(value: Any) -> int:
    """How deeply ``value`` nests lists and objects (iterative: a hostile body cannot recurse us)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_NESTING:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


class SandboxServer:
    """A threaded HTTP server on loopback; ``port=0`` picks any free port.

    ``secret`` is the control secret the ``/_sandbox`` calls must carry; by default the one
    kept beside the backend's state file (made on first use), see ``core.sandbox.control``.
    """

    def __init__(
        self, backend: SandboxBackend, host: str = "127.0.0.1", port: int = 0, *, secret: str | None = None
    ) -> None:
        self.backend = backend
        # How long each Amazon Pay API answer takes, as the network and Amazon's own work would
        # (the control endpoints answer at once). 0 by default; benchmarks set it to compare
        # against a gateway whose latency, not this process, sets the pace (bench/subscriptions_bench.py).
        self.latency_seconds = 0.0
        self.secret_path = control_secret_path(backend.path)
        self.secret = secret or ensure_control_secret(backend.path)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        handler = type("BoundHandler", (_Handler,), {"backend": backend, "registry": self})
        self._httpd = _HTTPServer((host, port), handler)
        self._thread: threading.Thread | None = None
        bound_host, self.port = str(self._httpd.server_address[0]), int(self._httpd.server_address[1])
        self.host_names = _LOOPBACK_NAMES | {name for name in (host.strip("[]").lower(), bound_host.lower()) if name}
        self.wildcard = _is_unspecified(bound_host)
        if self.wildcard:  # reachable under any of the machine's addresses and its own name
            self.host_names |= {socket.gethostname().lower()}

    @property
    def is_loopback(self) -> bool:
        """Whether only this machine can reach the server."""
        try:
            return ipaddress.ip_address(str(self._httpd.server_address[0])).is_loopback
        except ValueError:
            return False

    def host_allowed(self, value: str) -> bool:
        """Whether a request's ``Host`` names this server (DNS-rebinding defence)."""
        value = value.strip().lower()
        if value.startswith("["):
            name, bracket, rest = value[1:].partition("]")
            if not bracket or (rest and not rest.startswith(":")):
                return False
            port_text = rest[1:]
        else:
            if value.count(":") > 1:
                return False
            name, _colon, port_text = value.partition(":")
        if port_text:
            if not re.fullmatch(r"[0-9]{1,5}", port_text) or int(port_text) != self.port:
                return False
        elif self.port != 80:
            return False
        if name in self.host_names:
            return True
        if self.wildcard:
            try:
                ipaddress.ip_address(name)
            except ValueError:
                return False
            return True  # an address literal cannot be rebound by someone else's DNS
        return False

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="kanjo-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever(poll_interval=0.05)

    def track(self, connection: socket.socket, alive: bool) -> None:
        with self._connections_lock:
            (self._connections.add if alive else self._connections.discard)(connection)

    def stop(self) -> None:
        if self._thread is not None:  # shutdown() waits for a serve_forever() that must be running
            self._httpd.shutdown()
        self._httpd.server_close()
        # Drop kept-alive connections too: a stopped server must look unreachable to clients.
        with self._connections_lock:
            for connection in list(self._connections):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            self._connections.clear()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.backend.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _is_unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


class _Handler(BaseHTTPRequestHandler):
    backend: SandboxBackend
    registry: SandboxServer
    protocol_version = "HTTP/1.1"
    server_version = "KanjoSandbox/1"
    # Headers and body go out in separate writes; without this every answer waits ~40 ms
    # for the client's delayed ACK.
    disable_nagle_algorithm = True
    # A client that announces a body and never sends it must not hold a thread for ever.
    timeout = 60

    def setup(self) -> None:
        super().setup()
        self.registry.track(self.connection, True)

    def finish(self) -> None:
        self.registry.track(self.connection, False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    # --- plumbing --------------------------------------------------------------------------

    def do_PUT(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        is_control = split.path == "/_sandbox" or split.path.startswith("/_sandbox/")
        request_id = uuid.uuid4().hex
        try:
            body = self._read_body(is_control, split.path)
            if body is None:  # the client hung up before its body was complete
                self.close_connection = True
                return
            if split.path.startswith("/_documents/") and self.command == "GET":
                # A report document's short-lived download address (unsigned, like Amazon's S3 URL).
                self._send_raw(settlement.download(self.backend, split.path.rsplit("/", 1)[-1]))
                return
            if is_control:
                status, payload = self._control(self.command, split.path, self._query(split.query), body)
            else:
                if self.registry.latency_seconds > 0:
                    time.sleep(self.registry.latency_seconds)
                status, payload = self._api(self.command, split.path, split.query, body)
        except _Hang:
            time.sleep(self.backend.settings()["hang_seconds"])
            self.close_connection = True
            return
        except _Refused as refused:
            status, payload = refused.status, refused.body()
            if refused.close:
                self.close_connection = True
        except ApiFailure as failure:
            status, payload = failure.status, failure.body()
            if not is_control and not failure.recorded:
                route = _PREFIX.sub("", split.path, count=1)
                self.backend.record_call(
                    self.command, route, self.headers.get("x-amz-pay-idempotency-key"), status, False
                )
        except sqlite3.Error as exc:  # the sandbox's own file (a full disk): answer it, no traceback
            log.debug("sandbox: %s %s failed: %s", self.command, split.path, exc)
            status = 503
            payload = {"reasonCode": "ServiceUnavailable", "message": f"The sandbox cannot use its state file ({exc})."}
        except Exception as exc:  # a sandbox bug: answer it, keep the details in the log
            log.exception("sandbox: %s %s failed", self.command, split.path)
            status = 500
            payload = {"reasonCode": "InternalServerError", "message": f"The sandbox failed ({type(exc).__name__})."}
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("x-amz-pay-request-id", request_id)
        if self.close_connection:
            self.send_header("connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _send_raw(self, data: bytes) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/csv; charset=utf-8")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _read_body(self, is_control: bool, path: str) -> bytes | None:
        """The request's body after every check on its headers; ``_Refused`` before reading it."""
        hosts = self.headers.get_all("host") or []
        if len(hosts) != 1:
            raise _Refused(400, "MissingHeader", "Exactly one Host header is required.", close=True)
        if not self.registry.host_allowed(hosts[0]):
            raise _Refused(421, "MisdirectedRequest", "The Host header does not name this sandbox.", close=True)
        length = self._content_length()
        if is_control and path.rstrip("/") != "/_sandbox/health":
            self._check_secret(close=length > 0)
        if length == 0:
            return b""
        if self.headers.get_content_type() != "application/json" or (
            self.headers.get_content_charset() or "utf-8"
        ) not in ("utf-8", "utf8"):
            raise _Refused(
                415, "UnsupportedMediaType", "The request body must be application/json (UTF-8).", close=True
            )
        body = self.rfile.read(length)
        return body if len(body) == length else None

    def _content_length(self) -> int:
        if self.headers.get("transfer-encoding") is not None:
            raise _Refused(411, "LengthRequired", "Send the body with Content-Length, not chunked.", close=True)
        values = {value.strip() for value in self.headers.get_all("content-length") or []}
        if not values:
            if self.command in _BODY_METHODS:
                raise _Refused(411, "LengthRequired", "Content-Length is required.", close=True)
            return 0
        if len(values) > 1:
            raise _Refused(400, "InvalidHeaderValue", "Conflicting Content-Length headers.", close=True)
        text = values.pop()
        if not re.fullmatch(r"[0-9]+", text):
            raise _Refused(400, "InvalidHeaderValue", "Content-Length must be a whole number of bytes.", close=True)
        if len(text) > 12 or int(text) > MAX_BODY_BYTES:
            raise _Refused(
                413, "RequestEntityTooLarge", f"The request body must be at most {MAX_BODY_BYTES} bytes.", close=True
            )
        return int(text)

    def _check_secret(self, *, close: bool) -> None:
        given = self.headers.get(SECRET_HEADER)
        if not given:
            raise _Refused(
                401, "UnauthorizedAccess", f"The sandbox control API needs the {SECRET_HEADER} header.", close=close
            )
        expected = self.registry.secret.encode("ascii")
        if not hmac.compare_digest(given.strip().encode("latin-1", "replace"), expected):
            raise _Refused(403, "AccessDenied", "The sandbox control secret is wrong.", close=close)

    @staticmethod
    def _query(query: str) -> dict[str, list[str]]:
        try:
            return parse_qs(query, max_num_fields=50)
        except ValueError as exc:
            raise ApiFailure(400, "InvalidParameterValue", "The query string is malformed.") from exc

    # --- the Amazon Pay API ----------------------------------------------------------------

    def _api(self, method: str, raw_path: str, query: str, body: bytes) -> tuple[int, Any]:
        match = _PREFIX.match(raw_path)
        if match is None:
            raise ApiFailure(404, "ResourceNotFound", f"No such resource: {raw_path}")
        route = re.sub(r"/+", "/", raw_path[match.end() :]).rstrip("/")
        key = self.headers.get("x-amz-pay-idempotency-key")
        fault = self.backend.draw_fault(method, route)
        if fault is not None and fault.kind != "timeout":
            self.backend.record_call(method, route, key, int(fault.kind), False)
            code = {"429": "TooManyRequests", "500": "InternalServerError", "503": "ServiceUnavailable"}[fault.kind]
            failure = ApiFailure(int(fault.kind), code, "Injected sandbox fault.")
            failure.recorded = True
            raise failure
        self._authenticate(method, raw_path, query, body, route)
        payload = self._json_body(body)
        _check_api_fields(payload)
        if method == "GET" and route.split("/")[1:2] in (["reports"], ["report-documents"], ["disbursements"]):
            status, response, replayed = 200, self._reports(route, self._query(query)), False
        else:
            status, response, replayed = self._route(method, route, payload, key, body)
        self.backend.record_call(method, route, key, status, replayed)
        if fault is not None:
            raise _Hang()
        return status, response

    def _authenticate(self, method: str, raw_path: str, query: str, body: bytes, route: str) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        authorization = headers.get("authorization")
        if not authorization:
            raise ApiFailure(400, "MissingHeader", "The Authorization header is missing.")
        try:
            parsed = parse_authorization_header(authorization)
        except ValueError as exc:
            raise ApiFailure(400, "InvalidHeaderValue", f"The Authorization header is malformed: {exc}") from exc
        if "x-amz-pay-date" not in parsed.signed_headers:
            raise ApiFailure(400, "InvalidHeaderValue", "x-amz-pay-date must be a signed header.")
        if (method == "POST" and route in _IDEMPOTENT_POSTS) or route.endswith("/capture"):
            if "x-amz-pay-idempotency-key" not in parsed.signed_headers:
                raise ApiFailure(400, "MissingHeader", "x-amz-pay-idempotency-key is required and must be signed.")
            key = headers.get("x-amz-pay-idempotency-key", "")
            if not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", key):
                raise ApiFailure(400, "InvalidHeaderValue", "The idempotency key must be 1-32 of a-z A-Z 0-9 - _.")
        region = headers.get("x-amz-pay-region", "jp")
        if region.lower() != "jp":
            raise ApiFailure(400, "InvalidHeaderValue", f"The value {region} provided for x-amz-pay-region is invalid.")
        pem = self.backend.public_key_pem(parsed.public_key_id)
        if pem is None:
            raise ApiFailure(401, "UnauthorizedAccess", f"Unknown public key id {parsed.public_key_id}.")
        query_pairs = [(k, v) for k, values in parse_qs(query, keep_blank_values=True).items() for v in values]
        try:
            valid = verify_request(
                method=method,
                path=raw_path,
                query=query_pairs,
                headers=headers,
                body=body,
                authorization=authorization,
                public_key=load_public_key(pem.encode("ascii")),
            )
        except ValueError:
            valid = False
        if not valid:
            try:
                text = string_to_sign(
                    parsed.algorithm,
                    canonical_request(method, raw_path, query_pairs, headers, parsed.signed_headers, body),
                )
            except ValueError:
                text = ""
            raise ApiFailure(401, "InvalidRequestSignature", f"Unable to verify signature, signing String [{text}]")
        try:
            sent_at = parse_amz_date(headers.get("x-amz-pay-date", ""))
        except ValueError as exc:
            raise ApiFailure(400, "InvalidHeaderValue", "The value provided for x-amz-pay-date is invalid.") from exc
        if sent_at - self.backend.now() > MAX_FUTURE_SKEW:
            raise ApiFailure(
                400,
                "InvalidHeaderValue",
                f"The value {headers['x-amz-pay-date']} provided for x-amz-pay-date should not be in future",
            )

    def _reports(self, route: str, query: dict[str, list[str]]) -> Any:
        """The Reports API (issue 13): Get Reports, Get Report By Id, Get Report Document, Get Disbursements."""
        parts = route.strip("/").split("/")
        if parts == ["reports"]:
            return settlement.get_reports(self.backend, query)
        if len(parts) == 2 and parts[0] == "reports":
            return settlement.get_report(self.backend, parts[1])
        if len(parts) == 2 and parts[0] == "report-documents":
            document = settlement.get_report_document(self.backend, parts[1])
            document["url"] = f"http://{self.headers.get('host', '')}{document['url']}"
            return document
        if parts == ["disbursements"]:
            return settlement.get_disbursements(self.backend, query)
        raise ApiFailure(404, "ResourceNotFound", f"No such operation: GET {route}")

    @staticmethod
    def _json_body(body: bytes) -> Mapping[str, Any]:
        if not body:
            return {}
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise ApiFailure(400, "InvalidRequestFormat", "The request body is not valid JSON.") from exc
        if not isinstance(data, dict):
            raise ApiFailure(400, "InvalidRequestFormat", "The request body must be a JSON object.")
        if _nesting(data) > MAX_JSON_NESTING:
            raise ApiFailure(400, "InvalidRequestFormat", "The request body is nested too deeply.")
        return data

    def _route(
        self, method: str, route: str, payload: Mapping[str, Any], key: str | None, body: bytes
    ) -> tuple[int, Any, bool]:
        backend = self.backend
        parts = route.strip("/").split("/")
        idempotent: Callable[[Callable[[Any], Any]], tuple[int, Any, bool]] = lambda run: backend.idempotent(  # noqa: E731
            key or "", f"{method} {route} {json.dumps(payload, sort_keys=True)}", run
        )
        if parts == ["charges"] and method == "POST":
            return idempotent(lambda db: backend.create_charge(db, payload))
        if parts == ["refunds"] and method == "POST":
            return idempotent(lambda db: backend.create_refund(db, payload))
        if len(parts) == 3 and parts[0] == "charges" and parts[2] == "capture" and method == "POST":
            return idempotent(lambda db: backend.capture_charge(db, parts[1], payload))
        if len(parts) == 2 and parts[0] == "charges" and method == "GET":
            return 200, backend.get_charge(parts[1]), False
        if len(parts) == 3 and parts[0] == "charges" and parts[2] == "cancel" and method == "DELETE":
            return 200, backend.cancel_charge(parts[1], payload), False
        if len(parts) == 2 and parts[0] == "refunds" and method == "GET":
            return 200, backend.get_refund(parts[1]), False
        if len(parts) == 2 and parts[0] == "chargePermissions" and method == "GET":
            return 200, backend.get_charge_permission(parts[1]), False
        if len(parts) == 2 and parts[0] == "chargePermissions" and method == "PATCH":
            return 200, backend.update_charge_permission(parts[1], payload), False
        if len(parts) == 3 and parts[0] == "chargePermissions" and parts[2] == "close" and method == "DELETE":
            return 200, backend.close_charge_permission(parts[1], payload), False
        raise ApiFailure(
            404 if method in ("GET", "POST", "PATCH", "DELETE") else 405,
            "ResourceNotFound",
            f"No such operation: {method} {route}",
        )

    # --- the control API (buyer, Seller Central, faults) -----------------------------------

    def _control(self, method: str, path: str, query: Mapping[str, list[str]], body: bytes) -> tuple[int, Any]:
        backend = self.backend
        fields = _Fields(self._json_body(body), query)
        parts = path.strip("/").split("/")[1:]

        def cp_id() -> str:
            given = fields.optional_text("chargePermissionId")
            if given:
                return given
            number = fields.optional_text("number")
            if not number:
                raise ApiFailure(400, "MissingParameterValue", "number or chargePermissionId is required")
            return backend.cp_for_order(number)

        if parts == ["health"]:
            return 200, {"ok": True, "now": backend.now().isoformat()}
        if parts == ["keys"] and method == "POST":
            key_id, pem = fields.text("id"), fields.text("pem")
            try:
                load_public_key(pem.encode("utf-8"))
            except ValueError as exc:
                raise ApiFailure(400, "InvalidParameterValue", "pem must be a PEM RSA public key") from exc
            backend.register_public_key(key_id, pem)
            return 200, {"ok": True}
        if parts == ["checkout"] and method == "POST":
            try:
                number = validate_order_number(fields.text("number"))
            except BadInput as exc:
                raise ApiFailure(400, "InvalidParameterValue", f"number: {exc.message}") from exc
            total = fields.integer("total")
            ordered_text = fields.optional_text("orderedAt")
            try:
                ordered_at = parse_iso(ordered_text) if ordered_text else None
            except ValueError as exc:
                raise ApiFailure(400, "InvalidParameterValue", "orderedAt must be an ISO 8601 date and time") from exc
            return 200, backend.checkout(
                number=number,
                total=total,
                kind=fields.text("kind", default="normal"),
                instrument=fields.text("instrument", default="card"),
                ordered_at=ordered_at,
                allow_overcharge=fields.flag("allowOvercharge", default=True),
                pending=fields.flag("pending", default=False),
                phone=fields.optional_text("phone"),
                extended_expiry=fields.flag("extendedExpiry", default=True),
            )
        if parts == ["buyer", "decline-next"] and method == "POST":
            kind, operation = fields.text("kind", default="soft"), fields.text("operation", default="auth")
            backend.decline_next(cp_id(), kind, operation)
            return 200, {"ok": True}
        if parts == ["buyer", "close-subscription"] and method == "POST":
            return 200, backend.buyer_close(cp_id())
        if parts == ["buyer", "fix-payment"] and method == "POST":
            return 200, backend.fix_payment(cp_id())
        if len(parts) == 2 and parts[0] == "seller-central" and method == "POST":
            charge_id = fields.optional_text("chargeId")
            if parts[1] == "refund":
                amount = fields.amount()
                return 200, backend.seller_refund(cp_id(), amount, charge_id)
            if parts[1] == "capture":
                capture = fields.optional_amount()
                return 200, backend.seller_capture(cp_id(), capture, charge_id)
            if parts[1] == "increase":
                amount = fields.amount()
                return 200, backend.seller_increase(cp_id(), amount)
            if parts[1] == "chargeback":
                amount = fields.amount()
                return 200, settlement.chargeback(backend, cp_id(), amount)
        if parts == ["settlement", "close"] and method == "POST":
            return 200, settlement.close_now(backend)
        if parts == ["faults"] and method == "POST":
            rate = fields.optional_number("rate")
            fault_id = backend.add_fault(
                fields.text("kind", default="500"),
                count=fields.integer("count", default=1) if rate is None else None,
                rate=rate,
                path=fields.text("path", default=""),
                seed=fields.integer("seed", default=0),
            )
            return 200, {"id": fault_id}
        if parts == ["faults"] and method == "DELETE":
            backend.clear_faults()
            return 200, {"ok": True}
        if parts == ["settings"]:
            if method == "POST":
                return 200, backend.update_settings({key: fields.number(key) for key in fields.payload})
            return 200, backend.settings()
        if parts == ["options"]:
            if method == "POST":
                return 200, backend.update_options({key: fields.text(key) for key in fields.payload})
            return 200, backend.options()
        if parts == ["notifications"]:
            return 200, {"notifications": backend.notifications(fields.integer("after", default=0))}
        if parts == ["snapshot"]:
            return 200, backend.snapshot(cp_id())
        if parts == ["calls"]:
            return 200, {"calls": backend.calls()}
        if parts == ["checkouts"] and method == "GET":
            return 200, {"checkouts": backend.checkouts()}
        raise ApiFailure(404, "ResourceNotFound", f"No such sandbox control: {method} {path}")


class _Fields:
    """Typed reads of a control call's JSON body (or, failing that, its query string).

    A missing required field or one of the wrong JSON type is a 400 with Amazon's error body,
    never a ``KeyError`` that drops the connection.
    """

    def __init__(self, payload: Mapping[str, Any], query: Mapping[str, list[str]]) -> None:
        self.payload = payload
        self._query = query

    def _get(self, name: str) -> tuple[bool, Any, bool]:
        """(present, value, from_query)."""
        if name in self.payload:
            return True, self.payload[name], False
        values = self._query.get(name)
        if values:
            return True, values[0], True
        return False, None, False

    @staticmethod
    def _missing(name: str) -> ApiFailure:
        return ApiFailure(400, "MissingParameterValue", f"The parameter {name} is missing.")

    @staticmethod
    def _invalid(name: str, what: str) -> ApiFailure:
        return ApiFailure(400, "InvalidParameterValue", f"The parameter {name} must be {what}.")

    def optional_text(self, name: str) -> str | None:
        present, value, _ = self._get(name)
        if not present or value is None:
            return None
        if not isinstance(value, str):
            raise self._invalid(name, "a string")
        return value

    def text(self, name: str, *, default: str | None = None) -> str:
        value = self.optional_text(name)
        if value is not None:
            return value
        if default is None:
            raise self._missing(name)
        return default

    def optional_integer(self, name: str) -> int | None:
        present, value, from_query = self._get(name)
        if not present or value is None:
            return None
        if from_query and isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,18}", value):
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._invalid(name, "a whole number")
        return value

    def integer(self, name: str, *, default: int | None = None) -> int:
        value = self.optional_integer(name)
        if value is not None:
            return value
        if default is None:
            raise self._missing(name)
        return default

    def optional_number(self, name: str) -> float | None:
        present, value, _ = self._get(name)
        if not present:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self._invalid(name, "a number")
        return float(value)

    def number(self, name: str) -> float:
        value = self.optional_number(name)
        if value is None:
            raise self._missing(name)
        return value

    def flag(self, name: str, *, default: bool) -> bool:
        present, value, _ = self._get(name)
        if not present or value is None:
            return default
        if not isinstance(value, bool):
            raise self._invalid(name, "true or false")
        return value

    def optional_amount(self) -> int | None:
        value = self.optional_integer("amount")
        if value is not None and value <= 0:
            raise ApiFailure(400, "InvalidParameterValue", "amount must be a positive whole number of yen")
        return value

    def amount(self) -> int:
        value = self.optional_amount()
        if value is None:
            raise self._missing("amount")
        return value


def _check_api_fields(payload: Mapping[str, Any]) -> None:
    """Amazon refuses a body whose known fields have the wrong JSON type; so does the sandbox."""
    for name, types in _API_FIELDS.items():
        if name in payload and (
            not isinstance(payload[name], types) or (bool not in types and isinstance(payload[name], bool))
        ):
            raise ApiFailure(400, "InvalidParameterValue", f"The value provided for {name} has the wrong type.")
    metadata = payload.get("merchantMetadata") or {}
    for key, value in metadata.items():
        if not isinstance(value, str | None):
            raise ApiFailure(400, "InvalidParameterValue", f"The value provided for merchantMetadata.{key} is invalid.")
