"""Draw the app icon with QPainter and write it as PNGs, a Windows .ico and a macOS .icns.

    python packaging/make_icons.py          # writes resources/icons/

The icon is the app's idea in one picture: a ring gauge whose coloured arcs are the
parts of a context window (system, history, memory, draft) with the free space left
dim. Every size is drawn from vectors, not scaled down from the big one, so the small
sizes stay sharp. The .ico and .icns writers are a few lines each, which spares the
build an extra tool (Pillow, iconutil) and works on every platform.
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QImage, QLinearGradient, QPainter, QPen

ICONS_DIR = Path(__file__).resolve().parent.parent / "resources" / "icons"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512, 1024)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# (icns type, pixel size): PNG payloads, understood by macOS 10.7 and later
ICNS_TYPES = (
    ("icp4", 16),
    ("icp5", 32),
    ("icp6", 64),
    ("ic07", 128),
    ("ic08", 256),
    ("ic09", 512),
    ("ic10", 1024),
    ("ic11", 32),
    ("ic12", 64),
    ("ic13", 256),
    ("ic14", 512),
)
# (fraction of the ring, colour): the parts of a context window, then the free space
SEGMENTS = (
    (0.12, "#f2b134"),  # system prompt
    (0.38, "#3fb8af"),  # history
    (0.14, "#9b7bea"),  # memory
    (0.12, "#ef6f6c"),  # draft
)


def draw_icon(size: int) -> QImage:
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    scale = size / 256.0

    # background tile: a rounded square with a soft vertical gradient
    margin = 8 * scale if size >= 32 else 0
    tile = QRectF(margin, margin, size - 2 * margin, size - 2 * margin)
    gradient = QLinearGradient(QPointF(0, tile.top()), QPointF(0, tile.bottom()))
    gradient.setColorAt(0.0, QColor("#2d3352"))
    gradient.setColorAt(1.0, QColor("#171a2b"))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(gradient)
    radius = tile.width() * 0.22
    painter.drawRoundedRect(tile, radius, radius)

    # ring gauge: a dim track, then the coloured parts clockwise from twelve o'clock
    ring_width = max(2.0, 34 * scale)
    inset = margin + 40 * scale
    ring = QRectF(inset, inset, size - 2 * inset, size - 2 * inset)
    track = QPen(QColor("#3a4163"), ring_width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.FlatCap)
    painter.setPen(track)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawEllipse(ring)
    start = 90 * 16  # Qt angles are 1/16 degree, counter-clockwise from three o'clock
    for fraction, colour in SEGMENTS:
        span = -round(fraction * 360 * 16)
        pen = QPen(QColor(colour), ring_width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.FlatCap)
        painter.setPen(pen)
        painter.drawArc(ring, start, span)
        start += span

    # centre: a bright dot, the "you are here" of the budget
    dot = max(1.5, 18 * scale)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("#e8ebf7"))
    painter.drawEllipse(QPointF(size / 2, size / 2), dot, dot)
    painter.end()
    return image


def png_bytes(image: QImage) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise RuntimeError("Qt could not encode a PNG")
    buffer.close()
    return bytes(data.data())


def ico_bytes(images: dict[int, QImage]) -> bytes:
    """A multi-size .ico whose entries are PNGs (Windows Vista and later, Inno Setup 6,
    PyInstaller all read these)."""
    payloads = [(size, png_bytes(images[size])) for size in sorted(images)]
    header = struct.pack("<HHH", 0, 1, len(payloads))
    offset = len(header) + 16 * len(payloads)
    entries, blobs = b"", b""
    for size, blob in payloads:
        dim = 0 if size >= 256 else size  # 0 means 256 in an ICONDIRENTRY
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(blob), offset)
        blobs += blob
        offset += len(blob)
    return header + entries + blobs


def icns_bytes(images: dict[int, QImage]) -> bytes:
    body = b""
    for kind, size in ICNS_TYPES:
        blob = png_bytes(images[size])
        body += kind.encode("ascii") + struct.pack(">I", len(blob) + 8) + blob
    return b"icns" + struct.pack(">I", len(body) + 8) + body


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841
    ICONS_DIR.mkdir(parents=True, exist_ok=True)
    images = {size: draw_icon(size) for size in set(PNG_SIZES) | set(ICO_SIZES)}
    for size in PNG_SIZES:
        (ICONS_DIR / f"app_{size}.png").write_bytes(png_bytes(images[size]))
    (ICONS_DIR / "app.png").write_bytes(png_bytes(images[256]))
    (ICONS_DIR / "app.ico").write_bytes(ico_bytes({s: images[s] for s in ICO_SIZES}))
    (ICONS_DIR / "app.icns").write_bytes(icns_bytes(images))
    print(f"wrote {len(PNG_SIZES) + 3} icon files to {ICONS_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
