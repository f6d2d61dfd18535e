#!/usr/bin/env python3
"""Set up and run Kanjo from a source checkout with nothing but Python 3.11+.

    python3 dev.py run     # create .venv, install, start the app (sandbox + demo orders)
    python3 dev.py test    # create .venv, install with test tools, run the whole test suite
    python3 dev.py package # build the PyInstaller bundle and (on Linux) the .deb under build/

Extra arguments go to the app or to pytest; the everyday suite runs on every core (pytest-xdist,
at most 4 workers; `-n 0` for one process). The virtual environment is reused; it is
reinstalled when pyproject.toml changes. First, on Debian/Ubuntu, the system packages Qt,
the Japanese font and the packaging need are installed when missing (devsetup.py: as root or
with `sudo -n`; otherwise, or with KANJO_NO_SYSTEM_SETUP=1, it stops with the command to run).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

import devsetup  # noqa: E402 - beside this file; standard library only

VENV = ROOT / ".venv"
STAMP = VENV / ".kanjo-installed"


def _python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _create_venv() -> None:
    """Debian and Ubuntu ship the system Python without ensurepip (package pythonX.Y-venv):
    the first try fails there, the package is installed (or its command shown) and it is retried."""
    try:
        venv.EnvBuilder(with_pip=True).create(VENV)
        return
    except (subprocess.CalledProcessError, OSError):
        shutil.rmtree(VENV, ignore_errors=True)
    if sys.platform.startswith("linux") and devsetup.install([devsetup.venv_package()]) == 0:
        venv.EnvBuilder(with_pip=True).create(VENV)
        return
    sys.exit("[dev] could not create .venv: this Python cannot make a virtual environment with pip.")


def _ensure(extras: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be started by an older python3
        sys.exit("Kanjo needs Python 3.11 or newer.")
    if not _python().exists():
        print("[dev] creating .venv", flush=True)
        _create_venv()
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest() + ":" + extras
    installed = STAMP.read_text().splitlines() if STAMP.exists() else []
    if digest in installed:
        return
    print(f"[dev] installing kanjo{extras} into .venv", flush=True)
    pip = [str(_python()), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}{extras}"], check=True)
    STAMP.write_text("\n".join([*installed, digest]) + "\n")


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("run", "test", "package"):
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be started by an older python3
        sys.exit("Kanjo needs Python 3.11 or newer.")
    if devsetup.ensure(command) != 0:
        return 1
    if command == "run":
        _ensure("")
        return subprocess.call([str(_python()), str(ROOT / "main.py"), *rest], cwd=ROOT)
    if command == "package":
        _ensure("[package]")
        return subprocess.call([str(_python()), str(ROOT / "packaging" / "build.py"), *rest], cwd=ROOT)
    _ensure("[dev]")
    return subprocess.call([str(_python()), "-m", "pytest", *_workers(rest), *rest], cwd=ROOT)


def _workers(args: list[str]) -> list[str]:
    """The everyday suite runs on every core (pytest-xdist, at most 4 workers); the slow suite,
    whose races and crash tests count time, one test at a time. ``-n`` given by hand wins."""
    if "--slow" in args or any(a == "-n" or a.startswith(("-n", "--numprocesses")) for a in args):
        return []
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return ["-n", str(min(max(cores, 1), 4))] if cores > 1 else []


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
