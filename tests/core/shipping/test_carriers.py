"""Tracking numbers per carrier (issue 15 item 1, R24): pure rules."""

from __future__ import annotations

import pytest

from core.shipping.carriers import (
    Carrier,
    check_tracking,
    mod7_check_digit,
    parse_carrier,
    s10_check_digit,
    tracking_url,
)


def test_yamato_is_twelve_digits_whose_last_is_the_first_eleven_mod_7() -> None:
    assert 44441375870 % 7 == 3 and mod7_check_digit("44441375870") == 3
    assert check_tracking(Carrier.YAMATO, "444413758703").ok
    assert check_tracking(Carrier.YAMATO, "4444-1375-8703").number == "444413758703"  # typed with hyphens
    assert check_tracking(Carrier.YAMATO, "４４４４１３７５８７０３").ok  # full-width digits
    wrong = check_tracking(Carrier.YAMATO, "444413758704")
    assert not wrong.ok and "最後の桁" in (wrong.error or "")
    short = check_tracking(Carrier.YAMATO, "44441375870")
    assert not short.ok and "12桁" in (short.error or "")
    assert not check_tracking(Carrier.YAMATO, "44441375870A").ok


def test_sagawa_uses_the_same_mod_7_check_digit() -> None:
    assert check_tracking(Carrier.SAGAWA, "512547514334").ok  # 51254751433 % 7 == 4
    assert not check_tracking(Carrier.SAGAWA, "512547514335").ok


def test_japan_post_domestic_and_international() -> None:
    assert check_tracking(Carrier.JAPANPOST, "405548424886").ok  # 12 digits: mod 7
    assert not check_tracking(Carrier.JAPANPOST, "405548424887").ok
    assert check_tracking(Carrier.JAPANPOST, "12345678901").ok  # 11 digits (書留): digits and length
    assert check_tracking(Carrier.JAPANPOST, "1234567890123").ok  # 13 digits
    assert not check_tracking(Carrier.JAPANPOST, "1234567890").ok
    # UPU S10: RA473124829GB is the standard's own example (check digit 9); ours end in JP.
    assert s10_check_digit("47312482") == 9
    assert check_tracking(Carrier.JAPANPOST, "rr123456785jp").number == "RR123456785JP"
    assert check_tracking(Carrier.JAPANPOST, "RR123456785JP").ok
    assert not check_tracking(Carrier.JAPANPOST, "RR123456789JP").ok


def test_other_takes_printable_text_only() -> None:
    assert check_tracking(Carrier.OTHER, " 西濃 1234 ").number == "西濃 1234"
    assert not check_tracking(Carrier.OTHER, "").ok
    assert not check_tracking(Carrier.OTHER, "abc\x1b[2J").ok
    assert not check_tracking(Carrier.OTHER, "x" * 65).ok


@pytest.mark.parametrize(
    ("text", "carrier"),
    [
        ("yamato", Carrier.YAMATO),
        ("ヤマト運輸", Carrier.YAMATO),
        ("佐川急便", Carrier.SAGAWA),
        ("日本郵便", Carrier.JAPANPOST),
        ("ゆうパック", Carrier.JAPANPOST),
        ("other", Carrier.OTHER),
        ("fedex", None),
        ("", None),
    ],
)
def test_carrier_names(text: str, carrier: Carrier | None) -> None:
    assert parse_carrier(text) is carrier


def test_tracking_links_per_carrier() -> None:
    assert tracking_url(Carrier.YAMATO, "444413758703") == (
        "https://jizen.kuronekoyamato.co.jp/jizen/servlet/crjz.b.NQ0010?id=444413758703"
    )
    assert "okurijoNo=512547514334" in (tracking_url("sagawa", "512547514334") or "")
    assert "reqCodeNo1=405548424886" in (tracking_url("japanpost", "405548424886") or "")
    assert "searchKind=S004" in (tracking_url("japanpost", "RR123456785JP") or "")
    assert tracking_url(Carrier.OTHER, "X1") is None
    assert tracking_url("yamato", None) is None
