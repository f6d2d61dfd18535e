"""Sending for real: a local SMTP server (aiosmtpd) started by the test, STARTTLS and SSL with a
certificate made here, AUTH with the password from a test keyring backend; the received mail
is read back (headers, UTF-8 Japanese subject and body). The real OS keyring is never used."""

from __future__ import annotations

import email
import email.policy
import ipaddress
import logging
import socket
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import keyring
import keyring.backends.fail
import keyring.errors
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from keyring.backend import KeyringBackend

from core.app import Kanjo
from core.errors import BadInput
from core.messages.mail import KEYRING_SERVICE, KeyringPasswords, PasswordStoreUnavailable, SmtpSender
from core.services.messages import SendFailed
from tests.core.test_messages import SETTINGS, place

USER = "shop@example.jp"
PASSWORD = "pa55-w0rd!Kanjo#2026"


class MemoryKeyring(KeyringBackend):
    """A keyring backend that lives in the test's memory only."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.items.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError("not found")


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(keyring.backends.fail.Keyring())  # never fall back to the OS keyring


@pytest.fixture
def no_keyring() -> Iterator[None]:
    keyring.set_keyring(keyring.backends.fail.Keyring())
    yield


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (the client trusts exactly this one)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kanjo-test-smtp")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


class Inbox:
    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.logins: list[bytes] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd hook
        self.envelopes.append(envelope)
        return "250 OK"

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login == USER.encode() and data.password == PASSWORD.encode()
        if isinstance(data, LoginPassword):
            self.logins.append(data.login)
        return AuthResult(success=ok, handled=False)

    def received(self) -> EmailMessage:
        assert len(self.envelopes) == 1
        content = self.envelopes[0].original_content or self.envelopes[0].content
        assert isinstance(content, bytes)
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return message


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


@pytest.fixture
def smtp_server(certificate: tuple[Path, Path]) -> Iterator[tuple[Inbox, int, str]]:
    """STARTTLS required; AUTH only after it."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_context(certificate),
        require_starttls=True,
        authenticator=inbox.authenticate,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield inbox, port, "starttls"
    finally:
        controller.stop()


