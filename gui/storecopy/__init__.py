"""The window's side of the shared store (issue 14 items 1 and 5): the connection setting in
設定 and the migration of this PC's SQLite store to PostgreSQL."""

from gui.storecopy.database_box import DatabaseBox, store_url_of
from gui.storecopy.migrate_dialog import MigrateDialog, choice_from_url

__all__ = ["DatabaseBox", "MigrateDialog", "choice_from_url", "store_url_of"]
