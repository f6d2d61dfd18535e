"""The window's remembered layout is private by default, like every file of the data directory."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QHeaderView, QMainWindow, QSplitter

from gui.settings_store import WindowSettings


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_window_ini_is_readable_by_the_operator_only(qapp: QApplication, tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        store = WindowSettings.in_dir(tmp_path)
        store.set_value("composer/size", 3)
        assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
        store.path.chmod(0o644)  # written by an older version
        window = QMainWindow()
        splitter = QSplitter()
        store.save(window, splitter, QHeaderView(splitter.orientation()))
        assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    finally:
        os.umask(old)
