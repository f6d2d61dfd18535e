"""Application settings, stored in the database's ``settings`` table (never a private key)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, fields
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.db.schema import Setting
from core.errors import BadInput


@dataclass(frozen=True)
class AppSettings:
    shop_name: str = ""
    shop_domain: str = ""
    operator_name: str = ""
    seller_token: str = ""
    amazon_merchant_id: str = ""
    amazon_public_key_id: str = ""
    amazon_private_key_path: str = ""  # the path only; the key stays in its file
    amazon_environment: str = "sandbox"  # 'sandbox' or 'live'
    auto_sync: bool = True  # 自動連携 (R11)
    sync_interval_minutes: int = 10
    demo_seeded: bool = False
    # Sending messages (issue 5). The password is kept in the OS keyring, never here.
    smtp_host: str = ""  # empty: messages are copied and sent by hand (手動送信)
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_security: str = "starttls"  # 'starttls' or 'ssl'
    smtp_from: str = ""  # the From address; smtp_user when empty

    @property
    def has_amazon_credentials(self) -> bool:
        return bool(self.amazon_public_key_id and self.amazon_private_key_path)


_FIELDS = {f.name: f for f in fields(AppSettings)}


def _decode(name: str, text: str) -> Any:
    kind = type(getattr(AppSettings(), name))
    if kind is bool:
        return text.lower() in ("1", "true", "yes", "on")
    if kind is int:
        return int(text)
    return text


def _encode(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def normalize_domain(text: str) -> str:
    """The shop's domain as links need it ("shop.example.jp"), or BadInput in Japanese.

    Full-width input is folded (ｓｈｏｐ．ｅｘａｍｐｌｅ．ｊｐ), a pasted "https://…/" is trimmed,
    and a Japanese domain (日本語.jp) is accepted. Spaces, paths, queries and "@" are refused:
    the domain goes into the URLs sent to customers (R43).
    """
    value = unicodedata.normalize("NFKC", text).strip()
    for prefix in ("https://", "http://"):
        if value.lower().startswith(prefix):
            value = value[len(prefix) :]
    value = value.rstrip("/").rstrip(".").lower()
    if not value:
        return ""
    problem = "ドメインは「shop.example.jp」の形で入力してください(空白・パス・?・#・@ は使えません)。"
    host, _, port = value.partition(":")
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise BadInput(problem)
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise BadInput(problem) from exc
    labels = ascii_host.split(".")
    if len(labels) < 2 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise BadInput(problem)
    return value


def coerce(name: str, text: str) -> Any:
    """Validate a value typed by the operator for setting ``name``."""
    if name not in _FIELDS:
        raise BadInput(f"不明な設定項目です: {name}")
    kind = type(getattr(AppSettings(), name))
    value = text.strip()
    if kind is bool:
        if value.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
            raise BadInput(f"{name} には on または off を指定してください。")
        return value.lower() in ("1", "true", "yes", "on")
    if kind is int:
        if not value.isdigit() or int(value) <= 0:
            raise BadInput(f"{name} には1以上の整数を指定してください。")
        if name == "smtp_port" and int(value) > 65535:
            raise BadInput("smtp_port には1から65535までのポート番号を指定してください。")
        return int(value)
    if name == "amazon_environment" and value not in ("sandbox", "live"):
        raise BadInput("amazon_environment には sandbox または live を指定してください。")
    if name == "smtp_security" and value.lower() not in ("starttls", "ssl"):
        raise BadInput("smtp_security には starttls または ssl を指定してください。")
    if name == "smtp_security":
        return value.lower()
    if name == "shop_domain":
        return normalize_domain(value)
    if name == "smtp_from" and value and ("@" not in value or any(c.isspace() for c in value)):
        raise BadInput("smtp_from にはメールアドレスを指定してください(例: shop@example.jp)。")
    return value


class SettingsStore:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def load(self) -> AppSettings:
        with self._sessions() as session:
            stored = {row.key: row.value for row in session.scalars(select(Setting))}
        values = {name: _decode(name, stored[name]) for name in _FIELDS if name in stored}
        return AppSettings(**values)

    def save(self, **changes: Any) -> AppSettings:
        unknown = set(changes) - set(_FIELDS)
        if unknown:
            raise BadInput(f"不明な設定項目です: {', '.join(sorted(unknown))}")
        with self._sessions.begin() as session:
            for name, value in changes.items():
                row = session.get(Setting, name)
                if row is None:
                    session.add(Setting(key=name, value=_encode(value)))
                else:
                    row.value = _encode(value)
        return self.load()

    def get_raw(self, key: str) -> str | None:
        with self._sessions() as session:
            row = session.get(Setting, key)
            return None if row is None else row.value

    def set_raw(self, key: str, value: str) -> None:
        with self._sessions.begin() as session:
            row = session.get(Setting, key)
            if row is None:
                session.add(Setting(key=key, value=value))
            else:
                row.value = value

    @staticmethod
    def as_dict(settings: AppSettings) -> dict[str, Any]:
        return asdict(settings)
