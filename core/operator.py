"""Who works at this PC (issue 14 item 3): the operator's name, kept per PC, never in the store.

Two or three PCs share one database, so the name cannot be a row of the shared ``settings``
table: it is a small JSON file in this user's data directory (0600, like every file Kanjo writes
there, see core.files). The window asks for it at the first start (default: the OS user name);
``kanjo settings set operator_name NAME`` and the window's 設定 change it. Every journal entry
and every message record carries it (``journal.operator``, ``messages.operator``).
"""

from __future__ import annotations

import contextlib
import getpass
import json
import unicodedata
from pathlib import Path
from typing import Final

from core.errors import BadInput
from core.files import private_dir, write_private_atomic

OPERATOR_FILE: Final = "operator.json"
MAX_OPERATOR_CHARS: Final = 64  # the journal's column
FALLBACK_OPERATOR: Final = "operator"  # what entries said before names were recorded


def normalize_operator_name(text: str) -> str:
    """The name as it is recorded, or ``BadInput`` in Japanese: blank, a control character (a
    newline, a tab, an escape) or more than 64 characters are refused."""
    name = text.strip(" \u3000")  # spaces typed around it, half- or full-width; nothing else is changed
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn") for c in name):
        raise BadInput("担当者名に改行・タブなどの制御文字は使えません。")
    if not name:
        raise BadInput("担当者名を入力してください(空白だけの名前は使えません)。")
    if len(name) > MAX_OPERATOR_CHARS:
        raise BadInput(f"担当者名は{MAX_OPERATOR_CHARS}文字までです。")
    return name


def os_user_name() -> str:
    """The OS account's name, the first start's suggestion; ``operator`` when none can be read."""
    try:
        name = getpass.getuser()
    except (OSError, KeyError, ImportError):
        return FALLBACK_OPERATOR
    try:
        return normalize_operator_name(name)
    except BadInput:
        return FALLBACK_OPERATOR


class LocalOperator:
    """The operator's name in ``directory/operator.json`` (this PC, this user)."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / OPERATOR_FILE

    def load(self) -> str | None:
        """The saved name, or None before one was chosen (or when the file cannot be read)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        name = data.get("operator_name") if isinstance(data, dict) else None
        if not isinstance(name, str):
            return None
        with contextlib.suppress(BadInput):
            return normalize_operator_name(name)
        return None

    def save(self, text: str) -> str:
        name = normalize_operator_name(text)
        private_dir(self.path.parent)
        payload = json.dumps({"operator_name": name}, ensure_ascii=False, indent=2) + "\n"
        write_private_atomic(self.path, payload.encode("utf-8"))
        return name
