"""What went wrong with the store, in one Japanese sentence (issue 10, item 9).

Every place that opens, migrates or uses the store maps database failures here, once:
``open_app`` (command line and window start) and the command line's top-level handler. A bad
URL, a missing driver, a read-only, full, corrupt, truncated or unopenable SQLite file are
things the operator can act on, so they are ``StoreError``s (exit 1), never bugs (exit 70).

A damaged file is only ever read (its first 100 bytes): it is never written, "repaired" or
replaced, so the operator can still hand it to someone who can recover it.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
from pathlib import Path

from core.errors import UserError

SQLITE_MAGIC = b"SQLite format 3\x00"
_HEADER_SIZE = 100


class StoreError(UserError):
    """The store cannot be opened or written; nothing was changed."""

    code = "store_error"


def _where(path: Path | None) -> str:
    return f": {path}" if path is not None else ""


def corrupt(path: Path | None, detail: str = "") -> StoreError:
    return StoreError(
        f"データベースファイルが壊れています{detail}{_where(path)}。"
        "ファイルには手を加えていません。バックアップから戻す(kanjo backup list、kanjo restore)か、サポートにご相談ください。",
        code="store_corrupt",
    )


def truncated(path: Path | None) -> StoreError:
    return StoreError(
        f"データベースファイルが途中で切れています{_where(path)}。"
        "ファイルには手を加えていません。バックアップから戻す(kanjo backup list、kanjo restore)か、サポートにご相談ください。",
        code="store_truncated",
    )


def read_only(path: Path | None) -> StoreError:
    return StoreError(
        f"データベースに書き込めません(読み取り専用です){_where(path)}。"
        "ファイルとフォルダに書き込み権限があるか確認してください。",
        code="store_read_only",
    )


def disk_full(path: Path | None) -> StoreError:
    return StoreError(
        f"ディスクの空き容量が足りないため、データベースに書き込めませんでした{_where(path)}。"
        "書き込めなかった変更は保存されていません。空き容量を確保してからもう一度実行してください。",
        code="store_full",
    )


def cannot_open(path: Path | None) -> StoreError:
    return StoreError(
        f"データベースファイルを開けません{_where(path)}。パスとフォルダの権限を確認してください。",
        code="store_cannot_open",
    )


def sqlite_file_problem(path: Path) -> StoreError | None:
    """Read the header of an existing SQLite file: is it damaged or cut short? (Only reads.)

    An empty file is a new database. A file whose header promises more pages than it holds is
    truncated, unless a write-ahead log beside it still holds pages SQLite will add.
    """
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            # A device, a FIFO or a socket is no store: refuse it before anything opens, reads
            # or chmods it (`--db sqlite:////dev/null`).
            return StoreError(f"データベースの場所が通常のファイルではありません{_where(path)}")
        size = info.st_size
        if size == 0:
            return None
        with path.open("rb") as handle:
            header = handle.read(_HEADER_SIZE)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        return cannot_open(path)
    except PermissionError:
        return cannot_open(path)
    except OSError:
        return cannot_open(path)
    if not header.startswith(SQLITE_MAGIC):
        if SQLITE_MAGIC.startswith(header):
            return truncated(path)
        return corrupt(path, "(SQLiteのデータベースではありません)")
    if len(header) < _HEADER_SIZE:
        return truncated(path)
    (page_size,) = struct.unpack(">H", header[16:18])
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        return corrupt(path)
    (change_counter,) = struct.unpack(">I", header[24:28])
    (page_count,) = struct.unpack(">I", header[28:32])
    (valid_for,) = struct.unpack(">I", header[92:96])
    wal = path.with_name(path.name + "-wal")
    wal_has_pages = wal.exists() and wal.stat().st_size > 0
    if page_count and valid_for == change_counter and size < page_count * page_size and not wal_has_pages:
        return truncated(path)
    if size % page_size and not wal_has_pages:
        return truncated(path)
    return None


def _sqlite_error_name(exc: BaseException) -> str | None:
    """SQLITE_FULL, SQLITE_READONLY_DBMOVED … of the sqlite3 error in ``exc``'s chain."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        name = getattr(current, "sqlite_errorname", None)
        if isinstance(name, str):
            return name
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else (current.__cause__ or current.__context__)
    return None


_BY_MESSAGE = (
    ("database or disk is full", "SQLITE_FULL"),
    ("readonly database", "SQLITE_READONLY"),
    ("disk image is malformed", "SQLITE_CORRUPT"),
    ("file is not a database", "SQLITE_NOTADB"),
    ("unable to open database file", "SQLITE_CANTOPEN"),
    ("database is locked", "SQLITE_BUSY"),
)


def _sqlite_code(exc: BaseException) -> str | None:
    name = _sqlite_error_name(exc)
    if name is None:
        text = str(exc)
        name = next((code for phrase, code in _BY_MESSAGE if phrase in text), None)
    if name is None:
        return None
    return "_".join(name.split("_")[:2])  # SQLITE_IOERR_SHORT_READ → SQLITE_IOERR


