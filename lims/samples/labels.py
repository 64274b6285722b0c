"""Sample labels: Code 128 and QR of the sample number, with its name and registration date,
as a PDF on the label sizes laboratories print on (issue 11 §4).

ISO/IEC 17025 7.4.2: items are identified unambiguously throughout their life in the lab; the
label carries the sample number both as text and as codes a hand scanner reads into the scan
field of every page. The layout is drawn in millimetres; a roll size is one label per page, the
A4 sheet places as many labels as its grid holds per page.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Sequence
from pathlib import Path

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode import code128, qr
from reportlab.graphics.shapes import Drawing
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas

from lims.errors import InvalidInput, msg
from lims.reports.render import BOLD, REGULAR, register_fonts


@dataclasses.dataclass(frozen=True)
class LabelSize:
    """A label's width × height in mm; for a sheet, the page and its grid of labels."""

    width: float
    height: float
    sheet: tuple[float, float] | None = None   # page size in mm, or None: one label a page
    columns: int = 1
    rows: int = 1


# Common thermal-roll sizes and the 3 × 8 A4 sheet of 70 × 37 mm labels.
SIZES: dict[str, LabelSize] = {
    "50x30": LabelSize(50, 30),
    "40x30": LabelSize(40, 30),
    "70x40": LabelSize(70, 40),
    "a4": LabelSize(70, 37, sheet=(210, 297), columns=3, rows=8),
}
DEFAULT_SIZE = "50x30"
MAX_LABELS = 500  # one request; a larger batch is printed in parts


@dataclasses.dataclass(frozen=True)
class Label:
    number: str
    name: str
    registered: str  # the registration date in the lab's zone, as printed


def size_of(value: object) -> LabelSize:
    """:raises InvalidInput: (field ``size``) not one of :data:`SIZES`."""
    key = str(value or DEFAULT_SIZE).strip().lower().replace("×", "x")
    if key not in SIZES:
        raise InvalidInput(msg("label size %(value)r is not one of %(choices)s",
                               value=value, choices=', '.join(SIZES)), field="size")
    return SIZES[key]


def _fit(text: str, font: str, size: float, width: float) -> str:
    """``text`` cut with an ellipsis to fit ``width`` points."""
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def _draw(c: canvas.Canvas, label: Label, x: float, y: float, size: LabelSize) -> None:
    """One label with its lower left corner at (x, y) points."""
    w, h, margin = size.width * mm, size.height * mm, 2 * mm
    inner = w - 2 * margin
    # Code 128 across the top third: the module width is chosen to fill the width, keeping the
    # margin as the quiet zone.
    bar_h = h * 0.34
    probe = code128.Code128(label.number, barWidth=1, barHeight=bar_h, quiet=False)
    bar = code128.Code128(label.number, barWidth=inner / probe.width, barHeight=bar_h,
                          quiet=False)
    bar.drawOn(c, x + margin, y + h - margin - bar_h)
    # QR at the bottom right, the text at its left.
    side = h - bar_h - 3 * margin
    widget = qr.QrCodeWidget(label.number, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(side, side, transform=[side / (x1 - x0), 0, 0, side / (y1 - y0), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, c, x + w - margin - side, y + margin)
    text_w = inner - side - margin
    big = min(9.0, side / 3.2)
    small = big * 0.8
    # The number is never cut: its type gets smaller instead.
    c.setFont(BOLD, min(big, text_w / stringWidth(label.number, BOLD, 1)))
    c.drawString(x + margin, y + margin + side - big, label.number)
    c.setFont(REGULAR, small)
    c.drawString(x + margin, y + margin + side - big - small * 1.35,
                 _fit(label.name, REGULAR, small, text_w))
    c.drawString(x + margin, y + margin + side - big - small * 2.7,
                 _fit(label.registered, REGULAR, small, text_w))


def render_labels(labels: Sequence[Label], size: LabelSize, *, font_dir: Path) -> bytes:
    """The PDF of ``labels``: one a page on a roll size, a grid of them on a sheet."""
    if not labels:
        raise InvalidInput(msg("no sample to label"), field="numbers")
    if len(labels) > MAX_LABELS:
        raise InvalidInput(msg("at most %(count)s labels at once", count=MAX_LABELS),
                           field="numbers")
    register_fonts(font_dir)
    buffer = io.BytesIO()
    page = (size.sheet[0] * mm, size.sheet[1] * mm) if size.sheet else (size.width * mm,
                                                                        size.height * mm)
    c = canvas.Canvas(buffer, pagesize=page, pageCompression=1)
    c.setTitle(", ".join(label.number for label in labels[:5])
               + (" …" if len(labels) > 5 else ""))
    per_page = size.columns * size.rows
    # A sheet's grid is centred on the page (the usual die-cut margins of an A4 label sheet).
    left = (page[0] - size.columns * size.width * mm) / 2
    top = page[1] - (page[1] - size.rows * size.height * mm) / 2
    for i, label in enumerate(labels):
        slot = i % per_page
        if i and slot == 0:
            c.showPage()
        col, row = slot % size.columns, slot // size.columns
        _draw(c, label, left + col * size.width * mm, top - (row + 1) * size.height * mm, size)
    c.showPage()
    c.save()
    return buffer.getvalue()

