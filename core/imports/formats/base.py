"""What a format is: which header names carry which order field (R58: columns are found by name)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Final

Alternatives = tuple[tuple[str, ...], ...]
"""For one field: alternative header groups, tried in order; the headers of a group are joined
with a space (e.g. city + address lines, family + given name)."""

FIELDS: Final = (
    "number",
    "ordered_at",
    "customer_name",
    "customer_reading",
    "customer_email",
    "customer_phone",
    "ship_name",
    "ship_postal_code",
    "ship_prefecture",
    "ship_address",
    "ship_phone",
    "item_sku",
    "item_name",
    "item_price",
    "item_quantity",
    "item_cost",
    "shipping_fee",
    "total",
    "payment_label",
    "charge_permission_id",
    "charge_ids",
    "tracking_number",
    "order_status",
    "order_kind",
)

# Japanese names of the fields, for messages about a mapping.
FIELD_LABELS: Final = {
    "number": "注文番号",
    "ordered_at": "注文日時",
    "customer_name": "注文者名",
    "customer_reading": "注文者フリガナ",
    "customer_email": "メールアドレス",
    "customer_phone": "電話番号",
    "ship_name": "お届け先氏名",
    "ship_postal_code": "お届け先郵便番号",
    "ship_prefecture": "お届け先都道府県",
    "ship_address": "お届け先住所",
    "ship_phone": "お届け先電話番号",
    "item_sku": "商品コード",
    "item_name": "商品名",
    "item_price": "単価",
    "item_quantity": "数量",
    "item_cost": "原価",
    "shipping_fee": "送料",
    "total": "合計金額",
    "payment_label": "支払方法",
    "charge_permission_id": "Charge Permission ID",
    "charge_ids": "Charge ID",
    "tracking_number": "伝票番号",
    "order_status": "ステータス",
    "order_kind": "注文種別",
}

# Every format also recognises the columns an Amazon Pay plugin adds (issue 11, item 2).
LINK_COLUMNS: Final[dict[str, Alternatives]] = {
    "charge_permission_id": (("chargePermissionId",), ("charge_permission_id",), ("Charge Permission ID",)),
    "charge_ids": (("chargeId",), ("charge_id",), ("Charge ID",)),
}
# The order's kind (R2: 通常商品 / 予約商品 / 定期・頒布会), read by every format but the Amazon
# order report (always マーケットプレイス) when the shop's export has such a column; the first
# header is what ``sandbox shop-export`` writes.
# An item's cost price a unit (issue 15: the cancellation calculator and the net result), when
# the shop's export or the operator's own sheet carries one; the first header is what a writer uses.
COST_COLUMNS: Final[dict[str, Alternatives]] = {
    "item_cost": (("原価",), ("原価単価",), ("仕入単価",), ("仕入価格",), ("item_cost",), ("Lineitem cost",)),
}
KIND_COLUMNS: Final[dict[str, Alternatives]] = {
    "order_kind": (("注文種別",), ("受注種別",), ("order_kind",), ("Order Kind",)),
}


@dataclass(frozen=True)
class FormatSpec:
    """One shop system's order export.

    ``columns`` maps the fields of ``FIELDS`` to header alternatives; the first header of the
    first alternative is what the writer uses. ``required`` fields must have a column.
    """

    name: str
    label: str
    delimiter: str
    encoding: str  # the shop system's native encoding, used by the writer by default
    columns: dict[str, Alternatives]
    required: tuple[str, ...]
    kind: str = "normal"
    # Shopify: the order's fields are on its first line only; later lines carry only the item.
    order_fields_first_line_only: bool = False
    # Amazon order report: item-price is the line's total (price × quantity), and the order's
    # total is the sum of item-price and shipping-price over its lines.
    line_amounts: bool = False
    # Shopify: a header whose value is the Charge Permission ID when it looks like one.
    payment_reference: str | None = None
    # Headers we know and deliberately do not read (not kept in ``extra``).
    known: tuple[str, ...] = ()
    date_format: str = "%Y/%m/%d %H:%M:%S"  # how the writer writes dates (Japan time unless it has %z)
    date_in_utc: bool = False
    write_columns: tuple[str, ...] = field(default=())  # extra headers the writer adds (empty values)

    def all_columns(self) -> dict[str, Alternatives]:
        merged = dict(self.columns)
        for key, alternatives in (*LINK_COLUMNS.items(), *COST_COLUMNS.items()):
            merged[key] = merged.get(key, ()) + alternatives
        if self.kind != "marketplace":
            for key, alternatives in KIND_COLUMNS.items():
                merged[key] = merged.get(key, ()) + alternatives
        return merged


@dataclass(frozen=True)
class Layout:
    """A format resolved against one file's header row: field → column indices."""

    spec: FormatSpec
    headers: tuple[str, ...]
    fields: dict[str, tuple[int, ...]]
    extra: tuple[int, ...]

    def header_of(self, key: str) -> str | None:
        indices = self.fields.get(key)
        if not indices:
            return None
        return self.headers[indices[0]]

    @cached_property
    def single(self) -> dict[str, int]:
        """The fields read from exactly one column: field → its index (the reader's hot path)."""
        return {key: indices[0] for key, indices in self.fields.items() if len(indices) == 1}

    @cached_property
    def multi(self) -> dict[str, tuple[int, ...]]:
        """The fields read from several columns (joined by a space), e.g. an address."""
        return {key: indices for key, indices in self.fields.items() if len(indices) > 1}

    @cached_property
    def labels(self) -> dict[str, str]:
        """field → what the reader's messages call it: its header text, else its label."""
        return {**FIELD_LABELS, **{key: name for key, name in self.header_names.items() if name}}

    @cached_property
    def header_names(self) -> dict[str, str]:
        """field → the header text of its (first) column, for the reader's messages."""
        return {key: self.headers[indices[0]] for key, indices in self.fields.items() if indices}


def resolve(spec: FormatSpec, headers: Sequence[str]) -> tuple[Layout, list[str]]:
    """Find the columns of ``spec`` in ``headers``; returns the layout and the missing required headers."""
    clean = tuple(h.strip() for h in headers)
    position: dict[str, int] = {}
    for index, header in enumerate(clean):
        position.setdefault(header, index)
    fields: dict[str, tuple[int, ...]] = {}
    for key, alternatives in spec.all_columns().items():
        for group in alternatives:
            found = tuple(position[h] for h in group if h in position)
            if found:
                fields[key] = found
                break
    if spec.payment_reference is not None and spec.payment_reference in position:
        fields["payment_reference"] = (position[spec.payment_reference],)
    missing = [spec.columns[key][0][0] for key in spec.required if key not in fields]
    used = {i for indices in fields.values() for i in indices}
    known = set(spec.known)
    extra = tuple(i for i, h in enumerate(clean) if i not in used and h not in known and h)
    return Layout(spec, clean, fields, extra), missing
