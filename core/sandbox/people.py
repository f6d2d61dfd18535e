"""Deterministic Japanese buyers and addresses for sandbox checkouts and demo orders."""

from __future__ import annotations

import random
from dataclasses import dataclass

_FAMILY = [
    "佐藤",
    "鈴木",
    "高橋",
    "田中",
    "伊藤",
    "渡辺",
    "山本",
    "中村",
    "小林",
    "加藤",
    "吉田",
    "山田",
    "松本",
    "井上",
    "木村",
]
_GIVEN = [
    "陽菜",
    "結衣",
    "蓮",
    "湊",
    "大翔",
    "美咲",
    "翔太",
    "さくら",
    "健太",
    "葵",
    "拓海",
    "花子",
    "太郎",
    "優子",
    "直樹",
]
_ROMAJI_FAMILY = [
    "sato",
    "suzuki",
    "takahashi",
    "tanaka",
    "ito",
    "watanabe",
    "yamamoto",
    "nakamura",
    "kobayashi",
    "kato",
    "yoshida",
    "yamada",
    "matsumoto",
    "inoue",
    "kimura",
]
_PLACES = [
    ("東京都", "100-0001", "千代田区千代田1-1"),
    ("大阪府", "530-0001", "大阪市北区梅田3-1-1"),
    ("北海道", "060-0806", "札幌市北区北六条西4丁目"),
    ("福岡県", "812-0012", "福岡市博多区博多駅中央街1-1"),
    ("愛知県", "450-0002", "名古屋市中村区名駅1-1-4"),
    ("京都府", "600-8216", "京都市下京区烏丸通塩小路下る"),
    ("神奈川県", "220-0011", "横浜市西区高島2-16-1"),
    ("宮城県", "980-0021", "仙台市青葉区中央1-1-1"),
]


@dataclass(frozen=True)
class Person:
    buyer_id: str
    name: str
    email: str
    phone: str
    postal_code: str
    prefecture: str
    address: str


def person_for(seed: str) -> Person:
    rng = random.Random(seed)
    family_index = rng.randrange(len(_FAMILY))
    given = rng.choice(_GIVEN)
    prefecture, postal, street = rng.choice(_PLACES)
    number = rng.randrange(1000, 9999)
    return Person(
        buyer_id=f"amzn1.account.{rng.getrandbits(64):016X}",
        name=f"{_FAMILY[family_index]} {given}",
        email=f"{_ROMAJI_FAMILY[family_index]}.{number}@example.jp",
        phone=f"090{rng.randrange(10**8):08d}",
        postal_code=postal,
        prefecture=prefecture,
        address=f"{street} {rng.randrange(1, 30)}号室" if rng.random() < 0.5 else street,
    )
