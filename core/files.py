"""Files that hold customer data or secrets are private to the user who runs Kanjo (issue 10, item 5).

The data directory is 0700 and every file Kanjo writes there (the store, its WAL and shared
memory, the sandbox's state, the sandbox key, backups, the error log) is 0600 *from creation*,
whatever the umask: a file is created by ``os.open`` with mode 0o600, never created open and
chmod-ed afterwards, so no other local user can open it in between. A directory or file that
already exists and is too open (an older Kanjo made them 0755/0644) is tightened at start: the
group and other bits are removed, nothing is ever loosened (a read-only 0400 store stays read-only).

On Windows (``os.name == 'nt'``) permission bits mean nothing; the per-user ``%LOCALAPPDATA%``
is already private, so the chmod steps are skipped there and files are simply created.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
_POSIX = os.name != "nt"


def tighten(path: Path) -> None:
    """Remove group and other permissions from ``path`` if it exists (never add any).

    Best effort: a file owned by someone else cannot be chmod-ed; opening it then says what is wrong.
    """
    if not _POSIX:
        return
    with contextlib.suppress(OSError):
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if mode & 0o077:
            os.chmod(path, mode & ~0o077)


def private_dir(path: Path, *, tighten_existing: bool = True) -> Path:
    """Create ``path`` (and missing parents) as 0700; an existing one is tightened when it is Kanjo's own.

    Parents created here are 0700 too. Pass ``tighten_existing=False`` for a directory the
    operator chose (``--db`` elsewhere): it may be shared on purpose (/tmp), so it is left alone.
    """
    missing: list[Path] = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it meanwhile
            os.mkdir(directory, PRIVATE_DIR_MODE)  # mkdir applies the umask: 0700 & ~022 = 0700
        if _POSIX:
            os.chmod(directory, PRIVATE_DIR_MODE)  # and a stricter umask must not leave it unusable
    if tighten_existing and not missing:
        tighten(path)
    return path


def create_private_file(path: Path) -> bool:
    """Make sure ``path`` exists with mode 0600; an existing file is tightened, its content untouched.

    Returns True when the (empty) file was created here.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), PRIVATE_FILE_MODE)
    except FileExistsError:
        tighten(path)
        return False
    os.close(fd)
    return True


def write_private_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` as a 0600 file: a fresh temporary file beside it, then a rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)  # left over by a crash of this very pid: it was ours
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), PRIVATE_FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def append_private(path: Path, text: str) -> None:
    """Append ``text`` to ``path``, creating it 0600 (an existing too-open file is tightened first)."""
    tighten(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0), PRIVATE_FILE_MODE)
    with os.fdopen(fd, "ab") as handle:
        handle.write(text.encode("utf-8"))


def copy_private(source: Path, target: Path) -> None:
    """Copy ``source`` to a new file ``target`` created 0600 (a backup of the store holds customer data).

    Written under a temporary name and renamed, so an interrupted copy never looks like a backup.
    """
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), PRIVATE_FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            while chunk := src.read(1 << 20):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
