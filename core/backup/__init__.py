"""Backups of the SQLite store: online copies, rotation, restore (issue 14, item 6). Pure Python, no Qt.

On PostgreSQL the database server's own tools do this (``pg_dump``); see the README.
"""

from core.backup.online import (
    BackupFailed,
    BackupResult,
    backup_dir_for,
    backup_if_due,
    before_migration,
    is_due,
    list_backups,
    make_backup,
)
from core.backup.rotation import BackupName, backup_name, parse_backup_name, plan_rotation

__all__ = [
    "BackupFailed",
    "BackupName",
    "BackupResult",
    "backup_dir_for",
    "backup_if_due",
    "backup_name",
    "before_migration",
    "is_due",
    "list_backups",
    "make_backup",
    "parse_backup_name",
    "plan_rotation",
]
