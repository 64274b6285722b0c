"""Render a :class:`~lims.reports.content.ReportContent` as a PDF with reportlab.

Every font is embedded: the Noto Sans SC instances are registered for all text, including the
tables (a Table otherwise adds a non-embedded Helvetica, toolchain notes). Each page carries the
report number and "第 n 页 共 N 页 / Page n of N"; the last page ends with an end marker
(ISO/IEC 17025 7.8.2.1 d).
"""

from __future__ import annotations

import datetime as dt
import io
import math
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
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
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

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


EdgeSeal = Callable[[canvas.Canvas, int, int], None]


def bilingual_footer(page: int, total: int) -> str:
    """"page n of N" in both languages, as on reports and certificates."""
    return f"第 {page} 页 共 {total} 页    Page {page} of {total}"


def numbered_canvas(reference: str, lab: str, *, edge_seal: EdgeSeal | None = None,
                    footer: Callable[[int, int], str] = bilingual_footer
                    ) -> type[canvas.Canvas]:
    """A canvas that heads every page with the lab and ``reference`` (the document's number,
    as it should read) and foots it with "page n of N" (ISO/IEC 17025 7.8.2.1 e).

    :param edge_seal: called with the canvas, the page number and the page count on every page
        once the count is known (the 骑缝章 slice of :func:`edge_seal_slice`).
    :param footer: the footer text of page n of N; a document in one language (a letter)
        passes its own, so that it reads in that language throughout (issue 11 §1).
    """

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
            self.drawCentredString(width / 2, 10 * mm, footer(page, total))
            if edge_seal is not None:
                edge_seal(self, page, total)

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

SEAL_RED = colors.Color(0.84, 0.08, 0.1)
SEAL_WORDS = "检验检测专用章"
SEAL_DIAMETER = 40 * mm  # the usual 40–42 mm of an inspection seal


def draw_seal(canv: canvas.Canvas, cx: float, cy: float, radius: float, *, lab_name: str,
              image: str = "") -> None:
    """Draw the inspection seal (检验检测专用章) centred on (cx, cy).

    With ``image`` (a PNG; its transparency is kept) the configured artwork is stamped;
    without, a red seal is drawn on the canvas: a ring, a five-pointed star, the lab's name
    around the top and "检验检测专用章" below the star. It is drawn directly, not through
    reportlab.graphics, whose renderer declares a non-embedded Helvetica (see :class:`QRCode`).
    The ink is slightly transparent so that the text it is stamped over stays legible.
    """
    canv.saveState()
    if image:
        canv.drawImage(image, cx - radius, cy - radius, 2 * radius, 2 * radius, mask="auto",
                       preserveAspectRatio=True, anchor="c")
        canv.restoreState()
        return
    canv.setFillColor(SEAL_RED)
    canv.setStrokeColor(SEAL_RED)
    canv.setFillAlpha(0.8)
    canv.setStrokeAlpha(0.8)
    canv.setLineWidth(radius * 0.07)
    canv.circle(cx, cy, radius * 0.95, stroke=1, fill=0)
    star = canv.beginPath()
    outer, inner = radius * 0.28, radius * 0.28 * 0.382
    for i in range(10):
        r = outer if i % 2 == 0 else inner
        angle = math.pi / 2 + i * math.pi / 5
        x, y = cx + r * math.cos(angle), cy + r * math.sin(angle)
        if i == 0:
            star.moveTo(x, y)
        else:
            star.lineTo(x, y)
    star.close()
    canv.drawPath(star, stroke=0, fill=1)
    # The lab's name along the upper arc, from lower left over the top to lower right,
    # each character upright to the centre.
    name = lab_name.strip() or " "
    span = math.radians(240)
    step = span / max(len(name) - 1, 1)
    size = min(radius * 0.22, radius * 0.7 * step * 0.95)
    canv.setFont(BOLD, size)
    ring = radius * 0.93 - radius * 0.07 - size
    for i, ch in enumerate(name):
        angle = math.radians(210) - i * step if len(name) > 1 else math.pi / 2
        canv.saveState()
        canv.translate(cx + ring * math.cos(angle), cy + ring * math.sin(angle))
        canv.rotate(math.degrees(angle) - 90)
        canv.drawCentredString(0, 0, ch)
        canv.restoreState()
    canv.setFont(BOLD, radius * 0.16)
    canv.drawCentredString(cx, cy - radius * 0.58, SEAL_WORDS)
    canv.restoreState()


