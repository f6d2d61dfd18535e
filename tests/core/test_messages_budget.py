"""Issue 10 item 10: every template render is bounded in time, memory and output.

Templates are the operator's code (R51). A typo or a pasted snippet must not freeze the window
or eat the machine's memory: each attack below is refused quickly, with one Japanese sentence
naming the budget, before the big value is built; nothing is saved or stored when it is refused.
"""

from __future__ import annotations

import time
import tracemalloc
from datetime import UTC, datetime

import pytest

from core.app import Kanjo
from core.cli import main
from core.messages import budget
from core.messages.builtin import builtin_templates
from core.messages.rendering import TemplateRefused, check_template, render
from core.messages.variables import SAMPLE_SETTINGS, OrderFacts, order_variables, sample_variables
from core.queries import ItemView

from .test_messages import SETTINGS, place

FAST = 3.0  # seconds: every refusal must come well within this (the time budget is 2 s)
PEAK_BYTES = 64 * 1024 * 1024  # "modest memory": nothing near the hundreds of MB the attacks want

DOUBLE_TILDE = "{% set s = 'x' * 1000 %}" + "{% set s = s ~ s %}" * 40 + "{{ s|length }}"
DOUBLE_PLUS = "{% set s = 'x' * 1000 %}" + "{% set s = s + s %}" * 40 + "{{ s|length }}"
DOUBLE_JOIN_FILTER = "{% set s = 'x' * 1000 %}" + "{% set s = [s, s]|join %}" * 40 + "{{ s|length }}"
DOUBLE_JOIN_METHOD = "{% set s = 'x' * 1000 %}" + "{% set s = ''.join([s, s]) %}" * 40 + "{{ s|length }}"
DOUBLE_LIST = "{% set s = [0] * 1000 %}" + "{% set s = s + s %}" * 40 + "{{ s|length }}"
DOUBLE_MACRO = "{% macro d(s, n) %}{% if n %}{{ d(s ~ s, n - 1) }}{% else %}{{ s|length }}{% endif %}{% endmacro %}{{ d('x', 60) }}"
NESTED_LITERALS = (
    "{% set a = 'x' * 1000 %}"
    + "".join(f"{{% set a = [{', '.join(['a'] * 10)}] %}}" for _ in range(12))
    + "{{ a|join }}"
)
SQUARING = "{% set n = 10 ** 60 %}" + "{% set n = n * n %}" * 40 + "{{ n > 0 }}"
LITERAL_10 = "L" * 1000

