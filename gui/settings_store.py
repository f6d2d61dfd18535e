"""Window geometry, splitter sizes and column widths, remembered with QSettings (INI file).

The file lives in the data directory beside the store (``KANJO_HOME`` in tests), never in
the user's global Qt settings, so tests and several shops on one machine do not collide.
Business settings (shop, credentials, sync) are not here: they are ``core.settings`` rows.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QHeaderView, QMainWindow, QSplitter

from core.files import tighten

FILE_NAME = "window.ini"


class WindowSettings:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._settings = QSettings(str(path), QSettings.Format.IniFormat)

    @classmethod
    def in_dir(cls, directory: Path) -> WindowSettings:
        return cls(directory / FILE_NAME)

    def save(self, window: QMainWindow, splitter: QSplitter, header: QHeaderView) -> None:
        s = self._settings
        s.setValue("window/geometry", window.saveGeometry())
        s.setValue("window/state", window.saveState())
        s.setValue("window/splitter", splitter.saveState())
        s.setValue("orders/header", header.saveState())
        self.sync()

    def sync(self) -> None:
        """Write the file now, readable by the operator's account only (private by default)."""
        self._settings.sync()
        tighten(self.path)

    def restore(self, window: QMainWindow, splitter: QSplitter, header: QHeaderView) -> bool:
        """Apply what was saved; False when nothing was (first start)."""
        s = self._settings
        geometry = s.value("window/geometry")
        if not isinstance(geometry, QByteArray):
            return False
        window.restoreGeometry(geometry)
        for key, target in (
            ("window/state", window.restoreState),
            ("window/splitter", splitter.restoreState),
            ("orders/header", header.restoreState),
        ):
            value = s.value(key)
            if isinstance(value, QByteArray):
                target(value)
        return True

    def value(self, key: str, default: object = None) -> object:
        return self._settings.value(key, default)

    def set_value(self, key: str, value: object) -> None:
        self._settings.setValue(key, value)
        self.sync()
