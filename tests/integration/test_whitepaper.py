"""The annual quality white paper (issue 13 §4): on both databases its pass-rate figures are
the statistics API's payload, the PDF shows them, its charts are vector drawings, it is signed
by the lab key; an empty year gives a paper that says so, a bad year is refused by field; the
``lims whitepaper`` command (SQLite) writes the stored bytes."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import select

from lims.audit.models import AuditEvent
from lims.db import unit_of_work, utcnow
from lims.errors import InvalidInput, PermissionDenied
from lims.instruments.models import Instrument
from lims.reports.models import Report
from lims.reports.pki import ca_certificate_pem
from lims.reports.sign import validate_pdf
from lims.samples.models import Sample
from lims.supervision import statistics, whitepaper
from lims.supervision.models import Objection, ResultNotice, WhitePaper
from lims.supervision.whitepaper_render import render
from tests.integration.test_supervision_statistics import _place, _region
from tests.support.pdf import pdftotext
from tests.support.world import TZ, csrf, login


def _images(pdf: bytes) -> int:
    """Image XObjects on the pages (charts drawn as vectors add none)."""
    reader = PdfFileReader(io.BytesIO(pdf))
    count = 0
    for i in range(len(reader.root["/Pages"]["/Kids"])):
        resources = reader.find_page_for_modification(i)[0].get_object().get("/Resources", {})
        xobjects = resources.get("/XObject", {})
        count += sum(1 for x in xobjects.values() if x.get_object().get("/Subtype") == "/Image")
    return count


def _text(pdf: bytes, tmp_path: Path, name: str) -> str:
    path = tmp_path / name
    path.write_bytes(pdf)
    return pdftotext(path)


def test_the_white_paper_prints_the_statistics(client, session, world, settings, tmp_path):
    with unit_of_work(session):
        hubei = _region(session, "420000", "湖北省", "Hubei", "province")
        wuhan = _region(session, "420100", "武汉市", "Wuhan", "prefecture", hubei)
    # Children's clothing: two pass, two fail, of which one is re-inspected on objection and
    # passes (the verdict overturned); one food sample fails.
    numbers = []
    for seq, (value, category) in enumerate([("100.00", "IND-CHILD-CLOTHING"),
                                             ("100.00", "IND-CHILD-CLOTHING"),
                                             ("101.00", "IND-CHILD-CLOTHING"),
                                             ("101.00", "IND-CHILD-CLOTHING"),
                                             ("101.00", "FOOD-DAIRY")]):
        number, report = world.reported_sample(session, settings, value=value)
        _place(session, world, number, category=category, region=wuhan, size="small", seq=seq)
        numbers.append((number, report))
    again, _ = world.reported_sample(session, settings, value="100.00")
    qm = world.user(session, "qm")
    with unit_of_work(session):  # the notice and objection rows, written directly (setup)
        original = session.scalar(select(Sample).where(Sample.number == numbers[3][0]))
        retest = session.scalar(select(Sample).where(Sample.number == again))
        retest.reinspection_of_id = original.id
        report = session.scalar(select(Report).where(Report.number == numbers[3][1]))
        notice = ResultNotice(number="TZ-1", sample_id=original.id, report_id=report.id,
                              objection_rule="product", issued_by_id=qm.id, sha256="0" * 64,
                              size=0, content="{}", pdf=b"", delivered_on=utcnow().date())
        session.add(notice)
        session.flush()
        session.add(Objection(notice_id=notice.id, received_on=utcnow().date(), applicant="企业3",
                              grounds="复检", status="accepted", created_by_id=qm.id,
                              reinspection_sample_id=retest.id))
        session.get(Instrument, world.balance_id).role = "reference standard"
    year = utcnow().astimezone(dt.timezone(dt.timedelta(hours=8))).year

    with pytest.raises(PermissionDenied):
        whitepaper.issue(session, actor=world.user(session, "tech"), year=year,
                         settings=settings)
    session.rollback()
    with unit_of_work(session):
        paper = whitepaper.issue(session, actor=world.user(session, "qm"), year=year,
                                 settings=settings)
        paper_id, pdf = paper.id, paper.pdf
    stored = session.get(WhitePaper, paper_id)
    assert stored.sha256 == hashlib.sha256(pdf).hexdigest() and stored.size == len(pdf)
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "whitepaper.issue",
                                                   AuditEvent.entity_id == str(paper_id)))

    # Every pass-rate figure is the API's payload, recomputed here.
    figures = json.loads(stored.figures)
    payload = statistics.pass_rates(session, year=year, timezone=TZ,
                                    inspection_type="supervision").as_dict()
    assert figures["rates"] == json.loads(json.dumps(payload))
    assert payload["total"]["sampled"] == 5 and payload["total"]["pass_rate"] == 60.0
    trend = {code: series[-1] for code, series in figures["trend"].items()}
    for family in payload["families"]:
        assert {k: trend[family["key"]][k] for k in ("year", "sampled", "pass_rate")} == \
            {"year": year, "sampled": family["sampled"], "pass_rate": family["pass_rate"]}
    activity, capacity = figures["activity"], figures["capacity"]
    # ... and through the statistics API, as an auditor outside the lab would recompute them.
    login(client, "auditor")
    api = "/api/v1/statistics"
    assert client.get(f"{api}/pass-rates?year={year}&inspection_type=supervision"
                      ).get_json() == figures["rates"]
    trend_api = client.get(f"{api}/pass-rates/trend?to={year}&inspection_type=supervision"
                           ).get_json()
    assert {f["key"]: f["years"] for f in trend_api["families"]} == figures["trend"]
    assert client.get(f"{api}/supervision-activity?year={year}").get_json() == {
        "year": year, "activity": activity, "capacity": capacity}
    assert activity["tasks"]["sampled"] == 5 and activity["sampling_records"] == 5
    assert (activity["notices_issued"], activity["objections"]["accepted"],
            activity["reinspections"], activity["reinspections_overturned"]) == (1, 1, 1, 1)
    assert (capacity["reference_standards"], capacity["working_standards"]) == (1, 0)

    # The PDF shows them, in both languages, with the intervals of small counts.
    text = _text(pdf, tmp_path, "paper.pdf")
    flat = " ".join(text.split())
    fam = {f["key"]: f for f in payload["families"]}
    assert "75.00 %" in flat and fam["IND"]["pass_rate"] == 75.0 and fam["IND"]["below_target"]
    low, high = fam["IND"]["interval"]
    assert f"{low:.2f} – {high:.2f} %" in flat
    assert f"{fam['FOOD']['pass_rate']:.2f} %" in flat and "未达标" in flat and "not met" in flat
    assert f"总体合格率 {payload['total']['pass_rate']:.2f} %" in flat.replace("合 格", "合格")
    assert "Specimen mass" in flat and "武汉市 Wuhan" in flat
    assert "samples re-inspected: 1, of which 1 overturned the verdict" in flat
    assert f"pass-rates?year={year}&inspection_type=supervision" in flat
    # Charts: drawn (their legends are text) and not bitmaps.
    assert "目标 Target (%)" in flat and "Pass rate by region" in flat
    assert _images(pdf) == 0
    ca = ca_certificate_pem(Path(settings.signing_pkcs12), settings.signing_passphrase)
    check = validate_pdf(pdf, ca)
    assert check is not None and check.ok, check

    # A year without samples: a clear paper, no crash; a bad year is refused by field.
    empty = whitepaper.figures(session, year=year - 1, settings=settings)
    assert empty.empty and empty.rates["total"]["sampled"] == 0
    flat = " ".join(_text(render(empty, font_dir=settings.font_path), tmp_path,
                          "empty.pdf").split())
    assert "年度本中心无监督抽查样品" in flat.replace(" ", "")
    assert "took no supervision spot-check sample" in flat
    for bad in ("20x6", "1200", str(year + 1)):
        with pytest.raises(InvalidInput) as caught:
            whitepaper.figures(session, year=bad, settings=settings)
        assert caught.value.field == "year"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the same on both
def test_the_command_writes_the_stored_paper(settings, tmp_path, session):
    from click.testing import CliRunner

    from lims.cli import main

    env = {"LIMS_DATABASE_URL": settings.database_url,
           "LIMS_INSTANCE_PATH": str(tmp_path / "inst"), "LIMS_SECRET_KEY": "test-secret",
           "LIMS_SIGNING_PKCS12": settings.signing_pkcs12,
           "LIMS_SIGNING_PASSPHRASE": settings.signing_passphrase,
           "LIMS_FONT_DIR": str(settings.font_path), "LIMS_DEFAULT_LOCALE": "en"}
    out = tmp_path / "paper.pdf"
    year = utcnow().year - 1
    done = CliRunner().invoke(main, ["whitepaper", str(year), "--out", str(out)], env=env)
    assert done.exit_code == 0, done.output
    paper = session.scalar(select(WhitePaper))
    assert paper.year == year and paper.issued_by_id is None
    assert out.read_bytes() == paper.pdf and paper.sha256 in done.output
    bad = CliRunner().invoke(main, ["whitepaper", "nineteen", "--out", str(out)], env=env)
    assert bad.exit_code == 2 and "year:" in bad.output


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the views are thin
def test_the_page_issues_lists_and_serves_papers(client, world, session):
    year = utcnow().year - 1
    login(client, "tech")
    assert 'id="issue-whitepaper-form"' not in client.get("/whitepapers").get_data(as_text=True)
    token = csrf(client, "/whitepapers")
    assert client.post("/whitepapers", data={"year": year, "csrf_token": token}).status_code \
        == 403
    client.post("/logout", data={"csrf_token": token})
    login(client, "qm")
    token = csrf(client, "/whitepapers")
    refused = client.post("/whitepapers", data={"year": "next", "csrf_token": token},
                          headers={"Referer": "http://localhost/whitepapers"},
                          follow_redirects=True)
    assert "year" in refused.get_data(as_text=True).lower()
    done = client.post("/whitepapers", data={"year": year, "csrf_token": token},
                       follow_redirects=True)
    page = done.get_data(as_text=True)
    paper = session.scalar(select(WhitePaper))
    assert f'data-year="{year}"' in page and paper.sha256[:16] in page
    pdf = client.get(f"/whitepapers/{paper.id}.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data == paper.pdf
    body = client.get(f"/whitepapers/{paper.id}/figures.json").get_json()
    assert body["sha256"] == paper.sha256 and body["figures"] == json.loads(paper.figures)
    assert client.get("/whitepapers/999.pdf").status_code == 404
