"""Build a migrated store with many orders, inserted directly with SQL (not through the sandbox).

The rows look like a real shop's list (Japanese names, every R10 badge, three order kinds,
three years of dates) but have no charges behind them: the benchmark measures the order
list, which reads only the denormalised columns of ``orders`` and ``customers``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, insert, select

from core.db.engine import make_engine, migrate
from core.db.schema import Customer, Order
from core.domain import OrderKind, OrderStatus, PaymentStatus

NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)

FAMILY = [
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
    "佐々木",
    "山口",
    "松本",
    "井上",
    "木村",
    "林",
    "斎藤",
    "清水",
    "山崎",
    "森",
    "池田",
    "橋本",
    "阿部",
    "石川",
    "山下",
    "中島",
    "石井",
    "小川",
    "前田",
    "岡田",
    "長谷川",
    "藤田",
    "後藤",
    "近藤",
    "村上",
    "遠藤",
    "青木",
    "坂本",
    "斉藤",
    "福田",
    "太田",
    "西村",
    "藤井",
    "金子",
    "岡本",
    "藤原",
    "中野",
    "三浦",
    "原田",
    "中川",
    "松田",
    "竹内",
    "小野",
    "田村",
    "中山",
    "和田",
    "石田",
    "森田",
]
GIVEN = [
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
    "陽翔",
    "凛",
    "結菜",
    "悠真",
    "莉子",
    "大和",
    "芽依",
    "蒼",
    "紬",
    "樹",
    "陽葵",
    "颯太",
    "美月",
    "悠人",
    "心春",
    "一郎",
    "恵子",
    "誠",
    "由美",
    "浩二",
    "真由美",
    "大輔",
    "愛",
    "裕子",
    "和也",
    "明美",
    "隆",
    "智子",
    "修",
    "久美子",
    "秀樹",
    "幸子",
    "剛",
    "洋子",
    "聡",
    "ゆうき",
    "はるか",
    "しょうた",
    "みゆ",
    "けんと",
    "あかり",
    "ひなた",
    "りん",
    "そら",
    "まな",
]
ROMAJI = [f"user{i:02d}" for i in range(len(FAMILY))]

# Roughly what a shop's history looks like: most orders are captured and done.
STATUS_WEIGHTS: tuple[tuple[PaymentStatus, int], ...] = (
    (PaymentStatus.CAPTURE_COMPLETED, 700),
    (PaymentStatus.CAPTURE_RECORDED, 40),
    (PaymentStatus.AUTHORIZED, 60),
    (PaymentStatus.AUTH_LAPSED, 30),
    (PaymentStatus.REFUNDED, 60),
    (PaymentStatus.AUTH_CANCELED, 40),
    (PaymentStatus.AUTH_FAILED, 15),
    (PaymentStatus.CAPTURE_PENDING, 10),
    (PaymentStatus.CAPTURE_DECLINED, 8),
    (PaymentStatus.REFUND_PENDING, 8),
    (PaymentStatus.REFUND_DECLINED, 5),
    (PaymentStatus.AUTH_PENDING, 4),
    (PaymentStatus.UNREACHABLE, 20),
)
KINDS = (OrderKind.NORMAL,) * 8 + (OrderKind.RESERVATION, OrderKind.SUBSCRIPTION)
PREFECTURES = ("東京都", "大阪府", "北海道", "福岡県", "愛知県", "京都府", "神奈川県", "宮城県")


def _order_status(status: PaymentStatus, kind: OrderKind, rng: random.Random) -> OrderStatus:
    if status in (PaymentStatus.CAPTURE_COMPLETED, PaymentStatus.CAPTURE_RECORDED):
        return rng.choice((OrderStatus.DONE, OrderStatus.DONE, OrderStatus.SHIPPED))
    if status in (PaymentStatus.REFUNDED, PaymentStatus.AUTH_CANCELED):
        return OrderStatus.CANCELED
    if status is PaymentStatus.AUTH_FAILED and kind is OrderKind.SUBSCRIPTION:
        return OrderStatus.ON_HOLD  # R18
    if kind is OrderKind.RESERVATION:
        return OrderStatus.RESERVED
    return rng.choice((OrderStatus.NEW, OrderStatus.PROCESSING))


def _customers(count: int, rng: random.Random) -> Iterator[dict[str, object]]:
    for i in range(count):
        f = rng.randrange(len(FAMILY))
        yield {
            "name": f"{FAMILY[f]} {rng.choice(GIVEN)}",
            "email": f"{ROMAJI[f]}.{i}@example.jp",
            "phone": f"090{rng.randrange(10**8):08d}",
            "is_member": i % 3 == 0,
            "newsletter_consent": None,
        }


def _orders(count: int, customers: int, rng: random.Random) -> Iterator[dict[str, object]]:
    labels = [s for s, _ in STATUS_WEIGHTS]
    weights = [w for _, w in STATUS_WEIGHTS]
    span = int(timedelta(days=3 * 365).total_seconds())
    for i in range(count):
        status = rng.choices(labels, weights)[0]
        kind = rng.choice(KINDS)
        if status in (PaymentStatus.AUTHORIZED, PaymentStatus.AUTH_PENDING):
            ordered = NOW - timedelta(seconds=rng.randrange(29 * 86400))
        elif status is PaymentStatus.AUTH_LAPSED:
            ordered = NOW - timedelta(days=rng.randint(31, 90))
        else:
            ordered = NOW - timedelta(seconds=rng.randrange(span))
        total = rng.randrange(500, 120_000)
        expires = ordered + timedelta(days=30) if status is PaymentStatus.AUTHORIZED else None
        captured = total if status in (PaymentStatus.CAPTURE_COMPLETED, PaymentStatus.CAPTURE_RECORDED) else 0
        yield {
            "number": f"B{i + 1:08d}",
            "kind": kind.value,
            "ordered_at": ordered,
            "customer_id": rng.randrange(1, customers + 1),
            "ship_name": "",
            "ship_postal_code": "1000001",
            "ship_prefecture": rng.choice(PREFECTURES),
            "ship_address": "千代田区千代田1-1",
            "ship_phone": "09000000000",
            "shipping_fee": 0,
            "fees": 0,
            "discount": 0,
            "total": total,
            "original_total": total,
            "order_status": _order_status(status, kind, rng).value,
            "shop_memo": "",
            "payment_method": "amazon_pay",
            "amount_changed_externally": False,
            "payment_status": status.value,
            "auth_expires_at": expires,
            "authorized_amount": total if expires else 0,
            "captured_amount": captured,
            "refunded_amount": total if status is PaymentStatus.REFUNDED else 0,
            "sync_error": "Amazon Payに接続できませんでした。" if status is PaymentStatus.UNREACHABLE else None,
            "created_at": ordered,
            "updated_at": ordered,
        }


def _chunks(rows: Iterator[dict[str, object]], size: int) -> Iterator[list[dict[str, object]]]:
    chunk: list[dict[str, object]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def build_store(path: Path, orders: int, *, seed: int = 3, log: bool = True) -> Engine:
    """A migrated SQLite store at ``path`` holding ``orders`` orders; reused when it already does."""
    return build_store_at(f"sqlite:///{path}", orders, seed=seed, log=log)


def build_store_at(url: str, orders: int, *, seed: int = 3, log: bool = True) -> Engine:
    """The same at any store URL (a SQLite file or a PostgreSQL database, issue 14)."""
    engine = make_engine(url)
    migrate(engine, now=NOW)
    with engine.connect() as connection:
        have = connection.scalar(select(func.count()).select_from(Order))
    if have == orders:
        return engine
    if have:
        raise SystemExit(f"{url} holds {have} orders, not {orders}; delete it or choose another store")
    rng = random.Random(seed)
    customers = max(1, int(orders * 0.6))
    started = time.perf_counter()
    with engine.begin() as connection:
        for chunk in _chunks(_customers(customers, rng), 20_000):
            connection.execute(insert(Customer), chunk)
        for done, chunk in enumerate(_chunks(_orders(orders, customers, rng), 20_000), 1):
            connection.execute(insert(Order), chunk)
            if log and done % 10 == 0:
                print(f"  {done * 20_000:,} orders inserted ({time.perf_counter() - started:.0f} s)", flush=True)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("ANALYZE")
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    if log:
        print(f"  store built in {time.perf_counter() - started:.0f} s: {engine.url.render_as_string()}", flush=True)
    return engine
