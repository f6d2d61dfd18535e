"""HTTP front of the sandbox: Amazon Pay API v2 paths (signed) and a ``/_sandbox`` control API.

The control API plays the parties outside the product (buyer, Seller Central) and injects
faults; it answers on loopback only and is not signed.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
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
from core.sandbox.backend import ApiFailure, SandboxBackend

_PREFIX = re.compile(r"^/(?:(?:sandbox|live)/)?v2(?=/)")
_IDEMPOTENT_POSTS = ("/charges", "/refunds")
MAX_FUTURE_SKEW = timedelta(minutes=5)


class _Hang(Exception):
    """Withhold the response: the request was processed but the caller never hears back."""


class SandboxServer:
    """A threaded HTTP server on loopback; ``port=0`` picks any free port."""

    def __init__(self, backend: SandboxBackend, host: str = "127.0.0.1", port: int = 0) -> None:
        self.backend = backend
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        handler = type("BoundHandler", (_Handler,), {"backend": backend, "registry": self})
        self._httpd = ThreadingHTTPServer((host, port), handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

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

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    backend: SandboxBackend
    registry: SandboxServer
    protocol_version = "HTTP/1.1"
    server_version = "KanjoSandbox/1"
    # Headers and body go out in separate writes; without this every answer waits ~40 ms
    # for the client's delayed ACK.
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        self.registry.track(self.connection, True)

    def finish(self) -> None:
        self.registry.track(self.connection, False)
        super().finish()

    server_version = "KanjoSandbox/1"

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

    def _dispatch(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        request_id = uuid.uuid4().hex
        try:
            if split.path.startswith("/_sandbox/"):
                status, payload = self._control(self.command, split.path, parse_qs(split.query), body)
            else:
                status, payload = self._api(self.command, split.path, split.query, body)
        except _Hang:
            time.sleep(self.backend.settings()["hang_seconds"])
            self.close_connection = True
            return
        except ApiFailure as failure:
            status, payload = failure.status, failure.body()
            if not split.path.startswith("/_sandbox/") and not failure.recorded:
                route = _PREFIX.sub("", split.path, count=1)
                self.backend.record_call(
                    self.command, route, self.headers.get("x-amz-pay-idempotency-key"), status, False
                )
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("x-amz-pay-request-id", request_id)
        self.end_headers()
        self.wfile.write(data)

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

    @staticmethod
    def _json_body(body: bytes) -> Mapping[str, Any]:
        if not body:
            return {}
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ApiFailure(400, "InvalidRequestFormat", "The request body is not valid JSON.") from exc
        if not isinstance(data, dict):
            raise ApiFailure(400, "InvalidRequestFormat", "The request body must be a JSON object.")
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
        payload = dict(self._json_body(body))
        parts = path.strip("/").split("/")[1:]

        def cp_id() -> str:
            if payload.get("chargePermissionId"):
                return str(payload["chargePermissionId"])
            number = payload.get("number") or (query.get("number") or [""])[0]
            if not number:
                raise ApiFailure(400, "MissingParameterValue", "number or chargePermissionId is required")
            return backend.cp_for_order(str(number))

        def amount() -> int:
            value = payload.get("amount")
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ApiFailure(400, "InvalidParameterValue", "amount must be a positive whole number of yen")
            return value

        if parts == ["health"]:
            return 200, {"ok": True, "now": backend.now().isoformat()}
        if parts == ["keys"] and method == "POST":
            backend.register_public_key(str(payload["id"]), str(payload["pem"]))
            return 200, {"ok": True}
        if parts == ["checkout"] and method == "POST":
            ordered_at = parse_iso(str(payload["orderedAt"])) if payload.get("orderedAt") else None
            return 200, backend.checkout(
                number=str(payload["number"]),
                total=int(payload["total"]),
                kind=str(payload.get("kind", "normal")),
                instrument=str(payload.get("instrument", "card")),
                ordered_at=ordered_at,
                allow_overcharge=bool(payload.get("allowOvercharge", True)),
                pending=bool(payload.get("pending", False)),
                phone=payload.get("phone"),
                extended_expiry=bool(payload.get("extendedExpiry", True)),
            )
        if parts == ["buyer", "decline-next"] and method == "POST":
            backend.decline_next(cp_id(), str(payload.get("kind", "soft")), str(payload.get("operation", "auth")))
            return 200, {"ok": True}
        if parts == ["buyer", "fix-payment"] and method == "POST":
            return 200, backend.fix_payment(cp_id())
        if len(parts) == 2 and parts[0] == "seller-central" and method == "POST":
            charge_id = payload.get("chargeId")
            if parts[1] == "refund":
                return 200, backend.seller_refund(cp_id(), amount(), charge_id)
            if parts[1] == "capture":
                return 200, backend.seller_capture(cp_id(), payload.get("amount"), charge_id)
            if parts[1] == "increase":
                return 200, backend.seller_increase(cp_id(), amount())
        if parts == ["faults"] and method == "POST":
            fault_id = backend.add_fault(
                str(payload.get("kind", "500")),
                count=int(payload.get("count", 1)) if payload.get("rate") is None else None,
                rate=None if payload.get("rate") is None else float(payload["rate"]),
                path=str(payload.get("path", "")),
                seed=int(payload.get("seed", 0)),
            )
            return 200, {"id": fault_id}
        if parts == ["faults"] and method == "DELETE":
            backend.clear_faults()
            return 200, {"ok": True}
        if parts == ["settings"]:
            if method == "POST":
                return 200, backend.update_settings({k: float(v) for k, v in payload.items()})
            return 200, backend.settings()
        if parts == ["options"]:
            if method == "POST":
                return 200, backend.update_options({k: str(v) for k, v in payload.items()})
            return 200, backend.options()
        if parts == ["notifications"]:
            return 200, {"notifications": backend.notifications(int((query.get("after") or ["0"])[0]))}
        if parts == ["snapshot"]:
            return 200, backend.snapshot(cp_id())
        if parts == ["calls"]:
            return 200, {"calls": backend.calls()}
        raise ApiFailure(404, "ResourceNotFound", f"No such sandbox control: {method} {path}")
