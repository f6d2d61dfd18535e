"""Japanese labels and badge colours, in one table (style.md: gui/labels.py).

Badge colours are chosen per tone (core.domain.BADGE_TONES) so that success / in progress /
attention / failure / neutral read apart at a glance, with text contrast of at least 4.5:1
on the pill in both the light and the dark palette (checked in tests/gui/test_status_badge.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor, QPalette

from core.domain import BADGE_TONES, OrderKind, OrderStatus, PaymentStatus, Tone

APP_TITLE = "勘定"
NO_PAYMENT_LABEL = "決済不要"  # R34: an order without any payment has no R10 badge


@dataclass(frozen=True)
class BadgeColors:
    background: QColor
    border: QColor
    text: QColor


# (background, border, text) per tone: light palette, then dark palette.
_LIGHT: dict[Tone, tuple[str, str, str]] = {
    Tone.SUCCESS: ("#dcf3e3", "#7cc395", "#0f5a2b"),
    Tone.PROGRESS: ("#dde9fc", "#86aee8", "#17468c"),
    Tone.ATTENTION: ("#fff0c7", "#e0b44c", "#6b4200"),
    Tone.FAILURE: ("#fde1e1", "#e58a8f", "#9b1520"),
    Tone.NEUTRAL: ("#eceef1", "#b7bdc6", "#3f4652"),
}
_DARK: dict[Tone, tuple[str, str, str]] = {
    Tone.SUCCESS: ("#1d4a2c", "#3f8a58", "#c2f2d0"),
    Tone.PROGRESS: ("#1c3761", "#4a76b8", "#cfe0ff"),
    Tone.ATTENTION: ("#56400f", "#a07b25", "#ffe4a6"),
    Tone.FAILURE: ("#63191f", "#b04850", "#ffd0d3"),
    Tone.NEUTRAL: ("#383d45", "#6c737e", "#dde1e7"),
}

ORDER_STATUS_TONES: dict[OrderStatus, Tone] = {
    OrderStatus.NEW: Tone.PROGRESS,
    OrderStatus.RESERVED: Tone.NEUTRAL,
    OrderStatus.PROCESSING: Tone.PROGRESS,
    OrderStatus.ON_HOLD: Tone.ATTENTION,  # R18
    OrderStatus.SHIPPED: Tone.SUCCESS,
    OrderStatus.DONE: Tone.SUCCESS,
    OrderStatus.CANCELED: Tone.NEUTRAL,
}

KIND_LABELS: dict[OrderKind, str] = {kind: kind.label for kind in OrderKind}
PAYMENT_STATUSES: tuple[PaymentStatus, ...] = tuple(PaymentStatus)  # the 13 R10 labels, in R10 order


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def badge_colors(tone: Tone, palette: QPalette) -> BadgeColors:
    background, border, text = (_DARK if is_dark(palette) else _LIGHT)[tone]
    return BadgeColors(QColor(background), QColor(border), QColor(text))


def payment_tone(status: PaymentStatus | None) -> Tone:
    return BADGE_TONES[status] if status is not None else Tone.NEUTRAL


def payment_label(status: PaymentStatus | str | None) -> str:
    if status is None or status == "":
        return NO_PAYMENT_LABEL
    return PaymentStatus(status).value


def order_status_tone(status: OrderStatus) -> Tone:
    return ORDER_STATUS_TONES[status]


def order_status_from_label(label: str) -> OrderStatus:
    """OrderDetail carries the Japanese label; find its enum."""
    for status in OrderStatus:
        if status.label == label:
            return status
    return OrderStatus(label)


def yen(amount: int | None) -> str:
    """'12,345円' (JPY has no minor unit)."""
    return "" if amount is None else f"{amount:,}円"


def contrast_ratio(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio of two colours."""

    def luminance(color: QColor) -> float:
        def channel(value: float) -> float:
            return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

        return 0.2126 * channel(color.redF()) + 0.7152 * channel(color.greenF()) + 0.0722 * channel(color.blueF())

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)
