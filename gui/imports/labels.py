"""Japanese names for the import window: formats, encodings, the fields a file can change."""

from __future__ import annotations

from typing import Final

from core.imports.formats.base import FIELD_LABELS

# (value passed to core, label shown); saved mapping names follow the built-in formats.
FORMAT_CHOICES: Final = (
    ("auto", "自動"),
    ("futureshop", "futureshop"),
    ("eccube", "EC-CUBE"),
    ("shopify", "Shopify"),
    ("amazon-orders", "Amazon注文レポート"),
)
ENCODING_CHOICES: Final = (("auto", "自動"), ("cp932", "CP932"), ("utf-8", "UTF-8"))
ENCODING_LABELS: Final = {"cp932": "CP932（Shift_JIS）", "utf-8": "UTF-8", "utf-8-sig": "UTF-8（BOM付き）"}
ACTION_LABELS: Final = {"add": "追加", "update": "更新", "unchanged": "変更なし", "refused": "取込不可"}
# What an update changes (core.imports.service.PlannedOrder.fields).
CHANGE_LABELS: Final = {
    **FIELD_LABELS,
    "order_status": "ステータス",
    "items": "商品",
    "total": "合計金額",
    "shop_total_mismatch": "合計金額の相違",
    "charge_permission_id": "Amazon Pay連携",
}


def format_label(name: str) -> str:
    for value, label in FORMAT_CHOICES:
        if value == name:
            return label
    return f"対応表「{name}」"


def encoding_label(name: str) -> str:
    return ENCODING_LABELS.get(name, name)


def changes_text(fields: tuple[str, ...]) -> str:
    return "、".join(CHANGE_LABELS.get(name, name) for name in fields)


def column_label(column: str | None) -> str:
    """A refused row's column: the file's header, or core's field name for a store conflict."""
    if not column:
        return ""
    return FIELD_LABELS.get(column, column)
