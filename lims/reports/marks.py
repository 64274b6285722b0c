"""The accreditation marks printed at the top of a document: CMA and CNAS with ILAC-MRA.

Which marks a document carries is decided by :mod:`lims.accreditation.marks` (every item inside
the scheme's scope); this module only draws them. Each mark is either the lab's configured
artwork (``LIMS_CMA_MARK_IMAGE``, ``LIMS_CNAS_MARK_IMAGE``: the files issued to the lab, which
the rules on the use of the marks require in their registered form) or a vector stand-in drawn
straight on the canvas: the letters in a ring with the certificate number under it.

The stand-ins are drawn with the embedded report fonts and canvas primitives, not through a
``reportlab.graphics`` Drawing, whose renderer declares a non-embedded Helvetica (see
:class:`lims.reports.render.QRCode`), so every font in the file stays embedded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.platypus import Flowable

# The names lims.reports.render registers the embedded Noto Sans SC instances under.
FONT, FONT_BOLD = "NotoSansSC-Regular", "NotoSansSC-Bold"
CMA, CNAS = "CMA", "CNAS"
INK = colors.Color(0.75, 0.05, 0.1)  # the red the CMA mark is printed in
CNAS_INK = colors.Color(0.0, 0.25, 0.55)


def mark_images(settings: Any) -> dict[str, str]:
    """The configured artwork per mark (from :class:`lims.config.Settings`); none: drawn."""
    images = {CMA: getattr(settings, "cma_mark_image", ""),
              CNAS: getattr(settings, "cnas_mark_image", "")}
    return {k: v for k, v in images.items() if v}


class Marks(Flowable):
    """The marks side by side, each ``size`` high (number included)."""

    def __init__(self, marks: Sequence[str], numbers: Sequence[str] = (), *,
                 images: Mapping[str, str | Path] | None = None, size: float = 20 * mm,
                 gap: float = 4 * mm, font: str = FONT, bold: str = FONT_BOLD) -> None:
        super().__init__()
        unknown = [m for m in marks if m not in (CMA, CNAS)]
        if unknown:
            raise ValueError(f"unknown accreditation mark {unknown[0]!r}")
        self.marks = tuple(marks)
        self.numbers = dict(zip(self.marks, tuple(numbers) + ("",) * len(self.marks),
                                strict=False))
        self.images = {k: ImageReader(str(v)) for k, v in (images or {}).items()
                       if k in self.marks and v}
        self.size, self.gap, self.font, self.bold = size, gap, font, bold
        self.widths = [self._width(m) for m in self.marks]
        self.width = sum(self.widths) + gap * max(len(self.marks) - 1, 0)
        self.height = size if self.marks else 0

    def _width(self, mark: str) -> float:
        image = self.images.get(mark)
        if image is not None:
            w, h = image.getSize()
            return self.size * w / h
        return self.size * (1.0 if mark == CMA else 1.7)

    def draw(self) -> None:
        x = 0.0
        for mark, width in zip(self.marks, self.widths, strict=True):
            image = self.images.get(mark)
            if image is not None:
                self.canv.drawImage(image, x, 0, width, self.size, mask="auto")
            elif mark == CMA:
                self._cma(x, width)
            else:
                self._cnas(x, width)
            x += width + self.gap

    def _number(self, x: float, width: float, text: str, ink: colors.Color) -> None:
        c = self.canv
        size = min(self.size * 0.16, width / max(len(text), 1) * 1.7)
        c.setFillColor(ink)
        c.setFont(self.font, size)
        c.drawCentredString(x + width / 2, self.size * 0.02, text)

    def _cma(self, x: float, width: float) -> None:
        """A ring with "CMA" across it and the certificate number under it."""
        c, s = self.canv, self.size
        r = s * 0.36
        cx, cy = x + width / 2, s * 0.6
        c.saveState()
        c.setStrokeColor(INK)
        c.setLineWidth(s * 0.05)
        c.circle(cx, cy, r, stroke=1, fill=0)
        c.setFillColor(INK)
        c.setFont(self.bold, s * 0.2)
        c.drawCentredString(cx, cy - s * 0.07, CMA)
        self._number(x, width, self.numbers.get(CMA, ""), INK)
        c.restoreState()

    def _cnas(self, x: float, width: float) -> None:
        """The combined mark's layout: "ilac-MRA" in a ring beside "CNAS" in a frame, with the
        accreditation number (e.g. CNAS L1234) under them."""
        c, s = self.canv, self.size
        c.saveState()
        c.setStrokeColor(CNAS_INK)
        c.setFillColor(CNAS_INK)
        c.setLineWidth(s * 0.03)
        r = s * 0.3
        cx, cy = x + r + s * 0.05, s * 0.6
        c.circle(cx, cy, r, stroke=1, fill=0)
        c.setFont(self.bold, s * 0.12)
        c.drawCentredString(cx, cy + s * 0.01, "ilac")
        c.setFont(self.font, s * 0.085)
        c.drawCentredString(cx, cy - s * 0.1, "MRA")
        left = x + 2 * r + s * 0.15
        c.roundRect(left, cy - r, x + width - left, 2 * r, s * 0.05, stroke=1, fill=0)
        c.setFont(self.bold, s * 0.2)
        c.drawCentredString((left + x + width) / 2, cy - s * 0.07, CNAS)
        self._number(x, width, self.numbers.get(CNAS, ""), CNAS_INK)
        c.restoreState()


def marks_flowable(marks: Sequence[str], numbers: Sequence[str] = (), *,
                   settings: Any = None, images: Mapping[str, str | Path] | None = None,
                   size: float = 20 * mm) -> Flowable:
    """The marks a document carries, as one flowable (empty when there are none).

    :param marks: "CMA" and/or "CNAS", as :class:`lims.reports.content.ReportContent.marks`.
    :param numbers: the certificate number under each mark, in the same order.
    :param settings: :class:`lims.config.Settings`, whose configured artwork is used
        (``images`` overrides it).
    :raises ValueError: an unknown mark. :raises OSError: configured artwork that cannot be read.
    """
    chosen = {**(mark_images(settings) if settings is not None else {}), **(images or {})}
    flowable = Marks(marks, numbers, images=chosen, size=size)
    flowable.hAlign = "LEFT"
    return flowable
