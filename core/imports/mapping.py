"""A saved column mapping for any other CSV (issue 11, item 1: ``--format NAME``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Final

from core.errors import BadInput
from core.imports.formats.base import FIELD_LABELS, FIELDS, FormatSpec

REQUIRED_FIELDS: Final = ("number", "ordered_at", "total")
ITEM_FIELDS: Final = ("item_sku", "item_name", "item_price", "item_quantity", "item_cost")
ITEM_NEEDS: Final = ("item_price", "item_quantity")  # an item is read only with both
BUILTIN_NAMES: Final = ("auto", "futureshop", "eccube", "shopify", "amazon-orders")


@dataclass(frozen=True)
class ColumnMapping:
    """``columns`` maps ImportedOrder field names (and item_sku, item_name, item_price,
    item_quantity, charge_ids) to the file's header names. A value may join several headers
    with ``+`` (``住所1+住所2``) when no single header has that exact name."""

    name: str
    columns: dict[str, str] = field(default_factory=dict)
    # False for a mapping read back from the store: one saved before a check was added still
    # loads (its rows are then refused with the field named in Japanese), so other imports work.
    strict: bool = field(default=True, compare=False, repr=False)

    def __post_init__(self) -> None:
        name = self.name.strip()
        if not name:
            raise BadInput("マッピングの名前を入力してください。")
        if name in BUILTIN_NAMES:
            raise BadInput(f"「{name}」は組み込みの形式名のため、マッピングの名前には使えません。")
        unknown = [key for key in self.columns if key not in FIELDS]
        if unknown:
            valid = "、".join(f"{key}({FIELD_LABELS[key]})" for key in FIELDS)
            raise BadInput(f"マッピングに不明な項目があります: {', '.join(unknown)}(使える項目: {valid})")
        missing = [FIELD_LABELS[key] for key in REQUIRED_FIELDS if not self.columns.get(key, "").strip()]
        if missing:
            raise BadInput(f"マッピングに必要な項目の列が指定されていません: {'、'.join(missing)}")
        # Items are read only with their price and quantity (issue 11 review item 4): a mapping
        # that names the item but not both would refuse every row of the file.
        given = [key for key in ITEM_FIELDS if self.columns.get(key, "").strip()]
        lacking = [FIELD_LABELS[key] for key in ITEM_NEEDS if not self.columns.get(key, "").strip()]
        if given and lacking and self.strict:
            named = "、".join(FIELD_LABELS[key] for key in given)
            raise BadInput(
                f"商品の列({named})を指定するときは、{'と'.join(lacking)}の列も指定してください"
                f"(例: item_price=単価 item_quantity=数量)。"
            )

    def to_json(self) -> str:
        return json.dumps({"name": self.name, "columns": self.columns}, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ColumnMapping:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadInput("マッピングの内容を読めません（JSONではありません）。") from exc
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("name"), str)
            or not isinstance(data.get("columns"), dict)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in data["columns"].items())
        ):
            raise BadInput("マッピングの内容を読めません（name と columns が必要です）。")
        return cls(name=data["name"], columns=dict(data["columns"]), strict=False)

    def to_spec(self, headers: tuple[str, ...] = ()) -> FormatSpec:
        """The mapping as a format, resolved against ``headers`` for ``+``-joined values."""
        present = {h.strip() for h in headers}
        columns: dict[str, tuple[tuple[str, ...], ...]] = {}
        for key, value in self.columns.items():
            header = value.strip()
            if not header:
                continue
            parts = tuple(p.strip() for p in header.split("+") if p.strip())
            if header not in present and len(parts) > 1 and all(p in present for p in parts):
                columns[key] = (parts,)
            else:
                columns[key] = ((header,),)
        return FormatSpec(
            name=self.name,
            label=f"マッピング「{self.name}」",
            delimiter=",",
            encoding="utf-8",
            columns=columns,
            required=tuple(key for key in REQUIRED_FIELDS if key in columns),
        )
