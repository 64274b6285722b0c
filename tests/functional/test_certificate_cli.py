"""`lims report export-dcc` and the round trip through `lims calibration import` (issue 10):
the DCC the lab issued, imported back, gives the same values, U and k at every point; and
`lims report list --json` names each document's kind. Real CLI processes on both databases."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from lims.db import unit_of_work
from lims.reports.attachments import extract_dcc
from lims.reports.certificate_content import CertificateContent
from lims.reports.services import issue_report
from tests.functional.test_amend_api import cli_env, lims  # noqa: F401 - the fixture
from tests.support.calibration import approved_job, procedure, standard
from tests.support.world import PASSWORD


def test_export_dcc_and_import_it_back(session, world, settings, cli_env, tmp_path):  # noqa: F811
    standard(session, world, n_points=4)
    number = approved_job(session, world, procedure(session, world, n_points=4))
    with unit_of_work(session):
        cert = issue_report(session, actor=world.user(session, "signatory"),
                            sample_number=number, settings=settings, password=PASSWORD)
        cert_number, pdf = cert.number, cert.pdf
        content = CertificateContent.from_json(cert.content)
    report_number = world.reported_sample(session, settings)[1]
    session.rollback()

    listed = {r["number"]: r["kind"] for r in json.loads(
        lims(cli_env, "report", "list", "--json").stdout)}
    assert listed == {cert_number: "calibration_certificate", report_number: "test_report"}

    out = tmp_path / "cert.xml"
    done = lims(cli_env, "report", "export-dcc", cert_number, str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == extract_dcc(pdf)  # what the signature covers
    refused = lims(cli_env, "report", "export-dcc", report_number, str(tmp_path / "no.xml"))
    assert refused.returncode == 1 and "no Digital Calibration Certificate" in refused.stderr
    assert not (tmp_path / "no.xml").exists()

    imported = lims(cli_env, "calibration", "import", str(out), "--provider-kind", "in-house",
                    "--json")
    assert imported.returncode == 0, imported.stderr
    body: dict[str, Any] = json.loads(imported.stdout)
    assert body["certificate"]["number"] == cert_number
    errors = [r for r in body["results"] if r["quantity"] == "Error of indication"]
    assert [(r["nominal"], Decimal(r["value"]), r["expanded_uncertainty"], r["k"])
            for r in errors] == [(p.nominal, Decimal(p.error), p.expanded_uncertainty, p.k)
                                 for p in content.points]
