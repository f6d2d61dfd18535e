"""The sandbox's HTTP front as an attacker or a broken client sees it (issue 10, items 11 and 12).

Everything goes over real sockets to a real ``SandboxServer`` on a SQLite file: raw
``http.client`` / socket requests for what no well-behaved client sends (huge or missing
Content-Length, chunked bodies, bad JSON, a foreign Host), the product's ``SandboxControl``
for the happy path, and ``kanjo`` processes for ``sandbox serve`` and ``place-order``.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from core.amazonpay.signing import format_amz_date, generate_key_pair, load_private_key, sign_request
from core.clock import FixedClock
from core.errors import UserError
from core.sandbox.backend import SandboxBackend
from core.sandbox.control import SECRET_HEADER, SandboxControl, control_secret_path
from core.sandbox.server import MAX_BODY_BYTES, SandboxServer

ROOT = Path(__file__).resolve().parents[2]
KEY_ID = "SANDBOX-CONTROL-TEST"
NOW_TEXT = "2026-11-21T12:00:00+09:00"


# --- fixtures and raw HTTP ------------------------------------------------------------------


@pytest.fixture(scope="module")
def key_pair() -> tuple[Any, str]:
    private_pem, public_pem = generate_key_pair()
    return load_private_key(private_pem), public_pem.decode("ascii")


@pytest.fixture
def server(state_dir: Path, clock: FixedClock, key_pair: tuple[Any, str]) -> Iterator[SandboxServer]:
    backend = SandboxBackend(state_dir / "sandbox.sqlite3", clock)
    backend.register_public_key(KEY_ID, key_pair[1])
    running = SandboxServer(backend).start()
    try:
        yield running
    finally:
        stop_server(running)


def stop_server(server: SandboxServer) -> None:
    """``server.stop()`` without waiting out ``serve_forever``'s poll: a connection wakes it."""
    address = urlsplit(server.url)
    stopper = threading.Thread(target=server.stop, daemon=True)
    stopper.start()
    while stopper.is_alive():
        with contextlib.suppress(OSError):
            socket.create_connection((address.hostname, address.port), timeout=0.2).close()
        stopper.join(0.02)


def port_of(server: SandboxServer) -> int:
    port = urlsplit(server.url).port
    assert port is not None
    return port


def raw(
    server: SandboxServer, head: str, body: bytes = b"", *, timeout: float = 5.0
) -> tuple[int, dict[str, str], bytes]:
    """Send ``head`` (request line and headers, CRLF-joined here) and ``body`` as they are; the answer."""
    request = head.replace("\n", "\r\n").rstrip("\r\n").encode("latin-1") + b"\r\n\r\n" + body
    with socket.create_connection(("127.0.0.1", port_of(server)), timeout=timeout) as sock:
        sock.sendall(request)
        response = http.client.HTTPResponse(sock)
        response.begin()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data


