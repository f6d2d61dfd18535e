"""The built-in templates, read from ``resources/templates/*.txt.j2``.

One file per template, named by its id (``cancel-reply.txt.j2``)::

    title: 出荷後のキャンセル依頼への返信
    rule: R45
    subject: 【重要】ご注文 {{ order_number }} のキャンセルについて
    ---
    {{ customer_name }}
    …

Header lines (``key: value``) down to the ``---`` line, then the body. Built-ins are never
changed by the product: the operator copies one to edit it, so the original can always be
restored (see ``core.services.messages``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

from core.resources import resource_path

TEMPLATE_SUFFIX: Final = ".txt.j2"


@dataclass(frozen=True)
class BuiltinTemplate:
    id: str
    title: str
    rule: str
    subject: str
    body: str
    order: int = 99


def templates_dir() -> Path:
    """``resources/templates`` of a source checkout, or of a PyInstaller bundle."""
    return resource_path("templates")


def parse_template_file(text: str, name: str) -> BuiltinTemplate:
    header, sep, body = text.partition("\n---\n")
    if not sep:
        raise ValueError(f"{name}: no '---' line between the header and the body")
    fields: dict[str, str] = {}
    for line in header.splitlines():
        if not line.strip():
            continue
        key, colon, value = line.partition(":")
        if not colon:
            raise ValueError(f"{name}: header line without ':': {line!r}")
        fields[key.strip()] = value.strip()
    missing = {"title", "subject"} - set(fields)
    if missing:
        raise ValueError(f"{name}: header lacks {sorted(missing)}")
    return BuiltinTemplate(
        id=name,
        title=fields["title"],
        rule=fields.get("rule", ""),
        subject=fields["subject"],
        body=body,
        order=int(fields.get("order", "99")),
    )


@cache
def builtin_templates() -> tuple[BuiltinTemplate, ...]:
    """Every built-in, in the order of their ``order`` header (then by id)."""
    directory = templates_dir()
    found = [
        parse_template_file(path.read_text(encoding="utf-8"), path.name.removesuffix(TEMPLATE_SUFFIX))
        for path in directory.glob(f"*{TEMPLATE_SUFFIX}")
    ]
    if not found:
        raise FileNotFoundError(f"no message templates in {directory}")
    return tuple(sorted(found, key=lambda t: (t.order, t.id)))


def builtin(template_id: str) -> BuiltinTemplate | None:
    return next((t for t in builtin_templates() if t.id == template_id), None)
