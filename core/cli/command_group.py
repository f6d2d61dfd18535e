"""One command group of the ``kanjo`` command line: its subcommand and how it runs."""

from __future__ import annotations

import argparse
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
