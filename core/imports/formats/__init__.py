"""One module per shop system's order export; ``BUILTIN`` lists them in detection order."""

from __future__ import annotations

from core.imports.formats import amazon_orders, eccube, futureshop, shopify
from core.imports.formats.base import FormatSpec

BUILTIN: dict[str, FormatSpec] = {
    spec.name: spec for spec in (futureshop.SPEC, eccube.SPEC, shopify.SPEC, amazon_orders.SPEC)
}

__all__ = ["BUILTIN", "FormatSpec"]
