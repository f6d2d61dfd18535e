"""`--db` pointing at something that is not a regular file is refused and left as it was (issue 10 review)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from core.cli import main


def test_a_fifo_or_device_is_refused_without_a_chmod(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo, 0o644)
    for target in (fifo, Path("/dev/null")):
        before = os.stat(target).st_mode
        assert main(["--db", f"sqlite:///{target}", "orders", "list"]) == 1
        _out, err = capsys.readouterr()
        assert "通常のファイルではありません" in err and err.count("\n") == 1
        assert os.stat(target).st_mode == before
        assert stat.S_ISFIFO(before) or stat.S_ISCHR(before)
