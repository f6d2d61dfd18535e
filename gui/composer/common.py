"""Small things the composer's dialogs share."""

from __future__ import annotations

ERROR_STYLE = "color: #b3261e;"  # the inline error red of the settings dialog