ATTACKS = {
    # the issue's own list
    "encode-times-huge": "{{ 'x'.encode() * 10**9 }}",
    "center-filter": "{{ 'a'|center(10**9) }}",
    "center-filter-constant": "{{ 'a'|center(1000000000) }}",
    "double-tilde": DOUBLE_TILDE,
    "double-plus": DOUBLE_PLUS,
    "double-join-filter": DOUBLE_JOIN_FILTER,
    "double-join-method": DOUBLE_JOIN_METHOD,
    "power-huge-base": "{{ (10 ** 60) ** 64 }}",
    "power-tower": "{{ 9 ** (9 ** 9) }}",
    # found while closing them
    "bytes-times-left": "{{ 10**9 * b }}".replace("b", "'x'.encode()"),
    "tuple-times": "{{ items * 10**9 }}",
    "list-times": "{{ [0] * 10**9 }}",
    "double-list": DOUBLE_LIST,
    "double-macro": DOUBLE_MACRO,
    "nested-list-literals": NESTED_LITERALS,
    "int-squaring": SQUARING,
    "concat-big": "{{ ('a' * 90000) ~ ('b' * 90000) }}",
    "ljust": "{{ 'a'.ljust(10**9) }}",
    "rjust": "{{ 'a'.rjust(1000000000) }}",
    "center-method": "{{ 'a'.center(10**9) }}",
    "zfill": "{{ '1'.zfill(10**9) }}",
    "expandtabs": "{{ ('\t' * 1000).expandtabs(10**7) }}",
    "replace-method": "{{ ('a' * 10000).replace('a', 'b' * 10000) }}",
    "replace-empty": "{{ ('a' * 10000).replace('', 'b' * 10000) }}",
    "translate": "{{ ('a' * 10000).translate({97: 'b' * 10000}) }}",
    "join-separator": "{{ ('x' * 10000)|join('y' * 10000) }}",
    "join-method-separator": "{{ ('y' * 10000).join('x' * 10000) }}",
    "to-bytes": "{{ (1).to_bytes(10**9, 'big') }}",
    "bytes-center": "{{ 'a'.encode().center(10**9) }}",
    "percent-width": "{{ '%999999999d' % 1 }}",
    "percent-precision": "{{ '%.999999999f' % 1.0 }}",
    "percent-star": "{{ '%*d' % (999999999, 1) }}",
    "percent-mapping-repeat": "{{ ('%(a)s' * 5000) % {'a': 'x' * 10000} }}",
    "format-filter": "{{ '%999999999d'|format(1) }}",
    "str-format-width": "{{ '{:999999999}'.format(1) }}",
    "str-format-nested-width": "{{ '{:{}}'.format(1, 999999999) }}",
    "str-format-map": "{{ '{x:>999999999}'.format_map({'x': 1}) }}",
    "str-format-repeat": "{{ ('{0}' * 5000).format('x' * 10000) }}",
    "indent-width": "{{ 'x\ny'|indent(10**9) }}",
    "indent-string": "{{ ('a\n' * 5000)|indent('x' * 10000) }}",
    "wordwrap": "{{ ('a ' * 5000)|wordwrap(1, wrapstring='x' * 10000) }}",
    "replace-filter": "{{ ('a' * 10000)|replace('a', 'b' * 10000) }}",
    "batch-fill": "{{ [1]|batch(10**9, 0)|list }}",
    "slice-fill": "{{ [1]|slice(10**9)|list }}",
    "map-upper": "{% set s = 'x' * 90000 %}{{ ([s] * 1)|map('center', 10**9)|list }}",
    "output-loop": "{% for i in range(10000) %}{{ 'x' * 10000 }}{% endfor %}",
    "output-in-macro": "{% macro m() %}{% for i in range(10000) %}" + LITERAL_10 * 30 + "{% endfor %}{% endmacro %}"
    "{% set x = m() %}{{ x|length }}",
    "output-in-set-block": "{% set x %}{% for i in range(10000) %}{{ 'x' * 10000 }}{% endfor %}{% endset %}{{ x|length }}",
    "loops-over-strings": "{% set s = 'x' * 10000 %}"
    "{% for a in s %}{% for b in s %}{% for c in s %}{% endfor %}{% endfor %}{% endfor %}",
    "loops-over-range": "{% for i in range(100) %}{% for j in range(100) %}{% for k in range(100) %}"
    "{% endfor %}{% endfor %}{% endfor %}",
    "huge-int-print": "{{ 10 ** 5000 }}",
    "filter-block": "{% filter center(10**9) %}x{% endfilter %}",
    "markup-format": "{% autoescape true %}{{ ('{:999999999}'|safe).format(1) }}{% endautoescape %}",
    "macro-default": "{% macro m(s='a'.ljust(10**9)) %}{{ s }}{% endmacro %}{{ m() }}",
    "dict-literal": "{% set s = 'x' * 60000 %}{{ {'a': s, 'b': s}|length }}",
}


def assert_refused_fast(source: str, *, subject: str = "件名") -> TemplateRefused:
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(TemplateRefused) as refused:
            render(subject, source, sample_variables())
        elapsed = time.monotonic() - started
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < FAST, f"{elapsed:.2f} s"
    assert peak < PEAK_BYTES, f"{peak / 1e6:.0f} MB"
    message = refused.value.message
    assert not message.isascii() and "\n" not in message  # one Japanese sentence
    assert "Error" not in message and "予期しない" not in message
    return refused.value


@pytest.mark.parametrize("source", list(ATTACKS.values()), ids=list(ATTACKS))
def test_each_attack_is_refused_fast_with_a_japanese_message_naming_the_budget(source: str) -> None:
    refused = assert_refused_fast(source)
    assert "上限" in refused.message or "まで" in refused.message  # names the budget
    assert refused.code == "template_budget"


