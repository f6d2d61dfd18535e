"""Which store this PC opens when no ``--db`` is given (issue 14 item 1): このPC(SQLite) or 共有(PostgreSQL).

The choice cannot live inside the database, so it is a small per-PC file in the data
directory, ``database.json`` (0600): ``{"kind": "postgresql", "host": …, "port": …,
"database": …, "user": …}``. No file means the local SQLite store. The password is never in
the file, the URL or a log: the window stores it in the OS keyring (service
``kanjo-postgresql``, account ``USER@HOST:PORT/DB``) and :func:`attach_keyring_password`
hands it to libpq when a connection opens.

Where a PostgreSQL password comes from, first found wins: the URL itself, ``PGPASSWORD``, the
keyring, ``~/.pgpass`` (libpq reads the last one itself).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Engine, event
from sqlalchemy.engine import URL, make_url

from core.errors import BadInput, UserError
from core.files import private_dir, write_private_atomic

CHOICE_FILE: Final = "database.json"
KEYRING_SERVICE: Final = "kanjo-postgresql"
SQLITE: Final = "sqlite"
POSTGRESQL: Final = "postgresql"
DEFAULT_PORT: Final = 5432
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatabaseChoice:
    kind: str = SQLITE
    host: str = ""
    port: int = DEFAULT_PORT
    database: str = ""
    user: str = ""

    @property
    def shared(self) -> bool:
        return self.kind == POSTGRESQL

    @property
    def account(self) -> str:
        """The keyring account the password is kept under."""
        return keyring_account(self.user, self.host, self.port, self.database)

    def url(self) -> str | None:
        """The PostgreSQL URL (without a password), or None for the local SQLite store."""
        if not self.shared:
            return None
        return URL.create(
            "postgresql+psycopg", username=self.user, host=self.host, port=self.port, database=self.database
        ).render_as_string(hide_password=False)

    def problem(self) -> str | None:
        """What is wrong with a shared choice as typed, in Japanese, or None."""
        if not self.shared:
            return None
        missing = [
            label
            for label, value in (("ホスト", self.host), ("データベース名", self.database), ("ユーザー名", self.user))
            if not value.strip()
        ]
        if missing:
            return f"共有データベースの{'・'.join(missing)}を入力してください。"
        if not 1 <= self.port <= 65535:
            return "共有データベースのポートには1〜65535の番号を指定してください(通常は5432)。"
        for value in (self.host, self.database, self.user):
            if any(ch.isspace() or ord(ch) < 32 for ch in value) or "/" in value or "@" in value:
                return f"共有データベースの接続設定に使えない文字があります: {value}"
        return None


def keyring_account(user: str | None, host: str | None, port: int | None, database: str | None) -> str:
    return f"{user or ''}@{host or ''}:{port or DEFAULT_PORT}/{database or ''}"


def choice_path(directory: Path) -> Path:
    return directory / CHOICE_FILE


def load_choice(directory: Path) -> DatabaseChoice:
    """The saved choice; no file means the local SQLite store. A file that cannot be read is
    refused (``UserError``) rather than silently opening another store than the one chosen."""
    path = choice_path(directory)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return DatabaseChoice()
    except OSError as exc:
        raise UserError(f"データベースの接続設定ファイルを読めません: {path}({type(exc).__name__})") from None
    try:
        data = json.loads(text)
        choice = DatabaseChoice(
            kind=str(data.get("kind", SQLITE)),
            host=str(data.get("host", "")),
            port=int(data.get("port", DEFAULT_PORT)),
            database=str(data.get("database", "")),
            user=str(data.get("user", "")),
        )
    except (ValueError, TypeError, AttributeError):
        choice = None
    if choice is None or choice.kind not in (SQLITE, POSTGRESQL) or choice.problem() is not None:
        raise UserError(
            f"データベースの接続設定ファイルが壊れています: {path}。設定し直すか、このファイルを削除すると"
            "このPCのデータベース(SQLite)で起動します。"
        )
    return choice


def save_choice(directory: Path, choice: DatabaseChoice) -> Path:
    """Write the choice (0600, atomically); the local SQLite choice removes the file."""
    problem = choice.problem()
    if problem is not None:
        raise BadInput(problem)
    path = choice_path(directory)
    if not choice.shared:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return path
    private_dir(directory)
    data = json.dumps(asdict(choice), ensure_ascii=False, indent=2) + "\n"
    write_private_atomic(path, data.encode("utf-8"))
    return path


def chosen_url(directory: Path) -> str | None:
    """The URL of the shared store this PC chose, or None for its local SQLite store."""
    return load_choice(directory).url()


# --- the password --------------------------------------------------------------------------


class KeyringUnavailable(UserError):
    code = "keyring_unavailable"


NO_KEYRING_MESSAGE: Final = (
    "この端末にはパスワードを安全に保管する仕組み(OSの資格情報ストア・キーチェーン)が見つからないため、"
    "データベースのパスワードを保存できません。安全のため、ほかの場所にも保存しません"
    "(PGPASSWORD か ~/.pgpass を使ってください)。"
)


def _keyring() -> Any:
    try:
        import keyring
        import keyring.backends.fail
    except ImportError:  # pragma: no cover - a dependency; only a broken install lacks it
        return None
    if isinstance(keyring.get_keyring(), keyring.backends.fail.Keyring):
        return None
    return keyring


def save_password(account: str, password: str) -> None:
    keyring = _keyring()
    if keyring is None:
        raise KeyringUnavailable(NO_KEYRING_MESSAGE)
    try:
        keyring.set_password(KEYRING_SERVICE, account, password)
    except Exception as exc:  # a backend error: say which, never with the secret
        raise KeyringUnavailable(f"{NO_KEYRING_MESSAGE}({type(exc).__name__})") from None


def stored_password(account: str) -> str | None:
    """The password kept for ``account``, or None (no keyring, nothing kept, a backend error)."""
    keyring = _keyring()
    if keyring is None:
        return None
    try:
        value = keyring.get_password(KEYRING_SERVICE, account)
    except Exception as exc:
        log.info("keyring lookup failed (%s)", type(exc).__name__)  # the type only, never values
        return None
    return value if isinstance(value, str) else None


def attach_keyring_password(engine: Engine, environ: Mapping[str, str] | None = None) -> bool:
    """Give a PostgreSQL engine the password kept in the keyring for its URL's account.

    Only when the URL carries none and ``PGPASSWORD`` is not set (those win). The password is
    handed to the driver as a connect parameter at each connect: it is never part of the URL,
    so nothing that prints or logs the URL can show it. Returns whether one was attached.
    """
    env = os.environ if environ is None else environ
    url = engine.url
    if url.get_backend_name() != POSTGRESQL or url.password or env.get("PGPASSWORD"):
        return False
    password = stored_password(keyring_account(url.username, url.host, url.port, url.database))
    if password is None:
        return False

    def add_password(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        cparams.setdefault("password", password)

    event.listen(engine, "do_connect", add_password)
    return True


def is_postgresql_url(url: str) -> bool:
    try:
        return make_url(url).get_backend_name() == POSTGRESQL
    except Exception:
        return False
