"""A throwaway PostgreSQL cluster for the tests (issue 14): no server is assumed to be running.

When PostgreSQL's server programs are installed (``initdb`` on PATH or under
``/usr/lib/postgresql/*/bin``; devsetup.py installs the Debian package ``postgresql``), the
test session makes one cluster in a temporary directory (trust authentication on loopback
only, no Unix socket, a free port, ``fsync=off``), starts it once, gives each test a fresh
database copied from a migrated template (``CREATE DATABASE … TEMPLATE``) and stops and removes
everything at the end. PostgreSQL refuses to run as root, so as root the cluster belongs to an
unprivileged user (``postgres`` when there is one, else ``nobody``) and runs through ``runuser``.

Without the programs the PostgreSQL variants are skipped, naming why; in CI (``CI`` or
``KANJO_REQUIRE_PG`` set) they fail instead, so a CI machine cannot pass without them.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REQUIRE_ENV = ("CI", "KANJO_REQUIRE_PG")
SUPERUSER = "kanjo"
TEMPLATE = "kanjo_template"


def pg_required(environ: dict[str, str] | os._Environ[str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return any(env.get(name, "").strip() not in ("", "0", "false") for name in REQUIRE_ENV)


def find_bindir() -> Path | None:
    """The directory of ``initdb``, ``pg_ctl`` and ``postgres``: PATH first, then Debian's versioned dirs."""
    candidates: list[Path] = []
    found = shutil.which("initdb")
    if found:
        candidates.append(Path(found).resolve().parent)
        candidates.append(Path(found).parent)
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: _version_key(p), reverse=True)
    candidates += [Path(p) for p in versions]
    for directory in candidates:
        if all((directory / program).exists() for program in ("initdb", "pg_ctl", "postgres")):
            return directory
    return None


def _version_key(path: str) -> tuple[int, ...]:
    part = Path(path).parent.name
    return tuple(int(x) for x in part.split(".") if x.isdigit()) or (0,)


def driver_problem() -> str | None:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg (the PostgreSQL driver) is not installed: pip install 'psycopg[binary]'"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_as() -> str | None:
    """The unprivileged user the server runs as when we are root, else None (run as ourselves)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise RuntimeError("running as root and no unprivileged user (postgres, nobody) to run PostgreSQL as")


@dataclass
class PgCluster:
    bindir: Path
    root: Path  # temporary directory: data/ and the server log
    port: int
    user: str | None  # the OS user the server runs as (None: this process's user)
    _names: itertools.count[int]

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _command(self, program: str, *args: str) -> list[str]:
        command = [str(self.bindir / program), *args]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        return command

    def _run(self, program: str, *args: str, timeout: float = 120) -> None:
        done = subprocess.run(self._command(program, *args), capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr.strip()}\n{log}")

    # --- lifecycle -----------------------------------------------------------------------

    @classmethod
    def start(cls, bindir: Path, *, shared_buffers: str = "32MB") -> PgCluster:
        """A fresh cluster; ``shared_buffers`` small for the tests' many clusters, larger for the
        list benchmark (bench/orders_bench.py), as a server holding a shop's orders would have."""
        base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
        root = Path(tempfile.mkdtemp(prefix="kanjo-pg-", dir=base))
        user = _run_as()
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        os.chmod(root, 0o700)
        cluster = cls(bindir, root, _free_port(), user, itertools.count(1))
        try:
            # A UTF-8 locale, as a real server has: pg_trgm indexes Japanese letters only then.
            for locale in ("C.UTF-8", "C"):
                try:
                    cluster._run(
                        "initdb",
                        "-D",
                        str(cluster.data),
                        "-U",
                        SUPERUSER,
                        "--auth=trust",
                        "-E",
                        "UTF8",
                        f"--locale={locale}",
                        "--no-sync",
                    )
                    break
                except RuntimeError:
                    if locale == "C":
                        raise
                    shutil.rmtree(cluster.data, ignore_errors=True)
            with (cluster.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
                conf.write(
                    "\n# kanjo test cluster\n"
                    "listen_addresses = '127.0.0.1'\n"
                    "unix_socket_directories = ''\n"
                    "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                    f"max_connections = 100\nshared_buffers = {shared_buffers}\n"
                )
            with (cluster.data / "pg_hba.conf").open("w", encoding="utf-8") as hba:
                hba.write("host all all 127.0.0.1/32 trust\n")
            for attempt in range(3):
                try:
                    cluster._run(
                        "pg_ctl",
                        "-D",
                        str(cluster.data),
                        "-l",
                        str(cluster.log),
                        "-o",
                        f"-p {cluster.port}",
                        "-w",
                        "-t",
                        "60",
                        "start",
                    )
                    break
                except RuntimeError:
                    if attempt == 2:
                        raise
                    cluster.port = _free_port()  # the port was taken in between
            cluster._make_template()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop", timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)

    # --- databases -----------------------------------------------------------------------

    def _admin(self, *statements: str) -> None:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres", autocommit=True
        ) as connection:
            for statement in statements:
                connection.execute(statement)  # type: ignore[arg-type]

    def _make_template(self) -> None:
        """A database at the newest schema; each test's database is a copy of it (fast)."""
        from core.db.engine import make_engine, migrate

        self._admin(f"CREATE DATABASE {TEMPLATE}")
        engine = make_engine(self.url(TEMPLATE))
        try:
            migrate(engine)
        finally:
            engine.dispose()

    def new_database(self, *, migrated: bool = True) -> str:
        """A fresh database's URL: at the newest schema (copied from the template) or empty."""
        name = f"test_{os.getpid()}_{next(self._names)}"
        template = TEMPLATE if migrated else "template0"
        for attempt in range(20):
            try:
                self._admin(f"CREATE DATABASE {name} TEMPLATE {template}")
                break
            except Exception as exc:  # the template is briefly in use by another session
                if "being accessed by other users" not in str(exc) or attempt == 19:
                    raise
                time.sleep(0.1)
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with contextlib.suppress(Exception):
            self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def unavailable_reason() -> str | None:
    """Why no cluster can be started here, or None when it can."""
    if find_bindir() is None:
        return "PostgreSQL server programs (initdb, pg_ctl) not found: apt-get install postgresql"
    return driver_problem()