def edge_seal_slice(*, lab_name: str, image: str = "", diameter: float = SEAL_DIAMETER
                    ) -> EdgeSeal:
    """The 骑缝章: page k of N shows the k-th of N vertical slices of the seal at its right
    edge, so that the pages fanned out side by side show the whole seal and a page taken out
    or put in breaks it. A one-page report has no edge to cross and shows none."""

    def draw(canv: canvas.Canvas, page: int, total: int) -> None:
        if total < 2:
            return
        width, height = A4
        strip = diameter / total
        left = width - strip
        canv.saveState()
        clip = canv.beginPath()
        clip.rect(left, 0, strip, height)
        canv.clipPath(clip, stroke=0, fill=0)
        cx = width - page * strip + diameter / 2  # slice k lies on [W - strip, W]
        draw_seal(canv, cx, height / 2, diameter / 2, lab_name=lab_name, image=image)
        canv.restoreState()

    return draw


class SealedConclusion(Flowable):
    """The overall conclusion (检验结论) in a box, with the seal stamped over its lower right
    part and the date of issue under it, as a signatory stamps a paper report."""

    PAD = 3 * mm

    def __init__(self, head: Paragraph, body: Paragraph, footer: Paragraph, *, width: float,
                 lab_name: str, image: str) -> None:
        super().__init__()
        self.head, self.body, self.footer = head, body, footer
        self.width, self.lab_name, self.image = width, lab_name, image

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        inner = self.width - 2 * self.PAD
        _, self._hh = self.head.wrap(inner, avail_height)
        # The text keeps clear of most of the seal; the seal overlaps its right end only.
        _, self._bh = self.body.wrap(inner - 30 * mm, avail_height)
        _, self._fh = self.footer.wrap(70 * mm, avail_height)
        self._cy = 3 * mm + self._fh + 13 * mm
        self.height = max(self.PAD * 2 + self._hh + self._bh + 2 * mm + self._fh,
                          self._cy + SEAL_DIAMETER / 2 + 2 * mm)
        return self.width, self.height

    def draw(self) -> None:
        canv = self.canv
        canv.saveState()
        canv.setStrokeColor(colors.grey)
        canv.setLineWidth(0.5)
        canv.rect(0, 0, self.width, self.height, stroke=1, fill=0)
        canv.restoreState()
        top = self.height - self.PAD
        self.head.drawOn(canv, self.PAD, top - self._hh)
        self.body.drawOn(canv, self.PAD, top - self._hh - self._bh)
        cx = self.width - 45 * mm
        self.footer.drawOn(canv, cx - 35 * mm, 3 * mm)
        draw_seal(canv, cx, self._cy, SEAL_DIAMETER / 2, lab_name=self.lab_name,
                  image=self.image)


def styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=REGULAR, fontSize=9, leading=12, wordWrap="CJK")
    return {
        "base": base,
        "small": ParagraphStyle("small", parent=base, fontSize=8, leading=10),
        "title": ParagraphStyle("title", parent=base, fontName=BOLD, fontSize=18, leading=22,
                                alignment=TA_CENTER),
        "subtitle": ParagraphStyle("subtitle", parent=base, fontSize=10, alignment=TA_CENTER),
        "head": ParagraphStyle("head", parent=base, fontName=BOLD, fontSize=10, leading=14,
                               spaceBefore=6, spaceAfter=3),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8.5, leading=11),
        "end": ParagraphStyle("end", parent=base, alignment=TA_CENTER, spaceBefore=3),
        "label": ParagraphStyle("label", parent=base, fontSize=7.5, leading=9.5),
        "seal": ParagraphStyle("seal", parent=base, fontSize=8, leading=11, alignment=TA_CENTER),
    }


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# Results table column widths (mm, 170 in all) by which optional columns are shown: the
# method (several methods on one report) and the measurement uncertainty (a characteristic
# with an uncertainty source: ISO/IEC 17025 7.8.3.1 c).
RESULT_WIDTHS = {
    (False, False): (38, 36, 32, 24, 40),
    (False, True): (34, 30, 26, 28, 22, 30),
    (True, False): (26, 32, 30, 28, 22, 32),
    (True, True): (22, 28, 24, 22, 26, 22, 26),
}

CUSTOMER_DATA_NOTE = ("本机构对委托方提供的数据不承担责任，其可能影响结果的有效性。/ The laboratory "
                      "is not responsible for information supplied by the customer, which can "
                      "affect the validity of the results (ISO/IEC 17025 7.8.2.2).")


