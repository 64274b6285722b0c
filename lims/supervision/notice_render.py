"""Render the notification of inspection results (检验结果通知书) as a bilingual PDF, in the
embedded Noto Sans SC fonts and the page frame of test reports (:mod:`lims.reports.render`).

It is drawn from the notice's content snapshot (:func:`lims.supervision.notices.issue_notice`)
alone, so that what it printed can be read back from the stored JSON.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from lims.reports.render import REGULAR, numbered_canvas, register_fonts, styles

RULE_TEXT = {
    # 《中华人民共和国产品质量法》 art. 15: 15 days from receipt of the result.
    "product": ("如对检验结论有异议，可自收到本通知书之日起十五日内，向组织监督"
                "抽查的市场监督管理部门或其上级市场监督管理部门提出书面复检申请；逾期未提出的，视为"
                "认可检验结论。",
                "If you object to the conclusion, you may apply in writing for a re-inspection to "
                "the market regulation authority that organised the spot check, or the one above "
                "it, within 15 days of receiving this notice; without an "
                "application by then, the conclusion is deemed accepted."),
    # 《中华人民共和国食品安全法》 art. 88: 7 working days from receipt of the conclusion.
    "food": ("如对检验结论有异议，可自收到本通知书之日起七个工作日内，向实施"
             "监督抽检的市场监督管理部门或其上一级市场监督管理部门提出书面复检申请；逾期未提出的，"
             "视为认可检验结论。",
             "If you object to the conclusion, you may apply in writing for a re-inspection to the "
             "market regulation authority that carried out the sampling inspection, or the one "
             "above it, within 7 working days of receiving this notice; without "
             "an application by then, the conclusion is deemed accepted."),
}


def render_notice(content: dict[str, Any], *, font_dir: Path) -> bytes:
    """The unsigned PDF of a result notice from its content snapshot."""
    register_fonts(font_dir)
    st, e = styles(), escape
    P = Paragraph  # noqa: N806
    story: list[Flowable] = [
        P(e(content["lab_name"]), st["subtitle"]),
        P(e(content["lab_name_en"]), st["subtitle"]),
        Spacer(1, 3 * mm),
        P("检验结果通知书", st["title"]),
        P("NOTIFICATION OF INSPECTION RESULTS", st["subtitle"]),
        Spacer(1, 4 * mm),
    ]
    grid = TableStyle([
        ("FONT", (0, 0), (-1, -1), REGULAR, 8.5),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BACKGROUND", (0, 0), (0, -1), colors.whitesmoke),
    ])
    info = [
        ("通知书编号 Notice No.", content["number"]),
        ("受检单位 Enterprise", f"{content['enterprise']} ({content['credit_code']})"),
        ("组织抽查部门 Authority", content["authority"]),
        ("抽查计划 Plan", content["plan"]),
        ("产品名称 Product", content["product"]),
        ("商标 / 规格型号 Trademark / model", f"{content['trademark'] or '—'} / "
                                             f"{content['model'] or '—'}"),
        ("生产日期/批号 Batch", content["batch"] or "—"),
        ("抽样单编号 Sampling record No.", content["record"]),
        ("样品编号 Sample No.", content["sample"]),
        ("检验报告编号 Test report No.", content["report"]),
        ("判定依据 Product standard", content["product_standard"] or "—"),
        ("检验结论 Conclusion", content["conclusion"] or "不合格 Nonconforming"),
    ]
    story.append(Table([[P(e(k), st["label"]), P(e(v), st["cell"])] for k, v in info],
                       colWidths=[50 * mm, 120 * mm], style=grid))
    story.append(P("不合格项目 Unqualified items", st["head"]))
    rows = [[P(e(h), st["cell"]) for h in ("检验项目 Characteristic", "标准要求 Requirement",
                                          "实测值 Result", "单项判定 Verdict")]]
    for item in content["items"]:
        rows.append([P(e(item["characteristic"]), st["cell"]),
                     P(e(item["requirement"]), st["cell"]),
                     P(e(f"{item['value']} {item['unit']}".strip()), st["cell"]),
                     P(e(item["verdict"]), st["cell"])])
    story.append(Table(rows, colWidths=[50 * mm, 45 * mm, 40 * mm, 35 * mm], repeatRows=1,
                       style=TableStyle([
                           ("FONT", (0, 0), (-1, -1), REGULAR, 8.5),
                           ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                           ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                           ("VALIGN", (0, 0), (-1, -1), "TOP")])))
    story.append(P("异议权利 Right to object", st["head"]))
    zh, en = RULE_TEXT[content["rule"]]
    story.append(P(e(zh), st["base"]))
    story.append(P(e(en), st["small"]))
    story.append(Spacer(1, 2 * mm))
    story.append(P(e("本通知书附有本机构的数字签名（PAdES），可用信任本机构证书的 PDF 阅读器验证。 / This "
                     "notice carries the laboratory's digital signature (PAdES)."), st["small"]))
    story.append(Spacer(1, 8 * mm))
    for line in (content["lab_name"], content["lab_name_en"], content["lab_address"],
                 f"签发日期 Date of issue: {content['issued_on']}"):
        story.append(P(e(line), st["base"]))
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=20 * mm,
        bottomMargin=18 * mm, title=f"检验结果通知书 Notification {content['number']}",
        author=content["lab_name_en"], subject=f"Report {content['report']}", creator="LIMS",
        initialFontName=REGULAR, initialFontSize=9)
    doc.build(story, canvasmaker=numbered_canvas(content["number"], content["lab_name"]))
    return buf.getvalue()
