"""Start-up (issue 10 item 16): the window is shown before what its first paint does not need.

Alembic (only needed to migrate), httpx, cryptography and the sandbox server (the connection,
opened on the worker after the first paint), Jinja2 and the composer (the messages, loaded
when first used) cost about half a second on a 2-CPU machine. bench/startup_bench.py
measures the time itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFERRED = (
    "alembic",
    "httpx",
    "cryptography.hazmat.primitives.asymmetric.padding",
    "core.sandbox.server",
    "core.sandbox.backend",
    "jinja2",
    "core.services.messages",
    "gui.composer.dialog",
)
SCRIPT = """
import json, sys, time
import main  # the entry point `kanjo` runs
import core.cli  # main() imports it before it opens the window
from gui import app as gui_app

deferred = %r
qt_app = gui_app.application()
launched = gui_app.launch(None)
before = sorted(m for m in deferred if m in sys.modules)
deadline = time.monotonic() + 60
while launched.kanjo._gateway is None and time.monotonic() < deadline:
    qt_app.processEvents()
    time.sleep(0.01)
after = sorted(m for m in deferred if m in sys.modules)
print(json.dumps({"before_paint": before, "connected": launched.kanjo._gateway is not None, "after": after}))
launched.window.close()
launched.shutdown()
"""


def test_the_window_shows_before_alembic_httpx_cryptography_jinja2_and_the_sandbox_load(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "KANJO_HOME": str(tmp_path / "home"),
        "KANJO_NOW": "2026-11-21T12:00:00+09:00",
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("KANJO_SANDBOX_URL", None)
    subprocess.run([sys.executable, str(ROOT / "main.py"), "init"], env=env, cwd=ROOT, check=True, capture_output=True)

    done = subprocess.run(
        [sys.executable, "-c", SCRIPT % (DEFERRED,)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["before_paint"] == []
    assert result["connected"]  # the connection still opens, right after the first paint
    assert {"httpx", "core.sandbox.server", "cryptography.hazmat.primitives.asymmetric.padding"} <= set(result["after"])
