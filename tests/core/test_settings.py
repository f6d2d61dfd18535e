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


# --- issue 10 items 3 and 8: settings that would lock the operator out or mislead them -----------


@pytest.mark.parametrize(
    ("name", "typed", "stored"),
    [
        ("sync_interval_minutes", "1", 1),
        ("sync_interval_minutes", "1440", 1440),
        ("sync_interval_minutes", "１５", 15),  # full-width, folded
        ("smtp_port", "４６５", 465),
        ("smtp_port", " 587 ", 587),
    ],
)
def test_numbers_are_ascii_or_full_width_digits_in_range(name: str, typed: str, stored: int) -> None:
    assert coerce(name, typed) == stored


@pytest.mark.parametrize(
    ("name", "typed"),
    [
        ("sync_interval_minutes", "40000"),  # QTimer overflow: the window could not open
        ("sync_interval_minutes", "1441"),
        ("sync_interval_minutes", "0"),
        ("sync_interval_minutes", "①"),
        ("sync_interval_minutes", "²"),
        ("sync_interval_minutes", "٣"),  # int() reads Arabic-Indic digits; they were stored as 3
        ("sync_interval_minutes", "9" * 5000),  # int() refuses more than 4,300 digits
        ("sync_interval_minutes", "-5"),
        ("smtp_port", "①"),
        ("smtp_port", "65536"),
    ],
)
def test_other_digits_and_out_of_range_numbers_are_refused(name: str, typed: str) -> None:
    with pytest.raises(BadInput, match=name):
        coerce(name, typed)


def test_a_stored_number_that_cannot_be_read_falls_back_to_the_default() -> None:
    from core.settings import _decode

    assert _decode("sync_interval_minutes", "٣") == 10 and _decode("smtp_port", "") == 587
    assert _decode("sync_interval_minutes", "40000") == 40000  # read as stored; the window bounds it


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("A2KANJOTOKEN", "A2KANJOTOKEN"),
        ("a2kanjotoken", "A2KANJOTOKEN"),
        ("Ａ２ＫＡＮＪＯＴＯＫＥＮ", "A2KANJOTOKEN"),
        (" A1B2C3D4E5F6G7 ", "A1B2C3D4E5F6G7"),
        ("", ""),
    ],
)
def test_a_seller_token_is_folded_to_amazons_form(typed: str, stored: str) -> None:
    assert coerce("seller_token", typed) == stored


@pytest.mark.parametrize(
    "typed", ["X&seller=evil#", "A2KANJO TOKEN", "A1B2", "A" * 21, "ＡＢＣ①①①①①①①①", "ßßßßßßßßßß", "A2KANJOTOKEN/"]
)
def test_a_seller_token_that_would_change_the_store_profile_url_is_refused(typed: str) -> None:
    with pytest.raises(BadInput, match="出品者トークン"):
        coerce("seller_token", typed)


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"amazon_environment": "live"}, "公開鍵IDと秘密鍵ファイル"),
        ({"amazon_environment": "sandbox", "amazon_public_key_id": "LIVE-AB12"}, "本番用"),
        ({"amazon_environment": "sandbox", "amazon_public_key_id": "live-ab12"}, "本番用"),
        ({"amazon_environment": "live", "amazon_public_key_id": "SANDBOX-AB12"}, "サンドボックス用"),
    ],
)
def test_the_environment_and_the_key_must_agree(values: dict[str, str], problem: str) -> None:
    from core.settings import AppSettings, connection_problem

    settings = AppSettings(amazon_private_key_path="/k.pem", amazon_merchant_id="M1", **values)
    if "amazon_public_key_id" not in values:
        settings = AppSettings(amazon_merchant_id="M1", **values)
    message = connection_problem(settings)
    assert message is not None and problem in message


def test_settings_that_agree_are_accepted() -> None:
    from core.settings import AppSettings, connection_problem

    assert connection_problem(AppSettings()) is None
    live = AppSettings(amazon_public_key_id="LIVE-1", amazon_private_key_path="/k.pem", amazon_environment="live")
    assert connection_problem(live) is None
    assert connection_problem(live, saving=True) is not None  # the merchant id is needed to save live
    plain = AppSettings(amazon_public_key_id="AHJ1", amazon_private_key_path="/k.pem", amazon_environment="sandbox")
    assert connection_problem(plain) is None  # no prefix: the environment decides the URL
