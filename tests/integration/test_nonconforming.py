"""Nonconforming work from an impact analysis (ISO/IEC 17025 7.10): a weight set found out of
tolerance reaches, through the balance calibrated in-house against it, the reports of two
customers; each report is evaluated, each customer gets a signed letter of their own reports."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from lims.audit.models import AuditEvent
from lims.calibration import nonconforming as nc
from lims.calibration import services as calibration
from lims.calibration.certificates import parse_json
from lims.calibration.letters import letter_pdf
from lims.calibration.models import AffectedReport, NonconformingCase
from lims.db import unit_of_work, utcnow
from lims.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from lims.instruments.models import Instrument
from lims.instruments.services import register_instrument
from lims.reports.pki import ca_certificate_pem
from lims.reports.sign import validate_pdf
from lims.samples import services as samples
from tests.support.pdf import pdffonts, pdftotext
from tests.support.world import TZ

NIM = {"name": "中国计量科学研究院 NIM", "kind": "nmi", "country": "CN"}
IN_HOUSE = {"name": "本实验室 In-house calibration", "kind": "in-house", "country": "CN"}


@dataclasses.dataclass
class Chain:
    today: dt.date
    acme: str           # report of ACME Textiles, its mass weighed on EQ-1
    beta: str           # report of Beta Metals, likewise
    beta_id: int        # customer id of Beta Metals
    unaffected: str     # report whose results were typed without an instrument


def _mass(nominal: str, value: str) -> dict[str, str]:
    return {"quantity": "mass", "nominal": nominal, "nominal_unit": "g", "value": value,
            "unit": "g", "expanded_uncertainty": "0.0002", "k": "2"}


def _report(session: Any, world: Any, settings: Any, customer_id: int, *,
            instrument: bool = True) -> str:
    return world.reported_sample(session, settings, customer_id=customer_id,
                                 instrument=instrument)[1]


def build_chain(session: Any, world: Any, settings: Any) -> Chain:
    """MS-1 (NIM) → EQ-1 calibrated in-house against MS-1 → results → reports of two customers;
    and one report that relied on no instrument."""
    qm = world.user(session, "qm")
    today = calibration.lab_day(utcnow(), TZ)
    with unit_of_work(session):
        ms1 = register_instrument(session, actor=qm, timezone=TZ, data={
            "asset_number": "MS-1", "name": "E2 weight set", "role": "reference standard",
            "quantities": [{"quantity": "mass", "unit": "g"}]})
        calibration.record_certificate(session, actor=qm, instrument=ms1, source="typed",
                                       timezone=TZ, cert=parse_json({
            "number": "NIM-M-0042", "instrument": "MS-1", "provider": NIM,
            "calibrated_on": (today - dt.timedelta(days=200)).isoformat(),
            "valid_until": (today + dt.timedelta(days=165)).isoformat(),
            "results": [_mass("100", "100.00003")]}))
        balance = session.get(Instrument, world.balance_id)
        calibration.record_certificate(session, actor=qm, instrument=balance, source="typed",
                                       timezone=TZ, cert=parse_json({
            "number": "IH-0007", "instrument": "EQ-1", "provider": IN_HOUSE,
            "calibrated_on": (today - dt.timedelta(days=5)).isoformat(),
            "valid_until": (today + dt.timedelta(days=360)).isoformat(),
            "standards_used": ["MS-1"], "results": [_mass("100", "100.0002")]}))
        beta_id = samples.create_customer(session, actor=world.user(session, "tech"),
                                          name="Beta Metals", address="9 Harbour Road").id
    return Chain(today=today, acme=_report(session, world, settings, world.customer_id),
                 beta=_report(session, world, settings, beta_id), beta_id=beta_id,
                 unaffected=_report(session, world, settings, world.customer_id,
                                    instrument=False))


def events_after(session: Any, seq: int) -> list[AuditEvent]:
    session.rollback()  # a fresh snapshot: the app's sessions committed meanwhile
    return list(session.scalars(select(AuditEvent).where(AuditEvent.seq > seq)
                                .order_by(AuditEvent.seq)))


def last_seq(session: Any) -> int:
    session.rollback()
    return session.scalar(select(func.max(AuditEvent.seq))) or 0


def open_from_standard(session: Any, world: Any, chain: Chain) -> str:
    with unit_of_work(session):
        return nc.open_case(session, actor=world.user(session, "qm"), asset="MS-1",
                            start=(chain.today - dt.timedelta(days=30)).isoformat(), end=None,
                            description="MS-1 found out of tolerance at recalibration",
                            timezone=TZ).number


def _report_id(session: Any, number: str) -> int:
    from lims.reports.models import Report

    return session.scalar(select(Report.id).where(Report.number == number))


@pytest.fixture
def chain(session: Any, world: Any, settings: Any) -> Chain:
    return build_chain(session, world, settings)


def test_case_from_a_standard_through_evaluation_to_closing(app, session, world, chain):
    seq = last_seq(session)
    number = open_from_standard(session, world, chain)
    assert re.fullmatch(rf"NC{chain.today.year}-0001", number)
    case = nc.get_case(session, number)
    items = nc.affected(session, case)
    assert [a.report.number for a in items] == sorted([chain.acme, chain.beta])
    assert {a.row.evaluation for a in items} == {"pending"}
    assert (case.from_date, case.to_date) == (chain.today - dt.timedelta(days=30), chain.today)
    assert [name for _id, name in nc.customers(items)] == ["ACME Textiles", "Beta Metals"]
    [opened] = events_after(session, seq)
    assert (opened.action, opened.actor, opened.entity_id) == ("nonconformity.open", "qm", number)
    impact = json.loads(opened.after)["impact"]
    assert impact["instruments"] == ["EQ-1"] and impact["results"] == 2
    assert impact["reports"] == sorted([chain.acme, chain.beta])
    assert impact["customers"] == ["ACME Textiles", "Beta Metals"]
    assert impact["calibrations"] == ["IH-0007"]

    public = app.test_client()
    assert "Under review" not in public.get(f"/verify/{chain.acme}").get_data(as_text=True)

    qm = world.user(session, "qm")
    seq = last_seq(session)
    with unit_of_work(session):
        nc.evaluate(session, actor=qm, case_number=number, report_number=chain.acme,
                    evaluation="recall", reason="mass at the upper limit; error exceeds margin")
    [evaluated] = events_after(session, seq)
    assert evaluated.action == "nonconformity.evaluate" and evaluated.entity_id == number
    assert json.loads(evaluated.before)["evaluation"] == "pending"
    after = json.loads(evaluated.after)
    assert (after["report"], after["evaluation"]) == (chain.acme, "recall")
    assert evaluated.reason == "mass at the upper limit; error exceeds margin"
    assert nc.under_review(session, _report_id(session, chain.acme))
    assert not nc.under_review(session, _report_id(session, chain.beta))

    page = public.get(f"/verify/{chain.acme}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Under review, recalled" in html and number in html
    assert "ACME" not in html and "mass at the upper limit" not in html and "100.00" not in html
    assert "Under review" not in public.get(f"/verify/{chain.beta}").get_data(as_text=True)

    # Pending Beta blocks closing, and the refusal writes nothing.
    seq = last_seq(session)
    with pytest.raises(Conflict, match=chain.beta), unit_of_work(session):
        nc.close_case(session, actor=qm, case_number=number)
    assert events_after(session, seq) == []
    with unit_of_work(session):
        nc.evaluate(session, actor=qm, case_number=number, report_number=chain.beta,
                    evaluation="no impact", reason="weighed at 100 g, within the margin")
        nc.close_case(session, actor=qm, case_number=number)
    assert [e.action for e in events_after(session, seq)] == ["nonconformity.evaluate",
                                                              "nonconformity.close"]
    case = nc.get_case(session, number)
    assert case.status == "closed" and case.closed_at is not None
    # Closing the case ends the investigation, not the recall.
    assert nc.under_review(session, _report_id(session, chain.acme))
    assert "recalled" in public.get(f"/verify/{chain.acme}").get_data(as_text=True)

    # A closed case refuses any change.
    for change in (lambda: nc.evaluate(session, actor=qm, case_number=number,
                                       report_number=chain.acme, evaluation="re-test",
                                       reason="second thoughts"),
                   lambda: nc.close_case(session, actor=qm, case_number=number)):
        with pytest.raises(Conflict), unit_of_work(session):
            change()
    assert events_after(session, seq + 2) == []


def test_letters_are_per_customer_signed_and_in_chinese(session, world, chain, settings,
                                                       tmp_path):
    number = open_from_standard(session, world, chain)
    with unit_of_work(session):
        nc.evaluate(session, actor=world.user(session, "qm"), case_number=number,
                    report_number=chain.acme, evaluation="recall",
                    reason="结果接近上限 result near the upper limit")
    case = nc.get_case(session, number)
    ca = ca_certificate_pem(Path(settings.signing_pkcs12), settings.signing_passphrase)

    # The letter is in the instance's language (zh_CN as shipped), whoever downloads it.
    acme = letter_pdf(session, case, "ACME Textiles",
                      dataclasses.replace(settings, default_locale="zh_CN"))
    # B-LT like reports: still provable, offline, after the lab's certificate has expired.
    check = validate_pdf(acme, ca, at=dt.datetime(2040, 6, 1, tzinfo=dt.UTC))
    assert check is not None and check.ok and check.level == "B-LT", check
    path = tmp_path / "acme.pdf"
    path.write_bytes(acme)
    assert " no " not in pdffonts(path).split("\n", 2)[2]  # every font embedded
    text = pdftotext(path)
    for needle in ("不符合工作通知函", "涉及设备", number, "ACME Textiles", chain.acme,
                   "召回", "结果接近上限 result near the upper limit", "MS-1 E2 weight set",
                   (chain.today - dt.timedelta(days=30)).isoformat(), settings.lab_name,
                   settings.lab_address, chain.today.isoformat()):
        assert needle in text, needle
    assert "第1页共1页" in text.replace(" ", "")  # pdftotext may drop the spaces between hanzi
    assert chain.beta not in text and "Beta" not in text and chain.unaffected not in text
    assert "Recall" not in text and "Equipment concerned" not in text
    assert "Page 1 of" not in text  # the footer too is in the letter's language


    beta = letter_pdf(session, case, "", settings, customer_id=chain.beta_id)
    assert validate_pdf(beta, ca).ok
    path = tmp_path / "beta.pdf"
    path.write_bytes(beta)
    text = pdftotext(path)
    assert chain.beta in text and "Evaluation pending" in text  # the test instance is English
    assert "Notification of nonconforming work" in text and "待评价" not in text
    assert "Page 1 of 1" in text and "第1页" not in text.replace(" ", "")
    assert "9 Harbour Road" in text and chain.acme not in text and "ACME" not in text

    with pytest.raises(NotFound):
        letter_pdf(session, case, "Nobody Ltd", settings)


def test_only_the_quality_manager_manages_cases(session, world, chain):
    for name in ("tech", "signatory", "auditor", "admin"):
        with pytest.raises(PermissionDenied), unit_of_work(session):
            nc.open_case(session, actor=world.user(session, name), asset="MS-1",
                         start=chain.today.isoformat(), end=None, description="x", timezone=TZ)
    number = open_from_standard(session, world, chain)
    seq = last_seq(session)
    tech = world.user(session, "tech")
    with pytest.raises(PermissionDenied), unit_of_work(session):
        nc.evaluate(session, actor=tech, case_number=number, report_number=chain.acme,
                    evaluation="recall", reason="x")
    with pytest.raises(PermissionDenied), unit_of_work(session):
        nc.close_case(session, actor=tech, case_number=number)
    assert events_after(session, seq) == []


@pytest.mark.parametrize(("change", "field"), [
    ({"evaluation": "withdraw"}, "evaluation"),
    ({"evaluation": None}, "evaluation"),
    ({"evaluation": "pending"}, "evaluation"),
    ({"reason": ""}, "reason"),
    ({"reason": "   "}, "reason"),
    ({"reason": None}, "reason"),
    ({"report_number": "BG1999-000001"}, "report"),
    ({"report_number": ["x"]}, "report"),
])
def test_bad_evaluation_names_the_field_and_writes_nothing(session, world, chain, change, field):
    number = open_from_standard(session, world, chain)
    seq = last_seq(session)
    args = {"report_number": chain.acme, "evaluation": "recall", "reason": "why", **change}
    with pytest.raises(InvalidInput) as err, unit_of_work(session):
        nc.evaluate(session, actor=world.user(session, "qm"), case_number=number, **args)
    assert err.value.field == field
    assert events_after(session, seq) == []
    assert {r.evaluation for r in session.scalars(select(AffectedReport))} == {"pending"}


@pytest.mark.parametrize(("change", "field"), [
    ({"asset": "NOPE-9"}, "asset"),
    ({"asset": ""}, "asset"),
    ({"start": "yesterday"}, "from"),
    ({"start": None}, "from"),
    ({"end": "2000-01-01"}, "to"),
    ({"description": ""}, "description"),
])
def test_bad_case_names_the_field_and_writes_nothing(session, world, chain, change, field):
    seq = last_seq(session)
    args = {"asset": "MS-1", "start": chain.today.isoformat(), "end": None,
            "description": "found out of tolerance", **change}
    with pytest.raises(InvalidInput) as err, unit_of_work(session):
        nc.open_case(session, actor=world.user(session, "qm"), timezone=TZ, **args)
    assert err.value.field == field
    assert events_after(session, seq) == []
    assert session.scalar(select(func.count(NonconformingCase.id))) == 0
