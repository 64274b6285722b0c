"""The bilingual letter informing a customer of nonconforming work (ISO/IEC 17025 7.10.1 e),
drawn with reportlab in the embedded Noto Sans SC fonts as reports are, and signed with the lab
key so the customer can check who sent it and that it is unaltered: PAdES B-LT like reports
(B-LTA with LIMS_PADES_LTA), so the signature stays provable after the lab's certificate
expires (requirements PD-03, PD-05).

A letter lists only its customer's reports: nothing of another customer is on it.
"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy.orm import Session

from lims.calibration.models import NonconformingCase
from lims.calibration.nonconforming import affected
from lims.calibration.services import lab_day
from lims.config import Settings
from lims.db import utcnow
from lims.errors import NotFound
from lims.instruments.models import Instrument
from lims.reports.render import REGULAR, numbered_canvas, register_fonts, styles
from lims.reports.sign import load_signer, load_stamping, sign_pdf
from lims.samples.models import Customer

EVALUATION_TEXT = {
    "pending": "待评价 Evaluation pending",
    "no impact": "无影响 No impact",
    "re-test": "重新检测 Re-test",
    "recall": "召回 Recall",
}
MEANING = (
    "无影响：经评价，该报告结果不受影响，报告继续有效。"
    "No impact: the results of the report are not affected; the report remains valid.",
    "重新检测：本实验室将重新检测，必要时出具新报告并通知您。"
    "Re-test: the laboratory will re-test and, where needed, issue a new report and inform you.",
    "召回：请暂停使用该报告，本实验室将与您联系，出具替代报告。"
    "Recall: please stop relying on the report until the laboratory, who will contact you, "
    "issues a replacement.",
)


def letter_pdf(session: Session, case: NonconformingCase, customer_name: str,
               settings: Settings, *, customer_id: int | None = None) -> bytes:
    """The signed letter to one customer about the case's reports issued to them.

    The customer is chosen by ``customer_id`` when given (two customers may share a name),
    else by name.

    :raises NotFound: the customer has no report in the case.
    :raises ReportError: the signing key cannot be loaded or is unfit, or there is no
        time-stamping authority.
    """
    mine = [a for a in affected(session, case)
            if (a.customer_id == customer_id if customer_id is not None
                else a.customer == customer_name)]
    if not mine:
        raise NotFound(f"case {case.number} affects no report of customer "
                       f"{customer_id if customer_id is not None else customer_name!r}",
                       case=case.number)
    customer = session.get(Customer, mine[0].customer_id)
    assert customer is not None  # noqa: S101 - a foreign key
    instrument = session.get(Instrument, case.instrument_id)
    assert instrument is not None  # noqa: S101 - a foreign key
    signer = load_signer(settings.signing_pkcs12, settings.signing_passphrase)
    stamping = load_stamping(settings.signing_pkcs12, tsa_url=settings.tsa_url,
                             tsa_ca_file=settings.tsa_ca_file)
    register_fonts(settings.font_path)
    today = lab_day(utcnow(), settings.timezone).isoformat()
    verify = settings.public_url.rstrip("/") + "/verify/"
    st, e = styles(), escape
    P = Paragraph  # noqa: N806
    equipment = f"{instrument.asset_number} {instrument.name}"
    period = f"{case.from_date.isoformat()} — {case.to_date.isoformat()}"

    story: list[Flowable] = [
        P(e(settings.lab_name), st["subtitle"]),
        P(e(settings.lab_name_en), st["subtitle"]),
        Spacer(1, 4 * mm),
        P("不符合工作通知函", st["title"]),
        P("NOTIFICATION OF NONCONFORMING WORK", st["subtitle"]),
        Spacer(1, 5 * mm),
    ]
    grid = TableStyle([
        ("FONT", (0, 0), (-1, -1), REGULAR, 8.5),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BACKGROUND", (0, 0), (0, -1), colors.whitesmoke),
    ])
    to = e(customer.name) + (f"<br/>{e(customer.contact)}" if customer.contact else "") \
        + (f"<br/>{e(customer.address)}" if customer.address else "")
    info = [("致 To", to), ("编号 Reference", e(case.number)), ("日期 Date", today),
            ("涉及设备 Equipment concerned", e(equipment)), ("涉及期间 Period", e(period))]
    story.append(Table([[P(k, st["cell"]), P(v, st["cell"])] for k, v in info],
                       colWidths=[45 * mm, 125 * mm], style=grid))
    story.append(Spacer(1, 4 * mm))
    story.append(P(e(f"本实验室发现，在 {period} 期间所依赖的测量设备 {equipment} 存在不符合情况 "
                     "(ISO/IEC 17025 7.10)。下列为贵单位出具的报告可能受到影响，本实验室对每份报告"
                     "的评价如下。"), st["base"]))
    story.append(P(e(f"The laboratory has found that the measuring equipment {equipment}, relied "
                     f"on between {period}, was nonconforming (ISO/IEC 17025 7.10). The reports "
                     "below, issued to you, may be affected; the laboratory's evaluation of each "
                     "follows."), st["base"]))
    story.append(P("受影响报告 Affected reports", st["head"]))
    rows = [[P(h, st["cell"]) for h in ("报告编号<br/>Report No.", "签发日期<br/>Issued",
                                        "评价<br/>Evaluation", "理由<br/>Reason")]]
    for a in mine:
        issued = lab_day(a.report.issued_at, settings.timezone).isoformat()
        rows.append([P(e(a.report.number), st["cell"]), P(issued, st["cell"]),
                     P(e(EVALUATION_TEXT.get(a.row.evaluation, a.row.evaluation)), st["cell"]),
                     P(e(a.row.reason) or "—", st["cell"])])
    story.append(Table(rows, colWidths=[34 * mm, 22 * mm, 44 * mm, 70 * mm], repeatRows=1,
                       style=TableStyle([
                           ("FONT", (0, 0), (-1, -1), REGULAR, 8.5),
                           ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                           ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                           ("VALIGN", (0, 0), (-1, -1), "TOP")])))
    story.append(Spacer(1, 2 * mm))
    for line in MEANING:
        story.append(P(e(line), st["small"]))
    story.append(Spacer(1, 2 * mm))
    story.append(P(e("报告当前状态可在以下网址查询 · The current status of each report can be "
                     f"checked at {verify}<报告编号 report number>"), st["small"]))
    story.append(P(e("本函带有实验室数字签名 (PAdES)，可用信任本实验室证书的 PDF 阅读器核验。"
                     "This letter carries the laboratory's digital signature (PAdES); any PDF "
                     "reader that trusts the laboratory's certificate can verify it."), st["small"]))
    story.append(Spacer(1, 8 * mm))
    story.append(P(e(settings.lab_name), st["base"]))
    story.append(P(e(settings.lab_name_en), st["base"]))
    story.append(P(e(settings.lab_address), st["base"]))
    story.append(P(e(f"日期 Date: {today}"), st["base"]))

    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=20 * mm,
        bottomMargin=18 * mm, title=f"不符合工作通知函 Nonconforming work {case.number}",
        author=settings.lab_name_en, subject=f"Notification to {customer.name}",
        creator="LIMS", initialFontName=REGULAR, initialFontSize=9)
    doc.build(story, canvasmaker=numbered_canvas(f"编号 Ref.: {case.number}",
                                                  settings.lab_name_en))
    return sign_pdf(buf.getvalue(), signer,
                    reason=f"不符合工作通知 Nonconforming work notification {case.number}",
                    location=settings.lab_name_en, timestamper=stamping.timestamper,
                    crls=stamping.crls, trust=stamping.trust, fetch=stamping.fetch,
                    lta=settings.pades_lta)
