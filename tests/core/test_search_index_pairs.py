"""The name pairs of the bigram index: Python's ``name_pairs`` (the import's bulk fill) and the
SQL of the triggers and migrations (``_pairs``) give the same text for every name."""

from __future__ import annotations

import random
import sqlite3

import pytest

from core.db.search_index import MAX_NAME_CHARS, _pairs, name_pairs

NAMES = [
    "",
    " ",
    "　",
    "田中 太郎",
    "田中　太郎",
    "ｱｲｳ ｴｵ",
    "髙橋①㈱",
    "A",
    "ab",
    " leading and trailing ",
    "x" * (MAX_NAME_CHARS - 1),
    "y" * MAX_NAME_CHARS,
    "長" * (MAX_NAME_CHARS + 7),
    "絵文字😀テスト",
    "e\u0301combining",
]


def _random_names(count: int) -> list[str]:
    rng = random.Random(7)
    alphabet = "田中山本あいうアイウabc ㈱①髙　😀-・"
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(count)]


@pytest.mark.parametrize("names", [NAMES, _random_names(500)], ids=["chosen", "random"])
def test_python_pairs_equal_the_sql_pairs(names: list[str]) -> None:
    db = sqlite3.connect(":memory:")
    for name in names:
        (sql,) = db.execute(f"SELECT {_pairs('n')} FROM (SELECT ? AS n)", (name,)).fetchone()
        assert name_pairs(name) == sql, name
