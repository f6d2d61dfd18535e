"""Where the product's resources (templates, icons, licenses) and migrations are.

The same lookup serves a source checkout and the frozen (PyInstaller) app: frozen, they
sit under ``sys._MEIPASS``; from source, next to ``core/`` in the checkout.
"""

from __future__ import annotations

import sys
from pathlib import Path


def is_frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def base_dir() -> Path:
    if is_frozen():
        return Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent))
    return Path(__file__).resolve().parent.parent


def resource_path(*parts: str) -> Path:
    """A file or folder under ``resources/``."""
    return base_dir().joinpath("resources", *parts)
