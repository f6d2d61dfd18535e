"""What the machine itself must have before ``dev.py`` runs the app, the tests or the packaging.

Imported by dev.py with the plain system Python, before .venv exists: standard library only.

On Debian/Ubuntu (Linux with apt-get), Qt needs a few shared libraries that the PySide6 wheel
does not bundle, the window and the badge tests need a Japanese font, and the .deb needs
``dpkg-deb`` and ``objdump``. :func:`ensure` looks for them without running anything (files and
the ldconfig cache), so a machine that has everything pays a few milliseconds and no apt call.
What is missing is installed with ``apt-get install -y --no-install-recommends`` as root or
through ``sudo -n`` (never a password prompt); otherwise, or with ``KANJO_NO_SYSTEM_SETUP=1``,
dev.py stops before running anything and prints the exact command to run.

macOS and Windows: nothing to install. The PySide6 wheels carry Qt with everything it needs
there, and both systems ship Japanese fonts (Hiragino Sans; Yu Gothic / Meiryo).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

OPT_OUT_ENV = "KANJO_NO_SYSTEM_SETUP"

# Shared libraries Qt's offscreen and xcb platforms load, and the Debian package of each.
QT_LIBRARIES: dict[str, str] = {
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
}
# Only for a window on an X11/XWayland display (`dev.py run` with DISPLAY set): the xcb plugin.
XCB_LIBRARIES: dict[str, str] = {
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-image.so.0": "libxcb-image0",
}
FONT_PACKAGE = "fonts-noto-cjk"  # the .deb accepts fonts-ipafont-gothic or fonts-vlgothic instead
# Programs `dev.py package` runs (packaging/build.py: dpkg-deb; PyInstaller: objdump).
PACKAGING_TOOLS: dict[str, str] = {"dpkg-deb": "dpkg", "objdump": "binutils"}

# The PostgreSQL server programs the tests start a throwaway cluster with (tests/pg.py, issue 14).
POSTGRESQL_PACKAGE = "postgresql"

FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts")
# File names (lower case) of Japanese fonts: Noto/Source Han CJK, IPA, IPAex, VL Gothic, Takao.
JAPANESE_FONT_NAMES = (
    "notosanscjk",
    "notoserifcjk",
    "sourcehansans",
    "ipag",
    "ipam",
    "ipaex",
    "vl-gothic",
    "vlgothic",
    "takao",
)
FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".otc")
LIBRARY_DIRS = ("/lib", "/usr/lib", "/lib64", "/usr/lib64", "/usr/local/lib")


def _library_dirs() -> list[Path]:
    dirs = [Path(d) for d in LIBRARY_DIRS]
    for base in ("/lib", "/usr/lib"):  # multiarch, e.g. /usr/lib/x86_64-linux-gnu
        root = Path(base)
        if root.is_dir():
            dirs += [p for p in root.iterdir() if p.name.endswith("-linux-gnu") and p.is_dir()]
    return dirs


def has_library(soname: str) -> bool:
    """Whether the dynamic loader can find ``soname`` (library directories, then ``ldconfig -p``)."""
    if any((d / soname).exists() for d in _library_dirs()):
        return True
    ldconfig = shutil.which("ldconfig") or ("/sbin/ldconfig" if Path("/sbin/ldconfig").exists() else None)
    if ldconfig is None:
        return False
    try:
        cache = subprocess.run([ldconfig, "-p"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return any(line.strip().startswith(soname + " ") for line in cache.splitlines())


def has_japanese_font(font_dirs: Iterable[str | Path] = FONT_DIRS) -> bool:
    """Whether a Japanese font is installed: a known font file under ``font_dirs``, else
    ``fc-list :lang=ja`` when fontconfig's tools are there."""
    for directory in font_dirs:
        root = Path(directory).expanduser()
        if not root.is_dir():
            continue
        for _dirpath, _dirs, files in os.walk(root):
            for name in files:
                lower = name.lower()
                if lower.endswith(FONT_SUFFIXES) and lower.startswith(JAPANESE_FONT_NAMES):
                    return True
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return False
    try:
        found = subprocess.run([fc_list, ":lang=ja", "family"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return bool(found.strip())


def has_postgresql_server() -> bool:
    """Whether ``initdb`` is on PATH or in Debian's ``/usr/lib/postgresql/<version>/bin``."""
    import glob

    return shutil.which("initdb") is not None or bool(glob.glob("/usr/lib/postgresql/*/bin/initdb"))


def _can_sudo() -> bool:
    if shutil.which("sudo") is None:
        return False
    try:
        return subprocess.run(["sudo", "-n", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


@dataclass
class Machine:
    """The probes of the machine; tests replace them with fakes."""

    platform: str = sys.platform
    has_library: Callable[[str], bool] = has_library
    has_japanese_font: Callable[[], bool] = has_japanese_font
    has_postgresql_server: Callable[[], bool] = has_postgresql_server
    which: Callable[[str], str | None] = shutil.which
    is_root: Callable[[], bool] = _is_root
    can_sudo: Callable[[], bool] = _can_sudo
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)


def missing_packages(purpose: str, machine: Machine) -> list[str]:
    """The Debian packages missing for ``purpose`` (``run``, ``test`` or ``package``), in a stable order."""
    if not machine.platform.startswith("linux"):
        return []  # macOS, Windows: see the module's docstring
    libraries = dict(QT_LIBRARIES)
    wants_xcb = purpose == "run" and machine.environ.get("QT_QPA_PLATFORM", "") in ("", "xcb")
    if wants_xcb and machine.environ.get("DISPLAY"):
        libraries.update(XCB_LIBRARIES)
    missing = [package for soname, package in libraries.items() if not machine.has_library(soname)]
    if not machine.has_japanese_font():
        missing.append(FONT_PACKAGE)
    if purpose == "test" and not machine.has_postgresql_server():
        missing.append(POSTGRESQL_PACKAGE)  # the store tests run on PostgreSQL too
    if purpose == "package":
        missing += [package for tool, package in PACKAGING_TOOLS.items() if machine.which(tool) is None]
    return list(dict.fromkeys(missing))


def apt_commands(packages: Sequence[str], *, sudo: bool) -> list[list[str]]:
    """``apt-get update`` then the install, non-interactive, with ``sudo -n`` when not root."""
    prefix = ["sudo", "-n"] if sudo else []
    return [
        [*prefix, "apt-get", "update", "-q"],
        [*prefix, "apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
    ]


def command_text(packages: Sequence[str], *, root: bool = False) -> str:
    """The command a person runs to install ``packages`` (with sudo unless already root)."""
    sudo = "" if root else "sudo "
    return f"{sudo}apt-get update && {sudo}apt-get install -y --no-install-recommends {' '.join(packages)}"


def ensure(
    purpose: str,
    machine: Machine | None = None,
    *,
    run: Callable[..., subprocess.CompletedProcess[bytes]] = subprocess.run,
    say: Callable[[str], None] = lambda text: print(text, file=sys.stderr, flush=True),
) -> int:
    """Make sure the system has what ``purpose`` needs; 0 when it does (now), else 1 after
    saying what to run. Installs through apt-get as root or with ``sudo -n`` unless opted out."""
    machine = machine or Machine()
    missing = missing_packages(purpose, machine)
    if not missing:
        return 0
    if machine.which("apt-get") is None:
        say(f"[dev] missing system packages (Debian names): {' '.join(missing)}")
        say("[dev] install them with your system's package manager, then run dev.py again.")
        return 1
    if install(missing, machine, run=run, say=say) != 0:
        return 1
    still = missing_packages(purpose, machine)
    if still:
        say(f"[dev] still missing after apt-get install: {' '.join(still)}")
        return 1
    return 0


def install(
    packages: Sequence[str],
    machine: Machine | None = None,
    *,
    run: Callable[..., subprocess.CompletedProcess[bytes]] = subprocess.run,
    say: Callable[[str], None] = lambda text: print(text, file=sys.stderr, flush=True),
) -> int:
    """Install Debian ``packages`` with apt-get as root or through ``sudo -n``; 0 when done, else 1
    after printing the exact command to run (opted out, no sudo, or apt-get failed)."""
    machine = machine or Machine()
    if machine.which("apt-get") is None:
        say(f"[dev] missing system packages (Debian names): {' '.join(packages)}")
        say("[dev] install them with your system's package manager, then run dev.py again.")
        return 1
    root = machine.is_root()
    wanted = command_text(packages, root=root)
    opted_out = machine.environ.get(OPT_OUT_ENV, "") not in ("", "0")
    if opted_out or not (root or machine.can_sudo()):
        why = f"{OPT_OUT_ENV} is set" if opted_out else "not root and sudo needs a password"
        say(f"[dev] Qt and the tests need system packages that are missing: {' '.join(packages)}")
        say(f"[dev] nothing was run ({why}). Run this, then run dev.py again:")
        say(f"    {wanted}")
        return 1
    say(f"[dev] installing system packages: {' '.join(packages)}")
    env = {**machine.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in apt_commands(packages, sudo=not root):
        if run(command, env=env).returncode != 0:
            say(f"[dev] `{' '.join(command)}` failed. Run this, then run dev.py again:")
            say(f"    {wanted}")
            return 1
    return 0


def venv_package() -> str:
    """Debian's package that lets this Python make a virtual environment with pip (ensurepip)."""
    return f"python3.{sys.version_info.minor}-venv"


def font_problem(font_dirs: Iterable[str | Path] = FONT_DIRS) -> str | None:
    """None when a Japanese font is installed, else the message naming the command (tests/gui)."""
    if has_japanese_font(font_dirs):
        return None
    return (
        "No Japanese font is installed: Qt draws Japanese text as nothing and the badge tests cannot pass. "
        f"Install one with `{command_text([FONT_PACKAGE], root=_is_root())}` (python3 dev.py test does it when it may)."
    )
