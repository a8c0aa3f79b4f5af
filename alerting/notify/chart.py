"""A small line chart as PNG, drawn in pure Python (no plotting dependency).

Enough for an email: series as 2-px polylines (NaN breaks a line), a dashed threshold line, a dashed marker
at the firing time, light gridlines, y labels (min, max, threshold) and x labels (start, firing, end, UTC
``HH:MM``) in a built-in 3x5 pixel font. The PNG is 8-bit RGB, zlib-compressed, written by hand (IHDR, IDAT,
IEND with CRCs). Deterministic: the same input gives the same bytes.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime

from alerting.notify.render import format_value

__all__ = ["PALETTE", "line_chart_png"]

RGB = tuple[int, int, int]
PALETTE: tuple[RGB, ...] = ((31, 119, 180), (44, 160, 44), (148, 103, 189), (140, 86, 75), (23, 190, 207))
_WHITE: RGB = (255, 255, 255)
_GRID: RGB = (228, 228, 228)
_AXIS: RGB = (160, 160, 160)
_TEXT: RGB = (80, 80, 80)
_THRESHOLD: RGB = (214, 39, 40)
_MARKER: RGB = (255, 127, 14)

# 3x5 glyphs, rows top to bottom, 3 bits each (MSB left).
_FONT: dict[str, tuple[int, ...]] = {
    "0": (7, 5, 5, 5, 7), "1": (2, 6, 2, 2, 7), "2": (7, 1, 7, 4, 7), "3": (7, 1, 7, 1, 7),
    "4": (5, 5, 7, 1, 1), "5": (7, 4, 7, 1, 7), "6": (7, 4, 7, 5, 7), "7": (7, 1, 1, 2, 2),
    "8": (7, 5, 7, 5, 7), "9": (7, 5, 7, 1, 7), ".": (0, 0, 0, 0, 2), "-": (0, 0, 7, 0, 0),
    "+": (0, 2, 7, 2, 0), ":": (0, 2, 0, 2, 0), "e": (0, 7, 7, 4, 7), "N": (5, 7, 7, 7, 5),
    "a": (0, 7, 1, 7, 7), "I": (7, 2, 2, 2, 7), "n": (0, 6, 5, 5, 5), "f": (3, 4, 6, 4, 4),
}  # fmt: skip
_SCALE = 2  # font pixel size


class _Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.w, self.h = width, height
        self.px = bytearray(_WHITE * (width * height))

    def set(self, x: int, y: int, c: RGB) -> None:
        if 0 <= x < self.w and 0 <= y < self.h:
            i = (y * self.w + x) * 3
            self.px[i : i + 3] = bytes(c)

    def rect(self, x0: int, y0: int, x1: int, y1: int, c: RGB) -> None:
        for y in range(max(y0, 0), min(y1, self.h)):
            for x in range(max(x0, 0), min(x1, self.w)):
                self.set(x, y, c)

    def hline(self, x0: int, x1: int, y: int, c: RGB, dash: int = 0) -> None:
        for x in range(x0, x1 + 1):
            if not dash or (x // dash) % 2 == 0:
                self.set(x, y, c)

    def vline(self, x: int, y0: int, y1: int, c: RGB, dash: int = 0) -> None:
        for y in range(y0, y1 + 1):
            if not dash or (y // dash) % 2 == 0:
                self.set(x, y, c)

    def line(self, x0: int, y0: int, x1: int, y1: int, c: RGB) -> None:
        """Bresenham, 2 px thick."""
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        while True:
            self.set(x0, y0, c)
            self.set(x0, y0 + 1, c)
            self.set(x0 + 1, y0, c)
            if x0 == x1 and y0 == y1:
                return
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    def text(self, x: int, y: int, s: str, c: RGB) -> None:
        for ch in s:
            for row, bits in enumerate(_FONT.get(ch, (0, 0, 0, 0, 0))):
                for col in range(3):
                    if bits & (4 >> col):
                        self.rect(
                            x + col * _SCALE,
                            y + row * _SCALE,
                            x + (col + 1) * _SCALE,
                            y + (row + 1) * _SCALE,
                            c,
                        )
            x += 4 * _SCALE

    def png(self) -> bytes:
        stride = self.w * 3
        raw = b"".join(b"\x00" + bytes(self.px[y * stride : (y + 1) * stride]) for y in range(self.h))
        return (
            b"\x89PNG\r\n\x1a\n"
            + _chunk(b"IHDR", struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(raw, 9))
            + _chunk(b"IEND", b"")
        )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def _text_width(s: str) -> int:
    return len(s) * 4 * _SCALE - _SCALE


def _hhmm(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%H:%M")


def line_chart_png(
    series: Sequence[Sequence[tuple[float, float]]],
    *,
    width: int = 560,
    height: int = 200,
    threshold: float | None = None,
    marker: float | None = None,
    x_range: tuple[float, float] | None = None,
) -> bytes:
    """PNG of ``series`` (each a sequence of ``(unix_seconds, value)``), colours from :data:`PALETTE`.
    ``marker`` is a time (the firing time), ``x_range`` defaults to the data's extent."""
    points = [(t, v) for s in series for t, v in s if math.isfinite(v)]
    ys = [v for _, v in points] + ([threshold] if threshold is not None and math.isfinite(threshold) else [])
    xs = [t for t, _ in points] + ([marker] if marker is not None else [])
    lo_y, hi_y = (min(ys), max(ys)) if ys else (0.0, 1.0)
    if hi_y - lo_y < 1e-12:
        lo_y, hi_y = lo_y - 1.0, hi_y + 1.0
    pad = (hi_y - lo_y) * 0.06
    lo_y, hi_y = lo_y - pad, hi_y + pad
    lo_x, hi_x = x_range if x_range is not None else ((min(xs), max(xs)) if xs else (0.0, 1.0))
    if hi_x - lo_x < 1e-9:
        hi_x = lo_x + 1.0

    labels = [format_value(v) for v in (hi_y, lo_y, threshold) if v is not None]
    left = max(_text_width(s) for s in labels) + 8
    top, right, bottom = 8, width - 8, height - 20
    cv = _Canvas(width, height)

    def px(t: float) -> int:
        return left + round((t - lo_x) / (hi_x - lo_x) * (right - left))

    def py(v: float) -> int:
        return bottom - round((v - lo_y) / (hi_y - lo_y) * (bottom - top))

    for i in range(5):
        cv.hline(left, right, top + i * (bottom - top) // 4, _GRID)
    cv.vline(left, top, bottom, _AXIS)
    cv.hline(left, right, bottom, _AXIS)
    for v in (hi_y, lo_y):
        s = format_value(v)
        cv.text(left - 4 - _text_width(s), py(v) - 5, s, _TEXT)
    if threshold is not None and math.isfinite(threshold):
        cv.hline(left, right, py(threshold), _THRESHOLD, dash=6)
        s = format_value(threshold)
        cv.text(left - 4 - _text_width(s), py(threshold) - 5, s, _THRESHOLD)
    if marker is not None and lo_x <= marker <= hi_x:
        cv.vline(px(marker), top, bottom, _MARKER, dash=4)
    for i, one in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        prev: tuple[int, int] | None = None
        for t, v in one:
            if not math.isfinite(v):
                prev = None
                continue
            cur = (px(t), py(v))
            if prev is not None:
                cv.line(prev[0], prev[1], cur[0], cur[1], colour)
            else:
                cv.set(cur[0], cur[1], colour)
            prev = cur
    ticks = [(lo_x, _AXIS), (hi_x, _AXIS)] + ([(marker, _MARKER)] if marker is not None else [])
    for t, colour in ticks:
        label = _hhmm(t)
        x = min(max(px(t) - _text_width(label) // 2, left), right - _text_width(label))
        cv.text(x, bottom + 6, label, _TEXT if colour == _AXIS else colour)
    return cv.png()
