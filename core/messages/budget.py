"""Time, memory and output budgets for one render of an operator's template (issue 10, item 10).

The sandbox stops a template from *reaching* anything; this module stops it from *building*
too much. A single C-level operation (``'x' * 10**9``, ``str.center``, ``str.join``) cannot be
interrupted once it runs, so every operation whose result can be far larger than its inputs is
checked **before** it runs, from the sizes of its inputs:

* every value the template builds (an operator, ``~``, a list or dict literal, a call, a
  filter) may be at most :data:`MAX_VALUE_CHARS` long, measured as the text it would print
  as (:func:`text_size`, which also counts what a nested list refers to); integers at most
  :data:`MAX_INT_BITS` bits;
* together those values may add up to :data:`WORK_BUDGET_CHARS` per render (a loop that builds
  a big value on every turn);
* all text the template outputs, in macros and ``{% set %}`` blocks too, may add up to
  :data:`OUTPUT_BUDGET_CHARS`;
* loops may take :data:`LOOP_BUDGET` turns together, ``range()`` may make
  :data:`RANGE_BUDGET` numbers together;
* and the whole render may take :data:`RENDER_SECONDS` of wall-clock time, checked in every
  hook and on every loop turn and piece of output (the injectable clock is not used: it is a
  duration of real work, and a fixed ``KANJO_NOW`` never advances).

The hooks are the sandbox's own (``call_binop``, ``call_unop``, ``call``, the
``str.format`` wrapper) plus a code generator that routes ``~``, literals, loops and output
through the environment, and a wrapper around every filter. Each refusal is a
:class:`BudgetExceeded` with one Japanese sentence naming the budget.
"""

from __future__ import annotations

import inspect
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, KeysView, Mapping, ValuesView
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import wraps
from typing import Any, Final

from jinja2 import nodes, pass_context
from jinja2.compiler import CodeGenerator, Frame
from jinja2.filters import make_attrgetter
from jinja2.runtime import Context, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEscapeFormatter, SandboxedFormatter
from jinja2.utils import _PassArg
from markupsafe import Markup

MAX_VALUE_CHARS: Final = 100_000  # one string, list or dict (as printed); as long as a whole message may be
MAX_INT_BITS: Final = 4_096  # about 1,233 decimal digits; yen amounts need 40
WORK_BUDGET_CHARS: Final = 8 * 1024 * 1024  # all values built in one render, added up
OUTPUT_BUDGET_CHARS: Final = 256 * 1024  # all text output in one render, macros and set blocks included
LOOP_BUDGET: Final = 100_000  # loop turns in one render, all loops together
RANGE_BUDGET: Final = 10_000  # numbers all `range()` calls of one render may make together
RENDER_SECONDS: float = 2.0  # wall-clock time of one render (a module variable so tests can shorten it)

_SMALL_OBJECT: Final = 64  # what an object that is not a plain value is assumed to print as


class BudgetExceeded(Exception):
    """A render went over one of its budgets; ``message`` is one Japanese sentence naming it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _value_too_big() -> BudgetExceeded:
    return BudgetExceeded(f"テンプレートで作る文字列やリストが大きすぎます(上限{MAX_VALUE_CHARS:,}文字)")


@dataclass
class Budget:
    """What is left of one render's budgets."""

    deadline: float
    seconds: float
    range_left: int = RANGE_BUDGET
    loops_left: int = LOOP_BUDGET
    output_left: int = OUTPUT_BUDGET_CHARS
    work_left: int = WORK_BUDGET_CHARS

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise BudgetExceeded(f"テンプレートの処理に時間がかかりすぎています(上限{self.seconds:g}秒)")

    def spend_output(self, chars: int) -> None:
        self.output_left -= chars
        if self.output_left < 0:
            raise BudgetExceeded(f"テンプレートの出力が大きすぎます(上限{OUTPUT_BUDGET_CHARS:,}文字)")
        self.tick()

    def spend_work(self, chars: int) -> None:
        self.work_left -= chars
        if self.work_left < 0:
            raise BudgetExceeded(
                f"テンプレートの処理で作る文字列やリストが多すぎます(合計の上限{WORK_BUDGET_CHARS:,}文字)"
            )
        self.tick()

    def spend_loop(self) -> None:
        self.loops_left -= 1
        if self.loops_left < 0:
            raise BudgetExceeded(f"テンプレートの繰り返しが多すぎます(合計の上限{LOOP_BUDGET:,}回)")
        self.tick()

    def spend_range(self, count: int) -> None:
        self.range_left -= count
        if self.range_left < 0:
            raise BudgetExceeded(f"range() で作れる数が多すぎます(1回の作成で合計の上限{RANGE_BUDGET:,}個)")


