"""The letter informing a customer of nonconforming work (ISO/IEC 17025 7.10.1 e),
drawn with reportlab in the embedded Noto Sans SC fonts as reports are, and signed with the lab
key so the customer can check who sent it and that it is unaltered: PAdES B-LT like reports
(B-LTA with LIMS_PADES_LTA), so the signature stays provable after the lab's certificate
expires (requirements PD-03, PD-05).

A letter lists only its customer's reports: nothing of another customer is on it. Its text is in
the instance's language (``LIMS_DEFAULT_LOCALE``, from the message catalog), not in that of the
browser of the quality manager who downloads it: the same case gives the same letter whoever
fetches it, from a page, the API or a script (issue 11 §1).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import escape

from babel.support import Translations
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
from lims.errors import NotFound, msg
from lims.instruments.models import Instrument
from lims.reports.render import REGULAR, numbered_canvas, register_fonts, styles
from lims.reports.sign import load_signer, load_stamping, sign_pdf
from lims.samples.models import Customer

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"


def _(message: str) -> str:
    """Marks a message for the catalog (``make translations``); :func:`letter_pdf` translates
    it into the instance's language."""
    return message


EVALUATION_TEXT = {
    "pending": _("Evaluation pending"),
    "no impact": _("No impact"),
    "re-test": _("Re-test"),
    "recall": _("Recall"),
}
MEANING = (
    _("No impact: the results of the report are not affected; the report remains valid."),
    _("Re-test: the laboratory will re-test and, where needed, issue a new report and inform "
      "you."),
    _("Recall: please stop relying on the report until the laboratory, who will contact you, "
      "issues a replacement."),
)


def translator(locale: str) -> Callable[..., str]:
    """``t(message, **values)``: the message in ``locale`` from the catalog (English when the
    catalog has none), with its ``%(name)s`` values filled in."""
    catalog = Translations.load(str(TRANSLATIONS), [locale])

    def t(message: str, **values: object) -> str:
        text = catalog.gettext(message)
        return text % values if values else text
    return t


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
        raise NotFound(msg("case %(case)s affects no report of customer %(customer)r",
                           case=case.number, customer=customer_id if customer_id is not None
                           else customer_name),
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
    t = translator(settings.default_locale)
    P = Paragraph  # noqa: N806
    equipment = f"{instrument.asset_number} {instrument.name}"
    period = f"{case.from_date.isoformat()} — {case.to_date.isoformat()}"

    story: list[Flowable] = [
        P(e(settings.lab_name), st["subtitle"]),
        P(e(settings.lab_name_en), st["subtitle"]),
        Spacer(1, 4 * mm),
        P(e(t(_("Notification of nonconforming work"))), st["title"]),
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
    info = [(t(_("Addressed to")), to), (t(_("Our reference")), e(case.number)),
            (t(_("Date")), today),
            (t(_("Equipment concerned")), e(equipment)), (t(_("Period concerned")), e(period))]
    story.append(Table([[P(e(k), st["cell"]), P(v, st["cell"])] for k, v in info],
                       colWidths=[45 * mm, 125 * mm], style=grid))
    story.append(Spacer(1, 4 * mm))
    story.append(P(e(t(_(
        "The laboratory has found that the measuring equipment %(equipment)s, relied on between "
        "%(period)s, was nonconforming (ISO/IEC 17025 7.10). The reports below, issued to you, "
        "may be affected; the laboratory's evaluation of each follows."),
        equipment=equipment, period=period)), st["base"]))
    story.append(P(e(t(_("Affected reports"))), st["head"]))
    rows = [[P(e(t(h)), st["cell"]) for h in (_("Report No."), _("Issue date"), _("Evaluation"),
                                              _("Reason"))]]
    for a in mine:
        issued = lab_day(a.report.issued_at, settings.timezone).isoformat()
        rows.append([P(e(a.report.number), st["cell"]), P(issued, st["cell"]),
                     P(e(t(EVALUATION_TEXT.get(a.row.evaluation, a.row.evaluation))),
                       st["cell"]),
                     P(e(a.row.reason) or "—", st["cell"])])
    story.append(Table(rows, colWidths=[34 * mm, 22 * mm, 44 * mm, 70 * mm], repeatRows=1,
                       style=TableStyle([
                           ("FONT", (0, 0), (-1, -1), REGULAR, 8.5),
                           ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                           ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                           ("VALIGN", (0, 0), (-1, -1), "TOP")])))
    story.append(Spacer(1, 2 * mm))
    for line in MEANING:
        story.append(P(e(t(line)), st["small"]))
    story.append(Spacer(1, 2 * mm))
    story.append(P(e(t(_("The current status of each report can be checked at %(url)s<report "
                         "number>"), url=verify)), st["small"]))
    story.append(P(e(t(_("This letter carries the laboratory's digital signature (PAdES); any "
                         "PDF reader that trusts the laboratory's certificate can verify it."))),
                   st["small"]))
    story.append(Spacer(1, 8 * mm))
    story.append(P(e(settings.lab_name), st["base"]))
    story.append(P(e(settings.lab_name_en), st["base"]))
    story.append(P(e(settings.lab_address), st["base"]))
    story.append(P(e(t(_("Date: %(date)s"), date=today)), st["base"]))

    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=20 * mm,
        bottomMargin=18 * mm, title=t(_("Nonconforming work %(number)s"), number=case.number),
        author=settings.lab_name_en,
        subject=t(_("Notification to %(customer)s"), customer=customer.name),
        creator="LIMS", initialFontName=REGULAR, initialFontSize=9)
    doc.build(story, canvasmaker=numbered_canvas(
        t(_("Ref.: %(number)s"), number=case.number),
        settings.lab_name if settings.default_locale.lower().startswith("zh") else settings.lab_name_en,
        footer=lambda page, total: t(_("Page %(page)s of %(total)s"), page=page, total=total)))
    return sign_pdf(buf.getvalue(), signer,
                    reason=t(_("Nonconforming work notification %(number)s"),
                             number=case.number),
                    location=settings.lab_name_en, timestamper=stamping.timestamper,
                    crls=stamping.crls, trust=stamping.trust, fetch=stamping.fetch,
                    lta=settings.pades_lta)
