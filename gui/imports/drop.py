"""Drop one order file onto the order list to import it (issue 11 item 6).

Kept free of core imports: the window installs it at construction, before its first paint.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent

ONE_FILE_ONLY = "取り込めるのは1回に1つのファイルです。ファイルを1つだけドロップしてください。"
NOT_A_FOLDER = "フォルダーは取り込めません。受注ファイル(CSV・TSV・TXT)を1つドロップしてください。"
NOT_A_FILE = "ドロップされたものはファイルではありません。受注ファイル(CSV・TSV・TXT)を1つドロップしてください。"


def dropped_file(event: QDropEvent | QDragEnterEvent | QDragMoveEvent) -> Path | str:
    """The one local file being dropped, or the Japanese reason it cannot be imported."""
    mime = event.mimeData()
    urls = mime.urls() if mime is not None and mime.hasUrls() else []
    if len(urls) > 1:
        return ONE_FILE_ONLY
    if not urls or not urls[0].isLocalFile():
        return NOT_A_FILE
    path = Path(urls[0].toLocalFile())
    if path.is_dir():
        return NOT_A_FOLDER
    return path


class FileDropFilter(QObject):
    """An event filter for a view's viewport: accepts file drags, reports the drop.

    Signals:
        file_dropped(object): the dropped file's ``Path``.
        drop_refused(str): why the drop cannot be imported (several files, a folder).
    """

    file_dropped = Signal(object)
    drop_refused = Signal(str)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            assert isinstance(event, (QDragEnterEvent, QDragMoveEvent))
            mime = event.mimeData()
            if mime is not None and mime.hasUrls():
                event.acceptProposedAction()  # also several files: the drop then says why not
                return True
            return False
        if kind == QEvent.Type.Drop:
            assert isinstance(event, QDropEvent)
            mime = event.mimeData()
            if mime is None or not mime.hasUrls():
                return False
            event.acceptProposedAction()
            found = dropped_file(event)
            if isinstance(found, Path):
                self.file_dropped.emit(found)
            else:
                self.drop_refused.emit(found)
            return True
        return False
