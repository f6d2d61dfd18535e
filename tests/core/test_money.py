"""Tests for core.money: parsing amounts typed the Japanese way, and formatting yen."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import BadInput
from core.money import MAX_YEN, format_yen, parse_yen

_TO_FULLWIDTH = str.maketrans("0123456789,", "０１２３４５６７８９，")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("1200", 1200),
        ("1,200", 1200),
        ("１２００", 1200),
        ("１，２００円", 1200),
        ("1，200", 1200),
        ("1,200円", 1200),
        ("1200 円", 1200),
        ("¥1,200", 1200),
        ("￥１，２００", 1200),
        ("\\1200", 1200),
        ("＼１２００", 1200),
        ("¥ 1,200", 1200),
        ("¥1,200円", 1200),
        ("  1200  ", 1200),
        ("\u3000１２００\u3000", 1200),
        ("\t1,200\n", 1200),
        ("\u00a01200", 1200),
        ("1,234,567", 1_234_567),
        ("100", 100),
        ("999", 999),
        ("1,000", 1000),
        ("0500", 500),
        ("10,000,000,000", 10_000_000_000),
        ("10000000000", MAX_YEN),
    ],
)
def test_parse_yen_accepts(text: str, expected: int) -> None:
    assert parse_yen(text) == expected


def _reject(text: str, *, allow_zero: bool = True, field: str = "金額") -> str:
    with pytest.raises(BadInput) as info:
        parse_yen(text, field=field, allow_zero=allow_zero)
    message = info.value.message
    assert message.endswith("。")
    assert field in message
    return message


@pytest.mark.parametrize("text", ["", " ", "\u3000", "\u3000 \t\n"])
def test_blank_is_rejected(text: str) -> None:
    assert "入力してください" in _reject(text)


@pytest.mark.parametrize(
    "text",
    [
        "abc",
        "千円",
        "¥",
        "円",
        "1e5",
        "1E5",
        "0x10",
        "0b101",
        "1_000",
        "12a",
        "1 200",
        "1\u3000200",
        "1200円円",
        "円1200",
        "1200¥",
        "1.2.3",
        ",100",
        "1、200",
        "１２００ドル",
        "①②",  # NFKC would make these "12".
        "١٢٠٠",  # Arabic-Indic digits: int() would accept them.
        "１２⁰⁰",
        "nan",
        "inf",
        "500-",
    ],
)
def test_non_numeric_is_rejected(text: str) -> None:
    assert "数字で入力" in _reject(text)


@pytest.mark.parametrize(
    "text",
    [
        "-5",
        "-1,200",
        "−1200",  # U+2212 minus sign
        "－１２００",  # U+FF0D full-width hyphen-minus
        "‐1200",  # U+2010 hyphen
        "‑1200",  # U+2011 non-breaking hyphen
        "–1200",  # U+2013 en dash
        "ー1200",  # katakana prolonged sound mark (IME slip)
        "ｰ1200",  # its half-width form
        "﹣1200",  # U+FE63 small hyphen-minus
        "-¥500",  # what format_yen renders for a negative amount
        "¥-500",
        "- 500",
        "−１，２００円",
        "△500",
        "▲500",
        "-0",
    ],
)
def test_negative_is_rejected(text: str) -> None:
    assert "マイナス" in _reject(text)


@pytest.mark.parametrize("text", ["+1200", "+-5", "-+5", "--5", "−－5", "＋１２００"])
def test_signs_are_rejected(text: str) -> None:
    assert "符号" in _reject(text)


@pytest.mark.parametrize(
    "text",
    ["1200.5", "1,200.00", "1200.00", "1200.0", "1200.", ".5", "１２００．００", "¥1,200.50円"],
)
def test_fractions_are_rejected(text: str) -> None:
    assert "小数" in _reject(text)


@pytest.mark.parametrize(
    "text",
    [
        "1,20,0",
        "12,00",
        "1,2000",
        "12,0000",
        "1,,200",
        "100,",
        "1,200,",
        "0,100",
        "1234,567",
        "１２，００",
    ],
)
def test_misplaced_commas_are_rejected(text: str) -> None:
    assert "カンマ" in _reject(text)


@pytest.mark.parametrize("text", ["0", "０円", "¥0", "000"])
def test_zero_is_rejected_when_not_allowed(text: str) -> None:
    assert "1円以上" in _reject(text, allow_zero=False)
    assert parse_yen(text) == 0


@pytest.mark.parametrize(
    "text",
    ["10,000,000,001", "10000000001", "99999999999", "100,000,000,000", "9" * 20, "1" * 5000],
)
def test_absurd_amounts_are_rejected(text: str) -> None:
    assert "¥10,000,000,000" in _reject(text)


def test_field_name_appears_in_message() -> None:
    message = _reject("abc", field="返金額")
    assert message.startswith("返金額")


def test_messages_are_japanese() -> None:
    for text in ["", "abc", "-5", "+5", "1.5", "1,20", "99999999999"]:
        with pytest.raises(BadInput) as info:
            parse_yen(text)
        assert info.value.code == "bad_input"
        assert any("\u3040" <= ch <= "\u30ff" for ch in info.value.message)


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (0, "¥0"),
        (1, "¥1"),
        (999, "¥999"),
        (1000, "¥1,000"),
        (1234, "¥1,234"),
        (1_234_567, "¥1,234,567"),
        (-500, "-¥500"),
        (-1234, "-¥1,234"),
        (MAX_YEN, "¥10,000,000,000"),
    ],
)
def test_format_yen(amount: int, expected: str) -> None:
    assert format_yen(amount) == expected


@pytest.mark.parametrize("value", [1.0, True, "100"])
def test_format_yen_rejects_non_int(value: object) -> None:
    with pytest.raises(TypeError):
        format_yen(value)  # type: ignore[arg-type]


@given(st.integers(min_value=0, max_value=MAX_YEN))
def test_format_then_parse_round_trips(amount: int) -> None:
    assert parse_yen(format_yen(amount)) == amount


@given(st.integers(min_value=0, max_value=MAX_YEN))
def test_full_width_rendering_parses(amount: int) -> None:
    text = f"{amount:,}円".translate(_TO_FULLWIDTH)
    assert parse_yen(text) == amount
    assert parse_yen(f"￥{text}") == amount


@given(st.integers(min_value=1, max_value=MAX_YEN))
def test_negative_rendering_is_rejected(amount: int) -> None:
    with pytest.raises(BadInput):
        parse_yen(format_yen(-amount))
