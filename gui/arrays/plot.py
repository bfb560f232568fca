"""A small plot for any numeric numpy array: a line for 1-D, an image for 2-D (QPainter only).

Generic on purpose (the HDF5 tab and the Objects tab both use it): :meth:`ArrayPlot.set_array`
takes an array and a caption. Large data is reduced once when set: a 1-D array becomes a
min/max envelope of at most :data:`MAX_POINTS` buckets (peaks stay visible), a 2-D array is
block-sampled to at most :data:`MAX_IMAGE` pixels a side. Painting only draws what was kept.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

MAX_POINTS = 4096
MAX_IMAGE = 1024
_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_TOP, _MARGIN_BOTTOM = 64, 14, 24, 28
_LINE = QColor("#2f6fb3")


def _viridis_lut() -> np.ndarray:
    """A 256-entry colour table close to matplotlib's viridis (interpolated from 6 stops)."""
    stops = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98],
                      [190, 223, 38], [253, 231, 37]], dtype=float)
    x = np.linspace(0, 1, len(stops))
    t = np.linspace(0, 1, 256)
    channels = [np.interp(t, x, stops[:, i]) for i in range(3)]
    lut = np.empty(256, dtype=np.uint32)
    lut[:] = (0xFF << 24) | (channels[0].astype(np.uint32) << 16) \
        | (channels[1].astype(np.uint32) << 8) | channels[2].astype(np.uint32)
    return lut


_LUT = _viridis_lut()
_NAN_COLOUR = np.uint32(0xFFB0B0B0)


