"""Kanjo entry point: ``kanjo`` with no subcommand opens the window, otherwise the command line."""

from __future__ import annotations

import sys


def _open_window(db_url: str | None) -> int:
    from gui.app import run  # Qt is imported only when the window is wanted

    return run(db_url)


def main(argv: list[str] | None = None) -> int:
    from core.cli import main as cli_main

    return cli_main(argv, open_window=_open_window)


if __name__ == "__main__":
    sys.exit(main())
