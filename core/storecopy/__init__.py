"""Moving a SQLite store to the shared PostgreSQL store (issue 14 item 5): ``copy_store``."""

from core.storecopy.copy import (
    CHUNK_ROWS,
    CopyCancelled,
    CopyRefused,
    CopyResult,
    Progress,
    copy_store,
    display_url,
    journal_sha256,
    kanjo_tables,
    rows_in_target,
)

__all__ = [
    "CHUNK_ROWS",
    "CopyCancelled",
    "CopyRefused",
    "CopyResult",
    "Progress",
    "copy_store",
    "display_url",
    "journal_sha256",
    "kanjo_tables",
    "rows_in_target",
]
