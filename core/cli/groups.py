"""The command groups that live in their own module (``../shared/style.md``, "Growing").

A group adds its subcommand to the parser and runs it over an open application. To add one,
write ``core/cli/<capability>.py`` with a module-level ``GROUP = CommandGroup(...)`` (or
``GROUPS`` when it adds several commands) and import it below. The imports are static on
purpose: the packaged installer only bundles modules it can see imported. ``core/cli/__init__.py``
keeps the older commands and the one error and exit path every group shares (a ``UserError``
raised by ``run`` is one Japanese line on stderr and exit 1).
"""

from __future__ import annotations

from core.cli import export, settlements, shipping, subscriptions
from core.cli.command_group import CommandGroup

__all__ = ["GROUPS", "GROUPS_BY_COMMAND", "CommandGroup"]

GROUPS: tuple[CommandGroup, ...] = (
    subscriptions.GROUP,
    *shipping.GROUPS,
    settlements.GROUP,
    export.GROUP,
)
GROUPS_BY_COMMAND: dict[str, CommandGroup] = {group.command: group for group in GROUPS}
