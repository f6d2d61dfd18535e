"""Which Amazon Pay the product talks to: the live/sandbox API with the shop's keys, or the
built-in local sandbox (started in-process on loopback) when no credentials are configured."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.environment import BUILTIN, LIVE, SANDBOX
from core.errors import BadInput, RuleViolation
from core.files import private_dir, tighten, write_private_atomic
from core.settings import AppSettings, connection_problem

# The HTTP client (httpx), the signing (cryptography) and the sandbox server are imported when
# a connection is opened, on the worker, not while the window starts (issue 10 item 16).
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

    from core.amazonpay.client import AmazonPayClient
    from core.clock import Clock
    from core.sandbox.control import SandboxControl
    from core.sandbox.server import SandboxServer

SANDBOX_PUBLIC_KEY_ID = "SANDBOX-KANJO-LOCAL"
SANDBOX_URL_ENV = "KANJO_SANDBOX_URL"
MAX_KEY_FILE_BYTES = 64 * 1024  # an RSA private key in PEM is about 2–4 KiB


@dataclass
class Gateway:
    client: AmazonPayClient
    control: SandboxControl | None  # the buyer and Seller Central, only on the sandbox
    server: SandboxServer | None  # the in-process sandbox, when we started one
    url: str
    environment: str = BUILTIN  # core.environment: 'live', 'sandbox' (Amazon's) or 'builtin'

    @property
    def is_sandbox(self) -> bool:
        return self.control is not None

    def close(self) -> None:
        self.client.close()
        if self.control is not None:
            self.control.close()
        if self.server is not None:
            self.server.stop()


def ensure_sandbox_key(key_path: Path) -> tuple[bytes, bytes]:
    """The local sandbox's key pair, made once and kept beside its state file.

    The private key is created 0600 (a fresh temporary file opened with that mode, then
    renamed), never written open and chmod-ed afterwards; an older, too-open key is tightened.
    The public half is written first, so a key file never exists without it.
    """
    public_path = key_path.with_suffix(".pub.pem")
    if not key_path.exists() or not public_path.exists():
        private_dir(key_path.parent, tighten_existing=False)
        from core.amazonpay.signing import generate_key_pair

        private_pem, public_pem = generate_key_pair()
        write_private_atomic(public_path, public_pem)
        write_private_atomic(key_path, private_pem)
    tighten(key_path)
    return key_path.read_bytes(), public_path.read_bytes()


def _read_key_file(path: str) -> bytes:
    """The bytes of a small regular file, without ever blocking (issue 10 item 8).

    A FIFO would block ``open`` forever and ``/dev/zero`` would be read until memory runs out,
    so the file is checked with ``stat`` before it is opened, opened non-blocking, checked
    again on the open handle (it may have been swapped in between) and read with a bound.
    """
    full = Path(path).expanduser()
    not_a_file = BadInput(f"秘密鍵ファイルが通常のファイルではありません: {path}")
    too_big = BadInput(
        f"秘密鍵ファイルが大きすぎます({MAX_KEY_FILE_BYTES // 1024}KiBまで): {path}"
        "(Seller Centralで作成した秘密鍵ファイルを指定してください)"
    )
    try:
        info = os.stat(full)
        if not stat.S_ISREG(info.st_mode):
            raise not_a_file
        if info.st_size > MAX_KEY_FILE_BYTES:
            raise too_big
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
        fd = os.open(full, flags)
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise not_a_file
            data = handle.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise BadInput(f"秘密鍵ファイルを読み込めません: {path}") from exc
    if len(data) > MAX_KEY_FILE_BYTES:
        raise too_big
    return data


def read_private_key(path: str) -> RSAPrivateKey:
    """The RSA private key in the PEM file at ``path``; ``BadInput`` in Japanese when it is not one."""
    from core.amazonpay.signing import load_private_key

    data = _read_key_file(path)
    try:
        return load_private_key(data)
    except ValueError as exc:
        raise BadInput(
            f"秘密鍵ファイルの形式が違います: {path}(Seller Centralで作成した、暗号化されていないPEM形式のRSA秘密鍵を指定してください)"
        ) from exc


def open_gateway(
    settings: AppSettings,
    *,
    clock: Clock,
    sandbox_db: Path,
    sandbox_url: str | None = None,
    timeout: float = 15.0,
    retry_delays: tuple[float, ...] | None = None,
) -> Gateway:
    from core.amazonpay.client import AmazonPayClient, Credentials
    from core.amazonpay.signing import load_private_key
    from core.sandbox.backend import SandboxBackend
    from core.sandbox.control import SandboxControl, read_control_secret
    from core.sandbox.server import SandboxServer

    options: dict[str, object] = {"clock": clock, "timeout": timeout}
    if retry_delays is not None:
        options["retry_delays"] = retry_delays
    problem = connection_problem(settings)
    if problem is not None:  # stored by an older version or by hand: never guess where to connect
        raise BadInput(
            f"Amazon Payの接続設定が正しくないため接続しません: {problem}"
            "(設定画面または kanjo settings set で直してください)"
        )
    if settings.has_amazon_credentials:
        key = read_private_key(settings.amazon_private_key_path)
        credentials = Credentials(
            public_key_id=settings.amazon_public_key_id,
            private_key=key,
            environment=settings.amazon_environment,
            merchant_id=settings.amazon_merchant_id,
        )
        client = AmazonPayClient(credentials, **options)  # type: ignore[arg-type]
        return Gateway(
            client=client,
            control=None,
            server=None,
            url="https://pay-api.amazon.jp",
            environment=LIVE if settings.amazon_environment == LIVE else SANDBOX,
        )
    private_pem, public_pem = ensure_sandbox_key(sandbox_db.with_name("sandbox-key.pem"))
    server: SandboxServer | None = None
    if sandbox_url is None:
        backend = SandboxBackend(sandbox_db, clock)
        backend.register_public_key(SANDBOX_PUBLIC_KEY_ID, public_pem.decode("ascii"))
        server = SandboxServer(backend).start()
        sandbox_url = server.url
        secret: str | None = server.secret
    else:
        # A sandbox started separately (`kanjo sandbox serve`) over the same data directory
        # keeps its control secret beside this same state file.
        secret = read_control_secret(sandbox_db)
    control = SandboxControl(sandbox_url, secret=secret)
    if server is None:
        control.register_key(SANDBOX_PUBLIC_KEY_ID, public_pem.decode("ascii"))
    credentials = Credentials(
        public_key_id=SANDBOX_PUBLIC_KEY_ID, private_key=load_private_key(private_pem), environment="sandbox"
    )
    client = AmazonPayClient(credentials, base_url=sandbox_url, **options)  # type: ignore[arg-type]
    return Gateway(client=client, control=control, server=server, url=sandbox_url, environment=BUILTIN)


def order_client(gateway: Gateway, order_environment: str) -> AmazonPayClient:
    """The client for calls about an existing order, refusing an order of another environment.

    Issue 11 item 8: every Amazon Pay call for an order already in the store (money steps and
    their recovery in core.services.operations, status reads in core.services.sync) takes its
    client here, so a sandbox order's IDs never reach the live account, nor the reverse,
    whatever the settings said when the operation was checked.
    """
    from core.payment_rules import environment_refusal

    refusal = environment_refusal(order_environment, gateway.environment)
    if refusal is not None:
        raise RuleViolation(refusal.reason, code=refusal.rule)
    return gateway.client