@pytest.mark.parametrize("name", ["double-tilde", "center-filter", "output-loop", "percent-width"])
def test_an_attack_in_the_subject_is_refused_too(name: str) -> None:
    assert "件名" in assert_refused_fast("本文", subject=ATTACKS[name]).message


def test_the_output_budget_is_named_in_the_message() -> None:
    refused = assert_refused_fast(ATTACKS["output-in-set-block"])
    assert f"テンプレートの出力が大きすぎます(上限{budget.OUTPUT_BUDGET_CHARS:,}文字)" in refused.message


def test_the_time_budget_stops_work_that_builds_nothing() -> None:
    """2**60 macro calls that output nothing: only the clock can stop them."""
    source = "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}"
    refused = assert_refused_fast(source)
    assert refused.message == "本文: テンプレートの処理に時間がかかりすぎています(上限2秒)。"


def test_the_time_budget_is_read_per_render(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(budget, "RENDER_SECONDS", 0.2)
    source = "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}"
    started = time.monotonic()
    with pytest.raises(TemplateRefused, match=r"上限0\.2秒"):
        render("件名", source, sample_variables())
    assert time.monotonic() - started < 1.0


def test_budgets_are_per_render_not_per_process() -> None:
    source = "{% for i in range(9000) %}{% endfor %}{{ ('x' * 90000)|length }}"
    for _ in range(3):  # a budget used up by one render is not missing from the next
        assert render("件名", source, sample_variables()).body == "90000\n"


@pytest.mark.parametrize("source", [ATTACKS["center-filter"], DOUBLE_TILDE, ATTACKS["output-loop"]])
def test_a_budget_refusal_saves_nothing(shop: Kanjo, source: str) -> None:
    count = len(shop.messages.templates())
    started = time.monotonic()
    with pytest.raises(TemplateRefused, match="上限"):
        shop.messages.save_template(None, title="重い", subject="件名", body="{{ customer_name }}\n" + source)
    assert time.monotonic() - started < FAST
    assert len(shop.messages.templates()) == count


@pytest.fixture
def shop(app: Kanjo) -> Kanjo:
    app.settings.save(**SETTINGS)
    return app


def test_a_template_that_passes_with_the_sample_is_still_bounded_on_a_big_real_order(shop: Kanjo) -> None:
    """Saved against the 2-item sample, the same loops over a 200-item order hit the loop budget."""
    items = tuple((f"商品{i}", 100 + i, 1) for i in range(200))
    place(shop, "BIG-1", items=items)
    cubic = "{% for a in items %}{% for b in items %}{% for c in items %}{{ '' }}{% endfor %}{% endfor %}{% endfor %}"
    saved = shop.messages.save_template(None, title="三重", subject="{{ order_number }}", body=cubic)
    started = time.monotonic()
    with pytest.raises(TemplateRefused, match="繰り返しが多すぎます"):
        shop.messages.render(saved.id, "BIG-1")
    assert time.monotonic() - started < FAST
    assert shop.messages.history("BIG-1") == []  # nothing stored


def test_runaway_recursion_is_refused_fast() -> None:
    refused = assert_refused_fast("{% for x in [1] recursive %}{{ loop([x, x]) }}{% endfor %}")
    assert "深くなりすぎ" in refused.message or "上限" in refused.message


def test_the_command_line_refuses_in_one_line_and_stores_nothing(
    shop: Kanjo, capsys: pytest.CaptureFixture[str]
) -> None:
    place(shop, "BIG-2", items=tuple((f"商品{i}", 100 + i, 1) for i in range(200)))
    cubic = "{% for a in items %}{% for b in items %}{% for c in items %}{{ '' }}{% endfor %}{% endfor %}{% endfor %}"
    saved = shop.messages.save_template(None, title="三重", subject="{{ order_number }}", body=cubic)
    for command in (["message", "render"], ["message", "send", "--manual"]):
        started = time.monotonic()
        code = main([*command[:2], saved.id, "BIG-2", *command[2:]])
        out, err = capsys.readouterr()
        assert time.monotonic() - started < FAST
        assert code == 1 and out == ""
        assert err.count("\n") == 1 and "繰り返しが多すぎます(合計の上限100,000回)" in err
        assert "Traceback" not in err and "予期しない" not in err
    assert shop.messages.history("BIG-2") == []


# --- legitimate templates are untouched ------------------------------------------------------------


def big_order_variables(count: int = 200) -> dict[str, object]:
    items = tuple(
        ItemView(f"藍染 手ぬぐい 柄{i:03d}", 1_200 + i, 600, 1 + i % 3, (1_200 + i) * (1 + i % 3)) for i in range(count)
    )
    total = sum(i.subtotal for i in items) + 800
    order = OrderFacts(
        number="BIG-0200",
        kind="normal",
        ordered_at=datetime(2026, 11, 21, 3, 0, tzinfo=UTC),
        customer_name="山田 花子",
        customer_email="hanako@example.jp",
        customer_is_member=True,
        items=items,
        shipping_fee=800,
        fees=0,
        discount=0,
        total=total,
        captured=total,
        refunded=0,
        tracking_number="1234-5678-9012",
    )
    return order_variables(order, SAMPLE_SETTINGS)


def test_every_built_in_renders_a_200_item_order() -> None:
    variables = big_order_variables()
    for template in builtin_templates():
        rendered = render(template.subject, template.body, variables)
        assert "BIG-0200" in rendered.subject + rendered.body
    thanks = next(t for t in builtin_templates() if t.id == "thanks")
    body = render(thanks.subject, thanks.body, variables).body
    assert "藍染 手ぬぐい 柄000" in body and "藍染 手ぬぐい 柄199" in body


def test_a_rich_custom_template_over_200_items_renders_in_time() -> None:
    body = (
        "{% macro line(item, width) %}{{ item.name|center(width) }}|{{ '%5d'|format(item.quantity) }}|"
        "{{ '{:>10}'.format(item.subtotal) }}{% endmacro %}"
        "{{ customer_name }}\n{{ '=' * 60 }}\n"
        "{% for item in items %}{{ loop.index }}. {{ line(item, 30) }} {{ ('-' * 3) ~ ' ' ~ item.unit_price }}\n"
        "{% for j in range(3) %}{{ j }}{% endfor %}{% endfor %}"
        "{{ items|map(attribute='name')|join('、')|wordwrap(40) }}\n"
        "{{ items_text|indent(4) }}\n{{ amounts_text|replace('\n', ' / ') }}\n"
        "{{ (items|map(attribute='quantity')|sum) * 1000 }} {{ 2 ** 20 }} {{ -(3 + 4) }}\n"
        "{% set header %}{{ shop_name }} {{ order_number }}{% endset %}{{ header|upper }}\n"
        "{{ ('%-10s|%s' % (order_number, total)) }} {{ 'a,b,c'.split(',')|join('+') }}"
    )
    started = time.monotonic()
    rendered = render("{{ order_number }} {{ items|length }}点", body, big_order_variables())
    assert time.monotonic() - started < 1.0
    assert rendered.subject == "BIG-0200 200点"
    assert rendered.body.count("\n") > 400
    assert "200. " in rendered.body and "012" in rendered.body and "BIG-0200" in rendered.body
    assert "SAMPLE" not in rendered.body and "a+b+c" in rendered.body
    check_template("{{ order_number }}", body)  # and it can be saved


@pytest.mark.parametrize(
    "body",
    [
        "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}",
        "{{ " + "[" * 500 + "]" * 500 + " }}",
        "{% if 1 %}" * 2000 + "x" + "{% endif %}" * 2000,
        "{{ " + "+".join(["1"] * 20000) + " }}",
        "{{ " + " and ".join(["1"] * 8000) + " }}",
        "x" * 60_000,
    ],
    ids=["parentheses", "brackets", "nested-if", "long-sum", "long-and", "long-source"],
)
def test_deep_or_huge_template_source_is_refused_in_one_line(body: str) -> None:
    started = time.monotonic()
    with pytest.raises(TemplateRefused) as refused:
        render("件名", body, sample_variables())
    assert time.monotonic() - started < 5
    assert "\n" not in refused.value.message
