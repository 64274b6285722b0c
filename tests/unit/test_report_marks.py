"""The accreditation marks on a page: drawn with embedded fonts only, or configured artwork;
the test report prints them on page 1 and "*" with the footnote on items outside the scope."""

from __future__ import annotations

import dataclasses
import io

import pytest
from PIL import Image
from reportlab.lib.pagesizes import A4
from reportlab.platypus import SimpleDocTemplate

from lims.accreditation.marks import FOOTNOTE
from lims.config import Settings
from lims.reports.marks import CMA, CNAS, marks_flowable
from lims.reports.render import REGULAR, register_fonts, render_report
from tests.support.pdf import pdffonts, pdftotext
from tests.unit.test_render import content


def _page(flowable, font_dir) -> bytes:
    register_fonts(font_dir)
    buf = io.BytesIO()
    SimpleDocTemplate(buf, pagesize=A4, initialFontName=REGULAR).build([flowable])
    return buf.getvalue()


def _embedded_fonts(path) -> list[str]:
    lines = pdffonts(path).splitlines()[2:]
    assert all(" yes " in line for line in lines), lines  # every font embedded
    return lines


def test_drawn_marks_use_embedded_fonts_only(tmp_path, font_dir):
    path = tmp_path / "marks.pdf"
    path.write_bytes(_page(marks_flowable([CMA, CNAS], ["231234567890", "CNAS L1234"]),
                           font_dir))
    fonts = _embedded_fonts(path)
    assert fonts and not any("Helvetica" in line for line in fonts)
    text = pdftotext(path)
    for needle in ("CMA", "231234567890", "CNAS", "CNAS L1234", "ilac", "MRA"):
        assert needle in text, needle


def test_configured_artwork_replaces_the_drawing(tmp_path, font_dir):
    art = tmp_path / "cma.png"
    Image.new("RGB", (300, 200), (200, 0, 0)).save(art)
    settings = Settings(cma_mark_image=str(art))
    flowable = marks_flowable([CMA, CNAS], ["231234567890", "CNAS L1234"], settings=settings)
    path = tmp_path / "art.pdf"
    path.write_bytes(_page(flowable, font_dir))
    _embedded_fonts(path)
    text = pdftotext(path)
    assert "231234567890" not in text  # the artwork, not the drawn CMA mark
    assert "CNAS L1234" in text        # no CNAS artwork configured: drawn
    assert b"/Subtype /Image" in path.read_bytes()
    with pytest.raises(OSError):  # noqa: PT011 - reportlab raises a plain OSError
        marks_flowable([CMA], settings=Settings(cma_mark_image=str(tmp_path / "none.png")))


def test_no_marks_take_no_room_and_unknown_marks_are_refused():
    assert marks_flowable([]).wrap(100, 100) == (0, 0)
    with pytest.raises(ValueError, match="ILAC"):
        marks_flowable(["ILAC"])


def test_the_report_prints_marks_and_stars_items_outside(tmp_path, font_dir):
    base = content(2)
    inside = dataclasses.replace(base, marks=(CMA, CNAS),
                                 mark_numbers=("231234567890", "CNAS L1234"))
    path = tmp_path / "in.pdf"
    path.write_bytes(render_report(inside, font_dir=font_dir))
    _embedded_fonts(path)
    text = pdftotext(path)
    first = text.split("\f")[0]
    assert "231234567890" in first and "CNAS L1234" in first
    assert first.index("CMA") < first.index("检验检测报告")  # above the title on page 1
    assert "不在资质认定" not in text

    results = (base.results[0], dataclasses.replace(base.results[1], in_scope=False))
    outside = dataclasses.replace(base, results=results)
    path = tmp_path / "out.pdf"
    path.write_bytes(render_report(outside, font_dir=font_dir))
    _embedded_fonts(path)
    text = pdftotext(path)
    assert "项目 1 −1 µm ± *" in text and "项目 0 −1 µm ± *" not in text
    assert FOOTNOTE.split(" / ")[0] in text and "not within the accredited scope" in text
    assert "231234567890" not in text
