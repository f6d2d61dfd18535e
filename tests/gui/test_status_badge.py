"""Badges: exact R10 text, tone colours that read apart in light and dark palettes, HiDPI, size hints."""

from __future__ import annotations

import itertools

import pytest
from PySide6.QtCore import QRectF, QSize
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPalette, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QApplication, QStyleOptionViewItem, QTableView
from pytestqt.qtbot import QtBot

from core.domain import BADGE_TONES, PaymentStatus, Tone
from gui.labels import _DARK, _LIGHT, badge_colors, contrast_ratio, is_dark
from gui.orders.status_badge import H_PADDING, MARGIN, BadgeDelegate, BadgeLabel, badge_font, paint_badge
from gui.orders.table_model import OrderRole

LIGHT = QPalette(QColor("#f5f5f5"))
DARK = QPalette(QColor("#2b2b2b"))


def render(text: str, tone: Tone, palette: QPalette, *, ratio: float = 1.0, width: int = 360) -> tuple[QImage, QRectF]:
    image = QImage(QSize(int(width * ratio), int(32 * ratio)), QImage.Format.Format_ARGB32)
    image.setDevicePixelRatio(ratio)
    image.fill(palette.color(QPalette.ColorRole.Base))
    painter = QPainter(image)
    pill = paint_badge(painter, QRectF(0, 0, width, 32), text, tone, palette, QApplication.font())
    painter.end()
    return image, pill


def pixel(image: QImage, x: float, y: float) -> QColor:
    ratio = image.devicePixelRatio()
    return image.pixelColor(int(x * ratio), int(y * ratio))


def close(a: QColor, b: QColor, tolerance: int = 6) -> bool:
    return all(abs(p - q) <= tolerance for p, q in zip(a.getRgb()[:3], b.getRgb()[:3], strict=True))


@pytest.mark.parametrize("palette", [LIGHT, DARK], ids=["light", "dark"])
@pytest.mark.parametrize("status", list(PaymentStatus), ids=[s.name for s in PaymentStatus])
def test_each_r10_badge_is_painted_in_its_tone(qtbot: QtBot, status: PaymentStatus, palette: QPalette) -> None:
    tone = BADGE_TONES[status]
    image, pill = render(status.value, tone, palette)
    expected = badge_colors(tone, palette)
    # Just inside the pill's left padding: background, not text.
    assert close(pixel(image, pill.left() + H_PADDING / 2, pill.center().y()), expected.background)
    metrics = QFontMetrics(badge_font(QApplication.font()))
    assert pill.width() == metrics.horizontalAdvance(status.value) + 2 * H_PADDING  # the full label fits
    text_pixels = sum(
        1
        for x in range(int(pill.left() + H_PADDING), int(pill.right() - H_PADDING))
        if close(pixel(image, x, pill.center().y()), expected.text, 40)
    )
    assert text_pixels > 0  # the label itself is drawn


@pytest.mark.parametrize("table", [_LIGHT, _DARK], ids=["light", "dark"])
def test_tones_are_readable_and_distinct(table: dict[Tone, tuple[str, str, str]]) -> None:
    hues = []
    for tone, (background, _border, text) in table.items():
        assert contrast_ratio(QColor(background), QColor(text)) >= 4.5, tone  # WCAG AA for text
        if tone is Tone.NEUTRAL:
            assert QColor(background).hslSaturation() < 60  # grey
        else:
            hues.append(QColor(background).hue())
    # success / progress / attention / failure: hues at least 40 degrees apart
    hues.sort()
    gaps = [b - a for a, b in itertools.pairwise(hues)] + [360 - hues[-1] + hues[0]]
    assert len(hues) == 4 and min(gaps) >= 40


def test_palette_darkness_is_detected() -> None:
    assert not is_dark(LIGHT) and is_dark(DARK)
    assert badge_colors(Tone.SUCCESS, LIGHT).background != badge_colors(Tone.SUCCESS, DARK).background


def test_hidpi_paints_at_device_pixels(qtbot: QtBot) -> None:
    tone = Tone.FAILURE
    image, pill = render("承認失敗", tone, LIGHT, ratio=2.0)
    assert image.width() == 720
    assert close(pixel(image, pill.left() + H_PADDING / 2, pill.center().y()), badge_colors(tone, LIGHT).background)


def test_a_narrow_cell_elides_instead_of_overflowing(qtbot: QtBot) -> None:
    _image, pill = render(PaymentStatus.UNREACHABLE.value, Tone.ATTENTION, LIGHT, width=120)
    assert pill.right() <= 120 - MARGIN + 0.5


def test_delegate_paints_badges_in_a_view_and_sizes_for_cjk(qtbot: QtBot) -> None:
    model = QStandardItemModel(1, 1)
    item = QStandardItem("承認済")
    item.setData("承認済", OrderRole.BADGE_TEXT)
    item.setData(Tone.SUCCESS, OrderRole.BADGE_TONE)
    model.setItem(0, 0, item)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    delegate = BadgeDelegate(OrderRole.BADGE_TEXT, OrderRole.BADGE_TONE, view)
    view.setItemDelegate(delegate)
    option = QStyleOptionViewItem()
    option.font = QFont(view.font())
    hint = delegate.sizeHint(option, model.index(0, 0))
    metrics = QFontMetrics(badge_font(view.font()))
    assert hint.width() >= metrics.horizontalAdvance("承認済") + 2 * H_PADDING
    view.resize(300, 120)
    view.setColumnWidth(0, 200)
    view.show()
    qtbot.waitExposed(view)
    image = view.viewport().grab().toImage()
    rect = view.visualRect(model.index(0, 0))
    y = rect.center().y()
    expected = badge_colors(Tone.SUCCESS, view.palette()).background
    assert close(image.pixelColor(rect.left() + MARGIN + H_PADDING // 2, y), expected)


def test_badge_label_widget_matches_the_list(qtbot: QtBot) -> None:
    label = BadgeLabel()
    qtbot.addWidget(label)
    label.set_badge("請求却下", Tone.FAILURE)
    label.resize(label.sizeHint())
    label.show()
    qtbot.waitExposed(label)
    image = label.grab().toImage()
    color = image.pixelColor(MARGIN + H_PADDING // 2, label.height() // 2)
    assert close(color, badge_colors(Tone.FAILURE, label.palette()).background)
    assert label.toolTip() == "請求却下" and label.text() == "請求却下"


def test_tinted_boxes_follow_a_palette_switch_and_keep_links_readable(qtbot: QtBot) -> None:
    from gui.orders.detail_panel import Notice

    notice = Notice()
    qtbot.addWidget(notice)
    notice.show_message("再与信に失敗しました", '<a href="https://example.jp/">注文履歴</a>', Tone.FAILURE)
    notice.show()
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    before = app.palette()
    light = badge_colors(Tone.FAILURE, before)
    assert light.background.name() in notice.styleSheet()
    try:
        app.setPalette(DARK)  # the desktop switches to dark while Kanjo runs
        QApplication.processEvents()
        dark = badge_colors(Tone.FAILURE, DARK)
        assert dark.background.name() != light.background.name()
        assert dark.background.name() in notice.styleSheet()
        assert f'<a style="color: {dark.text.name()};"' in notice.body.text()  # links read on the tint
        assert contrast_ratio(dark.text, dark.background) >= 4.5
    finally:
        app.setPalette(before)
        QApplication.processEvents()
    assert light.background.name() in notice.styleSheet()
