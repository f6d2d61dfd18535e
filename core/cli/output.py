"""What every command group shares: one-line safe printing, ``--json`` output, the parser
class whose errors are one Japanese line, and the exit codes."""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any, NoReturn

EXIT_USER_ERROR = 1
EXIT_USAGE = 2
EXIT_BUG = 70

# Text read from outside (a customer's name, an order number from a shop system) is printed
# without terminal control: escape sequences are dropped, other controls become visible.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"  # CSI
    r"|\x9b[0-?]*[ -/]*[@-~]?"  # CSI, 8-bit
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC, DCS, PM, APC, SOS
    r"|\x1b[ -/]*[0-~]?"  # any other escape
)
_BREAKS = re.compile(r"[\t\n\r\v\f\u2028\u2029\x85]")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def line_text(value: object) -> str:
    """``value`` as text that stays on one line and cannot drive the terminal."""
    text = _BREAKS.sub(" ", _ESCAPES.sub("", str(value)))
    return _CONTROLS.sub("\ufffd", text)


def block_text(value: object) -> str:
    """Like ``line_text`` but keeps the line breaks (a message body, a finished report)."""
    return "\n".join(line_text(part) for part in str(value).split("\n"))


def out(text: str) -> None:
    sys.stdout.write(block_text(text) + "\n")


def fail(message: str) -> None:
    """The one Japanese line every non-zero exit prints on stderr."""
    sys.stderr.write(f"kanjo: {line_text(message)}\n")


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        fail(f"引数が正しくありません: {message}")
        raise SystemExit(EXIT_USAGE)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def emit(as_json: bool, data: Any, text: str) -> None:
    if as_json:
        print_json(data)
    else:
        out(text)
