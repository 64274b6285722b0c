"""Render a calibration certificate, verification certificate or notice of verification result
as an unsigned PDF, from a :class:`~lims.reports.certificate_content.CertificateContent`.

Layout after JJF 1071-2010 (appendix: certificate cover and result pages) with the content
of ISO/IEC 17025 7.8.2.1 and 7.8.4.1: a cover with the laboratory, the document's number, the
customer, the item, the dates and the signatures (with the QR code that verifies the
signature, kept on the same page as them), then the procedure, place, standards with their
certificates (traceability), conditions, the results per point with U, k and the coverage
probability, the statement of conformity with its decision rule, and the end marker. Every
page carries the number and "第 n 页 共 N 页 / Page n of N" (:func:`numbered_canvas`).

Pure: no Flask, no session. Fonts are the embedded Noto Sans SC instances (no Helvetica:
every Table sets its font, and the doc template gets ``initialFontName``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from lims.errors import ReportError, msg
from lims.reports.certificate_content import (
    CALIBRATION_CERTIFICATE,
    VERIFICATION_CERTIFICATE,
    VERIFICATION_NOTICE,
    CertificateContent,
    PointLine,
)
from lims.reports.marks import marks_flowable
from lims.reports.render import (
    CONFORMITY,
    REGULAR,
    QRCode,
    _esc,
    numbered_canvas,
    register_fonts,
    styles,
)

WIDTH = 170 * mm  # A4 less 20 mm margins
TITLES = {
    CALIBRATION_CERTIFICATE: ("校准证书", "CALIBRATION CERTIFICATE"),
    VERIFICATION_CERTIFICATE: ("检定证书", "VERIFICATION CERTIFICATE"),
    VERIFICATION_NOTICE: ("检定结果通知书", "NOTICE OF VERIFICATION RESULT"),
}
NUMBER_LABEL = {
    CALIBRATION_CERTIFICATE: "证书编号 Certificate No.",
    VERIFICATION_CERTIFICATE: "证书编号 Certificate No.",
    VERIFICATION_NOTICE: "通知书编号 Notice No.",
}
STATES = {"as found": "调整前 As found", "as left": "调整后 As left"}
OUTSIDE_SCOPE = "不在认可/资质认定范围内 not within the accredited scope"
RELATE_ONLY = "本证书校准结果仅对所校准的器具有效。The results relate only to the item calibrated."
RELATE_ONLY_VERIFICATION = ("本证书检定结果仅对所检定的器具有效。The results relate only to the "
                            "item verified.")
NO_PARTIAL = ("未经本机构书面批准，不得部分复制本证书。This certificate shall not be reproduced "
              "except in full without the written approval of the laboratory.")


def render_certificate(content: CertificateContent, *, font_dir: Path,
                       dcc: bytes | None = None,
                       mark_images: Mapping[str, str] | None = None) -> bytes:
    """Return the unsigned PDF of a certificate or notice.

    :param dcc: the DCC XML that will be embedded in the PDF (:mod:`lims.reports.attachments`);
        given, the certificate says so and prints its SHA-256, binding the paper to the XML.
    :param mark_images: configured artwork per mark (:func:`lims.reports.marks.mark_images`).
    """
    if content.kind not in TITLES:
        raise ReportError(msg("not a certificate kind: %(kind)r", kind=content.kind), field="kind",
                          kind=content.kind)
    register_fonts(font_dir)
    st = styles()
    zh_title, en_title = TITLES[content.kind]
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=20 * mm,
        bottomMargin=18 * mm, title=f"{zh_title} {en_title.title()} {content.number}",
        author=content.lab.name_en or content.lab.name, subject=f"Item {content.item.name}",
        creator="LIMS", initialFontName=REGULAR, initialFontSize=9)
    story = _cover(content, st, dcc, mark_images) + [PageBreak()] + _body(content, st)
    doc.build(story, canvasmaker=numbered_canvas(
        f"{NUMBER_LABEL[content.kind]}: {content.number}",
        content.lab.name_en or content.lab.name))
    return buf.getvalue()


# --------------------------------------------------------------------------- pieces


def _grid(font_size: float = 8.5, *, header: bool = False) -> TableStyle:
    shaded = ((0, 0), (-1, 0)) if header else ((0, 0), (0, -1))
    return TableStyle([
        ("FONT", (0, 0), (-1, -1), REGULAR, font_size),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BACKGROUND", shaded[0], shaded[1], colors.whitesmoke),
    ])


def _pairs(rows: Sequence[tuple[str, str]], st: dict[str, ParagraphStyle]) -> Table:
    """A two-column table of label and value (values already escaped)."""
    cell = st["cell"]
    return Table([[Paragraph(k, cell), Paragraph(v, cell)] for k, v in rows],
                 colWidths=[45 * mm, WIDTH - 45 * mm], style=_grid())


def _marks(content: CertificateContent, images: Mapping[str, str] | None) -> Flowable:
    """The accreditation marks printed on the cover, drawn or configured artwork
    (:mod:`lims.reports.marks`). Printed only when every point is inside the scheme's scope
    (RB/T 214 4.5.20; CNAS-R01); ``content.marks`` already says which."""
    if not content.marks:
        return Spacer(1, 0)
    return marks_flowable(content.marks, content.mark_numbers, images=images)


def _star(content: CertificateContent) -> str:
    return " *" if content.outside_scope else ""


def _local(content: CertificateContent, value: dt.datetime) -> dt.datetime:
    return value.astimezone(ZoneInfo(content.timezone))


def _cover(c: CertificateContent, st: dict[str, ParagraphStyle], dcc: bytes | None,
           mark_images: Mapping[str, str] | None = None) -> list[Flowable]:
    P = Paragraph  # noqa: N806
    zh_title, en_title = TITLES[c.kind]
    story: list[Flowable] = [
        _marks(c, mark_images),
        P(_esc(c.lab.name), st["subtitle"]),
        P(_esc(c.lab.name_en), st["subtitle"]),
        Spacer(1, 4 * mm),
        P(_esc(zh_title) + _star(c), st["title"]),
        P(en_title, st["subtitle"]),
        P(f"{NUMBER_LABEL[c.kind]}: {_esc(c.number)}", st["subtitle"]),
        Spacer(1, 4 * mm),
    ]
    if c.supersedes:  # ISO/IEC 17025 7.8.8.2: identify the document replaced, and why
        text = (f"本证书代替 {_esc(c.supersedes)}，原证书作废。This certificate replaces "
                f"{_esc(c.supersedes)}, which is superseded.")
        if c.amendment:
            text += f"<br/>修改内容及原因 What changed and why: {_esc(c.amendment)}"
        story += [P(text, st["base"]), Spacer(1, 3 * mm)]
    customer = _esc(c.customer.name) + (f"<br/>{_esc(c.customer.name_en)}"
                                        if c.customer.name_en else "")
    if c.customer.address:
        customer += f"<br/>{_esc(c.customer.address)}"
    rows = [
        ("委托方 Customer", customer),
        ("委托编号 Request No.", _esc(c.request_number)),
        ("器具名称 Item", _esc(c.item.name)),
        ("制造厂 Manufacturer", _esc(c.item.manufacturer)),
        ("型号/规格 Model", _esc(c.item.model)),
        ("出厂编号 Serial No.", _esc(c.item.serial_number)),
        ("样品编号 Sample No.", _esc(c.item.sample_number)),
    ]
    if c.item.accuracy_class:
        rows.append(("准确度等级 Accuracy class", _esc(c.item.accuracy_class)))
    if c.item.condition_on_receipt:
        rows.append(("收样状态 Condition on receipt", _esc(c.item.condition_on_receipt)))
    verb = "校准" if c.kind == CALIBRATION_CERTIFICATE else "检定"
    verb_en = "calibration" if c.kind == CALIBRATION_CERTIFICATE else "verification"
    rows += [
        ("接收日期 Date received", _local(c, c.received_at).strftime("%Y-%m-%d")),
        (f"{verb}日期 Date of {verb_en}", c.calibrated_on.isoformat()),
        ("签发日期 Date of issue", _local(c, c.issued_at).strftime("%Y-%m-%d")),
    ]
    if c.kind != CALIBRATION_CERTIFICATE:
        rows.insert(0, ("检定依据 Regulation", _esc(_procedure(c))))
        conclusion = ("合格 Pass" if c.kind == VERIFICATION_CERTIFICATE
                      else "不合格 Fail")
        rows.append(("检定结论 Conclusion", f"<b>{conclusion}</b>"
                     + (f"<br/>{_esc(c.conformity_statement)}" if c.conformity_statement
                        else "")))
        if c.valid_until is not None and c.kind == VERIFICATION_CERTIFICATE:
            rows.append(("有效期至 Valid until", c.valid_until.isoformat()))
    story.append(_pairs(rows, st))
    story.append(Spacer(1, 4 * mm))
    story.append(_signatures(c, st, dcc))
    contact = [t for t in (c.lab.address, c.lab.contact) if t]
    if contact:
        story += [Spacer(1, 3 * mm),
                  P(_esc(" · ".join(contact)), st["small"])]
    return story


def _procedure(c: CertificateContent) -> str:
    text = f"{c.procedure.code} {c.procedure.title}"
    return text + (f" ({c.procedure.clause})" if c.procedure.clause else "")


def _signatures(c: CertificateContent, st: dict[str, ParagraphStyle], dcc: bytes | None) -> Flowable:
    """Who calibrated, checked and approved, and the QR code that verifies the signature,
    kept on one page (a page that holds only the QR code says nothing)."""
    P = Paragraph  # noqa: N806
    cell = st["cell"]
    rows = [[P(_esc(s.meaning), cell), P(_esc(s.name), cell),
             P(_local(c, s.at).isoformat(timespec="minutes") if s.at else "",
               cell)]
            for s in c.signatures]
    parts: list[Flowable] = [P("签名 Signatures", st["head"])]
    if rows:
        parts.append(Table(rows, colWidths=[45 * mm, 60 * mm, 65 * mm], style=_grid()))
    text = (_esc("本证书带有实验室数字签名 (PAdES)，可扫描二维码或访问以下网址核验真伪：") + "<br/>"
            + _esc("This certificate carries the laboratory's digital signature (PAdES). "
                   "Verify it by scanning the code or at:") + "<br/>" + _esc(c.verify_url))
    if dcc is not None:
        digest = hashlib.sha256(dcc).hexdigest()
        text += ("<br/>" + _esc("本证书附有数字校准证书 (DCC, XML)。This PDF carries the Digital "
                                "Calibration Certificate (DCC, XML) as an attached file, SHA-256:")
                 + f"<br/><font size=6.5>{digest}</font>")
    parts.append(Spacer(1, 3 * mm))
    parts.append(Table([[QRCode(c.verify_url, 28 * mm), P(text, st["small"])]],
                       colWidths=[32 * mm, WIDTH - 32 * mm],
                       style=TableStyle([("FONT", (0, 0), (-1, -1), REGULAR, 8),
                                         ("VALIGN", (0, 0), (-1, -1), "MIDDLE")])))
    return KeepTogether(parts)


def _body(c: CertificateContent, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    P = Paragraph  # noqa: N806
    verification = c.kind != CALIBRATION_CERTIFICATE
    basis = "检定依据 Regulation" if verification else "校准依据 Calibration procedure"
    story: list[Flowable] = [P(f"{basis}", st["head"])]
    rows = [("技术文件 Document", _esc(_procedure(c))),
            ("地点 Place", _esc(c.place))]
    if c.method_note:
        rows.append(("方法 Method", _esc(c.method_note)))
    story.append(_pairs(rows, st))

    story.append(P("所用计量标准 Measurement standards used", st["head"]))
    cell = st["cell"]
    head = ["名称 Name", "型号/编号 Model / No.", "准确度 Accuracy", "证书编号 Certificate No.",
            "有效期至 Valid until", "溯源机构 Calibrated by"]
    table = [[P(h, cell) for h in head]]
    for s in c.standards:
        table.append([P(_esc(t), cell) for t in (
            s.name, f"{s.model} / {s.serial_number} ({s.asset_number})", s.accuracy or "—",
            s.certificate_number, s.valid_until.isoformat(), s.provider)])
    story.append(Table(table, colWidths=_widths([30, 32, 22, 34, 22, 26]),
                       style=_grid(8, header=True), repeatRows=1))
    story.append(Spacer(1, 1.5 * mm))
    story.append(P("本证书的测量结果通过上列计量标准溯源至国家计量基准。The measurement results "
                   "are traceable to the national measurement standards through the standards "
                   "listed above (ISO/IEC 17025 6.5).", st["small"]))

    if c.conditions:
        story.append(P("环境条件 Environmental conditions", st["head"]))
        story.append(_pairs([(_esc(cond.name), _esc(f"{cond.value} {cond.unit or ''}".strip()))
                             for cond in c.conditions], st))

    title = "检定结果 Verification results" if verification else "校准结果 Calibration results"
    story.append(P(title + _star(c), st["head"]))
    if c.kind == VERIFICATION_NOTICE:
        story += _failing(c, st)
    states = list(dict.fromkeys(p.state for p in c.points))
    both = len(states) > 1
    for state in sorted(states, key=lambda s: s != "as found"):
        points = [p for p in c.points if p.state == state]
        if both:
            story.append(P(f"<b>{_esc(STATES.get(state, state))}</b>",
                           st["base"]))
        for quantity in dict.fromkeys(p.quantity for p in points):
            group = [p for p in points if p.quantity == quantity]
            story.append(P(_esc(quantity), st["base"]))
            story.append(_results_table(group, st))
            story.append(Spacer(1, 1.5 * mm))
    story += _uncertainty_note(c, st)
    if c.outside_scope:
        story.append(P(f"* {OUTSIDE_SCOPE}", st["small"]))

    if c.conformity_statement or c.decision_rule:
        story.append(P("符合性声明 Statement of conformity", st["head"]))
        if c.conformity_statement:
            story.append(P(_esc(c.conformity_statement), st["base"]))
        if c.decision_rule:
            story.append(P(_esc(f"判定规则 Decision rule: {c.decision_rule}"),
                           st["small"]))
    if c.recalibration:  # only when the customer asked (ISO/IEC 17025 7.8.4.3)
        story.append(P("复校建议 Recalibration", st["head"]))
        story.append(P(_esc(c.recalibration), st["base"]))
    if c.remarks:
        story.append(P("备注 Remarks", st["head"]))
        story += [P(_esc(r), st["base"]) for r in c.remarks]
    story.append(Spacer(1, 2 * mm))
    story.append(P(RELATE_ONLY_VERIFICATION if verification else RELATE_ONLY,
                   st["small"]))
    story.append(P(NO_PARTIAL, st["small"]))
    end = "通知书结束 End of notice" if c.kind == VERIFICATION_NOTICE else "证书结束 End of certificate"
    story.append(P(f"（以下空白）　*** {end} ***", st["end"]))
    return story


def _widths(weights: Sequence[float]) -> list[float]:
    total = sum(weights)
    return [WIDTH * w / total for w in weights]


def _results_table(points: Sequence[PointLine], st: dict[str, ParagraphStyle]) -> Table:
    """One row per point: nominal, reference, indication, error, U, k (JJF 1071-2010 5.12 g),
    and, where the procedure has one, the MPE and the verdict per point."""
    P = Paragraph  # noqa: N806
    cell = st["cell"]
    has_u = any(p.expanded_uncertainty.strip() for p in points)
    has_mpe = any(p.mpe for p in points)
    has_verdict = any(p.conformity for p in points)
    columns: list[tuple[str, float]] = [
        ("序号<br/>No.", 8), ("标称值<br/>Nominal", 17), ("标准值<br/>Reference", 19),
        ("示值<br/>Indicated", 19), ("示值误差<br/>Error", 18)]
    if has_u:
        columns += [("扩展不确定度<br/>U", 21), ("k", 7)]
    if has_mpe:
        columns.append(("最大允许误差<br/>MPE", 21))
    if has_verdict:
        columns.append(("结论<br/>Verdict", 22))
    columns.append(("单位<br/>Unit", 10))
    rows: list[list[str | Paragraph]] = [[P(name, cell) for name, _w in columns]]
    for p in points:
        row = [str(p.seq), p.nominal, p.reference, p.indicated, p.error]
        if has_u:
            row += [p.expanded_uncertainty or "—", p.k or "—"]
        if has_mpe:
            row.append(f"±{p.mpe.lstrip('±')}" if p.mpe else "—")
        # Numbers and units are plain cell strings (drawn in the table's embedded font): a
        # Paragraph per number would cost most of the rendering time of a 20-point table.
        cells: list[str | Paragraph] = list(row)
        if has_verdict:
            cells.append(P(CONFORMITY.get(p.conformity, _esc(str(p.conformity))),
                           cell))
        cells.append(p.unit)
        rows.append(cells)
    return Table(rows, colWidths=_widths([w for _n, w in columns]), style=_grid(8, header=True),
                 repeatRows=1)


def _uncertainty_note(c: CertificateContent, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    """The coverage probability that goes with U and k (JJF 1059.1-2012 7; ISO/IEC 17025
    7.8.4.1 a): one sentence when all points share it, else per point."""
    with_u = [p for p in c.points if p.expanded_uncertainty.strip()]
    if not with_u:
        return []
    probabilities = list(dict.fromkeys(p.coverage_probability for p in with_u))
    if len(probabilities) == 1:
        p = probabilities[0]
        text = (f"U 为扩展不确定度，k 为包含因子，对应的包含概率 p ≈ {_esc(p)}。"
                f"U is the expanded uncertainty, k the coverage factor, for a coverage "
                f"probability of approximately {_esc(p)}.")
    else:
        listed = "; ".join(f"{p.seq}: p ≈ {p.coverage_probability}" for p in with_u)
        text = ("U 为扩展不确定度，k 为包含因子，各点包含概率 Coverage probability per point: "
                + _esc(listed))
    return [Paragraph(text, st["small"])]


def _failing(c: CertificateContent, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    """The points that fail, error against MPE, first (JJG: 检定结果通知书 lists the items
    that do not conform)."""
    P = Paragraph  # noqa: N806
    cell = st["cell"]
    failing = [p for p in c.points if p.conformity == "fail"]
    story: list[Flowable] = [P("不合格项目 Points that do not conform", st["base"])]
    if not failing:
        return story + [P("—", st["base"])]
    rows = [[P(h, cell) for h in (
        "序号<br/>No.", "状态<br/>State", "标称值<br/>Nominal", "示值误差<br/>Error",
        "最大允许误差<br/>MPE", "单位<br/>Unit")]]
    for p in failing:
        rows.append([P(_esc(v), cell) for v in (
            str(p.seq), STATES.get(p.state, p.state), p.nominal, p.error,
            f"±{p.mpe.lstrip('±')}" if p.mpe else "—", p.unit)])
    story.append(Table(rows, colWidths=_widths([10, 26, 24, 24, 24, 14]),
                       style=_grid(8, header=True), repeatRows=1))
    story.append(Spacer(1, 2 * mm))
    story.append(P("全部检定结果 All results", st["base"]))
    return story