@pytest.fixture
def smtps_server(certificate: tuple[Path, Path]) -> Iterator[tuple[Inbox, int, str]]:
    """Implicit TLS (SMTPS)."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        ssl_context=server_context(certificate),
        authenticator=inbox.authenticate,
        auth_require_tls=False,  # the whole connection is TLS
    )
    controller.start()
    try:
        yield inbox, port, "ssl"
    finally:
        controller.stop()


def configure(app: Kanjo, port: int, security: str, certificate: tuple[Path, Path]) -> None:
    app.settings.save(
        **SETTINGS, smtp_host="127.0.0.1", smtp_port=port, smtp_user=USER, smtp_security=security, smtp_from=""
    )
    app.messages.sender = SmtpSender(ssl_context=lambda: ssl.create_default_context(cafile=str(certificate[0])))


def send(app: Kanjo, template_id: str, number: str) -> Any:
    draft = app.messages.render(template_id, number)
    return app.messages.send(
        number,
        template_id=draft.template_id,
        template_version=draft.template_version,
        subject=draft.subject,
        body=draft.body,
    )


@pytest.mark.parametrize("server", ["smtp_server", "smtps_server"])
def test_send_through_a_real_smtp_server_and_read_the_mail(
    app: Kanjo,
    memory_keyring: MemoryKeyring,
    certificate: tuple[Path, Path],
    server: str,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    inbox, port, security = request.getfixturevalue(server)
    caplog.set_level(logging.DEBUG)
    place(app, "E-1")
    configure(app, port, security, certificate)
    app.messages.set_smtp_password(PASSWORD)
    assert memory_keyring.items == {(KEYRING_SERVICE, f"{USER}@127.0.0.1:{port}"): PASSWORD}
    assert app.messages.has_smtp_password()
    draft = app.messages.render("cancel-reply", "E-1")

    record = send(app, "cancel-reply", "E-1")

    assert record.status == "sent" and record.status_label == "送信済" and record.sent_at == app.clock.now()
    assert inbox.logins == [USER.encode()]
    envelope = inbox.envelopes[0]
    assert envelope.mail_from == USER and envelope.rcpt_tos == [draft.to_email]
    mail = inbox.received()
    assert mail["Subject"] == draft.subject == "【重要】ご注文 E-1 のキャンセルについて"
    assert mail["To"].addresses[0].addr_spec == draft.to_email
    assert mail["To"].addresses[0].display_name == draft.to_name
    assert mail["From"].addresses[0].display_name == "藍染の店 かんじょう"
    assert mail["From"].addresses[0].addr_spec == USER
    assert mail["Message-ID"] and mail["Date"].datetime == app.clock.now()
    assert mail.get_content_type() == "text/plain" and mail.get_content_charset() == "utf-8"
    assert mail.get_content() == draft.body
    assert "https://www.amazon.co.jp/sp?_encoding=UTF8&seller=A2KANJOTOKEN" in mail.get_content()
    raw = envelope.original_content
    assert isinstance(raw, bytes)
    assert b"=?utf-8?" in raw.split(b"\r\n\r\n", 1)[0].lower()  # RFC 2047: the headers stay ASCII
    assert app.orders.detail("E-1").messages[-1].status_label == "送信済"

    # The password is in the keyring only: not in the database, its WAL, or the log.
    secret = PASSWORD.encode()
    store = Path(app.db_url.removeprefix("sqlite:///"))
    for path in store.parent.glob(store.name + "*"):
        assert secret not in path.read_bytes(), path
    assert PASSWORD not in caplog.text


def test_a_wrong_password_fails_says_why_and_keeps_the_text(
    app: Kanjo, memory_keyring: MemoryKeyring, certificate: tuple[Path, Path], smtp_server: tuple[Inbox, int, str]
) -> None:
    inbox, port, security = smtp_server
    place(app, "E-2")
    configure(app, port, security, certificate)
    app.messages.set_smtp_password("wrong")
    with pytest.raises(SendFailed) as failed:
        send(app, "thanks", "E-2")
    assert "ログインできませんでした" in failed.value.message and "wrong" not in failed.value.message
    record = app.messages.history("E-2")[-1]
    assert record.status_label == "送信失敗" and record.error and "ログイン" in record.error
    assert record.body == app.messages.render("thanks", "E-2").body
    assert inbox.envelopes == []


def test_an_untrusted_certificate_is_refused(
    app: Kanjo, memory_keyring: MemoryKeyring, certificate: tuple[Path, Path], smtp_server: tuple[Inbox, int, str]
) -> None:
    _inbox, port, security = smtp_server
    place(app, "E-3")
    configure(app, port, security, certificate)
    app.messages.sender = SmtpSender()  # the system's CAs do not know the test certificate
    app.messages.set_smtp_password(PASSWORD)
    with pytest.raises(SendFailed, match="証明書"):
        send(app, "thanks", "E-3")


def test_no_server_listening_is_a_failed_send_with_the_reason(
    app: Kanjo, memory_keyring: MemoryKeyring, certificate: tuple[Path, Path]
) -> None:
    place(app, "E-4")
    configure(app, free_port(), "starttls", certificate)
    app.messages.set_smtp_password(PASSWORD)
    with pytest.raises(SendFailed, match="接続できませんでした"):
        send(app, "thanks", "E-4")
    assert [m.status for m in app.messages.history("E-4")] == ["failed"]


def test_a_missing_password_is_a_failed_send_naming_the_fix(
    app: Kanjo, memory_keyring: MemoryKeyring, certificate: tuple[Path, Path], smtp_server: tuple[Inbox, int, str]
) -> None:
    _inbox, port, security = smtp_server
    place(app, "E-5")
    configure(app, port, security, certificate)
    with pytest.raises(SendFailed, match="kanjo message password"):
        send(app, "thanks", "E-5")
    app.messages.set_smtp_password(PASSWORD)
    app.messages.delete_smtp_password()
    app.messages.delete_smtp_password()  # twice: nothing left to delete is fine
    assert not app.messages.has_smtp_password()


def test_without_a_keyring_backend_the_password_is_stored_nowhere(
    app: Kanjo, no_keyring: None, certificate: tuple[Path, Path], smtp_server: tuple[Inbox, int, str]
) -> None:
    _inbox, port, security = smtp_server
    place(app, "E-6")
    configure(app, port, security, certificate)
    with pytest.raises(PasswordStoreUnavailable) as refused:
        app.messages.set_smtp_password("never-stored")
    assert "保存できません" in refused.value.message and "ほかの場所にも保存しません" in refused.value.message
    store = Path(app.db_url.removeprefix("sqlite:///"))
    for path in store.parent.glob(store.name + "*"):
        assert b"never-stored" not in path.read_bytes()
    with pytest.raises(SendFailed, match="キーチェーン"):
        send(app, "thanks", "E-6")  # the reason reaches the operator, the text is kept
    assert app.messages.history("E-6")[-1].status_label == "送信失敗"


def test_a_full_width_password_is_refused_before_it_is_stored(
    app: Kanjo, memory_keyring: MemoryKeyring, certificate: tuple[Path, Path]
) -> None:
    configure(app, 2525, "starttls", certificate)
    with pytest.raises(BadInput, match="全角"):
        app.messages.set_smtp_password("ｐａｓｓ")  # an IME slip
    with pytest.raises(BadInput):
        app.messages.set_smtp_password("")
    assert memory_keyring.items == {}


def test_keyring_passwords_adapter_round_trip(memory_keyring: MemoryKeyring) -> None:
    store = KeyringPasswords(service="kanjo-test")
    assert store.get("a@b:1") is None
    store.set("a@b:1", "x")
    assert store.get("a@b:1") == "x" and memory_keyring.items == {("kanjo-test", "a@b:1"): "x"}
    store.delete("a@b:1")
    store.delete("a@b:1")
    assert store.get("a@b:1") is None