def control_post(
    server: SandboxServer,
    path: str,
    body: bytes,
    *,
    secret: str | None = "server",
    content_type: str = "application/json",
    host: str | None = None,
    connection: http.client.HTTPConnection | None = None,
) -> tuple[int, Any]:
    headers = {"Content-Type": content_type}
    if secret is not None:
        headers[SECRET_HEADER] = server.secret if secret == "server" else secret
    if host is not None:
        headers["Host"] = host
    conn = connection or http.client.HTTPConnection("127.0.0.1", port_of(server), timeout=5)
    conn.request("POST", f"/_sandbox/{path}", body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    if connection is None:
        conn.close()
    return response.status, json.loads(data) if data else None


def charge_permissions(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as db:
        (count,) = db.execute("SELECT count(*) FROM charge_permissions").fetchone()
        return int(count)


def checkout_body(number: str = "1001", total: Any = 1_000) -> bytes:
    return json.dumps({"number": number, "total": total}).encode()


# --- item 11: the control secret ------------------------------------------------------------


def test_control_secret_is_made_once_per_state_in_a_private_file(
    server: SandboxServer, state_dir: Path, clock: FixedClock
) -> None:
    path = control_secret_path(state_dir / "sandbox.sqlite3")
    assert path == state_dir / "sandbox.sqlite3.control-secret" == server.secret_path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text().strip()
    assert len(text) == 64 and int(text, 16) >= 0 and text == server.secret
    again = SandboxServer(SandboxBackend(state_dir / "sandbox.sqlite3", clock))
    try:
        assert again.secret == server.secret  # the same state keeps its secret
    finally:
        again.stop()
    other = SandboxServer(SandboxBackend(state_dir / "other.sqlite3", clock))
    try:
        assert other.secret != server.secret
    finally:
        other.stop()


@pytest.mark.parametrize(("secret", "status"), [(None, 401), ("0" * 64, 403), ("", 401)])
def test_control_api_without_the_right_secret_does_nothing(
    server: SandboxServer, state_dir: Path, secret: str | None, status: int
) -> None:
    code, answer = control_post(server, "checkout", checkout_body(), secret=secret)
    assert code == status and set(answer) >= {"reasonCode", "message"}
    for path, body in [("keys", {"id": "EVIL", "pem": "x"}), ("seller-central/refund", {"number": "1", "amount": 1})]:
        code, _ = control_post(server, path, json.dumps(body).encode(), secret=secret)
        assert code == status
    assert charge_permissions(state_dir / "sandbox.sqlite3") == 0
    assert server.backend.public_key_pem("EVIL") is None
    # GETs (snapshot, calls, settings) are control calls too.
    assert raw(server, f"GET /_sandbox/calls HTTP/1.1\nHost: 127.0.0.1:{port_of(server)}")[0] == 401
    code, answer = control_post(server, "checkout", checkout_body())
    assert code == 200 and answer["number"] == "1001"
    assert charge_permissions(state_dir / "sandbox.sqlite3") == 1


def test_control_client_sends_the_secret_and_says_clearly_when_it_is_wrong(server: SandboxServer) -> None:
    good = SandboxControl(server.url, secret=server.secret, timeout=5)
    try:
        assert good.checkout(number="2001", total=2_000)["number"] == "2001"
    finally:
        good.close()
    for secret in (None, "f" * 64):
        bad = SandboxControl(server.url, secret=secret, timeout=5)
        try:
            with pytest.raises(UserError, match="シークレット"):
                bad.checkout(number="2002", total=2_000)
        finally:
            bad.close()


# --- item 11: Host (DNS rebinding) ----------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["evil.example:{port}", "evil.example", "127.0.0.1:1", "localhost.evil.example:{port}", "127.0.0.1.nip.io:{port}"],
)
@pytest.mark.parametrize("path", ["/_sandbox/health", "/v2/charges/S01-X", "/_sandbox/calls"])
def test_a_foreign_host_is_refused_on_every_path(server: SandboxServer, host: str, path: str) -> None:
    status, _headers, body = raw(server, f"GET {path} HTTP/1.1\nHost: {host.format(port=port_of(server))}")
    assert status == 421
    assert set(json.loads(body)) == {"reasonCode", "message"}


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}", "[::1]:{port}"])
def test_loopback_hosts_with_the_right_port_are_served(server: SandboxServer, host: str) -> None:
    status, _headers, body = raw(server, f"GET /_sandbox/health HTTP/1.1\nHost: {host.format(port=port_of(server))}")
    assert status == 200 and json.loads(body)["ok"] is True


def test_a_request_without_host_is_refused(server: SandboxServer) -> None:
    status, _headers, body = raw(server, "GET /_sandbox/health HTTP/1.0")
    assert status == 400 and json.loads(body)["reasonCode"]


