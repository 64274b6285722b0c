"""Every kind of document the lab issues, from its frozen snapshot to the unsigned PDF.

A test report renders from :class:`~lims.reports.content.ReportContent`; a calibration
certificate, verification certificate or notice from
:class:`~lims.reports.certificate_content.CertificateContent`, with its PTB DCC XML built,
validated and attached to the PDF before signing, so one PAdES signature covers both (issue
10). Pure: no Flask, no Session.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

from lims.reports.attachments import embed_dcc
from lims.reports.certificate_content import TEST_REPORT, CertificateContent, content_kind
from lims.reports.certificate_render import render_certificate
from lims.reports.content import ReportContent
from lims.reports.dcc_export import build_dcc
from lims.reports.render import render_report

Content = ReportContent | CertificateContent

# How the documents name themselves in a signature's /Reason and in messages.
TITLES = {
    TEST_REPORT: ("检验检测报告", "test report"),
    "calibration_certificate": ("校准证书", "calibration certificate"),
    "verification_certificate": ("检定证书", "verification certificate"),
    "verification_notice": ("检定结果通知书", "notice of verification result"),
}


@dataclasses.dataclass(frozen=True)
class Rendered:
    pdf: bytes            # unsigned, with the DCC attached for a certificate
    dcc: bytes | None     # the DCC XML, validated against the schema


def load_content(text: str) -> Content:
    """The stored snapshot back, of whichever kind it is."""
    if content_kind(text) == TEST_REPORT:
        return ReportContent.from_json(text)
    return CertificateContent.from_json(text)


@functools.cache
def software_version() -> str:
    try:
        return metadata.version("lims")
    except metadata.PackageNotFoundError:  # running from a source tree
        return "0+unknown"


def title(content: Content) -> str:
    """"calibration certificate JZ2026-000001" and the like, for signatures and messages."""
    return f"{TITLES[content.kind][1]} {content.number}"


def dcc_name(number: str) -> str:
    return f"{number}.dcc.xml"


def render_document(content: Content, *, font_dir: Path,
                    mark_images: Mapping[str, str] | None = None) -> Rendered:
    """The unsigned PDF of ``content``; for a certificate the DCC is built, validated
    (:func:`lims.reports.dcc_export.build_dcc` raises ReportError on a schema failure) and
    embedded as an associated file.
    """
    if isinstance(content, ReportContent):
        return Rendered(render_report(content, font_dir=font_dir, mark_images=mark_images), None)
    xml = build_dcc(content, software_version=software_version())
    pdf = render_certificate(content, font_dir=font_dir, dcc=xml, mark_images=mark_images)
    return Rendered(embed_dcc(pdf, xml, name=dcc_name(content.number),
                              modified=content.issued_at), xml)
