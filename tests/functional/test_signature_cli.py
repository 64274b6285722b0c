"""The signature commands: ``lims report verify`` (offline, against the lab's CA) and ``lims
pki issue-signatory``; taking the signatory role away on the command line revokes the
certificate."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from sqlalchemy import select

from lims.reports.models import Report


def _cli(env: dict[str, str], *args: str) -> Any:
    from lims.cli import main

    return CliRunner().invoke(main, list(args), env=env)


def test_lims_report_verify_and_pki_issue_signatory(session, world, settings, database_url,
                                                    tmp_path):
    _number, report_number = world.reported_sample(session, settings)
    pdf = session.scalar(select(Report.pdf).where(Report.number == report_number))
    own = tmp_path / "pki"  # a copy of the session's dev PKI: revoking here touches no other test
    shutil.copytree(Path(settings.signing_pkcs12).parent, own)
    env = {"LIMS_DATABASE_URL": database_url, "LIMS_INSTANCE_PATH": str(tmp_path / "inst"),
           "LIMS_SECRET_KEY": "x", "LIMS_SIGNING_PKCS12": str(own / "signer.p12"),
           "LIMS_SIGNING_PASSPHRASE": settings.signing_passphrase}
    genuine = tmp_path / "genuine.pdf"
    genuine.write_bytes(pdf)
    out = _cli(env, "report", "verify", str(genuine))
    assert out.exit_code == 0, out.output
    assert "Signatory Tester — 批准 Approved: test report" in out.output
    assert f"issued report {report_number} (issued)" in out.output and "genuine" in out.output
    listed = json.loads(_cli(env, "report", "verify", str(genuine), "--json").output)
    assert listed["genuine"] and [s["seal"] for s in listed["signatures"]] == [True, False]

    # Drawn on after signing: the signatures still check, but the file is not genuine.
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    writer.add_stream_to_page(0, writer.add_object(generic.StreamObject(stream_data=b"BT ET")))
    forged = tmp_path / "forged.pdf"
    with forged.open("wb") as fh:
        writer.write(fh)
    out = _cli(env, "report", "verify", str(forged))
    assert out.exit_code == 1 and "INVALID" in out.output and "NOT genuine" in out.output
    unsigned = tmp_path / "unsigned.pdf"
    unsigned.write_bytes(b"%PDF-1.4 not really")
    out = _cli(env, "report", "verify", str(unsigned))
    assert out.exit_code == 1 and "not signed" in out.output

    out = _cli(env, "pki", "issue-signatory", "signatory2")
    assert out.exit_code == 0, out.output
    assert "CN=Signatory2 Tester" in out.output and "UID=signatory2" in out.output
    serial = out.output.split("serial ", 1)[1].split(",", 1)[0]
    again = _cli(env, "pki", "issue-signatory", "signatory2")
    assert f"serial {serial}," in again.output  # kept while fit
    renewed = _cli(env, "pki", "issue-signatory", "signatory2", "--renew")
    assert renewed.exit_code == 0 and f"serial {serial}," not in renewed.output
    refused = _cli(env, "pki", "issue-signatory", "tech")
    assert refused.exit_code == 1 and "not an active signatory" in refused.output
    assert _cli(env, "pki", "issue-signatory", "nobody").exit_code == 1

    # Taking the role away on the command line revokes the certificate.
    out = _cli({**env, "LIMS_CLI_USER": "admin"}, "user", "roles", "signatory2",
               "--role", "reviewer")
    assert out.exit_code == 0 and "signing certificate" in out.output, out.output
