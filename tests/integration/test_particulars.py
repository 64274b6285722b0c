"""Request and sample particulars, test conditions and the overall conclusion through the
services and into the issued report, on SQLite and PostgreSQL (issue 10, section 5)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from lims.audit.models import AuditEvent
from lims.db import unit_of_work
from lims.errors import InvalidInput, SampleStateError, UnitMismatch
from lims.reports.content import ReportContent
from lims.reports.models import Report
from lims.reports.services import issue_report
from lims.samples import services
from lims.samples.models import Sample, TestRequest
from tests.support.world import FMT, PASSWORD, TZ

STD = "FZ/T 01001-2026 (product standard)"


def _register(session, world, *, method_ids=None, **request):
    tech = world.user(session, "tech")
    with unit_of_work(session):
        req = services.create_request(
            session, actor=tech, customer_id=world.customer_id, inspection_type="supervision",
            product_standard=STD, customer_data="生产日期由委托方提供 production date from the "
            "customer", number_format="WT{year}-{seq:06d}", timezone=TZ, **request)
        s = services.register_sample(
            session, actor=tech, request_id=req.id, description="grey fabric",
            method_ids=method_ids or [world.method_id], trademark="好布牌", model="150 cm",
            batch="P2610", quantity="3 m", manufacturer="杭州第一纺织厂", **FMT)
        services.receive_sample(session, actor=tech, number=s.number, condition="intact")
        return s.number


def _to_approval(session, world, number, *, mass="100.00", length="12.0"):
    tech = world.user(session, "tech")
    with unit_of_work(session):
        for ch, value, unit in ((world.mass_id, mass, "g"), (world.length_id, length, "mm")):
            services.record_result(session, actor=tech, number=number, characteristic_id=ch,
                                   value=value, unit=unit, timezone=TZ)
        services.complete_testing(session, actor=tech, number=number)
        services.review_sample(session, actor=world.user(session, "reviewer"), number=number)


def _events(session, action):
    return session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                           .order_by(AuditEvent.seq)).all()


def test_particulars_are_stored_and_audited(session, world):
    number = _register(session, world)
    sample = services.get_sample(session, number)
    req = sample.request
    assert (req.inspection_type, req.product_standard) == ("supervision", STD)
    assert req.customer_data.startswith("生产日期由委托方提供")
    assert (sample.trademark, sample.model, sample.batch, sample.quantity,
            sample.manufacturer) == ("好布牌", "150 cm", "P2610", "3 m", "杭州第一纺织厂")
    registered = json.loads(_events(session, "sample.register")[-1].after)
    assert registered["manufacturer"] == "杭州第一纺织厂" and registered["batch"] == "P2610"
    assert json.loads(_events(session, "request.create")[-1].after)["inspection_type"] == \
        "supervision"


@pytest.mark.parametrize(("changes", "field"), [
    ({"inspection_type": "rumour"}, "inspection_type"),
    ({"product_standard": "x" * 301}, "product_standard"),
    ({"customer_data": 5}, "customer_data"),
])
def test_bad_request_particulars_are_refused_naming_the_field(session, world, changes, field):
    before = session.scalar(select(func.count()).select_from(TestRequest))
    with pytest.raises(InvalidInput) as err, unit_of_work(session):
        services.create_request(session, actor=world.user(session, "tech"),
                                customer_id=world.customer_id, number_format="WT{seq}",
                                timezone=TZ, **changes)
    assert err.value.field == field
    assert session.scalar(select(func.count()).select_from(TestRequest)) == before


def test_a_long_manufacturer_is_refused_and_nothing_is_written(session, world):
    before = session.scalar(select(func.count()).select_from(Sample))

    def register() -> None:
        with unit_of_work(session):
            req = services.create_request(session, actor=world.user(session, "tech"),
                                          customer_id=world.customer_id,
                                          number_format="WT{seq}", timezone=TZ)
            services.register_sample(session, actor=world.user(session, "tech"),
                                     request_id=req.id, description="x",
                                     method_ids=[world.method_id], manufacturer="厂" * 201,
                                     **FMT)

    with pytest.raises(InvalidInput) as err:
        register()
    assert err.value.field == "manufacturer"
    assert session.scalar(select(func.count()).select_from(Sample)) == before
    assert session.scalar(select(func.count()).select_from(TestRequest)) == 0  # request too


def _method_with_conditions(session, world):
    with unit_of_work(session):
        m = services.create_method(
            session, actor=world.user(session, "qm"), code="GB/T 6529-2008",
            title="Conditioning", field="textiles", requires_conditions=True,
            characteristics=[{"name": "Moisture regain", "unit": "%", "upper_limit": "13"}])
        return m.id, m.characteristics[0].id


def test_conditions_are_checked_by_kind_and_required_by_the_method(session, world):
    method_id, ch_id = _method_with_conditions(session, world)
    number = _register(session, world, method_ids=[world.method_id, method_id])
    tech = world.user(session, "tech")
    with unit_of_work(session):
        for ch, value, unit in ((world.mass_id, "100.00", "g"), (world.length_id, "12.0", "mm"),
                                (ch_id, "8.2", "%")):
            services.record_result(session, actor=tech, number=number, characteristic_id=ch,
                                   value=value, unit=unit, timezone=TZ)
    with pytest.raises(SampleStateError, match="GB/T 6529-2008"), unit_of_work(session):
        services.complete_testing(session, actor=tech, number=number)
    with pytest.raises(UnitMismatch) as err, unit_of_work(session):
        services.record_conditions(session, actor=tech, number=number, method_id=method_id,
                                   conditions=[{"kind": "temperature", "value": "20",
                                                "unit": "%RH"}])
    assert "%RH" in err.value.message and "temperature" in err.value.message
    assert err.value.field == "conditions[0].unit"
    with pytest.raises(InvalidInput) as err, unit_of_work(session):
        services.record_conditions(session, actor=tech, number=number, method_id=method_id,
                                   conditions=[{"kind": "relative_humidity", "value": "65",
                                                "unit": "%RH"},
                                               {"kind": "relative_humidity", "value": "64",
                                                "unit": "%RH"}])
    assert err.value.field == "conditions[1].kind"
    assert services.get_sample(session, number).tests[1].conditions is None  # nothing written
    with unit_of_work(session):
        services.record_conditions(
            session, actor=tech, number=number, method_id=method_id,
            conditions=[{"kind": "temperature", "value": "20.5", "unit": "℃"},
                        {"kind": "relative_humidity", "value": "65", "unit": "%RH"}],
            deviation="试样调湿 12 h instead of 24 h")
        services.complete_testing(session, actor=tech, number=number)
    event = json.loads(_events(session, "test.conditions")[-1].after)
    assert event["deviation"] == "试样调湿 12 h instead of 24 h" and "20.5" in event["conditions"]


def test_derived_conclusion_lists_failing_items_on_the_report(session, world, settings):
    number = _register(session, world)
    _to_approval(session, world, number, mass="101.00", length="9.0")
    signatory = world.user(session, "signatory")
    with unit_of_work(session):
        services.approve_sample(session, actor=signatory, number=number, password=PASSWORD)
        report = issue_report(session, actor=signatory, sample_number=number,
                              settings=settings, password=PASSWORD)
    content = ReportContent.from_json(session.get(Report, report.id).content)
    assert content.conclusion == (
        f"经检验，所检项目不符合 {STD} 要求。不合格项目：Specimen mass、Length。/ The items tested "
        f"do not conform to {STD}. Nonconforming items: Specimen mass, Length.")
    assert (content.inspection_type, content.product_standard) == (
        "监督抽查 Supervision spot check", STD)
    assert (content.trademark, content.model, content.batch, content.quantity,
            content.manufacturer) == ("好布牌", "150 cm", "P2610", "3 m", "杭州第一纺织厂")
    assert "生产日期由委托方提供" in content.customer_data
    approval = json.loads(_events(session, "sample.approve")[-1].after)
    assert approval["derived_conclusion"] == content.conclusion and approval["conclusion"] is None


def test_worded_conclusion_needs_a_reason_and_is_audited(session, world, settings):
    number = _register(session, world)
    _to_approval(session, world, number)
    signatory = world.user(session, "signatory")
    with pytest.raises(InvalidInput) as err, unit_of_work(session):
        services.approve_sample(session, actor=signatory, number=number, password=PASSWORD,
                                conclusion="所检项目符合要求。")
    assert err.value.field == "conclusion_reason"
    assert services.get_sample(session, number).status == "reviewed"  # nothing written
    with pytest.raises(InvalidInput) as err, unit_of_work(session):
        services.approve_sample(session, actor=signatory, number=number, password=PASSWORD,
                                conclusion_reason="why")
    assert err.value.field == "conclusion"
    worded = "经检验，所检项目符合 FZ/T 01001-2026 一等品要求。/ The items tested meet grade 1."
    with unit_of_work(session):
        services.approve_sample(session, actor=signatory, number=number, password=PASSWORD,
                                conclusion=worded, conclusion_reason="委托方要求注明等级")
        report = issue_report(session, actor=signatory, sample_number=number,
                              settings=settings, password=PASSWORD)
    event = _events(session, "sample.approve")[-1]
    after = json.loads(event.after)
    assert after["conclusion"] == worded and after["conclusion_reason"] == "委托方要求注明等级"
    assert after["derived_conclusion"].startswith(f"经检验，所检项目符合 {STD} 要求")
    assert event.reason == "委托方要求注明等级"
    assert ReportContent.from_json(session.get(Report, report.id).content).conclusion == worded


def test_a_missing_seal_image_is_refused_before_a_number_is_taken(session, world, settings,
                                                                   tmp_path):
    import dataclasses

    from lims.errors import ReportError
    from lims.reports.models import ReportClaim

    number = world.approved_sample(session)
    not_an_image = tmp_path / "seal.png"
    not_an_image.write_text("not a PNG")
    for path in ("/nonexistent/seal.png", str(not_an_image)):
        broken = dataclasses.replace(settings, seal_image=path)
        with pytest.raises(ReportError, match="LIMS_SEAL_IMAGE"), unit_of_work(session):
            issue_report(session, actor=world.user(session, "signatory"), sample_number=number,
                         settings=broken, password=PASSWORD)
    assert session.scalar(select(func.count()).select_from(ReportClaim)) == 0
    assert services.get_sample(session, number).status == "approved"
