"""Strict, sandboxed rendering of message templates (qutebrowser ``utils/jinja.py`` style).

Templates are written by the operator, so they are code we do not trust:

* Jinja2's ``ImmutableSandboxedEnvironment``: no attribute starting with ``_``, no function
  or frame internals, no mutation of the values handed in, ``str.format`` checked too. The
  only global is a :func:`range` with a budget; ``include``/``import``/``extends`` are
  refused (there is no loader, and the check below names them).
* ``StrictUndefined``: an unknown name is never a blank. It is refused when the template is
  *saved* (:func:`check_template`, with the unknown names), not when a message is sent.
* Work is bounded (:mod:`core.messages.budget`): every operation that can build a big
  value is checked before it runs, and each render has budgets of time (2 s), output
  (256 Ki characters, macros included), loop turns and ``range`` numbers. The final text is
  streamed and refused past 100,000 characters. These keep a typo or a pasted snippet such as
  ``'-' * 10**9`` from freezing the window or filling the memory; they are not a defence
  against a determined operator, who owns the machine anyway.

Every failure is a :class:`TemplateRefused` (a ``UserError``) with a Japanese message: a
template error is the operator's to fix, never a bug of the product.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2.exceptions import SecurityError

from core.errors import UserError
from core.messages.budget import Budget, BudgetExceeded, MessageEnvironment, budget_scope, budgeted_range
from core.messages.variables import VARIABLE_NAMES, MissingValue, sample_variables

MAX_OUTPUT_CHARS: Final = 100_000
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


class TemplateRefused(UserError):
    """A template that cannot be saved or rendered; the message says why, in Japanese."""

    code = "template_refused"


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
    env.globals["range"] = budgeted_range
    return env


ENV: Final = _environment()


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


def _where(part: str, line: int | None = None) -> str:
    label = PART_LABELS.get(part, part)
    return f"{label}の{line}行目" if line else label


MAX_SOURCE_CHARS = 50_000  # a template's own text; checked before it is parsed or compiled


def _check_source(source: str, part: str) -> None:
    if len(source) > MAX_SOURCE_CHARS:
        raise TemplateRefused(
            f"{_where(part)}のテンプレートが長すぎます(上限{MAX_SOURCE_CHARS:,}文字)。", code="template_budget"
        )


def _too_deep(part: str) -> TemplateRefused:
    return TemplateRefused(
        f"{_where(part)}: テンプレートの入れ子(括弧やif・forの重なり)が深すぎます。", code="template_budget"
    )


def _parse(source: str, part: str) -> nodes.Template:
    _check_source(source, part)
    try:
        return ENV.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateRefused(f"{_where(part, exc.lineno)}の書き方に誤りがあります: {exc.message}") from None
    except (RecursionError, MemoryError):
        raise _too_deep(part) from None


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
    _check_source(source, part)
    try:
        template = _compile(source)
    except TemplateSyntaxError as exc:
        raise TemplateRefused(f"{_where(part, exc.lineno)}の書き方に誤りがあります: {exc.message}") from None
    except (RecursionError, MemoryError, SyntaxError):  # nesting past Python's own limits
        raise _too_deep(part) from None
    try:
        with budget_scope() as budget:
            text = _stream(template, variables, budget)
    except BudgetExceeded as exc:
        raise TemplateRefused(f"{_where(part)}: {exc.message}。", code="template_budget") from None
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
    if text is None:
        raise TemplateRefused(f"{_where(part)}が長すぎます(上限{MAX_OUTPUT_CHARS:,}文字)。", code="template_budget")
    return text


def _stream(template: Template, variables: Mapping[str, Any], budget: Budget) -> str | None:
    """Render piece by piece; None as soon as the text is too long, checking the time between pieces."""
    pieces: list[str] = []
    length = 0
    stream = template.generate(dict(variables))
    close = getattr(stream, "close", None)
    try:
        for piece in stream:
            length += len(piece)
            if length > MAX_OUTPUT_CHARS:
                return None
            pieces.append(piece)
            budget.tick()
    finally:
        if close is not None:
            close()  # stop the template's generator now, not when it is collected
    return "".join(pieces)


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