# --- item 11: content type, body size, malformed bodies ------------------------------------


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_a_body_that_is_not_declared_json_is_refused(server: SandboxServer, state_dir: Path, content_type: str) -> None:
    status, answer = control_post(server, "checkout", checkout_body(), content_type=content_type)
    assert status == 415 and answer["reasonCode"]
    assert charge_permissions(state_dir / "sandbox.sqlite3") == 0
    status, _ = control_post(server, "checkout", checkout_body(), content_type="application/json; charset=UTF-8")
    assert status == 200


def memory_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_a_huge_content_length_is_refused_at_once_without_reading_it(server: SandboxServer) -> None:
    port = port_of(server)
    before = memory_kib()
    started = time.monotonic()
    status, headers, body = raw(
        server,
        f"POST /_sandbox/checkout HTTP/1.1\nHost: 127.0.0.1:{port}\nContent-Type: application/json\n"
        f"{SECRET_HEADER}: {server.secret}\nContent-Length: 20000000000",
    )
    assert status == 413 and json.loads(body)["reasonCode"]
    assert headers.get("connection", "").lower() == "close"
    assert time.monotonic() - started < 2.0
    assert memory_kib() - before < 50_000  # nothing like 19.7 GB (or even 50 MB) was reserved
    # Just over the cap is refused too, on the API paths as on the control API.
    for path in ("/_sandbox/checkout", "/v2/charges"):
        status, _headers, _body = raw(
            server,
            f"POST {path} HTTP/1.1\nHost: 127.0.0.1:{port}\nContent-Type: application/json\n"
            f"{SECRET_HEADER}: {server.secret}\nContent-Length: {MAX_BODY_BYTES + 1}",
        )
        assert status == 413
    assert raw(server, f"GET /_sandbox/health HTTP/1.1\nHost: 127.0.0.1:{port}")[0] == 200


@pytest.mark.parametrize(
    ("length_headers", "status"),
    [
        ("", 411),
        ("Transfer-Encoding: chunked", 411),
        ("Content-Length: -5", 400),
        ("Content-Length: abc", 400),
        ("Content-Length: 1e3", 400),
        ("Content-Length: ١٢", 400),
        ("Content-Length: 10\nContent-Length: 12", 400),
        ("Content-Length: 99999999999999999999999999999999999999999999999999", 413),
    ],
)
@pytest.mark.parametrize("path", ["/_sandbox/checkout", "/v2/charges"])
def test_a_missing_or_bad_content_length_is_refused(
    server: SandboxServer, state_dir: Path, length_headers: str, status: int, path: str
) -> None:
    port = port_of(server)
    head = (
        f"POST {path} HTTP/1.1\nHost: 127.0.0.1:{port}\nContent-Type: application/json\n"
        f"{SECRET_HEADER}: {server.secret}\n{length_headers}"
    )
    got, _headers, body = raw(
        server, head.encode("utf-8").decode("latin-1"), b"0\r\n\r\n" if "chunked" in head else b""
    )
    assert got == status and json.loads(body)["reasonCode"]
    assert charge_permissions(state_dir / "sandbox.sqlite3") == 0
    assert raw(server, f"GET /_sandbox/health HTTP/1.1\nHost: 127.0.0.1:{port}")[0] == 200


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("checkout", b"{bad json"),
        ("checkout", b"\xff\xfe"),
        ("checkout", b"[1, 2]"),
        ("checkout", b'"text"'),
        ("checkout", b'{"number": "1001"}'),
        ("checkout", b'{"number": 1001, "total": 1000}'),
        ("checkout", b'{"number": "1001", "total": "1000"}'),
        ("checkout", b'{"number": "1001", "total": true}'),
        ("checkout", b'{"number": "1001", "total": 1000, "orderedAt": "yesterday"}'),
        ("checkout", b'{"number": "1001", "total": 1000, "pending": "yes"}'),
        ("checkout", b'{"number": "   ", "total": 1000}'),
        ("checkout", b'{"number": "10\\n01", "total": 1000}'),
        ("keys", b"{}"),
        ("keys", b'{"id": "K", "pem": "not a key"}'),
        ("buyer/decline-next", b'{"number": ["1001"]}'),
        ("seller-central/refund", b'{"number": "1001", "amount": "100"}'),
        ("faults", b'{"kind": "500", "count": "many"}'),
        ("faults", b'{"kind": "500", "rate": "half"}'),
        ("settings", b'{"hang_seconds": "long"}'),
        ("settings", b'{"hang_seconds": null}'),
        ("snapshot", b'{"number": {}}'),
        ("faults", b'{"kind": "500", "path": ' + b"[" * 5000 + b"]" * 5000 + b"}"),
        ("faults", b'{"kind": "500", "path": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"),
    ],
)
def test_a_malformed_control_body_is_a_400_and_the_connection_keeps_serving(
    server: SandboxServer, state_dir: Path, capfd: pytest.CaptureFixture[str], path: str, body: bytes
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port_of(server), timeout=5)
    try:
        status, answer = control_post(server, path, body, connection=conn)
        assert status == 400, answer
        assert set(answer) == {"reasonCode", "message"} and answer["message"]
        # The same kept-alive connection still serves the next request.
        conn.request("GET", "/_sandbox/health")
        assert conn.getresponse().read() and True
    finally:
        conn.close()
    assert charge_permissions(state_dir / "sandbox.sqlite3") == 0
    assert "Traceback" not in capfd.readouterr().err