def envelope(values: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x positions, minima and maxima of ``values`` in at most ``buckets`` equal buckets."""
    n = values.size
    if n <= buckets:
        x = np.arange(n, dtype=float)
        return x, values.astype(float), values.astype(float)
    size = int(np.ceil(n / buckets))
    usable = (n // size) * size
    body = values[:usable].astype(float).reshape(-1, size)
    with np.errstate(all="ignore"):
        lows, highs = np.nanmin(body, axis=1), np.nanmax(body, axis=1)
    if usable < n:
        tail = values[usable:].astype(float)
        with np.errstate(all="ignore"):
            lows = np.append(lows, np.nanmin(tail))
            highs = np.append(highs, np.nanmax(tail))
    x = np.arange(lows.size, dtype=float) * size
    return x, lows, highs


def to_image(values: np.ndarray) -> tuple[QImage, float, float]:
    """A colour image of a 2-D array (sampled to MAX_IMAGE a side), with its value range."""
    step_r = max(1, int(np.ceil(values.shape[0] / MAX_IMAGE)))
    step_c = max(1, int(np.ceil(values.shape[1] / MAX_IMAGE)))
    data = np.asarray(values[::step_r, ::step_c], dtype=float)
    finite = np.isfinite(data)
    low = float(data[finite].min()) if finite.any() else 0.0
    high = float(data[finite].max()) if finite.any() else 1.0
    span = high - low or 1.0
    with np.errstate(all="ignore"):
        scaled = np.clip((data - low) / span * 255, 0, 255)
    scaled = np.where(finite, scaled, 0).astype(np.uint8)
    pixels = np.ascontiguousarray(np.where(finite, _LUT[scaled], _NAN_COLOUR), dtype=np.uint32)
    height, width = pixels.shape
    image = QImage(pixels.data, width, height, width * 4, QImage.Format.Format_ARGB32).copy()
    return image, low, high


class ArrayPlot(QWidget):
    """Line (1-D) or image (2-D) of a numeric array; says why when there is nothing to draw."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("arrayPlot")
        self.setMinimumHeight(120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.caption = ""
        self.message = "Nothing to plot"
        self.kind = ""  # "line", "image" or ""
        self.x_scale = 1.0  # value of one x step (the source was sampled)
        self.x_offset = 0.0
        self._line: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._image: QImage | None = None
        self._range = (0.0, 1.0)
        self._length = 0
        self._columns = 0

    def set_message(self, message: str) -> None:
        self.kind, self.message, self._line, self._image = "", message, None, None
        self.update()

    def set_array(self, array: np.ndarray | None, caption: str = "", x_offset: float = 0.0) -> None:
        """Show ``array``: 1-D as a line, 2-D as an image; anything else as a message."""
        self.caption = caption
        self.x_offset = x_offset
        self._line, self._image = None, None
        if array is None or array.size == 0:
            self.set_message("No data")
            return
        array = np.asarray(array)
        if array.dtype.names is not None or array.dtype.kind not in "iufb":
            self.set_message(f"Only numbers can be plotted (this is {array.dtype})")
            return
        if array.dtype.kind == "b":
            array = array.astype(np.uint8)
        squeezed = array.squeeze() if array.ndim > 1 and 1 in array.shape else array
        if squeezed.ndim == 0:
            squeezed = squeezed.reshape(1)
        if squeezed.ndim == 1:
            self.kind = "line"
            self._length = squeezed.size
            self._line = envelope(squeezed, MAX_POINTS)
            finite = np.isfinite(self._line[1]) & np.isfinite(self._line[2])
            if finite.any():
                self._range = (float(self._line[1][finite].min()), float(self._line[2][finite].max()))
            else:
                self._range = (0.0, 1.0)
        elif squeezed.ndim == 2:
            self.kind = "image"
            self._image, low, high = to_image(squeezed)
            self._range = (low, high)
            self._length = squeezed.shape[0]
            self._columns = squeezed.shape[1]
        else:
            self.set_message(f"{squeezed.ndim}-D data: choose a 2-D slice to plot")
            return
        self.message = ""
        self.update()

    def value_range(self) -> tuple[float, float]:
        """The lowest and highest finite value shown (the y axis, or the colour scale)."""
        return self._range

    def drawn_size(self) -> tuple[int, int]:
        """Points of the line, or pixels of the image, actually kept for drawing."""
        if self._line is not None:
            return (self._line[0].size, 1)
        if self._image is not None:
            return (self._image.width(), self._image.height())
        return (0, 0)

    # -- painting ------------------------------------------------------------------------------
    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().base())
        text_pen = QPen(self.palette().text().color())
        painter.setPen(text_pen)
        if not self.kind:
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.message)
            return
        area = QRectF(_MARGIN_LEFT, _MARGIN_TOP, max(10, self.width() - _MARGIN_LEFT - _MARGIN_RIGHT),
                      max(10, self.height() - _MARGIN_TOP - _MARGIN_BOTTOM))
        painter.drawText(QRectF(_MARGIN_LEFT, 2, area.width(), _MARGIN_TOP - 4),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, self.caption)
        if self.kind == "image" and self._image is not None:
            area.setWidth(area.width() - 22)  # room for the colour bar
            painter.drawImage(area, self._image)
            self._paint_colour_bar(painter, area)
        elif self._line is not None:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            self._paint_line(painter, area)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setPen(QPen(QColor("#98a2b3")))
        painter.drawRect(area)
        painter.setPen(text_pen)
        first, last = self.x_offset, self.x_offset + self._length - 1
        if self.kind == "image":  # rows run down the left side, columns along the bottom
            top_text, bottom_text, left_text, right_text = f"{first:g}", f"{last:g}", "0", \
                f"{self._columns - 1}"
        else:  # values up the left side, positions along the bottom
            top_text, bottom_text = f"{self._range[1]:.4g}", f"{self._range[0]:.4g}"
            left_text, right_text = f"{first:g}", f"{last:g}"
        label = QRectF(0, 0, _MARGIN_LEFT - 6, 16)
        label.moveTopRight(QPointF(_MARGIN_LEFT - 6, area.top() - 2))
        painter.drawText(label, Qt.AlignmentFlag.AlignRight, top_text)
        label.moveBottomRight(QPointF(_MARGIN_LEFT - 6, area.bottom() + 2))
        painter.drawText(label, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom, bottom_text)
        bottom = QRectF(area.left(), area.bottom() + 4, area.width(), 18)
        painter.drawText(bottom, Qt.AlignmentFlag.AlignLeft, left_text)
        painter.drawText(bottom, Qt.AlignmentFlag.AlignRight, right_text)
        painter.end()

    def _paint_colour_bar(self, painter: QPainter, area: QRectF) -> None:
        """A vertical colour scale right of the image, high values at the top."""
        bar = QRectF(area.right() + 8, area.top(), 10, area.height())
        ramp = QImage(_LUT[::-1].copy().data, 1, 256, 4, QImage.Format.Format_ARGB32).copy()
        painter.drawImage(bar, ramp)
        painter.drawRect(bar)
        low, high = self._range
        painter.drawText(QRectF(bar.right() - 240, 2, 240, _MARGIN_TOP - 4),
                         Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                         f"colour {low:.4g} … {high:.4g}")

    def _paint_line(self, painter: QPainter, area: QRectF) -> None:
        x, lows, highs = self._line  # type: ignore[misc]
        low, high = self._range
        span = (high - low) or 1.0
        last = max(float(self._length - 1), 1.0)
        xs = area.left() + x / last * area.width()
        y_low = area.bottom() - (lows - low) / span * area.height()
        y_high = area.bottom() - (highs - low) / span * area.height()
        painter.setPen(QPen(_LINE, 1.2))
        if np.array_equal(lows, highs):  # few points: a plain polyline (gaps at NaN)
            path = QPainterPath()
            pen_down = False
            for px, py in zip(xs.tolist(), y_low.tolist(), strict=True):
                if py != py:  # NaN
                    pen_down = False
                    continue
                if pen_down:
                    path.lineTo(px, py)
                else:
                    path.moveTo(px, py)
                    pen_down = True
            painter.drawPath(path)
            return
        # Many points: each bucket is a vertical bar from its minimum to its maximum.
        polygon = QPolygonF()
        for px, top, bottom in zip(xs.tolist(), y_high.tolist(), y_low.tolist(), strict=True):
            if top == top and bottom == bottom:
                polygon.append(QPointF(px, top))
                polygon.append(QPointF(px, bottom))
        painter.drawPolyline(polygon)