_current: ContextVar[Budget | None] = ContextVar("kanjo_template_budget", default=None)


@contextmanager
def budget_scope() -> Iterator[Budget]:
    """A fresh budget for one render (per thread: the preview and a worker never share one)."""
    seconds = RENDER_SECONDS
    budget = Budget(deadline=time.monotonic() + seconds, seconds=seconds)
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)


def _tick() -> Budget | None:
    budget = _current.get()
    if budget is not None:
        budget.tick()
    return budget


# --- sizes ---------------------------------------------------------------------------------------


def text_size(value: Any, limit: int = MAX_VALUE_CHARS) -> int:
    """About how long ``str(value)`` is, counting what nested containers refer to.

    Stops counting once past ``limit``, so it costs at most about ``limit`` steps however big
    the value (a list that refers 10 times to a list that refers 10 times to … is not walked
    to its end). Strings count their length; an object that is not a plain value counts as
    a short repr.
    """
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item) + 2
        elif isinstance(item, bytes | bytearray):
            total += 4 * len(item) + 3
        elif isinstance(item, bool) or item is None:
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 2
        elif isinstance(item, float):
            total += 24
        elif isinstance(item, Mapping):
            total += 2 + 4 * len(item)
            if total <= limit:
                stack.extend(item.keys())
                stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset | deque | KeysView | ValuesView):
            total += 2 + 2 * len(item)
            if total <= limit:
                stack.extend(item)
        else:
            total += _SMALL_OBJECT
        if total > limit:
            return total
    return total


def _plain_size(value: Any) -> int:
    """Like :func:`text_size`, without the quotes a string gets inside a container."""
    if isinstance(value, str | bytes | bytearray):
        return len(value)
    return text_size(value)


def need(chars: int) -> None:
    """Refuse before building a value of ``chars`` characters (or items) when it is too big."""
    if chars > MAX_VALUE_CHARS:
        raise _value_too_big()


