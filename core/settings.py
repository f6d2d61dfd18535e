"""Application settings, stored in the database's ``settings`` table (never a private key)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Final

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from core.db.schema import Setting
from core.errors import BadInput, StaleEdit
from core.operator import LocalOperator, normalize_operator_name


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
    # Issue 14 item 2: the version of the shared settings these values were read at. Handed back
    # to ``SettingsStore.save`` (``version=``), it makes the save refuse a stale edit. Not a setting.
    version: int = 0

    @property
    def has_amazon_credentials(self) -> bool:
        return bool(self.amazon_public_key_id and self.amazon_private_key_path)


VERSION_KEY: Final = "_version"  # the settings table's version row (migration 0008)
LOCAL_FIELDS: Final = frozenset({"operator_name"})  # kept per PC (core.operator), not in the shared table
_FIELDS = {f.name: f for f in fields(AppSettings) if f.name != "version"}
_STORED = {name: f for name, f in _FIELDS.items() if name not in LOCAL_FIELDS}

MAX_SYNC_MINUTES: Final = 24 * 60
"""Longest background-sync interval; Qt timers overflow far above it (issue 10 item 8)."""
INT_RANGES: Final[dict[str, tuple[int, int]]] = {
    "sync_interval_minutes": (1, MAX_SYNC_MINUTES),
    "smtp_port": (1, 65535),
}
CONNECTION_FIELDS: Final = (
    "amazon_merchant_id",
    "amazon_public_key_id",
    "amazon_private_key_path",
    "amazon_environment",
)

# Only ASCII and full-width digits are numbers here: int() would also read ①, ², ٣ and 𝟑.
_FULLWIDTH_DIGITS: Final = str.maketrans("０１２３４５６７８９", "0123456789")
_ASCII_DIGITS: Final = re.compile(r"[0-9]+", re.ASCII)


def _decode(name: str, text: str) -> Any:
    default = getattr(AppSettings(), name)
    kind = type(default)
    if kind is bool:
        return text.lower() in ("1", "true", "yes", "on")
    if kind is int:
        # A value stored by hand or by an older version must not stop the app from starting.
        return int(text) if _ASCII_DIGITS.fullmatch(text) and len(text) <= 18 else default
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


def parse_int(text: str, *, field: str, minimum: int, maximum: int, cap: bool = False) -> int:
    """A whole number typed by the operator, or ``BadInput`` in Japanese naming ``field``.

    ASCII and full-width digits only (no sign, no other Unicode digits); above ``maximum`` it
    is refused, or lowered to ``maximum`` when ``cap`` is set.
    """
    value = text.translate(_FULLWIDTH_DIGITS).strip()
    if cap:
        problem = f"{field} には{minimum}以上の整数を指定してください。"
    else:
        problem = f"{field} には{minimum}から{maximum}までの整数を指定してください。"
    if not _ASCII_DIGITS.fullmatch(value):
        raise BadInput(problem)
    digits = value.lstrip("0") or "0"
    number = maximum + 1 if len(digits) > len(str(maximum)) else int(digits)  # int() of 5,000 digits raises
    if number < minimum:
        raise BadInput(problem)
    if number > maximum:
        if cap:
            return maximum
        raise BadInput(problem)
    return number


_TOKEN_RE: Final = re.compile(r"[A-Za-z0-9]{10,20}", re.ASCII)


def normalize_seller_token(text: str) -> str:
    """The seller token as the store-profile URL needs it (R44), or ``BadInput`` in Japanese.

    Amazon's seller ids are upper-case letters and digits (A + 12–14 characters); full-width
    and lower-case typing is folded. Anything else (``&``, ``#``, spaces) would change the URL
    sent to customers, so it is refused.
    """
    value = "".join(unicodedata.normalize("NFKC", c) if "\uff01" <= c <= "\uff5e" else c for c in text).strip()
    if not value:
        return ""
    if not _TOKEN_RE.fullmatch(value):
        raise BadInput(
            "出品者トークン(seller_token)は英数字10〜20文字で入力してください"
            "(Seller Centralの「出品者トークン」、例: A1B2C3D4E5F6G7)。"
        )
    return value.upper()


def key_environment(public_key_id: str) -> str | None:
    """'live' or 'sandbox' for an environment-specific key id (LIVE-…, SANDBOX-…), else None.

    The same upper-cased prefix test the client uses to leave the environment out of the URL
    (core.amazonpay.client.api_prefix): such a key alone decides where requests go.
    """
    upper = public_key_id.strip().upper()
    if upper.startswith("LIVE"):
        return "live"
    if upper.startswith("SANDBOX"):
        return "sandbox"
    return None


def connection_problem(settings: AppSettings, *, saving: bool = False) -> str | None:
    """What makes these connection settings unsafe to use, in Japanese, or None (issue 10 item 3).

    Live without keys would silently answer from the built-in sandbox; a key for the other
    environment would send real requests while the window says no real payment happens (or
    the reverse). ``saving`` adds what the settings dialog has always required for live.
    """
    environment = settings.amazon_environment
    if environment == "live" and not settings.has_amazon_credentials:
        return (
            "本番に接続するには公開鍵IDと秘密鍵ファイルを設定してください"
            "(未設定のままでは内蔵のサンドボックスにつながり、実際の決済は行われません)。"
        )
    key_env = key_environment(settings.amazon_public_key_id)
    if key_env is not None and key_env != environment:
        names = {"live": "本番", "sandbox": "サンドボックス"}
        return (
            f"公開鍵ID {settings.amazon_public_key_id.strip()} は{names[key_env]}用の鍵ですが、"
            f"接続先が{names.get(environment, environment)}になっています。公開鍵IDと接続先を合わせてください。"
        )
    if saving and environment == "live" and not settings.amazon_merchant_id.strip():
        return "本番に接続するには出品者ID(Merchant ID, amazon_merchant_id)を設定してください。"
    return None


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
        minimum, maximum = INT_RANGES.get(name, (1, 2**31 - 1))
        return parse_int(value, field=name, minimum=minimum, maximum=maximum)
    if name == "amazon_environment" and value not in ("sandbox", "live"):
        raise BadInput("amazon_environment には sandbox または live を指定してください。")
    if name == "smtp_security" and value.lower() not in ("starttls", "ssl"):
        raise BadInput("smtp_security には starttls または ssl を指定してください。")
    if name == "smtp_security":
        return value.lower()
    if name == "shop_domain":
        return normalize_domain(value)
    if name == "seller_token":
        return normalize_seller_token(value)
    if name == "operator_name":
        return normalize_operator_name(text)
    if name == "smtp_from" and value and ("@" not in value or any(c.isspace() for c in value)):
        raise BadInput("smtp_from にはメールアドレスを指定してください(例: shop@example.jp)。")
    return value


class SettingsStore:
    """The shop's settings, shared by every PC of the store, plus this PC's operator name.

    ``local_dir`` is this user's data directory: the operator's name lives there (core.operator,
    issue 14 item 3), because the table is shared by several PCs. Without it (tests of older
    code) the name is a row like the others.
    """

    def __init__(self, sessions: sessionmaker[Session], local_dir: Path | None = None) -> None:
        self._sessions = sessions
        self.local = LocalOperator(local_dir) if local_dir is not None else None
        self.on_operator_changed: Callable[[str], None] | None = None  # the app's journal follows the name

    def load(self) -> AppSettings:
        with self._sessions() as session:
            stored = {row.key: row.value for row in session.scalars(select(Setting))}
        names = _STORED if self.local is not None else _FIELDS
        values: dict[str, Any] = {name: _decode(name, stored[name]) for name in names if name in stored}
        if self.local is not None:
            # A PC that has not chosen a name yet shows the one an older version kept in the table.
            values["operator_name"] = self.local.load() or stored.get("operator_name", "")
        version = stored.get(VERSION_KEY, "0")
        values["version"] = int(version) if _ASCII_DIGITS.fullmatch(version) and len(version) <= 18 else 0
        return AppSettings(**values)

    def save(self, **changes: Any) -> AppSettings:
        """Save ``changes``. With ``version=`` (the version the values were read at, as
        ``AppSettings.version`` carries it), a save made after another operator's is refused
        with ``StaleEdit`` and the current values, and nothing is written (issue 14 item 2).

        The check and the write are one step under the version row's lock (on SQLite the
        database's write lock, on PostgreSQL ``SELECT … FOR UPDATE``). A save that changes
        nothing leaves the version as it is. ``operator_name`` goes to this PC's file.
        """
        expected = changes.pop("version", None)
        unknown = set(changes) - set(_FIELDS)
        if unknown:
            raise BadInput(f"不明な設定項目です: {', '.join(sorted(unknown))}")
        local_name: str | None = None
        if self.local is not None and "operator_name" in changes:
            typed = str(changes.pop("operator_name"))
            chosen = self.local.load()
            if typed != (chosen or "") and not (chosen is None and typed == ""):
                local_name = normalize_operator_name(typed)  # refused before anything is written
        with self._sessions.begin() as session:
            current = _lock_version(session)
            rows = {row.key: row for row in session.scalars(select(Setting).where(Setting.key.in_(list(changes))))}
            if expected is not None and int(expected) != current:
                raise _stale_settings(session, changes, current)
            changed = False
            for name, value in changes.items():
                row = rows.get(name)
                if row is None:
                    session.add(Setting(key=name, value=_encode(value)))
                    changed = True
                elif row.value != _encode(value):
                    row.value = _encode(value)
                    changed = True
            if changed:
                version_row = session.get(Setting, VERSION_KEY)
                if version_row is None:
                    session.add(Setting(key=VERSION_KEY, value=str(current + 1)))
                else:
                    version_row.value = str(current + 1)
        if local_name is not None and self.local is not None:
            self.local.save(local_name)
            if self.on_operator_changed is not None:
                self.on_operator_changed(local_name)
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


def _lock_version(session: Session) -> int:
    """Take the settings' write lock for the rest of the transaction; the current version."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(Setting)
            .where(Setting.key == VERSION_KEY)
            .values(value=Setting.value)
            .execution_options(synchronize_session=False)
        )
        text = session.scalar(select(Setting.value).where(Setting.key == VERSION_KEY))
    else:
        text = session.scalar(select(Setting.value).where(Setting.key == VERSION_KEY).with_for_update())
    return int(text) if text and _ASCII_DIGITS.fullmatch(text) and len(text) <= 18 else 0


def _stale_settings(session: Session, changes: dict[str, Any], current: int) -> StaleEdit:
    """The refusal of a stale save, naming the current value of each setting it would change."""
    stored = {row.key: row.value for row in session.scalars(select(Setting).where(Setting.key.in_(list(changes))))}
    now = {name: _decode(name, stored[name]) if name in stored else getattr(AppSettings(), name) for name in changes}
    differing = [name for name in changes if _encode(now[name]) != _encode(changes[name])]
    shown = "、".join(f"{name} = {now[name]}" for name in differing) or "(変更する項目は同じ値です)"
    return StaleEdit(f"設定(第{current}版) {shown}。", current_values={"version": current, **now})
