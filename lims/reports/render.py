"""Render a :class:`~lims.reports.content.ReportContent` as a PDF with reportlab.

Every font is embedded: the Noto Sans SC instances are registered for all text, including the
tables (a Table otherwise adds a non-embedded Helvetica, toolchain notes). Each page carries the
report number and "第 n 页 共 N 页 / Page n of N"; the last page ends with an end marker
(ISO/IEC 17025 7.8.2.1 d).
"""

from __future__ import annotations

import datetime as dt
import io
import threading
from collections.abc import Mapping
from pathlib import Path
from zoneinfo import ZoneInfo

import qrcode
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from lims.accreditation.marks import FOOTNOTE
from lims.reports.content import ReportContent
from lims.reports.fonts import REQUIRED_CHARS, ensure_fonts
from lims.reports.marks import marks_flowable

REGULAR, BOLD = "NotoSansSC-Regular", "NotoSansSC-Bold"
_registered: set[str] = set()
_lock = threading.Lock()

CONFORMITY = {"pass": "合格 Pass", "fail": "不合格 Fail", "undecided": "待定 Undecided",
              "conditional pass": "有条件合格 Conditional pass",
              "conditional fail": "有条件不合格 Conditional fail", None: "—"}


def register_fonts(font_dir: Path) -> None:
    """Register the embedded fonts once per process and check they cover the needed glyphs."""
    with _lock:
        if REGULAR in _registered:
            return
        paths = ensure_fonts(font_dir)
        for name, style in ((REGULAR, "Regular"), (BOLD, "Bold")):
            font = TTFont(name, str(paths[style]))
            missing = [ch for ch in REQUIRED_CHARS if ord(ch) not in font.face.charToGlyph]
            if missing:
                raise RuntimeError(f"font {paths[style]} lacks {''.join(missing)}")
            pdfmetrics.registerFont(font)
        pdfmetrics.registerFontFamily(REGULAR, normal=REGULAR, bold=BOLD, italic=REGULAR,
                                      boldItalic=BOLD)
        _registered.add(REGULAR)


def numbered_canvas(reference: str, lab: str) -> type[canvas.Canvas]:
    """A canvas that heads every page with the lab and ``reference`` (the document's number,
    as it should read) and foots it with "page n of N" (ISO/IEC 17025 7.8.2.1 e)."""

    class NumberedCanvas(canvas.Canvas):
        """Defers each page so that "page n of N" can be drawn once N is known."""

        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            self._pages: list[dict[str, object]] = []

        def showPage(self) -> None:  # noqa: N802 - reportlab's name
            self._pages.append(dict(self.__dict__))
            self._startPage()  # type: ignore[attr-defined]  # reportlab's, not in its stubs

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self._decorate(total)
                super().showPage()
            super().save()

        def _decorate(self, total: int) -> None:
            width, height = A4
            page = self.getPageNumber()
            self.setFont(REGULAR, 8)
            self.setFillColor(colors.black)
            self.drawString(20 * mm, height - 12 * mm, lab)
            self.drawRightString(width - 20 * mm, height - 12 * mm, reference)
            self.setStrokeColor(colors.grey)
            self.line(20 * mm, height - 14 * mm, width - 20 * mm, height - 14 * mm)
            self.drawCentredString(width / 2, 10 * mm,
                                   f"第 {page} 页 共 {total} 页    Page {page} of {total}")

    return NumberedCanvas


class QRCode(Flowable):
    """A QR code drawn as filled squares.

    reportlab's QrCodeWidget goes through a Drawing, whose renderer declares a non-embedded
    Helvetica; drawing the modules directly keeps every font in the file embedded.
    """

    def __init__(self, data: str, size: float) -> None:
        super().__init__()
        qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
        qr.add_data(data)
        qr.make(fit=True)
        self.matrix = qr.get_matrix()
        self.width = self.height = size

    def draw(self) -> None:
        count = len(self.matrix)
        cell = self.width / (count + 8)  # a quiet zone of four modules on each side
        self.canv.setFillColor(colors.black)
        for row in range(count):
            for col in range(count):
                if self.matrix[row][col]:
                    self.canv.rect((col + 4) * cell, self.height - (row + 5) * cell, cell, cell,
                                   stroke=0, fill=1)


def styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=REGULAR, fontSize=9, leading=12, wordWrap="CJK")
    return {
        "base": base,
        "small": ParagraphStyle("small", parent=base, fontSize=8, leading=10),
        "title": ParagraphStyle("title", parent=base, fontName=BOLD, fontSize=18, leading=24,
                                alignment=TA_CENTER),
        "subtitle": ParagraphStyle("subtitle", parent=base, fontSize=10, alignment=TA_CENTER),
        "head": ParagraphStyle("head", parent=base, fontName=BOLD, fontSize=10, leading=14,
                               spaceBefore=6, spaceAfter=3),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8.5, leading=11),
        "end": ParagraphStyle("end", parent=base, alignment=TA_CENTER, spaceBefore=8),
    }


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_report(content: ReportContent, *, font_dir: Path,
                  mark_images: Mapping[str, str] | None = None) -> bytes:
    """Return the unsigned PDF of a test report (``mark_images``: configured mark artwork)."""
    register_fonts(font_dir)
    tz = ZoneInfo(content.timezone)

    def day(value: dt.datetime) -> str:
        return value.astimezone(tz).strftime("%Y-%m-%d")

    def stamp(value: dt.datetime) -> str:
        return value.astimezone(tz).isoformat(timespec="minutes")

    st = styles()
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=20 * mm,
        bottomMargin=18 * mm, title=f"检验检测报告 Test Report {content.number}",
        author=content.lab_name_en, subject=f"Sample {content.sample_number}",
        creator="LIMS", initialFontName=REGULAR, initialFontSize=9)
    P = Paragraph  # noqa: N806
    story: list[Flowable] = [
        # The marks at the top of page 1, only when every item is in scope (lims.accreditation).
        *([marks_flowable(content.marks, content.mark_numbers, images=mark_images)]
          if content.marks else []),
        P(_esc(content.lab_name), st["subtitle"]),
        P(_esc(content.lab_name_en), st["subtitle"]),
        Spacer(1, 4 * mm),
        P("检验检测报告", st["title"]),
        P("TEST REPORT", st["subtitle"]),
        Spacer(1, 5 * mm),
    ]
    tested = day(content.tested_from)
    if day(content.tested_to) != tested:
        tested += f" — {day(content.tested_to)}"
    method_lines = [_esc(f"{m.code} {m.title}" + (f" ({m.clause})" if m.clause else ""))
                    for m in content.methods]
    # A cell cannot split across pages: many methods go to a table of their own, one row each,
    # or a sample with many methods could never be issued (reportlab LayoutError).
    listed = len(method_lines) > 3
    methods = (f"见下表 See the list below ({len(method_lines)})" if listed
               else "<br/>".join(method_lines))
    info = [
        ("报告编号 Report No.", _esc(content.number)),
        ("委托单位 Customer", _esc(content.customer_name)
         + (f"<br/>{_esc(content.customer_contact)}" if content.customer_contact else "")
         + (f"<br/>{_esc(content.customer_address)}" if content.customer_address else "")),
        ("委托编号 Request No.", _esc(content.request_number)),
        ("样品名称 Sample", _esc(content.sample_description)),
        ("样品编号 Sample No.", _esc(content.sample_number)),
        ("样品状态 Condition on receipt", _esc(content.condition_on_receipt)),
        ("收样日期 Date of receipt", day(content.received_at)),
        ("检验日期 Date(s) of testing", tested),
        ("签发日期 Date of issue", day(content.issued_at)),
        ("检验依据 Method", methods),
        ("检验地点 Location", _esc(f"{content.lab_name_en}, {content.lab_address}")),
    ]
    if content.supersedes:  # ISO/IEC 17025 7.8.8.2: the replaced report and what changed
        info.append(("代替 Replaces", _esc(f"本报告代替 {content.supersedes} / This report "
                                         f"replaces {content.supersedes}")))
        if content.amendment:
            info.append(("修改说明 Amendment", _esc(content.amendment)))
    grid = TableStyle([
        ("FONT", (0, 0), (-1, -1), REGULAR, 8.5),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BACKGROUND", (0, 0), (0, -1), colors.whitesmoke),
    ])
    story.append(Table([[P(k, st["cell"]), P(v, st["cell"])] for k, v in info],
                       colWidths=[45 * mm, 125 * mm], style=grid))
    if listed:
        story.append(P("检验依据 Methods", st["head"]))
        story.append(Table([[P(str(i), st["cell"]), P(line, st["cell"])]
                            for i, line in enumerate(method_lines, start=1)],
                           colWidths=[10 * mm, 160 * mm], style=grid, repeatRows=0))
    story.append(P("检验结果 Results", st["head"]))
    rows = [[P(h, st["cell"]) for h in (
        "检验项目<br/>Characteristic", "技术要求<br/>Requirement", "检验结果<br/>Result",
        "单项判定<br/>Conformity", "测量仪器<br/>Instrument")]]
    for r in content.results:
        value = _esc(f"{r.value} {r.unit}".strip()) + (
            f"<br/>{_esc(r.uncertainty)}" if r.uncertainty else "") + (
            f"<br/>(v{r.version})" if r.version > 1 else "")
        verdict = CONFORMITY.get(r.conformity, _esc(str(r.conformity))) + (
            f"<br/>{_esc(r.note)}" if r.note else "")
        name = r.characteristic + ("" if r.in_scope else " *")  # outside the accredited scope
        rows.append([P(_esc(name), st["cell"]), P(_esc(r.requirement), st["cell"]),
                     P(value, st["cell"]), P(verdict, st["cell"]),
                     P(_esc(r.instrument) or "—", st["cell"])])
    results_style = TableStyle([
        ("FONT", (0, 0), (-1, -1), REGULAR, 8.5),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ])
    story.append(Table(rows, colWidths=[38 * mm, 36 * mm, 32 * mm, 24 * mm, 40 * mm],
                       style=results_style, repeatRows=1))
    story.append(Spacer(1, 2 * mm))
    if not all(r.in_scope for r in content.results):
        story.append(P(_esc(FOOTNOTE), st["small"]))
    story.append(P(_esc(f"判定规则 Decision rule: {content.decision_rule}"), st["small"]))
    story.append(P("本报告检验结果仅对所检样品负责。The results relate only to the items tested.",
                   st["small"]))
    story.append(P("未经本机构书面批准，不得部分复制本报告。This report shall not be reproduced "
                   "except in full without the written approval of the laboratory.", st["small"]))
    story.append(P("签名 Signatures", st["head"]))
    sig_rows = [[P(_esc(s.meaning), st["cell"]), P(_esc(s.name), st["cell"]),
                 P(stamp(s.at) if s.at else "", st["cell"])] for s in content.signatures]
    story.append(Table(sig_rows, colWidths=[45 * mm, 60 * mm, 65 * mm], style=grid))
    drawing = QRCode(content.verify_url, 28 * mm)
    verify = P(_esc("本报告带有实验室数字签名 (PAdES)，可扫描二维码或访问以下网址核验真伪：")
               + "<br/>" + _esc("This report carries the laboratory's digital signature (PAdES). "
                                "Verify it by scanning the code or at:") + "<br/>"
               + _esc(content.verify_url), st["small"])
    story.append(Spacer(1, 3 * mm))
    story.append(Table([[drawing, verify]], colWidths=[32 * mm, 138 * mm],
                       style=TableStyle([("FONT", (0, 0), (-1, -1), REGULAR, 8),
                                         ("VALIGN", (0, 0), (-1, -1), "MIDDLE")])))
    story.append(P("（以下空白）　*** 报告结束 End of report ***", st["end"]))
    doc.build(story, canvasmaker=numbered_canvas(f"报告编号 Report No.: {content.number}",
                                                  content.lab_name_en))
    return buf.getvalue()
