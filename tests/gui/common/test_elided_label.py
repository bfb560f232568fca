"""The one-line status label: shortened with "…" when narrow, never a tall wrapped column."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QPushButton, QWidget

from gui.common.elided_label import ElidedLabel

LONG = "Editing: each change is written at once in its own transaction"


def test_a_narrow_label_stays_one_line_and_keeps_its_whole_text(qtbot) -> None:
    row = QWidget()
    qtbot.addWidget(row)
    layout = QHBoxLayout(row)
    label = ElidedLabel(row)
    label.setText(LONG)
    layout.addWidget(label, 1)
    for name in ("Insert row", "Duplicate", "Delete", "Set NULL", "Import CSV…"):
        layout.addWidget(QPushButton(name, row))
    row.resize(520, 40)
    row.show()
    qtbot.waitExposed(row)
    assert label.height() < 2 * label.fontMetrics().lineSpacing()
    assert label.is_elided()
    assert label.text() == LONG and label.toolTip() == LONG
    image = label.grab().toImage()
    assert any(image.pixelColor(x, y) != image.pixelColor(0, 0)
               for x in range(0, image.width(), 2) for y in range(image.height()))  # text painted
    row.resize(1400, 40)
    qtbot.waitUntil(lambda: not label.is_elided())
