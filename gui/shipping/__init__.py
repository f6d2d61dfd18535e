"""Shipping and the cancellation desk in the window (issue 15 item 7).

:func:`open_view` is the one entry the main window calls (its toolbar's 発送… / 一括発送… /
キャンセル対応…); each view calls ``app.shipping`` only, on the runner's work lane.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox

if TYPE_CHECKING:
    from gui.main_window import MainWindow

SHIP, BULK, DESK = "ship", "bulk", "desk"


def open_view(window: MainWindow, view: str, number: str | None = None, path: str | None = None) -> QDialog | None:
    """Open ``view`` for the order shown in the detail panel (or ``number``); bulk asks for the file."""
    from gui.shipping.bulk_dialog import BulkShipDialog
    from gui.shipping.desk_dialog import CancellationDesk
    from gui.shipping.ship_dialog import ShipDialog

    dialog: QDialog
    if view == BULK:
        chosen = (
            path
            or QFileDialog.getOpenFileName(
                window, "発送ファイル(B2クラウド・e飛伝など)", "", "CSV (*.csv *.txt);;すべてのファイル (*)"
            )[0]
        )
        if not chosen:
            return None
        dialog = BulkShipDialog(window.app.shipping, window.runner, chosen, parent=window)
    else:
        number = number or window.detail.number_shown
        if not number:
            QMessageBox.information(window, "受注を選択", "一覧から受注を選んでください。")
            return None
        if view == SHIP:
            dialog = ShipDialog(window.app.shipping, window.runner, number, parent=window)
        else:
            dialog = CancellationDesk(window.app.shipping, window.runner, number, parent=window)
    dialog.finished.connect(
        lambda _code: window.load_detail(number) if number else window.model.set_query(window.model.wanted_query)
    )
    window.shipping_dialog = dialog
    dialog.open()
    return dialog
