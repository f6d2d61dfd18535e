"""Strict, sandboxed rendering of message templates (qutebrowser ``utils/jinja.py`` style).

Templates are written by the operator, so they are code we do not trust:

* Jinja2's ``ImmutableSandboxedEnvironment``: no attribute starting with ``_``, no function
  or frame internals, no mutation of the values handed in, ``str.format`` checked too. The
  only global is a :func:`range` with a budget; ``include``/``import``/``extends`` are
  refused (there is no loader, and the check below names them).
* ``StrictUndefined``: an unknown name is never a blank. It is refused when the template is
  *saved* (:func:`check_template`, with the unknown names), not when a message is sent.
* Work is bounded: ``*`` and ``**`` are checked before they run, ``range`` has a budget
  per render, and the output has a size limit. These keep a typo such as ``'-' * 10**9``
  from freezing the window; they are not a defence against a determined operator, who
  owns the machine anyway.

Every failure is a :class:`TemplateRefused` (a ``UserError``) with a Japanese message: a
template error is the operator's to fix, never a bug of the product.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from core.errors import UserError
from core.messages.variables import VARIABLE_NAMES, MissingValue, sample_variables

MAX_OUTPUT_CHARS: Final = 100_000
MAX_SEQUENCE_CHARS: Final = 10_000  # longest string or list that `*` may build
MAX_EXPONENT: Final = 64
RANGE_BUDGET: Final = 10_000  # items all `range()` calls of one render may produce together
MAX_SUBJECT_CHARS: Final = 200

PART_LABELS: Final = {"subject": "件名", "body": "本文", "title": "題名"}
_UNDEFINED_ATTR = re.compile(r"has no attribute '([^']+)'")
_UNDEFINED_NAME = re.compile(r"'([^']+)' is undefined")
_FORBIDDEN_NODES: Final = {
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "from … import",
    nodes.Extends: "extends",
}

_range_budget: ContextVar[list[int]] = ContextVar("kanjo_range_budget")


class TemplateRefused(UserError):
    """A template that cannot be saved or rendered; the message says why, in Japanese."""

    code = "template_refused"


def _budgeted_range(*args: int) -> Iterator[int]:
    values = range(*args)
    budget = _range_budget.get([RANGE_BUDGET])
    if len(values) > budget[0]:
        raise SecurityError(f"range() は1回の作成で合計{RANGE_BUDGET:,}個までです")
    budget[0] -= len(values)
    return iter(values)


class MessageEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox with bounded ``*`` and ``**``."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
                raise SecurityError(f"べき乗の指数は{MAX_EXPONENT}までです")
        elif operator == "*":
            for sequence, count in ((left, right), (right, left)):
                if (
                    isinstance(sequence, str | list | tuple)
                    and isinstance(count, int)
                    and len(sequence) * count > MAX_SEQUENCE_CHARS
                ):
                    raise SecurityError(f"繰り返しで作れる長さは{MAX_SEQUENCE_CHARS:,}までです")
        return super().call_binop(context, operator, left, right)


def _environment() -> MessageEnvironment:
    env = MessageEnvironment(
        undefined=StrictUndefined,
        autoescape=False,  # plain-text mail
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    # No lipsum/cycler/joiner/namespace/dict: only what a message needs.
    env.globals.clear()
    env.globals["range"] = _budgeted_range
    return env


ENV: Final = _environment()


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


def _where(part: str, line: int | None = None) -> str:
    label = PART_LABELS.get(part, part)
    return f"{label}の{line}行目" if line else label


def _parse(source: str, part: str) -> nodes.Template:
    try:
        return ENV.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateRefused(f"{_where(part, exc.lineno)}の書き方に誤りがあります: {exc.message}") from None


def check_template(subject: str, body: str) -> None:
    """Refuse a template that could not be filled for some order; run when it is saved.

    Checks, in order: the syntax; names that are not variables (all of them, by name); the
    forbidden tags; then a trial render against a made-up order where every value exists,
    which catches a misspelt item field or a sandbox refusal at save time too.
    """
    if not subject.strip():
        raise TemplateRefused("件名を入力してください。")
    if not body.strip():
        raise TemplateRefused("本文を入力してください。")
    unknown: set[str] = set()
    for part, source in (("subject", subject), ("body", body)):
        tree = _parse(source, part)
        for node_type, tag in _FORBIDDEN_NODES.items():
            found = next(iter(tree.find_all(node_type)), None)
            if found is not None:
                raise TemplateRefused(
                    f"{_where(part, found.lineno)}: メッセージのテンプレートでは {tag} は使えません。"
                )
        unknown |= meta.find_undeclared_variables(tree) - VARIABLE_NAMES
    if unknown:
        names = "、".join(sorted(unknown))
        raise TemplateRefused(
            f"存在しない変数が使われています: {names}。使える変数は「変数」の一覧を見てください。",
            code="unknown_variable",
        )
    render(subject, body, sample_variables())


@lru_cache(maxsize=256)
def _compile(source: str) -> Template:
    return ENV.from_string(source)


def _render_part(source: str, part: str, variables: Mapping[str, Any]) -> str:
    try:
        template = _compile(source)
    except TemplateSyntaxError as exc:
        raise TemplateRefused(f"{_where(part, exc.lineno)}の書き方に誤りがあります: {exc.message}") from None
    token = _range_budget.set([RANGE_BUDGET])
    try:
        text = template.render(dict(variables))
    except MissingValue as exc:
        raise TemplateRefused(str(exc.message), code="missing_value") from None
    except UndefinedError as exc:
        raise TemplateRefused(_undefined_text(exc, part), code="unknown_variable") from None
    except SecurityError as exc:
        raise TemplateRefused(
            f"{_where(part)}: 安全のため、テンプレートからは使えない操作です({_security_text(exc)})。",
            code="sandbox",
        ) from None
    except RecursionError:
        raise TemplateRefused(f"{_where(part)}: テンプレートの処理が深くなりすぎました。") from None
    except Exception as exc:  # the operator's template code failed: theirs to fix, not a bug
        raise TemplateRefused(f"{_where(part)}を作成できませんでした({type(exc).__name__}: {exc})。") from None
    finally:
        _range_budget.reset(token)
    if len(text) > MAX_OUTPUT_CHARS:
        raise TemplateRefused(f"{_where(part)}が長すぎます({MAX_OUTPUT_CHARS:,}文字まで)。")
    return text


def _undefined_text(exc: UndefinedError, part: str) -> str:
    message = exc.message or ""
    match = _UNDEFINED_ATTR.search(message)
    if match:
        return f"{_where(part)}: 存在しない項目「{match.group(1)}」が使われています。"
    match = _UNDEFINED_NAME.search(message)
    if match:
        return f"{_where(part)}: 存在しない変数が使われています: {match.group(1)}"
    return f"{_where(part)}: 値のない項目が使われています({message})。"


def _security_text(exc: SecurityError) -> str:
    text = str(exc)
    return text if not text.isascii() else "内部の属性や関数にはアクセスできません"


def render(subject: str, body: str, variables: Mapping[str, Any]) -> Rendered:
    """Fill a template; the subject becomes one line, the body ends with one newline."""
    subject_text = _render_part(subject, "subject", variables)
    subject_text = re.sub(r"\s*[\r\n]+\s*", " ", subject_text).strip()
    if not subject_text:
        raise TemplateRefused("件名が空になりました。テンプレートの件名を確認してください。")
    if len(subject_text) > MAX_SUBJECT_CHARS:
        raise TemplateRefused(f"件名が長すぎます({MAX_SUBJECT_CHARS}文字まで)。")
    body_text = _render_part(body, "body", variables).strip("\n").rstrip() + "\n"
    return Rendered(subject_text, body_text)
