"""The desktop window (PySide6). Calls core services only; core never imports Qt."""
