"""dev.py's system set-up (devsetup.py, issue 10 item 15): what a fresh Debian machine lacks is
installed, or dev.py stops before running anything and names the exact command.

The OS probes (libraries, fonts, root, sudo, apt-get) are replaced by fakes: this is developer
tooling, and the test must not install anything on the machine it runs on.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import devsetup

ROOT = Path(__file__).resolve().parents[2]
QT_PACKAGES = "libegl1 libgl1 libxkbcommon0 libfontconfig1 libfreetype6 libdbus-1-3 libglib2.0-0"


class FakeDebian:
    """A Debian machine with apt-get; ``installed`` decides what the probes find."""

    def __init__(
        self, *, root: bool = False, sudo: bool = False, installed: bool = False, environ: dict[str, str] | None = None
    ) -> None:
        self.installed = installed
        self.root = root
        self.sudo = sudo
        self.commands: list[list[str]] = []
        self.envs: list[dict[str, str]] = []
        self.sudo_asked = False
        self.machine = devsetup.Machine(
            platform="linux",
            has_library=lambda _soname: self.installed,
            has_japanese_font=lambda: self.installed,
            which=lambda tool: f"/usr/bin/{tool}" if tool == "apt-get" or self.installed else None,
            is_root=lambda: self.root,
            can_sudo=self._can_sudo,
            environ=environ or {},
        )
        self.said: list[str] = []

    def _can_sudo(self) -> bool:
        self.sudo_asked = True
        return self.sudo

    def run(self, command: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        self.commands.append(list(command))
        self.envs.append(dict(kwargs.get("env") or {}))
        if "install" in command:
            self.installed = True
        return subprocess.CompletedProcess(list(command), 0)

    def ensure(self, purpose: str) -> int:
        return devsetup.ensure(purpose, self.machine, run=self.run, say=self.said.append)


def test_nothing_installed_and_no_sudo_proposes_the_exact_apt_command_and_refuses() -> None:
    fake = FakeDebian(root=False, sudo=False)

    assert fake.ensure("test") == 1
    assert fake.commands == []  # nothing was run
    assert (
        f"    sudo apt-get update && sudo apt-get install -y --no-install-recommends {QT_PACKAGES} fonts-noto-cjk"
        in fake.said
    )


def test_as_root_it_installs_what_is_missing_non_interactively_then_goes_on() -> None:
    fake = FakeDebian(root=True)

    assert fake.ensure("test") == 0
    assert fake.commands == [
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *QT_PACKAGES.split(), "fonts-noto-cjk"],
    ]
    assert all(env.get("DEBIAN_FRONTEND") == "noninteractive" for env in fake.envs)


def test_without_root_it_installs_through_sudo_n_never_a_password_prompt() -> None:
    fake = FakeDebian(root=False, sudo=True)

    assert fake.ensure("run") == 0
    assert [c[:3] for c in fake.commands] == [["sudo", "-n", "apt-get"], ["sudo", "-n", "apt-get"]]


def test_the_opt_out_only_checks_and_names_the_command() -> None:
    fake = FakeDebian(root=True, environ={devsetup.OPT_OUT_ENV: "1"})

    assert fake.ensure("test") == 1
    assert fake.commands == []
    assert any(
        line.startswith("    apt-get update && apt-get install -y --no-install-recommends ") for line in fake.said
    )


def test_everything_present_runs_no_apt_and_asks_no_sudo() -> None:
    fake = FakeDebian(installed=True)

    assert fake.ensure("test") == 0
    assert fake.commands == [] and not fake.sudo_asked and fake.said == []


def test_package_also_needs_dpkg_and_binutils() -> None:
    fake = FakeDebian(root=True)
    fake.installed = False

    assert devsetup.missing_packages("package", fake.machine)[-3:] == ["fonts-noto-cjk", "dpkg", "binutils"]


def test_a_window_on_an_x11_display_also_needs_the_xcb_libraries() -> None:
    fake = FakeDebian(environ={"DISPLAY": ":0"})

    assert "libxcb-cursor0" in devsetup.missing_packages("run", fake.machine)
    assert "libxcb-cursor0" not in devsetup.missing_packages("test", fake.machine)


@pytest.mark.parametrize("platform", ["darwin", "win32"])
def test_macos_and_windows_have_nothing_to_install(platform: str) -> None:
    fake = FakeDebian()
    fake.machine.platform = platform

    assert fake.ensure("test") == 0 and fake.commands == []


def test_a_japanese_font_is_found_by_its_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("devsetup.shutil.which", lambda _tool: None)  # no fc-list: the files decide
    empty = tmp_path / "empty"
    (empty / "truetype" / "dejavu").mkdir(parents=True)
    (empty / "truetype" / "dejavu" / "DejaVuSans.ttf").write_bytes(b"")
    noto = tmp_path / "noto"
    (noto / "opentype" / "noto").mkdir(parents=True)
    (noto / "opentype" / "noto" / "NotoSansCJK-Regular.ttc").write_bytes(b"")

    assert not devsetup.has_japanese_font([empty])
    assert devsetup.has_japanese_font([empty, noto])
    problem = devsetup.font_problem([empty])
    assert problem is not None
    assert "apt-get update && " in problem
    assert "apt-get install -y --no-install-recommends fonts-noto-cjk`" in problem
    assert devsetup.font_problem([noto]) is None


def test_dev_py_stops_before_making_the_venv_or_running_anything(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("dev_under_test", ROOT / "dev.py")
    assert spec is not None and spec.loader is not None
    dev = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dev)
    fake = FakeDebian(root=False, sudo=False)
    started: list[object] = []
    monkeypatch.setattr(devsetup, "Machine", lambda: fake.machine)
    monkeypatch.setattr(dev, "_ensure", started.append)

    def call(*args: object, **_kwargs: object) -> int:
        started.append(args)
        return 0

    monkeypatch.setattr(dev.subprocess, "call", call)

    assert dev.main(["test"]) == 1
    assert dev.main(["run"]) == 1
    assert started == []


def test_the_deb_declares_a_japanese_font_and_the_qt_libraries() -> None:
    spec = importlib.util.spec_from_file_location("build_under_test", ROOT / "packaging" / "build.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    depends = [d.strip() for d in build.DEB_DEPENDS.split(",")]

    assert "fonts-noto-cjk | fonts-ipafont-gothic | fonts-vlgothic" in depends
    assert set(devsetup.QT_LIBRARIES.values()) <= set(depends)


def test_ci_only_runs_the_readme_commands() -> None:
    script = (ROOT / ".ci" / "run").read_text()

    assert "apt-get" not in script
    assert "python3 dev.py test\n" in script


def test_a_python_without_ensurepip_gets_its_venv_package_through_the_same_install() -> None:
    """Debian's system Python cannot make a venv with pip until pythonX.Y-venv is installed."""
    said: list[str] = []
    ran: list[list[str]] = []

    def run(command: list[str], **_kw: object) -> subprocess.CompletedProcess[bytes]:
        ran.append(command)
        return subprocess.CompletedProcess(command, 0)

    machine = devsetup.Machine(platform="linux", which=lambda _t: "/usr/bin/apt-get", is_root=lambda: True, environ={})
    assert devsetup.install([devsetup.venv_package()], machine, run=run, say=said.append) == 0
    assert ran[-1][-1] == f"python3.{sys.version_info.minor}-venv" and "--no-install-recommends" in ran[-1]
    opted_out = devsetup.Machine(
        platform="linux", which=lambda _t: "/usr/bin/apt-get", is_root=lambda: True, environ={devsetup.OPT_OUT_ENV: "1"}
    )
    assert devsetup.install(["python3.11-venv"], opted_out, run=run, say=said.append) == 1
    assert any("apt-get install -y --no-install-recommends python3.11-venv" in line for line in said)


def test_the_tests_also_need_the_postgresql_server_programs_issue_14() -> None:
    def machine(has_pg: bool) -> devsetup.Machine:
        return devsetup.Machine(
            platform="linux",
            has_library=lambda _so: True,
            has_japanese_font=lambda: True,
            has_postgresql_server=lambda: has_pg,
            which=lambda tool: f"/usr/bin/{tool}",
            environ={},
        )

    assert devsetup.missing_packages("test", machine(False)) == ["postgresql"]
    assert devsetup.missing_packages("test", machine(True)) == []
    assert devsetup.missing_packages("run", machine(False)) == []  # the app itself needs no server
