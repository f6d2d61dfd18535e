"""Is the store already at the newest schema? Answered without importing Alembic.

Start-up calls :func:`is_current` first and runs :func:`core.db.engine.migrate` (which loads
Alembic, about 0.15 s on a 2-CPU machine) only when the answer is no (issue 10 item 16).
Any doubt (no version table, several heads, an unparsable migration file) answers no, so
the full Alembic check decides.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Engine, inspect, text

from core.db.engine import MIGRATIONS_DIR

_REVISION = re.compile(r"^revision\s*(?::\s*str\s*)?=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\s*(?::[^=]+)?=\s*(None|['\"]([^'\"]+)['\"])\s*$", re.MULTILINE)


def head_from_files(versions_dir: Path = MIGRATIONS_DIR / "versions") -> str | None:
    """The single head of the migration scripts, read as text; None when it is not clear-cut."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in versions_dir.glob("*.py"):
        source = script.read_text(encoding="utf-8")
        revision = _REVISION.search(source)
        down = _DOWN_REVISION.search(source)
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        if down.group(2) is not None:
            parents.add(down.group(2))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def stored_revision(engine: Engine) -> str | None:
    """The revision recorded in the store's ``alembic_version`` table, None when there is none."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return rows[0] if len(rows) == 1 else None


def is_current(engine: Engine) -> bool:
    """True only when the store is certainly at the newest revision (nothing to migrate)."""
    head = head_from_files()
    return head is not None and stored_revision(engine) == head
