"""Sending a message by SMTP (smtplib), STARTTLS or SSL, and the SMTP password in the OS keyring.

The password is read from the keyring at the moment of sending and handed to ``login``; it
is never stored in the database, never put in a message or an exception, and smtplib's
debug output stays off. When no keyring backend exists on this machine, the product says
so and stores the password nowhere else.

Every failure becomes a :class:`MailError` with one Japanese sentence saying why.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any, Final, Protocol

from core.errors import BadInput, UserError
from core.settings import AppSettings

SECURITY_CHOICES: Final = ("starttls", "ssl")
SECURITY_LABELS: Final = {"starttls": "STARTTLS", "ssl": "SSL/TLS"}
KEYRING_SERVICE: Final = "kanjo-smtp"
DEFAULT_TIMEOUT: Final = 30.0


class MailError(UserError):
    """The mail could not be handed to the SMTP server."""

    code = "mail_error"


class PasswordStoreUnavailable(UserError):
    code = "keyring_unavailable"


NO_KEYRING_MESSAGE: Final = (
    "この端末にはパスワードを安全に保管する仕組み(OSの資格情報ストア・キーチェーン)が見つからないため、"
    "SMTPのパスワードを保存できません。安全のため、ほかの場所にも保存しません。"
)


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    user: str
    security: str  # 'starttls' | 'ssl'
    sender: str  # the From address
    sender_name: str  # the From display name (the shop name)
    timeout: float = DEFAULT_TIMEOUT

    @property
    def account(self) -> str:
        """The keyring account the password is kept under."""
        return f"{self.user}@{self.host}:{self.port}"


def smtp_config(settings: AppSettings) -> SmtpConfig | None:
    """The SMTP settings, or None when no server is set (messages are then sent by hand)."""
    host = settings.smtp_host.strip()
    if not host:
        return None
    sender = (settings.smtp_from or settings.smtp_user).strip()
    if "@" not in sender:
        raise BadInput(
            "送信元のメールアドレスが設定されていません。`kanjo settings set smtp_from アドレス` で設定してください。"
        )
    security = settings.smtp_security.strip().lower()
    if security not in SECURITY_CHOICES:
        raise BadInput("smtp_security には starttls または ssl を指定してください。")
    return SmtpConfig(
        host=host,
        port=settings.smtp_port,
        user=settings.smtp_user.strip(),
        security=security,
        sender=sender,
        sender_name=settings.shop_name.strip(),
    )


def _address(name: str, email: str) -> Address:
    local, at, domain = email.strip().rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in email.strip()):
        raise BadInput(f"メールアドレスの形式が正しくありません: {email}")
    return Address(display_name=" ".join(name.split()), username=local, domain=domain)


def build_email(
    config: SmtpConfig, *, to_name: str, to_email: str, subject: str, body: str, now: datetime
) -> EmailMessage:
    """A UTF-8 text mail; Japanese in headers becomes RFC 2047 encoded words."""
    message = EmailMessage()
    message["From"] = _address(config.sender_name, config.sender)
    message["To"] = _address(to_name, to_email)
    message["Subject"] = " ".join(subject.splitlines())
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=config.sender.rpartition("@")[2])
    message.set_content(body, charset="utf-8")
    return message


class PasswordStore(Protocol):
    def get(self, account: str) -> str | None: ...

    def set(self, account: str, password: str) -> None: ...

    def delete(self, account: str) -> None: ...


class KeyringPasswords:
    """The SMTP password in the OS keyring (Windows Credential Manager, macOS Keychain, Secret Service)."""

    def __init__(self, service: str = KEYRING_SERVICE) -> None:
        self.service = service

    def _keyring(self) -> Any:
        try:
            import keyring
            import keyring.backends.fail
            import keyring.errors
        except ImportError:  # pragma: no cover - a dependency; only a broken install lacks it
            raise PasswordStoreUnavailable(NO_KEYRING_MESSAGE) from None
        if isinstance(keyring.get_keyring(), keyring.backends.fail.Keyring):
            raise PasswordStoreUnavailable(NO_KEYRING_MESSAGE)
        return keyring

    def get(self, account: str) -> str | None:
        keyring = self._keyring()
        try:
            value = keyring.get_password(self.service, account)
        except Exception as exc:  # a backend error: say which, never with the secret
            raise PasswordStoreUnavailable(f"{NO_KEYRING_MESSAGE}({type(exc).__name__})") from None
        return value if isinstance(value, str) else None

    def set(self, account: str, password: str) -> None:
        keyring = self._keyring()
        try:
            keyring.set_password(self.service, account, password)
        except Exception as exc:
            raise PasswordStoreUnavailable(f"{NO_KEYRING_MESSAGE}({type(exc).__name__})") from None

    def delete(self, account: str) -> None:
        keyring = self._keyring()
        try:
            keyring.delete_password(self.service, account)
        except keyring.errors.PasswordDeleteError:
            return  # nothing stored: nothing to delete
        except Exception as exc:
            raise PasswordStoreUnavailable(f"{NO_KEYRING_MESSAGE}({type(exc).__name__})") from None


class MailSender(Protocol):
    def send(self, config: SmtpConfig, password: str | None, message: EmailMessage) -> None: ...


class SmtpSender:
    """Hands a message to an SMTP server with smtplib.

    Args:
        ssl_context: Factory for the TLS context; the default verifies the server's certificate
            against the system's CAs. Tests pass one that trusts their own certificate.
    """

    def __init__(self, ssl_context: Callable[[], ssl.SSLContext] | None = None) -> None:
        self._ssl_context = ssl_context or ssl.create_default_context

    def send(self, config: SmtpConfig, password: str | None, message: EmailMessage) -> None:
        where = f"{config.host}:{config.port}"
        try:
            context = self._ssl_context()
            smtp: smtplib.SMTP
            if config.security == "ssl":
                smtp = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout, context=context)
            else:
                smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
            try:
                smtp.ehlo()
                if config.security == "starttls":
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if config.user:
                    if not password:
                        raise MailError(
                            "SMTPのパスワードが保存されていません。送信設定でパスワードを保存してください"
                            "(`kanjo message password`)。"
                        )
                    smtp.login(config.user, password)
                smtp.send_message(message)
            finally:
                try:
                    smtp.quit()
                except (smtplib.SMTPException, OSError):
                    smtp.close()  # the message was already accepted, or the error above says why
        except MailError:
            raise
        except UnicodeEncodeError:
            raise MailError(
                "SMTPのユーザー名かパスワードに全角文字が含まれているため、ログインできません。半角で設定し直してください。"
            ) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise MailError(
                f"SMTPサーバー({where})にログインできませんでした。ユーザー名とパスワードを確認してください"
                f"(応答 {exc.smtp_code})。"
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise MailError(
                f"SMTPサーバー({where})がSTARTTLSまたはログインに対応していません。暗号化方式とポートを確認してください。"
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            refused = "、".join(exc.recipients)
            raise MailError(f"SMTPサーバーが宛先({refused})を受け付けませんでした。") from None
        except smtplib.SMTPSenderRefused as exc:
            raise MailError(
                f"SMTPサーバーが送信元({exc.sender})を受け付けませんでした(応答 {exc.smtp_code})。"
            ) from None
        except smtplib.SMTPServerDisconnected:
            raise MailError(f"SMTPサーバー({where})との接続が途中で切れました。") from None
        except smtplib.SMTPResponseException as exc:
            text = (
                exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
            )
            raise MailError(f"SMTPサーバーが送信を断りました(応答 {exc.smtp_code} {text[:200]})。") from None
        except smtplib.SMTPException as exc:
            raise MailError(f"SMTPサーバーとのやり取りに失敗しました({type(exc).__name__})。") from None
        except ssl.SSLCertVerificationError:
            raise MailError(
                f"SMTPサーバー({where})の証明書を確認できませんでした。サーバー名と暗号化方式を確認してください。"
            ) from None
        except ssl.SSLError:
            raise MailError(
                f"SMTPサーバー({where})と暗号化した接続ができませんでした。暗号化方式(STARTTLS/SSL)とポートを確認してください。"
            ) from None
        except socket.gaierror:
            raise MailError(f"SMTPサーバー「{config.host}」が見つかりません。サーバー名を確認してください。") from None
        except ConnectionRefusedError:
            raise MailError(f"SMTPサーバー({where})に接続できませんでした(接続を拒否されました)。") from None
        except TimeoutError:
            raise MailError(f"SMTPサーバー({where})から応答がありませんでした(タイムアウト)。") from None
        except OSError as exc:
            raise MailError(
                f"SMTPサーバー({where})に接続できませんでした({exc.strerror or type(exc).__name__})。"
            ) from None
