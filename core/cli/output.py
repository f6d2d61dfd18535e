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


# argparse's own messages (Python 3.11) in Japanese; the argument names and values stay as typed.
_ARGPARSE_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.DOTALL), text)
    for pattern, text in (
        (r"the following arguments are required: (?P<a>.*)", "次の引数を指定してください: {a}"),
        (r"one of the arguments (?P<a>.*) is required", "次の引数のどれかを指定してください: {a}"),
        (r"unrecognized arguments: (?P<a>.*)", "認識できない引数があります: {a}"),
        (r"invalid choice: (?P<v>.*) \(choose from (?P<c>.*)\)", "{v} は選べません(選べるのは {c})"),
        (r"expected one argument", "値を1つ指定してください"),
        (r"expected at most one argument", "値は1つまでです"),
        (r"expected at least one argument", "値を1つ以上指定してください"),
        (r"not allowed with argument (?P<a>.*)", "{a} と一緒には指定できません"),
        (r"ambiguous option: (?P<o>\S+) could match (?P<m>.*)", "{o} はどの引数か決められません(候補: {m})"),
        (r"invalid (?P<t>\S+) value: (?P<v>.*)", "値 {v} を読めません"),
        (r"ignored explicit argument (?P<v>.*)", "値 {v} は指定できません"),
        (r"unexpected option string: (?P<o>.*)", "予期しない引数 {o} があります"),
    )
)


def japanese_usage_message(message: str) -> str:
    """One of argparse's English messages in Japanese, keeping the argument names (and the
    ``argument --x:`` it starts with, as ``引数 --x:``); an unknown message is kept as it is."""
    prefix = ""
    head = re.match(r"argument (?P<name>[^:]+): (?P<rest>.*)", message, re.DOTALL)
    if head is not None:
        prefix = f"引数 {head['name']}: "
        message = head["rest"]
    for pattern, text in _ARGPARSE_MESSAGES:
        found = pattern.fullmatch(message)
        if found is not None:
            return prefix + text.format(**found.groupdict())
    return prefix + message


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        fail(f"引数が正しくありません: {japanese_usage_message(message)}({self.prog} --help で使い方を表示します)")
        raise SystemExit(EXIT_USAGE)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def emit(as_json: bool, data: Any, text: str) -> None:
    if as_json:
        print_json(data)
    else:
        out(text)
