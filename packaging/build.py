"""Build the PyInstaller bundle and, on Linux, the .deb: `python3 dev.py package`.

Outputs: build/dist/kanjo/ (the bundle) and build/kanjo_<version>_<arch>.deb, which installs
under /opt/kanjo with `kanjo` on the PATH, a desktop entry and an icon.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
DIST = BUILD / "dist" / "kanjo"
sys.path.insert(0, str(ROOT))

from core import __version__  # noqa: E402

# Qt's system libraries (the same list dev.py checks, devsetup.py) and a Japanese font: without
# one, every Japanese text (badges, labels) is drawn as nothing.
DEB_DEPENDS = (
    "libc6, libegl1, libgl1, libxkbcommon0, libxkbcommon-x11-0, libfontconfig1, libfreetype6, libdbus-1-3, "
    "libglib2.0-0, libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1, libxcb-shape0, libxcb-xinerama0, "
    "libxcb-randr0, libxcb-render-util0, libxcb-image0, fonts-noto-cjk | fonts-ipafont-gothic | fonts-vlgothic"
)
DESKTOP_ENTRY = """[Desktop Entry]
Type=Application
Name=Kanjo
Name[ja]=勘定
Comment=Amazon Pay order desk
Comment[ja]=Amazon Payの受注デスク
Exec=/opt/kanjo/kanjo-window
Icon=kanjo
Terminal=false
Categories=Office;Finance;
"""


def size_of(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def bundle() -> Path:
    subprocess.run([sys.executable, str(ROOT / "packaging" / "notices.py")], check=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            str(ROOT / "packaging" / "kanjo.spec"),
            "--noconfirm",
            "--clean",
            "--distpath",
            str(BUILD / "dist"),
            "--workpath",
            str(BUILD / "work"),
            "--log-level",
            "WARN",
        ],
        check=True,
        cwd=ROOT,
    )
    print(f"bundle: {DIST} ({size_of(DIST) / 1e6:.0f} MB)")
    return DIST


def deb(bundle_dir: Path) -> Path:
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    stage = BUILD / "deb" / f"kanjo_{__version__}_{arch}"
    if stage.exists():
        shutil.rmtree(stage)
    shutil.copytree(bundle_dir, stage / "opt" / "kanjo", symlinks=True)
    (stage / "usr" / "bin").mkdir(parents=True)
    os.symlink("/opt/kanjo/kanjo", stage / "usr" / "bin" / "kanjo")
    apps = stage / "usr" / "share" / "applications"
    apps.mkdir(parents=True)
    (apps / "kanjo.desktop").write_text(DESKTOP_ENTRY, encoding="utf-8")
    for size in (16, 32, 48, 64, 128, 256):
        icons = stage / "usr" / "share" / "icons" / "hicolor" / f"{size}x{size}" / "apps"
        icons.mkdir(parents=True)
        shutil.copy(ROOT / "resources" / "icons" / f"kanjo-{size}.png", icons / "kanjo.png")
    doc = stage / "usr" / "share" / "doc" / "kanjo"
    doc.mkdir(parents=True)
    shutil.copy(ROOT / "resources" / "licenses" / "THIRD_PARTY_NOTICES.txt", doc / "copyright")
    control = stage / "DEBIAN"
    control.mkdir()
    installed_kb = size_of(stage) // 1024
    (control / "control").write_text(
        f"Package: kanjo\nVersion: {__version__}\nSection: misc\nPriority: optional\nArchitecture: {arch}\n"
        f"Depends: {DEB_DEPENDS}\nInstalled-Size: {installed_kb}\nMaintainer: Kanjo team <kanjo@example.jp>\n"
        "Description: Amazon Pay order desk for Japanese web shops\n"
        " Kanjo shows every Amazon Pay order with its payment status and captures, re-authorizes,\n"
        " refunds and cancels with Amazon Pay's rules enforced.\n",
        encoding="utf-8",
    )
    target = BUILD / f"kanjo_{__version__}_{arch}.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(stage), str(target)], check=True)
    print(f"deb: {target} ({target.stat().st_size / 1e6:.0f} MB)")
    return target


def main() -> int:
    built = bundle()
    if sys.platform.startswith("linux") and shutil.which("dpkg-deb"):
        deb(built)
    return 0


if __name__ == "__main__":
    sys.exit(main())
