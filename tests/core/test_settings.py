"""core.settings: values typed by the operator are checked before they are stored."""

from __future__ import annotations

import pytest

from core.errors import BadInput
from core.settings import coerce, normalize_domain


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("shop.example.jp", "shop.example.jp"),
        ("ｓｈｏｐ．ｅｘａｍｐｌｅ．ｊｐ", "shop.example.jp"),  # full-width, folded
        ("https://Shop.Example.jp/", "shop.example.jp"),
        ("日本語.jp", "日本語.jp"),
        ("shop.example.jp:8443", "shop.example.jp:8443"),
        ("  ", ""),  # cleared
    ],
)
def test_a_shop_domain_is_stored_as_links_need_it(typed: str, stored: str) -> None:
    assert normalize_domain(typed) == stored
    assert coerce("shop_domain", typed) == stored  # `kanjo settings set shop_domain …`


@pytest.mark.parametrize(
    "typed",
    [
        "shop　example.jp",
        "shop example.jp",
        "shop.example.jp?x=1#y",
        "@@@",
        "localhost",
        "a..jp",
        "-a.jp",
        "shop.example.jp/my/orders",
        "shop.example.jp:0",
        "user@shop.example.jp",
    ],
)
def test_a_domain_that_would_break_customer_links_is_refused_in_japanese(typed: str) -> None:
    with pytest.raises(BadInput, match="ドメインは"):
        normalize_domain(typed)
