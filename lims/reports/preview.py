"""The signatory's preview of the document an issue would produce (issue 11 §2).

The same content (:func:`lims.reports.services.document_content`) rendered the same way
(:func:`lims.reports.documents.render_document`), but unsigned, under no number (numbers are
gapless and taken only by an issue), stamped "预览 PREVIEW" on every page, and never stored: it
is not a report, and nothing about it is written to the database.
"""

from __future__ import annotations

import io
from pathlib import Path

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from reportlab.lib.colors import Color
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy.orm import Session

from lims.auth.models import User
from lims.auth.services import require
from lims.config import Settings
from lims.db import utcnow
from lims.reports.documents import render_document
from lims.reports.fonts import ensure_fonts
from lims.reports.marks import mark_images
from lims.reports.services import document_content
from lims.samples.lifecycle import SampleStatus, check_transition
from lims.samples.review import check_issuer
from lims.samples.services import get_sample

# Where the number of the document will stand once issued.
PREVIEW_NUMBER = "PREVIEW"
MARK = "预览 PREVIEW — 无效 not valid"


def preview_pdf(session: Session, *, actor: User, sample_number: str,
                settings: Settings) -> bytes:
    """The unsigned, stamped PDF of what issuing the approved sample's document would give;
    only for the signatory who may issue it (the checks of :func:`check_issuer`).

    :raises SampleStateError: the sample is not approved. :raises PermissionDenied:
        :raises SeparationOfDuties: :raises OutsideScope: :raises NotTheApprover:
    """
    require(actor, "report.issue")
    sample = get_sample(session, sample_number)
    check_transition(sample.status, SampleStatus.REPORTED, sample=sample.number)
    check_issuer(session, actor, sample)
    content = document_content(session, sample, number=PREVIEW_NUMBER, issued_at=utcnow(),
                               settings=settings)
    rendered = render_document(content, font_dir=settings.font_path,
                               mark_images=mark_images(settings))
    return stamp_preview(rendered.pdf, font=ensure_fonts(settings.font_path)["Bold"])


def _overlay(font: Path, size: tuple[float, float]) -> bytes:
    """One page with the mark drawn diagonally in red, as text."""
    name = "LimsPreviewMark"
    if name not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(name, str(font)))
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=size)
    width, height = size
    canvas.setFillColor(Color(0.8, 0.1, 0.1, alpha=0.35))
    canvas.setStrokeColor(Color(0.8, 0.1, 0.1, alpha=0.6))
    canvas.setLineWidth(2)
    canvas.rect(12, 12, width - 24, height - 24)
    canvas.setFont(name, 11)
    canvas.drawString(24, height - 24, MARK)
    canvas.translate(width / 2, height / 2)
    canvas.rotate(45)
    canvas.setFont(name, 40)
    canvas.drawCentredString(0, 0, MARK)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def stamp_preview(pdf: bytes, *, font: Path) -> bytes:
    """Draw :data:`MARK` over every page (a frame, a line at the top and a diagonal band), as
    text a reader and ``pdftotext`` see; an incremental update, so the rendering underneath
    is byte for byte what the issue would sign."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    media = writer.root["/Pages"]["/Kids"][0].get_object()["/MediaBox"]
    size = (float(media[2]) - float(media[0]), float(media[3]) - float(media[1]))
    mark = PdfFileReader(io.BytesIO(_overlay(font, size)))
    xobject = writer.import_page_as_xobject(mark, page_ix=0)
    resources = generic.DictionaryObject({generic.NameObject("/XObject"): generic.DictionaryObject(
        {generic.NameObject("/LimsPreview"): xobject})})
    for page in range(int(writer.root["/Pages"]["/Count"])):
        stream = writer.add_object(generic.StreamObject(stream_data=b"q /LimsPreview Do Q"))
        writer.add_stream_to_page(page, stream, resources=resources)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