def _need_int_bits(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise BudgetExceeded(f"テンプレートで作る数が大きすぎます(上限{MAX_INT_BITS:,}ビット、約1,233桁)")


def created(value: Any) -> Any:
    """Check a value just built and count it against the render's work budget."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        _need_int_bits(value.bit_length())
        size = 8
    elif isinstance(value, str | bytes | bytearray | list | tuple | Mapping | set | frozenset):
        size = _plain_size(value)
        need(size)
    else:
        size = 8
    budget = _current.get()
    if budget is not None:
        budget.spend_work(size)
    return value


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit() and len(value) < 20:
        return int(value)
    return 0  # not a number: the operation fails on its own, and cheaply


# --- pre-checks for operations whose result can dwarf their inputs ----------------------------------

_SEQUENCES: Final = (str, bytes, bytearray, list, tuple)
_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d*)(?:\.(\*|\d*))?")
_DIGITS = re.compile(r"\d+")


def _digits(text: str) -> int:
    runs = _DIGITS.findall(text)
    if any(len(run) > 12 for run in runs):
        raise _value_too_big()
    return sum(int(run) for run in runs)


def check_percent(template: Any, args: Any) -> None:
    """``template % args`` (and the ``format`` filter): widths, precisions and repeated arguments."""
    if isinstance(template, bytes | bytearray):
        template = bytes(template).decode("latin-1")
    if not isinstance(template, str):
        return
    specs = _PERCENT.findall(template)
    total = len(template)
    for width, precision in specs:
        if "*" in (width, precision):
            raise BudgetExceeded(f"書式の幅や精度に * は使えません(数字で書いてください。上限{MAX_VALUE_CHARS:,}文字)")
        total += _digits(width) + _digits(precision)
    args_size = text_size(args)
    # A tuple's items are used once each; one value or a mapping may be used by every field.
    total += args_size if isinstance(args, tuple) else args_size * max(1, len(specs))
    need(total)


def _check_binop(operator: str, left: Any, right: Any) -> None:
    if operator == "*":
        for value, count in ((left, right), (right, left)):
            if isinstance(count, int) and isinstance(value, str | bytes | bytearray | list | tuple):
                need(_plain_size(value) * max(count, 0))
        if isinstance(left, int) and isinstance(right, int):
            _need_int_bits(left.bit_length() + right.bit_length())
    elif operator == "**":
        if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
            _need_int_bits(right * left.bit_length())  # the result has about this many bits
    elif operator == "+":
        if isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
            need(_plain_size(left) + _plain_size(right))
    elif operator == "%" and isinstance(left, str | bytes | bytearray):
        check_percent(left, right)


def _check_replace(text: Any, old: Any, new: Any, count: Any) -> None:
    if not isinstance(text, str | bytes | bytearray) or not isinstance(new, str | bytes | bytearray):
        return
    if not isinstance(old, str | bytes | bytearray):
        return
    found = len(text) + 1 if not old else text.count(old)  # type: ignore[arg-type]
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    need(len(text) + found * max(0, len(new) - len(old)))


def _check_joined(separator: Any, parts: list[Any]) -> None:
    size = sum(_plain_size(part) for part in parts)
    need(size)
    need(size + _plain_size(separator) * max(0, len(parts) - 1))


def _materialize(iterable: Any) -> list[Any]:
    """The items of what ``join`` would consume anyway, refused past the value limit."""
    items: list[Any] = []
    for item in iterable:
        items.append(item)
        if len(items) > MAX_VALUE_CHARS:
            raise _value_too_big()
    return items


def _check_method_call(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Pre-check a call of a ``str``/``bytes``/``int`` method that can build a big value."""
    owner = getattr(obj, "__self__", None)
    name = getattr(obj, "__name__", "")
    if isinstance(owner, str | bytes | bytearray):
        if name in {"center", "ljust", "rjust", "zfill"}:
            width = args[0] if args else kwargs.get("width", 0)
            need(max(len(owner), _as_int(width)))
        elif name == "expandtabs":
            tabsize = args[0] if args else kwargs.get("tabsize", 8)
            tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
            need(len(owner) + tabs * _as_int(tabsize))  # each tab becomes at most `tabsize` spaces
        elif name == "replace":
            old = args[0] if args else kwargs.get("old")
            new = args[1] if len(args) > 1 else kwargs.get("new")
            count = args[2] if len(args) > 2 else kwargs.get("count", -1)
            _check_replace(owner, old, new, count)
        elif name == "join" and args:
            parts = _materialize(args[0])
            _check_joined(owner, parts)
            return (parts, *args[1:])
        elif name == "translate" and args and isinstance(args[0], Mapping):
            longest = max((_plain_size(v) for v in args[0].values() if v is not None), default=1)
            need(len(owner) * max(1, longest))
    elif isinstance(owner, int) and name == "to_bytes":
        length = args[0] if args else kwargs.get("length", 1)
        need(_as_int(length))
    return args


# --- filters -------------------------------------------------------------------------------------


def _filter_indent(a: dict[str, Any]) -> None:
    text, width = str(a["s"]), a["width"]
    step = len(width) if isinstance(width, str) else _as_int(width)
    need(len(text) + (text.count("\n") + 1) * step)


def _filter_wordwrap(a: dict[str, Any]) -> None:
    text = str(a["s"])
    wrap = a["wrapstring"] if a["wrapstring"] is not None else "\n"
    width = max(1, _as_int(a["width"]))
    breaks = len(text) // width + text.count(" ") + text.count("\n") + 1
    need(len(text) + breaks * len(str(wrap)))


def _filter_format(a: dict[str, Any]) -> None:
    check_percent(str(a["value"]), a["kwargs"] or a["args"])


_FILTER_CHECKS: Final[dict[str, Callable[[dict[str, Any]], None]]] = {
    "center": lambda a: need(max(len(str(a["value"])), _as_int(a["width"]))),
    "indent": _filter_indent,
    "wordwrap": _filter_wordwrap,
    "format": _filter_format,
    "replace": lambda a: _check_replace(str(a["s"]), a["old"], a["new"], a["count"]),
    "batch": lambda a: need(_as_int(a["linecount"])),
    "slice": lambda a: need(_as_int(a["slices"])),
}


def _budgeted_filter(name: str, func: Callable[..., Any], environment: ImmutableSandboxedEnvironment) -> Any:
    """``func`` with its pre-check (when it has one), a time check and a check of its result."""
    signature = inspect.signature(func)  # of the plain function, also behind Jinja's async wrapper
    # Jinja's async wrapper of a filter without a context argument still takes an eval context
    # first (and drops it): that argument is not in the plain function's signature.
    skip = int(_PassArg.from_obj(func) is not None and _PassArg.from_obj(inspect.unwrap(func)) is None)
    check = _FILTER_CHECKS.get(name)

    @wraps(func)  # keeps ``jinja_pass_arg``: Jinja still passes the context or environment first
    def budgeted(*args: Any, **kwargs: Any) -> Any:
        _tick()
        if check is not None or name == "join":
            bound = signature.bind(*args[skip:], **kwargs)
            bound.apply_defaults()
            if name == "join":
                parts = _materialize(bound.arguments["value"])
                attribute = bound.arguments["attribute"]
                if attribute is not None:
                    getter = make_attrgetter(environment, attribute)
                    parts = [getter(part) for part in parts]
                    bound.arguments["attribute"] = None
                _check_joined(bound.arguments["d"], parts)
                bound.arguments["value"] = parts
            elif check is not None:
                check(bound.arguments)
            args, kwargs = (*args[:skip], *bound.args), bound.kwargs
        return created(func(*args, **kwargs))

    return budgeted


# --- str.format ----------------------------------------------------------------------------------


class _FieldBudget:
    """Every formatted field is checked before it is built, and all of them are counted."""

    _built = 0

    def vformat(self, format_string: str, args: Any, kwargs: Any) -> str:
        self._built = len(format_string)
        return super().vformat(format_string, args, kwargs)  # type: ignore[misc, no-any-return]

    def format_field(self, value: Any, format_spec: str) -> Any:
        _tick()
        need(_digits(format_spec) + _plain_size(value))
        text = super().format_field(value, format_spec)  # type: ignore[misc]
        self._built += len(text)
        need(self._built)
        return text


class _BudgetedFormatter(_FieldBudget, SandboxedFormatter):
    pass


class _BudgetedEscapeFormatter(_FieldBudget, SandboxedEscapeFormatter):
    pass


# --- the code generator ------------------------------------------------------------------------


LOOP_FILTER: Final = "kanjo.loop"  # a filter name no template can spell (a dot is not allowed)


@pass_context  # also keeps Jinja from calling it at compile time on a constant iterable
def _budget_loop(context: Context, iterable: Any) -> Iterator[Any]:
    """The iterable of a ``{% for %}``, counted turn by turn against the loop budget."""
    budget = _current.get()
    for item in iterable:
        if budget is not None:
            budget.spend_loop()
        yield item


class BudgetedCodeGenerator(CodeGenerator):
    """Routes ``~``, literals, loop iterables and every piece of output through the budget.

    Jinja compiles these to plain Python (``str_join``, ``[…]``, ``for … in``, ``yield``), out
    of reach of the sandbox's hooks; here each becomes a call of a ``MessageEnvironment``
    method that checks it first.
    """

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:  # noqa: N802 - Jinja override
        # Jinja allows no custom node types: a loop's iterable goes through a filter instead.
        for loop in node.find_all(nodes.For):
            if not (isinstance(loop.iter, nodes.Filter) and loop.iter.name == LOOP_FILTER):
                loop.iter = nodes.Filter(loop.iter, LOOP_FILTER, [], [], None, None, lineno=loop.iter.lineno)
        super().visit_Template(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:  # noqa: N802 - Jinja override
        self.write("environment.budget_concat(context, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def _literal(self, visit: Callable[[], None]) -> None:
        self.write("environment.budget_value(")
        visit()
        self.write(")")

    def visit_List(self, node: nodes.List, frame: Frame) -> None:  # noqa: N802 - Jinja override
        self._literal(lambda: super(BudgetedCodeGenerator, self).visit_List(node, frame))

    def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:  # noqa: N802 - Jinja override
        self._literal(lambda: super(BudgetedCodeGenerator, self).visit_Dict(node, frame))

    def visit_Tuple(self, node: nodes.Tuple, frame: Frame) -> None:  # noqa: N802 - Jinja override
        if node.ctx != "load":  # an assignment target such as `{% for a, b in … %}`
            super().visit_Tuple(node, frame)
            return
        self._literal(lambda: super(BudgetedCodeGenerator, self).visit_Tuple(node, frame))

    def _output_const_repr(self, group: Iterable[Any]) -> str:
        return f"environment.budget_output({super()._output_const_repr(group)})"

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        super()._output_child_pre(node, frame, finalize)
        self.write("environment.budget_output(")  # checked before `str()` turns a list into text

    def _output_child_post(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        self.write(")")
        super()._output_child_post(node, frame, finalize)


# --- the environment -----------------------------------------------------------------------------


class MessageEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox with every operation bounded by the render's :class:`Budget`."""

    code_generator_class = BudgetedCodeGenerator
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})
    intercepted_unops = frozenset({"+", "-"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, func in list(self.filters.items()):
            self.filters[name] = _budgeted_filter(name, func, self)
        self.filters[LOOP_FILTER] = _budget_loop

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _tick()
        _check_binop(operator, left, right)
        return created(super().call_binop(context, operator, left, right))

    def call_unop(self, context: Context, operator: str, arg: Any) -> Any:
        _tick()
        return super().call_unop(context, operator, arg)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        _tick()
        args = _check_method_call(obj, args, kwargs)
        return created(super().call(context, obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """The sandbox's ``str.format`` wrapper, with a formatter that checks every field first."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        f_self: str = value.__self__
        formatter: SandboxedFormatter = (
            _BudgetedEscapeFormatter(self, escape=f_self.escape)
            if isinstance(f_self, Markup)
            else _BudgetedFormatter(self)
        )
        is_format_map = value.__name__ == "format_map"

        @wraps(value)
        def budgeted(*args: Any, **kwargs: Any) -> str:
            if is_format_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                kwargs, args = args[0], ()
            return type(f_self)(formatter.vformat(f_self, args, kwargs))

        return budgeted

    # Called from the code BudgetedCodeGenerator writes:

    def budget_concat(self, context: Context, parts: tuple[Any, ...]) -> str:
        _tick()
        need(sum(_plain_size(part) for part in parts))
        return created(markup_join(parts) if context.eval_ctx.autoescape else str_join(parts))  # type: ignore[no-any-return]

    def budget_value(self, value: Any) -> Any:
        return created(value)

    def budget_output(self, value: Any) -> Any:
        budget = _current.get()
        if budget is not None:
            budget.spend_output(_plain_size(value))
        return value


def budgeted_range(*args: int) -> range:
    """The template's only global: ``range`` with a budget of numbers per render."""
    values = range(*args)
    budget = _current.get()
    if budget is None:
        budget = Budget(deadline=time.monotonic() + RENDER_SECONDS, seconds=RENDER_SECONDS)
    budget.spend_range(len(values))
    return values