def render_report(content: ReportContent, *, font_dir: Path,
                  mark_images: Mapping[str, str] | None = None) -> bytes:
    """Return the unsigned PDF of a test report (``mark_images``: configured mark artwork)."""
    register_fonts(font_dir)
    tz = ZoneInfo(content.timezone)

    def day(value: dt.datetime) -> str:
        return value.astimezone(tz).strftime("%Y-%m-%d")

    def stamp(value: dt.datetime) -> str:
        return value.astimezone(tz).isoformat(timespec="minutes")

    def shown(value: str) -> str:
        return _esc(value) if value else "—"

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
        Spacer(1, 2 * mm),
        P("检验检测报告", st["title"]),
        P("TEST REPORT", st["subtitle"]),
        Spacer(1, 3 * mm),
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
    several = len(content.methods) > 1
    conditions = [(m.code, m.conditions) for m in content.methods if m.conditions]
    # Rows of two columns span the table; rows of four put two particulars side by side.
    info: list[tuple[str, ...]] = [
        ("报告编号 Report No.", _esc(content.number),
         "检验类别 Inspection type", shown(content.inspection_type)),
        ("委托单位 Customer", _esc(content.customer_name)
         + (f"<br/>{_esc(content.customer_contact)}" if content.customer_contact else "")
         + (f"<br/>{_esc(content.customer_address)}" if content.customer_address else "")),
        ("委托编号 Request No.", _esc(content.request_number),
         "样品编号 Sample No.", _esc(content.sample_number)),
        ("样品名称 Sample", _esc(content.sample_description),
         "生产单位 Manufacturer", shown(content.manufacturer)),
        ("商标 Trademark", shown(content.trademark),
         "规格型号 Model / specification", shown(content.model)),
        ("生产日期/批号 Batch / production date", shown(content.batch),
         "样品数量 Quantity", shown(content.quantity)),
        ("样品状态 Condition on receipt", _esc(content.condition_on_receipt)),
        ("收样日期 Date of receipt", day(content.received_at),
         "检验日期 Date(s) of testing", tested),
        ("检验依据 Method", methods),
        ("判定依据 Product standard", shown(content.product_standard)),
    ]
    if conditions:
        info.append(("环境条件 Environmental conditions", "<br/>".join(
            _esc(f"{code}: {text}" if several else text) for code, text in conditions)))
    info.append(("检验地点 Location", _esc(f"{content.lab_name_en}, {content.lab_address}")))
    if content.supersedes:  # ISO/IEC 17025 7.8.8.2: the replaced report and what changed
        info.append(("代替 Replaces", _esc(f"本报告代替 {content.supersedes} / This report "
                                         f"replaces {content.supersedes}")))
        if content.amendment:
            info.append(("修改说明 Amendment", _esc(content.amendment)))
    info_style: list[Any] = [
        ("FONT", (0, 0), (-1, -1), REGULAR, 8.5),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BACKGROUND", (0, 0), (0, -1), colors.whitesmoke),
    ]
    info_rows = []
    for i, row in enumerate(info):
        if len(row) == 2:
            info_rows.append([P(row[0], st["label"]), P(row[1], st["cell"]), "", ""])
            info_style.append(("SPAN", (1, i), (3, i)))
        else:
            info_rows.append([P(row[0], st["label"]), P(row[1], st["cell"]),
                              P(row[2], st["label"]), P(row[3], st["cell"])])
            info_style.append(("BACKGROUND", (2, i), (2, i), colors.whitesmoke))
    story.append(Table(info_rows, colWidths=[40 * mm, 45 * mm, 40 * mm, 45 * mm],
                       style=TableStyle(info_style)))
    grid = TableStyle([
        ("FONT", (0, 0), (-1, -1), REGULAR, 8.5),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BACKGROUND", (0, 0), (0, -1), colors.whitesmoke),
    ])
    if content.conclusion:
        story.append(Spacer(1, 2 * mm))
        story.append(SealedConclusion(
            P("检验结论 Conclusion", st["head"]), P(_esc(content.conclusion), st["base"]),
            P(f"签发日期 Date of issue: "
              f"{day(content.issued_at)}", st["seal"]),
            width=170 * mm, lab_name=content.lab_name, image=content.seal_image))
    else:
        # A snapshot taken before conclusions were recorded: the date of issue as it was.
        story.append(P(f"签发日期 Date of issue: {day(content.issued_at)}", st["small"]))
    if listed:
        story.append(P("检验依据 Methods", st["head"]))
        story.append(Table([[P(str(i), st["cell"]), P(line, st["cell"])]
                            for i, line in enumerate(method_lines, start=1)],
                           colWidths=[10 * mm, 160 * mm], style=grid, repeatRows=0))
    story.append(P("检验结果 Results", st["head"]))
    with_u = any(r.uncertainty for r in content.results)
    heads = (["检验方法<br/>Method"] if several else []) + [
        "检验项目<br/>Characteristic", "技术要求<br/>Requirement", "检验结果<br/>Result"] + (
        ["测量不确定度<br/>Uncertainty"] if with_u else []) + [
        "单项判定<br/>Conformity", "测量仪器<br/>Instrument"]
    rows = [[P(h, st["cell"]) for h in heads]]
    for r in content.results:
        value = _esc(f"{r.value} {r.unit}".strip()) + (
            f"<br/>(v{r.version})" if r.version > 1 else "")
        verdict = CONFORMITY.get(r.conformity, _esc(str(r.conformity))) + (
            f"<br/>{_esc(r.note)}" if r.note else "")
        cells = ([_esc(r.method)] if several else []) + [
            _esc(r.characteristic + ('' if r.in_scope else ' *')), _esc(r.requirement), value] + (
            [_esc(r.uncertainty) or "—"] if with_u else []) + [
            verdict, _esc(r.instrument) or "—"]
        rows.append([P(c, st["cell"]) for c in cells])
    results_style = TableStyle([
        ("FONT", (0, 0), (-1, -1), REGULAR, 8.5),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ])
    story.append(Table(rows, colWidths=[w * mm for w in RESULT_WIDTHS[several, with_u]],
                       style=results_style, repeatRows=1))
    story.append(Spacer(1, 2 * mm))
    notes = [P(_esc(f"判定规则 Decision rule: {content.decision_rule}"), st["small"])]
    if not all(r.in_scope for r in content.results):  # outside the accredited scope: "*"
        notes.insert(0, P(_esc(FOOTNOTE), st["small"]))
    deviations = [m for m in content.methods if m.deviation]
    if deviations:
        notes.append(P("偏离 Deviations from the method (ISO/IEC 17025 7.8.3.1 a): " + "; ".join(
            _esc(f"{m.code}: {m.deviation}") for m in deviations), st["small"]))
    if content.customer_data:
        notes.append(P(_esc(f"委托方提供的数据 Data supplied by the customer: "
                            f"{content.customer_data}") + "<br/>" + _esc(CUSTOMER_DATA_NOTE),
                       st["small"]))
    notes.append(P("本报告检验结果仅对所检样品负责。The results relate only to the items tested.",
                   st["small"]))
    notes.append(P("未经本机构书面批准，不得部分复制本报告。This report shall not be reproduced "
                   "except in full without the written approval of the laboratory.", st["small"]))
    sig_rows = [[P(_esc(s.meaning), st["label"]), P(_esc(s.name), st["cell"]),
                 P(stamp(s.at) if s.at else "", st["label"])] for s in content.signatures]
    verify = P(_esc("本报告带有实验室数字签名 (PAdES)，可扫描二维码或访问以下网址核验真伪：")
               + _esc("This report carries the laboratory's digital signature (PAdES). "
                      "Verify it by scanning the code or at: ") + _esc(content.verify_url),
               st["small"])
    # The QR code stands beside the signatures it lets a reader verify. The notes, the
    # signatures, the code and the end marker move to the next page as one block: a QR code
    # alone on a last page (issue 10) says nothing a reader can attach to the report, and the
    # signatures belong with what they sign.
    signed = Table([[Table(sig_rows, colWidths=[62 * mm, 44 * mm, 38 * mm], style=grid),
                     QRCode(content.verify_url, 24 * mm)]], colWidths=[144 * mm, 26 * mm],
                   style=TableStyle([("FONT", (0, 0), (-1, -1), REGULAR, 8),
                                     ("VALIGN", (0, 0), (-1, -1), "TOP"),
                                     ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                     ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
    story.append(KeepTogether(notes + [
        P("签名 Signatures", st["head"]),
        signed,
        verify,
        P("（以下空白）　*** 报告结束 End of report ***", st["end"]),
    ]))
    edge = (edge_seal_slice(lab_name=content.lab_name, image=content.seal_image)
            if content.seal_edge else None)
    doc.build(story, canvasmaker=numbered_canvas(f"报告编号 Report No.: {content.number}",
                                                  content.lab_name_en, edge_seal=edge))
    return buf.getvalue()
