"""Write orders as a shop system would export them (issue 11, item 7: ``sandbox shop-export``).

What ``write_export`` writes, ``read_orders`` reads back into equal ``ImportedOrder``s (for
orders whose times are whole seconds). Streamed: one order at a time.
"""

from __future__ import annotations

import contextlib
import csv
import os
from collections.abc import Iterable, Iterator
from datetime import UTC
from pathlib import Path
from typing import Final

from core.clock import to_jst
from core.domain import OrderKind
from core.errors import BadInput
from core.imports.formats import BUILTIN
from core.imports.formats.base import KIND_COLUMNS, LINK_COLUMNS, FormatSpec
from core.imports.model import ImportedOrder
from core.imports.reader import _ENCODING_NAMES

_NAME_FIELDS: Final = ("customer_name", "ship_name")
_ITEM_FIELDS: Final = ("item_sku", "item_name", "item_price", "item_quantity")
_LINK_HEADERS: Final = {key: alternatives[0][0] for key, alternatives in LINK_COLUMNS.items()}
_KIND_HEADER: Final = KIND_COLUMNS["order_kind"][0][0]


def write_export(path: Path, format: str, orders: Iterable[ImportedOrder], *, encoding: str = "") -> None:
    """Write ``orders`` to ``path`` in ``format`` (futureshop, eccube, shopify, amazon-orders).

    Args:
        encoding: ``cp932``, ``utf-8`` or ``utf-8-sig``; empty for the shop system's own
            (EC-CUBE and futureshop CP932, Shopify UTF-8, Amazon UTF-8).

    Raises:
        BadInput: an unknown format or encoding, or a character the encoding cannot hold.
    """
    spec = BUILTIN.get(format)
    if spec is None:
        raise BadInput(f"書き出し形式「{format}」は不明です（futureshop, eccube, shopify, amazon-orders のいずれか）。")
    chosen = spec.encoding if not encoding else _ENCODING_NAMES.get(encoding.strip().lower())
    if chosen is None:
        raise BadInput(f"文字コード「{encoding}」には対応していません（cp932, utf-8, utf-8-sig のいずれか）。")
    iterator = iter(orders)
    first = next(iterator, None)
    extra_headers = tuple(first.extra) if first is not None else ()
    headers = _headers(spec, extra_headers)
    line_end = "\n" if spec.delimiter == "\t" or spec.encoding != "cp932" else "\r\n"
    # The export holds customer names and addresses: written 0600 into a temporary file beside
    # the target and renamed into place only when complete (never a half-written export).
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o600)
    try:
        with open(fd, "w", encoding=chosen, newline="") as stream:
            writer = csv.writer(stream, delimiter=spec.delimiter, lineterminator=line_end)
            writer.writerow(headers)
            for order in _chain(first, iterator) if first is not None else ():
                try:
                    writer.writerows(_rows(spec, headers, order))
                except UnicodeEncodeError as exc:
                    raise BadInput(
                        f"注文 {order.number} に{chosen}で書けない文字があります（{exc.object[exc.start : exc.end]}）。文字コードに utf-8 を指定してください。"
                    ) from exc
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _chain(first: ImportedOrder, rest: Iterator[ImportedOrder]) -> Iterator[ImportedOrder]:
    yield first
    yield from rest


def _headers(spec: FormatSpec, extra: tuple[str, ...]) -> list[str]:
    headers: list[str] = []
    for alternatives in spec.columns.values():
        headers.extend(h for h in alternatives[0] if h not in headers)
    kind = (_KIND_HEADER,) if spec.kind != "marketplace" else ()
    for header in (*_LINK_HEADERS.values(), *kind, *spec.write_columns, *extra):
        if header not in headers:
            headers.append(header)
    return headers


def _rows(spec: FormatSpec, headers: list[str], order: ImportedOrder) -> Iterator[list[str]]:
    order_values = _order_values(spec, order)
    items = order.items or ()
    count = max(1, len(items))
    for index in range(count):
        values: dict[str, str] = {}
        if index == 0 or not spec.order_fields_first_line_only:
            values.update(order_values)
        first_key = spec.columns["number"][0][0]
        values[first_key] = order.number
        if index < len(items):
            item = items[index]
            price = item.unit_price * item.quantity if spec.line_amounts else item.unit_price
            for key, value in zip(_ITEM_FIELDS, (item.sku, item.name, str(price), str(item.quantity)), strict=True):
                values[spec.columns[key][0][0]] = value
        if spec.line_amounts:
            values[spec.columns["shipping_fee"][0][0]] = str(order.shipping_fee if index == 0 else 0)
        yield [values.get(h, "") for h in headers]


def _order_values(spec: FormatSpec, order: ImportedOrder) -> dict[str, str]:
    moment = order.ordered_at
    date_text = moment.astimezone(UTC).isoformat() if spec.date_in_utc else to_jst(moment).strftime(spec.date_format)
    fields: dict[str, str] = {
        "ordered_at": date_text,
        "customer_name": order.customer_name,
        "customer_email": order.customer_email,
        "customer_phone": order.customer_phone,
        "ship_name": order.ship_name,
        "ship_postal_code": order.ship_postal_code,
        "ship_prefecture": order.ship_prefecture,
        "ship_address": order.ship_address,
        "ship_phone": order.ship_phone,
        "payment_label": order.payment_label,
        "tracking_number": order.tracking_number or "",
        "order_status": order.order_status or "",
    }
    if not spec.line_amounts:
        fields["total"] = str(order.total)
        fields["shipping_fee"] = str(order.shipping_fee)
    values: dict[str, str] = {}
    for key, value in fields.items():
        if key not in spec.columns:
            continue
        group = spec.columns[key][0]
        if len(group) > 1 and key in _NAME_FIELDS:
            family, _, given = value.partition(" ")
            values[group[0]], values[group[1]] = family, given
        else:
            values[group[0]] = value
    values[_LINK_HEADERS["charge_permission_id"]] = order.charge_permission_id or ""
    values[_LINK_HEADERS["charge_ids"]] = " ".join(order.charge_ids)
    if spec.kind != "marketplace":  # R2: 通常商品 / 予約商品 / 定期・頒布会, read back by every format
        values[_KIND_HEADER] = OrderKind(order.kind).label if order.kind in set(OrderKind) else order.kind
    subtotal = str(sum(item.unit_price * item.quantity for item in order.items))
    for header in spec.write_columns:
        if header in ("小計", "Subtotal"):
            values[header] = subtotal
        elif header == "合計":
            values[header] = str(order.total)
        elif header == "Payment Reference":
            values[header] = order.charge_permission_id or ""
    values.update(order.extra)
    return values
