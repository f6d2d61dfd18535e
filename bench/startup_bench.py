"""Start-up benchmark: wall-clock time from process start to the window's first paint.

    .venv/bin/python -m bench.startup_bench                       # median of 5 runs of each case
    .venv/bin/python -m bench.startup_bench --before /tmp/old     # also an older checkout's app

Each run starts a new process, offscreen, and times from just before the process is started
to the moment its first window has painted (bench/first_paint.py prints that moment and
quits the app). The runs of all cases are interleaved (case 1, case 2, …, case 1, …) so a
busy machine slows every case alike. Cases:

- floor: a bare ``QApplication`` + ``QMainWindow.show()``, the least any PySide6 window costs;
- first start: no data directory yet (created and migrated, as a new user's first start);
- empty store: a migrated store with no orders (copied fresh for every run);
- 1,000,000 orders: the store bench/orders_bench.py builds in /tmp/kanjo-bench, only if it is
  already there (it is not built here: that takes minutes of CPU);
- with ``--before DIR``: the same Kanjo cases for the checkout in DIR (e.g. ``git archive``
  of an older commit), for a before/after measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = Path(__file__).with_name("first_paint.py")
BIG_STORE = Path("/tmp/kanjo-bench/orders-1000000.sqlite3")
TARGET_S = 1.5
NOW = "2026-11-21T12:00:00+09:00"
FLOOR = """
import sys
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication(sys.argv[:1])
window = QMainWindow()
window.resize(1440, 860)
window.show()
app.exec()
"""


def _env(home: Path, checkout: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(QT_QPA_PLATFORM="offscreen", KANJO_HOME=str(home), KANJO_NOW=NOW, PYTHONPATH=str(checkout))
    env.pop("KANJO_SANDBOX_URL", None)
    return env


def time_start(program: list[str], env: dict[str, str], cwd: Path) -> float:
    """Seconds from just before the process starts to its first paint."""
    argv = [sys.executable, str(PROBE), *program]
    started = time.time()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    for line in done.stdout.splitlines():
        if line.startswith("KANJO_FIRST_PAINT "):
            return float(line.split()[1]) - started
    raise SystemExit(f"no first paint reported by {program}:\n{done.stdout}\n{done.stderr}")


def kanjo_cases(checkout: Path, label: str, scratch: Path) -> list[tuple[str, Callable[[], float]]]:
    main_py = str(checkout / "main.py")
    template = scratch / f"template-{label}"
    subprocess.run(
        [sys.executable, main_py, "init"], env=_env(template, checkout), cwd=checkout, check=True, capture_output=True
    )
    counter = iter(range(1_000_000))

    def fresh_home() -> Path:
        return scratch / f"{label}-run-{next(counter)}"

    def first_start() -> float:
        return time_start([main_py], _env(fresh_home(), checkout), checkout)

    def empty_store() -> float:
        home = fresh_home()
        shutil.copytree(template, home)
        return time_start([main_py], _env(home, checkout), checkout)

    cases = [(f"{label}: first start (no data directory)", first_start), (f"{label}: empty store", empty_store)]
    if BIG_STORE.exists():
        big_home = fresh_home()

        def big_store() -> float:
            return time_start([main_py, "--db", f"sqlite:///{BIG_STORE}"], _env(big_home, checkout), checkout)

        cases.append((f"{label}: 1,000,000 orders", big_store))
    return cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before", type=Path, metavar="DIR", help="another checkout to time the same way")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="kanjo-startup-") as scratch_dir:
        scratch = Path(scratch_dir)

        def floor() -> float:
            return time_start(["-c", FLOOR], _env(scratch / "floor", ROOT), ROOT)

        cases: list[tuple[str, Callable[[], float]]] = [("floor: bare QApplication + QMainWindow.show()", floor)]
        if args.before is not None:
            cases += kanjo_cases(args.before.resolve(), "before", scratch)
        cases += kanjo_cases(ROOT, "Kanjo", scratch)
        if not BIG_STORE.exists():
            print(f"({BIG_STORE} not found: the 1,000,000-order case is skipped; bench.orders_bench builds it)")

        times: dict[str, list[float]] = {name: [] for name, _ in cases}
        for _ in range(args.runs):
            for name, case in cases:
                times[name].append(case())

    floor_median = statistics.median(times[cases[0][0]])
    print(f"start-up to first paint, median of {args.runs} (offscreen, {os.cpu_count()} CPUs)")
    print("| case | median | over floor | runs |")
    print("| --- | ---: | ---: | --- |")
    missed = False
    for name, _ in cases:
        median = statistics.median(times[name])
        if name.startswith("Kanjo"):
            missed |= median > TARGET_S
        runs_text = ", ".join(f"{t:.2f}" for t in times[name])
        print(f"| {name} | {median:.2f} s | +{median - floor_median:.2f} s | {runs_text} |")
    print(f"target: Kanjo under {TARGET_S} s to the first paint: {'MISSED' if missed else 'met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