def test_a_bad_number_in_a_query_is_a_400(server: SandboxServer) -> None:
    port = port_of(server)
    status, _headers, body = raw(
        server,
        f"GET /_sandbox/notifications?after=x HTTP/1.1\nHost: 127.0.0.1:{port}\n{SECRET_HEADER}: {server.secret}",
    )
    assert status == 400 and json.loads(body)["reasonCode"]


def signed(server: SandboxServer, key: Any, method: str, path: str, body: bytes, **extra: str) -> dict[str, str]:
    headers = {
        "accept": "application/json",
        "content-type": "application/json",
        "x-amz-pay-date": format_amz_date(server.backend.now()),
        "x-amz-pay-host": "127.0.0.1",
        "x-amz-pay-region": "jp",
        **extra,
    }
    headers["authorization"] = sign_request(
        method=method, path=path, query=(), headers=headers, body=body, private_key=key, public_key_id=KEY_ID
    )
    return headers


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v2/charges", b"{not json"),
        ("POST", "/v2/charges", b"[]"),
        (
            "POST",
            "/v2/charges",
            b'{"chargePermissionId": {"a": 1}, "chargeAmount": {"amount": "1", "currencyCode": "JPY"}}',
        ),
        ("POST", "/v2/charges", b'{"chargePermissionId": "{cp}", "chargeAmount": "100"}'),
        (
            "POST",
            "/v2/charges",
            b'{"chargePermissionId": "{cp}", "chargeAmount": {"amount": [1], "currencyCode": "JPY"}}',
        ),
        ("PATCH", "/v2/chargePermissions/{cp}", b'{"merchantMetadata": "merchantReferenceId"}'),
        ("PATCH", "/v2/chargePermissions/{cp}", b'{"merchantMetadata": 7}'),
        ("PATCH", "/v2/chargePermissions/{cp}", b'{"merchantMetadata": {"merchantReferenceId": {"x": 1}}}'),
        ("DELETE", "/v2/chargePermissions/{cp}/close", b'{"closureReason": 5}'),
        ("DELETE", "/v2/charges/{charge}/cancel", b'{"cancellationReason": ["x"]}'),
        ("POST", "/v2/refunds", b'{"chargeId": 12, "refundAmount": {"amount": "1", "currencyCode": "JPY"}}'),
    ],
)
def test_a_malformed_api_body_is_a_400_not_a_dropped_connection(
    server: SandboxServer,
    key_pair: tuple[Any, str],
    capfd: pytest.CaptureFixture[str],
    method: str,
    path: str,
    body: bytes,
) -> None:
    control = SandboxControl(server.url, secret=server.secret, timeout=5)
    try:
        placed = control.checkout(number="3001", total=3_000)
    finally:
        control.close()
    path = path.format(cp=placed["chargePermissionId"], charge=placed["chargeId"])
    body = body.replace(b"{cp}", placed["chargePermissionId"].encode())
    extra = {"x-amz-pay-idempotency-key": "k" * 20} if method == "POST" else {}
    headers = signed(server, key_pair[0], method, path, body, **extra)
    conn = http.client.HTTPConnection("127.0.0.1", port_of(server), timeout=5)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        answer = json.loads(response.read())
        assert response.status == 400, answer
        assert set(answer) == {"reasonCode", "message"}
        conn.request("GET", "/_sandbox/health")
        assert conn.getresponse().status == 200
    finally:
        conn.close()
    assert "Traceback" not in capfd.readouterr().err
    # Nothing changed: the Charge Permission still has its one authorized charge.
    snapshot = server.backend.snapshot(placed["chargePermissionId"])
    assert [c["statusDetails"]["state"] for c in snapshot["charges"]] == ["Authorized"]
    assert snapshot["chargePermission"]["statusDetails"]["state"] == "Chargeable"