def _url_for_display(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL is shown as typed, minus anything after a colon-password
        return url


def open_error(exc: BaseException, url: str) -> StoreError | None:
    """``store_error`` plus what can only go wrong while the store is being opened: a URL that
    does not parse, an unknown kind of database, a driver that is not installed, a folder or
    file that cannot be created. (Only here is an ``ImportError`` a missing driver, not a bug.)"""
    from sqlalchemy import exc as sa_exc

    if isinstance(exc, sa_exc.ArgumentError) and "URL" in str(exc):
        return StoreError(
            f"データベースURLの形式が正しくありません: {url}(例: sqlite:////home/shop/kanjo.sqlite3)",
            code="store_bad_url",
        )
    if isinstance(exc, sa_exc.NoSuchModuleError):
        return StoreError(
            f"このデータベースの種類には対応していません: {_url_for_display(url)}"
            "(sqlite:/// または postgresql:// を指定してください)",
            code="store_bad_url",
        )
    if isinstance(exc, ImportError):
        module = exc.name or "?"
        return StoreError(
            f"データベースのドライバー({module})がインストールされていないため接続できません: {_url_for_display(url)}",
            code="store_no_driver",
        )
    if isinstance(exc, OSError) and not isinstance(exc, ConnectionError | TimeoutError):
        return _os_error(exc, _path_of(url))
    return store_error(exc, url)


def _path_of(url: str | None) -> Path | None:
    if url is None:
        return None
    from core.db.engine import sqlite_path

    try:
        return sqlite_path(url)
    except Exception:  # not a URL at all: there is no file to name
        return None


def store_error(exc: BaseException, url: str | None = None, *, path: Path | None = None) -> StoreError | None:
    """The ``StoreError`` for a database failure ``exc`` (full, read-only, corrupt …), else None (a bug).

    ``url`` is the store's URL (the file named in the message); ``path`` overrides the file
    (the sandbox's own SQLite file).
    """
    if isinstance(exc, StoreError):
        return exc
    import sqlite3

    from sqlalchemy import exc as sa_exc

    if not isinstance(exc, sa_exc.DBAPIError | sqlite3.Error) and _sqlite_error_name(exc) is None:
        return None
    if path is None:
        path = _path_of(url)
    code = _sqlite_code(exc)
    if code == "SQLITE_FULL":
        return disk_full(path)
    if code == "SQLITE_READONLY":
        return read_only(path)
    if code in ("SQLITE_CORRUPT", "SQLITE_NOTADB"):
        found = sqlite_file_problem(path) if path is not None else None
        if found is not None and found.code == "store_truncated":
            return found
        return corrupt(path)
    if code == "SQLITE_CANTOPEN":
        return cannot_open(path)
    if code in ("SQLITE_BUSY", "SQLITE_LOCKED"):
        return StoreError(
            f"データベースが他の処理で使用中です{_where(path)}。しばらくしてからもう一度実行してください。",
            code="store_busy",
        )
    if code == "SQLITE_IOERR" and _nearly_full(path):
        return disk_full(path)  # a full disk also shows as an I/O error (no room for the -shm file)
    if code == "SQLITE_IOERR":
        return StoreError(
            f"データベースファイルの読み書きに失敗しました{_where(path)}。ディスクの状態を確認してください。",
            code="store_io",
        )
    if getattr(getattr(exc, "orig", None), "sqlstate", None) in _PG_BUSY:
        return StoreError(
            "データベースが他の処理で使用中です。しばらくしてからもう一度実行してください。",
            code="store_busy",
        )
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError) and path is None and url is not None:
        return StoreError(
            f"データベースに接続できません: {_url_for_display(url)}。サーバーと接続設定を確認してください。",
            code="store_cannot_connect",
        )
    return None


# PostgreSQL (issue 14): a lock not granted within lock_timeout, a deadlock, a serialization
# failure: another operator's work was in the way; trying again later is the answer.
_PG_BUSY = frozenset({"55P03", "40P01", "40001"})


def _nearly_full(path: Path | None) -> bool:
    if path is None:
        return False
    import shutil

    try:
        return shutil.disk_usage(path.parent).free < 1 << 20
    except OSError:
        return False


def _os_error(exc: OSError, path: Path | None) -> StoreError | None:
    where = Path(exc.filename) if isinstance(exc.filename, str) else path
    if exc.errno == errno.ENOSPC or exc.errno == getattr(errno, "EDQUOT", -1):
        return disk_full(where)
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return read_only(where)
    if exc.errno in (errno.ENOTDIR, errno.EISDIR, errno.ENOENT, errno.ENAMETOOLONG):
        return cannot_open(where)
    return None


def check_writable(path: Path) -> StoreError | None:
    """Refuse up front a store this user cannot write (file 0400, read-only folder or mount).

    SQLite would open such a file and fail at the first write, in the middle of a command; in
    WAL mode it also needs to create ``-wal``/``-shm`` files beside it.
    """
    folder = path.parent
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return read_only(path)
    if folder.exists() and not os.access(folder, os.W_OK | os.X_OK):
        return read_only(path)
    return None
