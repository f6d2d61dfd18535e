"""The error log (``kanjo-error.log``): what a bug was and where, never whose data (issue 10, item 5).

An exception's text can carry customer data: SQLAlchemy's ``StatementError`` prints the
statement's parameters (names, e-mail addresses, addresses), a ``KeyError`` its key, a
``ValueError`` whatever was formatted into it. So the log keeps the exception *types* of the
chain, safe codes (the SQLite error name, the errno) and the traceback's frames (file, line,
function, source line), and leaves every exception message out. The engine also runs with
``hide_parameters=True``, so the messages shown elsewhere carry no values either.

The file is created 0600 (``core.files.append_private``) in the 0700 data directory.
"""

from __future__ import annotations

import errno
import traceback
from pathlib import Path

from core import __version__
from core.clock import clock_from_env
from core.files import append_private


def _safe_codes(exc: BaseException) -> str:
    codes = []
    name = getattr(exc, "sqlite_errorname", None) or getattr(getattr(exc, "orig", None), "sqlite_errorname", None)
    if isinstance(name, str):
        codes.append(name)
    if isinstance(exc, OSError) and exc.errno is not None:
        codes.append(errno.errorcode.get(exc.errno, str(exc.errno)))
    return f" [{', '.join(codes)}]" if codes else ""


def format_bug(exc: BaseException) -> str:
    """The exception chain as types, safe codes and frames only (no messages, no values)."""
    blocks: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        kind = type(current)
        frames = traceback.format_list(traceback.extract_tb(current.__traceback__))
        blocks.append(
            f"{kind.__module__}.{kind.__qualname__}{_safe_codes(current)} (message left out)\n" + "".join(frames)
        )
        current = current.__cause__ or current.__context__
    return "\ncaused by / during: ".join(blocks)


def write_bug_log(path: Path, exc: BaseException) -> None:
    """Append one report to ``path`` (0600); best effort: a full disk must not hide the bug itself."""
    try:
        stamp = clock_from_env().now().isoformat(timespec="seconds")
    except Exception:  # a malformed KANJO_NOW must not stop the report
        stamp = "?"
    append_private(path, f"--- {stamp} kanjo {__version__}\n{format_bug(exc)}\n")
