"""A certificate PDF with its DCC attached, then sealed and signed: one PAdES signature covers
both, pyHanko and poppler's pdfsig accept it, and the XML comes back intact and valid."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from lims.calibration.dcc import parse_dcc
from lims.errors import ReportError
from lims.reports import pki
from lims.reports.attachments import embed_dcc, extract_dcc
from lims.reports.certificate_content import (
    CALIBRATION_CERTIFICATE,
    VERIFICATION_CERTIFICATE,
    VERIFICATION_NOTICE,
)
from lims.reports.certificate_render import render_certificate
from lims.reports.dcc_export import build_dcc
from lims.reports.sign import load_signer, load_stamping, sign_report, validate_pdf
from tests.conftest import require_binary
from tests.support.certificates import adjusted, sample_certificate
from tests.support.pdf import nss_db, pdfsig


@pytest.fixture
def signers(pki_dir: Path, tmp_path: Path):
    """The lab's seal and a signatory's own key from a copy of the dev PKI."""
    d = tmp_path / "pki"
    shutil.copytree(pki_dir, d)
    passphrase = (d / "signer.pass").read_text()
    p12 = d / "signer.p12"
    signatory = pki.ensure_signatory(d, username="approver", full_name="张批准 Zhang Pizhun",
                                     user_id=7)
    return (load_signer(str(p12), passphrase), load_signer(str(signatory), passphrase),
            load_stamping(str(p12)), (d / "ca.pem").read_bytes())


def pdfdetach_list(path: Path) -> str:
    exe = require_binary("pdfdetach")
    return subprocess.run([exe, "-list", str(path)], capture_output=True, text=True,
                          check=True).stdout


@pytest.mark.parametrize("kind", [CALIBRATION_CERTIFICATE, VERIFICATION_CERTIFICATE,
                                  VERIFICATION_NOTICE])
def test_one_signature_covers_the_certificate_and_its_dcc(kind, signers, font_dir, tmp_path):
    seal, signatory, stamping, ca_pem = signers
    content = adjusted(sample_certificate(kind, n_points=20))
    xml = build_dcc(content, software_version="test")
    unsigned = embed_dcc(render_certificate(content, font_dir=font_dir, dcc=xml), xml,
                         name=f"{content.number}.dcc.xml")
    signed = sign_report(unsigned, signatory=signatory, seal=seal,
                         reason=f"批准 Approved: {content.number}", location="Hangzhou",
                         name="张批准", stamping=stamping)

    check = validate_pdf(signed, ca_pem)
    assert check is not None and check.ok and check.level == "B-LT", check
    assert [s.field for s in check.signatures] == ["LabSeal", "Approval"]

    path = tmp_path / "signed.pdf"
    path.write_bytes(signed)
    listing = pdfdetach_list(path)
    assert "1 embedded files" in listing and f"{content.number}.dcc.xml" in listing
    out = pdfsig(path, nss_db(tmp_path, ca_pem))
    assert out.count("Signature is Valid.") == 2, out
    assert out.count("Certificate is Trusted.") == 2, out
    assert "Total document signed" in out, out

    assert extract_dcc(signed) == xml
    parsed = parse_dcc(extract_dcc(signed) or b"")  # validates against the schema
    assert parsed.number == content.number and len(parsed.results) == 3 * 40

    # The attachment lies inside the revision the seal signed (its /AF is in the catalog).
    reader = PdfFileReader(io.BytesIO(signed))
    seal_sig = reader.embedded_regular_signatures[0]
    assert seal_sig.signed_revision >= 1  # rendered (0), attachment (1), then the seal


def test_the_attachment_is_an_associated_file(font_dir):
    content = sample_certificate()
    xml = build_dcc(content, software_version="test")
    pdf = embed_dcc(render_certificate(content, font_dir=font_dir), xml, name="证书.dcc.xml")
    root = PdfFileReader(io.BytesIO(pdf)).root
    (spec,) = [ref.get_object() for ref in root["/AF"]]
    assert spec["/AFRelationship"] == "/Data" and spec["/UF"] == "证书.dcc.xml"
    stream = spec["/EF"]["/F"].get_object()
    assert stream["/Subtype"] == "/text/xml" and stream["/Params"]["/Size"] == len(xml)
    names = root["/Names"]["/EmbeddedFiles"]["/Names"]
    assert names[1].get_object() is spec or names[1].get_object() == spec
    assert extract_dcc(pdf) == xml


def test_attaching_after_signing_is_refused_and_would_break_the_seal(signers, font_dir):
    seal, signatory, stamping, ca_pem = signers
    content = sample_certificate()
    xml = build_dcc(content, software_version="test")
    signed = sign_report(render_certificate(content, font_dir=font_dir), signatory=signatory,
                         seal=seal, reason="批准 Approved", location="Hangzhou", name="张批准",
                         stamping=None)
    assert extract_dcc(signed) is None
    with pytest.raises(ReportError, match="before signing"):
        embed_dcc(signed, xml, name="late.dcc.xml")


def test_extract_refuses_what_is_not_a_pdf():
    with pytest.raises(ReportError):
        extract_dcc(b"<xml/>")


def test_importing_our_own_dcc_gives_back_every_point(session, world, signers, font_dir):
    """``lims calibration import`` of the DCC taken out of an issued certificate stores each
    point with the same value, unit, U, k, nominal and adjustment state (both databases)."""
    from lims.calibration import services
    from lims.calibration.models import CalibrationRecord
    from lims.db import unit_of_work
    from lims.units import parse_unit
    from tests.support.world import TZ

    seal, signatory, stamping, _ca = signers
    content = adjusted(sample_certificate(n_points=20))
    xml = build_dcc(content, software_version="test")
    signed = sign_report(embed_dcc(render_certificate(content, font_dir=font_dir, dcc=xml), xml,
                                   name="c.dcc.xml"),
                         signatory=signatory, seal=seal, reason="批准 Approved",
                         location="Hangzhou", name="张批准", stamping=None)
    with unit_of_work(session):
        rec = services.import_certificate(session, actor=world.user(session, "qm"),
                                          data=extract_dcc(signed) or b"", filename="c.xml",
                                          provider_kind="in-house", timezone=TZ)
        rec_id = rec.id
    rec = session.get(CalibrationRecord, rec_id)
    assert rec.certificate_number == content.number and rec.calibrated_on == content.calibrated_on
    errors = [p for p in rec.points if p.quantity == "Error of indication"]
    assert len(errors) == len(content.points) == 40
    for stored, point in zip(errors, content.points, strict=True):
        assert (stored.value, stored.expanded_uncertainty, stored.k,
                stored.coverage_probability, stored.nominal, stored.state) == (
            point.error, point.expanded_uncertainty, point.k, point.coverage_probability,
            point.nominal, point.state)
        assert parse_unit(stored.unit) == parse_unit(point.unit)
    assert {p.state for p in rec.points} == {"as found", "as left"}
