"""Write resources/licenses/THIRD_PARTY_NOTICES.txt from the installed distributions' metadata.

The About dialog shows this file; the build regenerates it so it lists what is bundled.
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "resources" / "licenses" / "THIRD_PARTY_NOTICES.txt"
RUNTIME = (
    "PySide6-Essentials",
    "shiboken6",
    "SQLAlchemy",
    "alembic",
    "Mako",
    "MarkupSafe",
    "Jinja2",
    "httpx",
    "httpcore",
    "h11",
    "anyio",
    "idna",
    "certifi",
    "sniffio",
    "cryptography",
    "cffi",
    "pycparser",
    "platformdirs",
    "tzdata",
    "typing_extensions",
    "greenlet",
    "keyring",
    "jaraco.classes",
    "jaraco.context",
    "jaraco.functools",
    "more-itertools",
    "SecretStorage",
    "jeepney",
)

QT_NOTICE = """\
Qt for Python (PySide6) and Qt
------------------------------
This application uses Qt for Python (PySide6 and shiboken6) and the Qt libraries, used under
the GNU Lesser General Public License version 3 (LGPL-3.0). The Qt libraries are bundled as
separate shared libraries, unmodified; you may replace them with your own build of a
compatible version. The source code of Qt is available at https://download.qt.io/ and of
Qt for Python at https://code.qt.io/cgit/pyside/pyside-setup.git/. The full text of the
LGPL-3.0 is at https://www.gnu.org/licenses/lgpl-3.0.html.
"""


def license_of(dist: metadata.Distribution) -> str:
    meta = dist.metadata
    expression = meta.get("License-Expression")
    if expression:
        return expression
    classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    text = (meta.get("License") or "").strip()
    if classifiers:
        return ", ".join(classifiers)
    return text.splitlines()[0][:120] if text else "see the package's metadata"


def main() -> int:
    lines = [
        "Kanjo (勘定) — third-party components",
        "====================================",
        "",
        f"Python {sys.version.split()[0]}: Python Software Foundation License (PSF-2.0).",
        "",
        QT_NOTICE,
        "Python packages",
        "---------------",
    ]
    for name in RUNTIME:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        lines.append(f"{dist.metadata['Name']} {dist.version}: {license_of(dist)}")
    lines += ["", "Japanese fonts are those of the operating system; none are bundled.", ""]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
