"""A store that cannot be used is a one-line Japanese refusal, exit 1, and nothing written
(issue 10, item 9): a URL that is not one, a missing driver, a read-only file, folder or disk,
a full disk, a damaged or cut-short file (kept exactly as it was). Real processes, real files."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.app import open_app
from core.clock import FixedClock
from core.db.engine import make_engine, migrate
from core.db.errors import StoreError, store_error
from tests.conftest import NOW

ROOT = Path(__file__).resolve().parents[2]
NOBODY = 65534


def kanjo(env: dict[str, str], *args: str, as_nobody: bool = False) -> subprocess.CompletedProcess[str]:
    preexec: Callable[[], None] | None = None
    if as_nobody:

        def preexec() -> None:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)

    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        env={**env, "PYTHONDONTWRITEBYTECODE": "1"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=preexec,
    )


def refused(result: subprocess.CompletedProcess[str], *phrases: str) -> None:
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert result.stderr.startswith("kanjo: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr and "予期しないエラー" not in result.stderr
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with a hash of its content: "nothing written" is equality."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(folder.rglob("*"))
    }


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("KANJO_")}
    base.update(
        {"KANJO_HOME": str(tmp_path / "home"), "KANJO_NOW": "2026-11-21T12:00:00+09:00", "PYTHONPATH": str(ROOT)}
    )
    return base


def make_store(path: Path) -> None:
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO settings(key, value) VALUES ('shop_name', '山田商店')")
        for i in range(300):  # a few dozen pages, so cutting the file short is visible
            connection.exec_driver_sql(
                "INSERT INTO customers(name, email, phone, is_member) VALUES (?, ?, '0312345678', 0)",
                (f"顧客{i}" * 20, f"c{i}@example.jp"),
            )
    engine.dispose()


def test_a_url_that_is_not_one_and_a_missing_driver(env: dict[str, str], tmp_path: Path) -> None:
    refused(kanjo(env, "--db", "nonsense", "orders", "list"), "データベースURLの形式が正しくありません", "nonsense")
    refused(
        kanjo(env, "--db", "mysql://shop:secret@db.example.jp/kanjo", "orders", "list"),
        "ドライバー",
        "mysql://shop:***@db.example.jp/kanjo",
    )
    refused(kanjo(env, "--db", "nosuchdb://x/y", "orders", "list"), "対応していません")
    assert not (tmp_path / "home").exists()  # nothing written, not even the data directory


def test_a_damaged_file_is_named_and_kept_untouched(env: dict[str, str], tmp_path: Path) -> None:
    folder = tmp_path / "stores"
    folder.mkdir()
    (folder / "random.sqlite3").write_bytes(os.urandom(8192))
    make_store(folder / "garbled.sqlite3")
    with open(folder / "garbled.sqlite3", "r+b") as handle:  # header intact, the pages behind it not
        handle.seek(4096)
        handle.write(b"\xa5" * 16384)
    before = snapshot(folder)
    for name in ("random.sqlite3", "garbled.sqlite3"):
        result = kanjo(env, "--db", f"sqlite:///{folder / name}", "orders", "list")
        refused(result, "データベースファイルが壊れています", str(folder / name))
    assert snapshot(folder) == before  # not written, not "repaired", no -wal or -shm left behind


def test_a_truncated_file_is_named_and_kept_untouched(env: dict[str, str], tmp_path: Path) -> None:
    folder = tmp_path / "stores"
    folder.mkdir()
    make_store(folder / "full.sqlite3")
    data = (folder / "full.sqlite3").read_bytes()
    (folder / "half.sqlite3").write_bytes(data[: len(data) // 2])
    (folder / "header.sqlite3").write_bytes(data[:10])  # cut inside the header
    (folder / "full.sqlite3").unlink()
    before = snapshot(folder)
    for name in ("half.sqlite3", "header.sqlite3"):
        result = kanjo(env, "--db", f"sqlite:///{folder / name}", "orders", "list")
        refused(result, "データベースファイルが途中で切れています", str(folder / name))
    assert snapshot(folder) == before


@pytest.fixture
def nobody_dir() -> Iterator[Path]:
    """A folder another, unprivileged user owns (root ignores permission bits, so the read-only
    cases run the command as ``nobody`` when the tests run as root)."""
    if os.name == "nt":
        pytest.skip("POSIX permission bits")
    path = Path(tempfile.mkdtemp(prefix="kanjo-ro-"))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        for p in [path, *path.rglob("*")]:
            with contextlib.suppress(OSError):
                os.chmod(p, 0o700)
        shutil.rmtree(path, ignore_errors=True)


def _hand_over(folder: Path) -> bool:
    """Give ``folder`` to nobody when we are root; True when commands must run as nobody."""
    if os.geteuid() != 0:
        return False
    try:  # e.g. the checkout lies in a 0700 folder: nobody cannot reach its Python
        probe = kanjo({**os.environ}, "--version", as_nobody=True)
        why = probe.stderr.strip()[:120] if probe.returncode != 0 else ""
    except OSError as exc:
        why = str(exc)
    if why:
        pytest.skip(f"nobody cannot run this checkout's program: {why}")
    for p in [folder, *folder.rglob("*")]:
        os.chown(p, NOBODY, NOBODY)
    return True


def test_a_read_only_file_is_refused_and_not_written(env: dict[str, str], nobody_dir: Path) -> None:
    db = nobody_dir / "kanjo.sqlite3"
    make_store(db)
    as_nobody = _hand_over(nobody_dir)
    os.chmod(db, 0o400)
    before = snapshot(nobody_dir)
    env = {**env, "KANJO_HOME": str(nobody_dir / "home")}
    for args in (("orders", "list"), ("settings", "set", "shop_name", "別の店")):
        refused(kanjo(env, "--db", f"sqlite:///{db}", *args, as_nobody=as_nobody), "読み取り専用", str(db))
    assert snapshot(nobody_dir) == before
    assert oct(os.stat(db).st_mode & 0o777) == oct(0o400)  # not "fixed" by a chmod either


def test_a_read_only_folder_is_refused_and_not_written(env: dict[str, str], nobody_dir: Path) -> None:
    folder = nobody_dir / "ro"
    folder.mkdir()
    db = folder / "kanjo.sqlite3"
    make_store(db)
    as_nobody = _hand_over(nobody_dir)
    os.chmod(folder, 0o500)
    before = snapshot(nobody_dir)
    env = {**env, "KANJO_HOME": str(nobody_dir / "home")}
    refused(kanjo(env, "--db", f"sqlite:///{db}", "orders", "list", as_nobody=as_nobody), "読み取り専用")
    refused(kanjo(env, "--db", f"sqlite:///{folder / 'new.sqlite3'}", "init", as_nobody=as_nobody), "読み取り専用")
    assert snapshot(nobody_dir) == before


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a small tmpfs")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr!r}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(folder: Path) -> list[Path]:
    fillers = []
    with contextlib.suppress(OSError):
        while True:
            filler = folder / f"filler-{len(fillers)}"
            fillers.append(filler)
            with filler.open("wb") as handle:
                handle.write(b"\0" * 4096)
    return fillers


def test_a_read_only_disk_is_refused(env: dict[str, str], tmp_path: Path) -> None:
    with tmpfs(tmp_path / "mnt", "4m") as mnt:
        db = mnt / "kanjo.sqlite3"
        make_store(db)
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        before = snapshot(mnt)
        refused(kanjo(env, "--db", f"sqlite:///{db}", "orders", "list"), "読み取り専用", str(db))
        assert snapshot(mnt) == before


def test_a_full_disk_is_refused_and_the_store_keeps_what_it_had(env: dict[str, str], tmp_path: Path) -> None:
    with tmpfs(tmp_path / "mnt", "2m") as mnt:
        db = mnt / "kanjo.sqlite3"
        make_store(db)
        url = f"sqlite:///{db}"
        before = db.read_bytes()
        fillers = fill(mnt)
        for free_pages in (0, 9):  # nothing left at all; room for SQLite's -shm file but not the write
            for filler in fillers[len(fillers) - free_pages :]:
                filler.unlink(missing_ok=True)
            refused(kanjo(env, "--db", url, "settings", "set", "shop_name", "別の店"), "空き容量", str(db))
        for filler in fillers:
            filler.unlink(missing_ok=True)
        assert db.read_bytes() == before
        shown = kanjo(env, "--db", url, "settings", "show", "--json")
        assert shown.returncode == 0 and '"shop_name": "山田商店"' in shown.stdout


def test_a_first_start_on_a_full_disk_leaves_no_half_schema_behind(env: dict[str, str], tmp_path: Path) -> None:
    """SQLite runs the first migration's DDL outside a transaction: a full disk used to leave half
    a schema, and every later command then failed with 予期しないエラー (issue 10 review)."""
    with tmpfs(tmp_path / "mnt", "400k") as mnt:
        url = f"sqlite:///{mnt / 'kanjo.sqlite3'}"
        for command in (("init",), ("orders", "list"), ("settings", "show")):
            refused(kanjo(env, "--db", url, *command), "空き容量", str(mnt / "kanjo.sqlite3"))
        assert not (mnt / "kanjo.sqlite3").exists()


def test_a_disk_that_fills_during_the_demo_is_one_line_without_a_traceback(env: dict[str, str], tmp_path: Path) -> None:
    """The in-process sandbox shares the disk: its failures must not print tracebacks either."""
    with tmpfs(tmp_path / "mnt", "1600k") as mnt:
        result = kanjo(env, "--db", f"sqlite:///{mnt / 'kanjo.sqlite3'}", "demo", "--orders", "300")
        assert result.returncode == 1
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
        assert "空き容量" in result.stderr


def test_store_errors_are_mapped_in_one_place(tmp_path: Path) -> None:
    """The mapping itself, for the codes the processes above cannot all reach (SQLITE_FULL by
    max_page_count, SQLITE_CANTOPEN by a directory), and open_app's refusal of a damaged file."""
    path = tmp_path / "small.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t(x)")
    db.execute("PRAGMA max_page_count = 2")
    with pytest.raises(sqlite3.Error) as full:
        db.execute("INSERT INTO t VALUES (?)", ("x" * 100_000,))
    db.close()
    mapped = store_error(full.value, f"sqlite:///{path}")
    assert mapped is not None and mapped.code == "store_full" and "空き容量" in mapped.message
    with pytest.raises(sqlite3.Error) as cannot:
        sqlite3.connect(tmp_path).execute("SELECT 1 FROM sqlite_master")
    mapped = store_error(cannot.value, f"sqlite:///{tmp_path}")
    assert mapped is not None and mapped.code == "store_cannot_open"
    assert store_error(ValueError("佐藤 花子")) is None  # anything else stays a bug

    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match="データベースファイルが壊れています"):
        open_app(f"sqlite:///{bad}", clock=FixedClock(NOW), environ={"KANJO_HOME": str(tmp_path / "h")})
    assert bad.read_bytes() == b"not a database at all" * 100