# --- item 11: `kanjo sandbox serve` ---------------------------------------------------------


def kanjo_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KANJO_")}
    env.update({"KANJO_HOME": str(home), "KANJO_NOW": NOW_TEXT, "PYTHONPATH": str(ROOT)})
    return env


def kanjo(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )


@contextlib.contextmanager
def serving(env: dict[str, str], *args: str) -> Iterator[tuple[dict[str, Any], subprocess.Popen[str]]]:
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "sandbox", "serve", "--port", "0", "--json", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = []
        while True:
            line = process.stdout.readline()
            assert line, "the sandbox did not start"
            lines.append(line)
            if line.strip() == "}":
                break
        yield json.loads("".join(lines)), process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_serve_on_a_public_address_warns_and_a_separate_sandbox_is_driven_with_the_secret(tmp_path: Path) -> None:
    env = kanjo_env(tmp_path / "home")
    with serving(env, "--host", "0.0.0.0") as (info, process):
        secret_file = Path(info["control_secret_file"])
        assert secret_file == tmp_path / "home" / "kanjo.sandbox.sqlite3.control-secret"
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
        port = urlsplit(info["url"]).port
        url = f"http://127.0.0.1:{port}"
        # A command of the same data directory drives it (it reads the same secret file) …
        placed = kanjo({**env, "KANJO_SANDBOX_URL": url}, "sandbox", "place-order", "--number", "1", "--total", "900")
        assert placed.returncode == 0, placed.stderr
        # … one of another data directory cannot, and says why in one line.
        other = kanjo_env(tmp_path / "other")
        refused = kanjo(
            {**other, "KANJO_SANDBOX_URL": url}, "sandbox", "place-order", "--number", "2", "--total", "900"
        )
        assert refused.returncode == 1 and "シークレット" in refused.stderr
        assert "Traceback" not in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    _out, err = process.communicate()
    assert "他のコンピューター" in err and "0.0.0.0" in err


def test_serve_on_loopback_does_not_warn_and_names_the_secret_file(tmp_path: Path) -> None:
    env = kanjo_env(tmp_path / "home")
    with serving(env) as (info, process):
        assert Path(info["control_secret_file"]).is_file()
        assert {"url", "state"} <= set(info)
    _out, err = process.communicate()
    assert "他のコンピューター" not in err


def test_serve_on_an_address_that_cannot_be_bound_is_one_line(tmp_path: Path) -> None:
    result = kanjo(kanjo_env(tmp_path / "home"), "sandbox", "serve", "--host", "203.0.113.7", "--port", "0")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "203.0.113.7" in result.stderr
