"""The command groups that live in their own module (``../shared/style.md``, "Growing").

A group adds its subcommand to the parser and runs it over an open application. To add one,
write ``core/cli/<capability>.py`` with a module-level ``GROUP = CommandGroup(...)`` and list
it in ``_MODULES`` below; ``core/cli/__init__.py`` keeps the older commands and the one error
and exit path every group shares (a ``UserError`` raised by ``run`` is one Japanese line on
stderr and exit 1).
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.app import Kanjo


@dataclass(frozen=True)
class CommandGroup:
    command: str
    register: Callable[[Any], None]  # given the parser's subparsers; build with core.cli.output.Parser
    run: Callable[[Kanjo, argparse.Namespace, bool], int]


_MODULES: tuple[str, ...] = ("subscriptions", "shipping", "settlements", "export")


def _groups_of(name: str) -> tuple[CommandGroup, ...]:
    """A module's ``GROUP``, or its ``GROUPS`` when it adds several commands (shipping: ship,
    cancellation, returns, resale)."""
    module = importlib.import_module(f"core.cli.{name}")
    return tuple(getattr(module, "GROUPS", (module.GROUP,)))


GROUPS: tuple[CommandGroup, ...] = tuple(group for name in _MODULES for group in _groups_of(name))
GROUPS_BY_COMMAND: dict[str, CommandGroup] = {group.command: group for group in GROUPS}
