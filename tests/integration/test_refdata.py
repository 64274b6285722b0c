"""Editing and retiring customers, methods and instruments through the services, on SQLite and
PostgreSQL: every edit has a reason and an audit event with before and after, a stale edit is
refused, and retired records are offered for no new work."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from lims.audit.models import AuditEvent
from lims.db import unit_of_work
from lims.edits import StaleEdit
from lims.errors import Conflict, InstrumentNotFit, InvalidInput, PermissionDenied
from lims.instruments import services as instruments
from lims.instruments.models import Instrument
from lims.samples import refdata, services
from lims.samples.models import Characteristic, Customer, TestMethod
from tests.support.world import FMT, TZ


def _last_event(session, action):
    return session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                           .order_by(AuditEvent.seq.desc())).first()


def test_a_customer_edit_is_audited_with_its_reason_and_keeps_the_initials(session, world):
    tech = world.user(session, "tech")
    with unit_of_work(session):
        c = refdata.update_customer(session, actor=tech, customer_id=world.customer_id,
                                    data={"name": "湖北长江电缆有限公司", "phone": "027-1234"},
                                    reason="renamed on the new contract", version=1)
        assert (c.version, c.name_initials) == (2, "hbcjdlyxgs")
    event = _last_event(session, "customer.update")
    assert event.reason == "renamed on the new contract"
    assert json.loads(event.before)["name"] == "ACME Textiles"
    assert json.loads(event.after)["name"] == "湖北长江电缆有限公司"
    assert json.loads(event.after)["phone"] == "027-1234"


@pytest.mark.parametrize("reason", [None, "", "   ", "x" * 501])
def test_an_edit_without_a_good_reason_is_refused_and_writes_nothing(session, world, reason):
    with pytest.raises(InvalidInput) as caught, unit_of_work(session):
        refdata.update_customer(session, actor=world.user(session, "tech"),
                                customer_id=world.customer_id, data={"name": "Other"},
                                reason=reason)
    assert caught.value.field == "reason"
    assert session.get(Customer, world.customer_id).name == "ACME Textiles"


def test_a_stale_edit_is_refused(session, world):
    tech = world.user(session, "tech")
    with unit_of_work(session):
        refdata.update_customer(session, actor=tech, customer_id=world.customer_id,
                                data={"contact": "Ms Li"}, reason="new contact", version=1)
    with pytest.raises(StaleEdit) as caught, unit_of_work(session):
        refdata.update_customer(session, actor=tech, customer_id=world.customer_id,
                                data={"contact": "Mr Wang"}, reason="from an old page",
                                version=1)
    assert caught.value.field == "version" and "someone else" in caught.value.message
    assert session.get(Customer, world.customer_id).contact == "Ms Li"


def test_only_customer_managers_edit_customers(session, world):
    with pytest.raises(PermissionDenied), unit_of_work(session):
        refdata.update_customer(session, actor=world.user(session, "reviewer"),
                                customer_id=world.customer_id, data={"contact": "x"},
                                reason="why not")


def test_a_retired_customer_gets_no_new_request_but_keeps_its_samples(session, world):
    number = world.new_sample(session)
    with unit_of_work(session):
        refdata.retire_customer(session, actor=world.user(session, "qm"),
                                customer_id=world.customer_id, reason="firm dissolved")
    assert refdata.customer_use(session, world.customer_id).samples == 1
    assert services.get_sample(session, number).request.customer_id == world.customer_id
    with pytest.raises(InvalidInput) as caught, unit_of_work(session):
        services.create_request(session, actor=world.user(session, "tech"),
                                customer_id=world.customer_id, **FMT)
    assert caught.value.field == "customer_id"
    with pytest.raises(Conflict), unit_of_work(session):
        refdata.retire_customer(session, actor=world.user(session, "qm"),
                                customer_id=world.customer_id, reason="again")


def test_duplicates_are_found_among_the_customers_on_record(session, world):
    tech = world.user(session, "tech")
    with unit_of_work(session):
        services.create_customer(session, actor=tech, name="湖北长江电缆有限公司",
                                 credit_code="91350100M000100Y43")
    found = refdata.customer_duplicates(session, name="湖北长江电缆有限责任公司")
    assert [(m.party.name, m.reasons) for m in found] == [("湖北长江电缆有限公司", ("same name",))]
    by_code = refdata.customer_duplicates(session, name="Another name",
                                          credit_code="91350100M000100Y43")
    assert [m.reasons for m in by_code] == [("credit code",)]
    assert refdata.customer_duplicates(session, name="Zenith Instruments") == []
    with pytest.raises(InvalidInput) as caught, unit_of_work(session):
        services.create_customer(session, actor=tech, name="X", credit_code="91350100M000100Y44")
    assert caught.value.field == "credit_code"


def test_a_method_limit_changes_with_a_reason_and_earlier_verdicts_stand(session, world):
    number = world.new_sample(session)
    tech, qm = world.user(session, "tech"), world.user(session, "qm")
    with unit_of_work(session):
        first = services.record_result(session, actor=tech, number=number,
                                       characteristic_id=world.mass_id, value="100.40", unit="g",
                                       timezone=TZ)
        first_id = first.id
    with unit_of_work(session):
        m = refdata.update_method(session, actor=qm, method_id=world.method_id, data={
            "characteristics": [{"id": world.mass_id, "upper_limit": "100.30"}]},
            reason="standard revised (2026 edition)", version=1)
        assert m.version == 2
    assert session.get(Characteristic, world.mass_id).upper_limit == "100.30"
    event = _last_event(session, "method.update")
    assert event.reason == "standard revised (2026 edition)"
    before = json.loads(event.before)["characteristics"][0]
    assert before["upper_limit"] == "100.50"
    from lims.samples.models import Result

    assert session.get(Result, first_id).conformity == "pass"  # judged when recorded
    other = world.new_sample(session)
    with unit_of_work(session):
        later = services.record_result(session, actor=tech, number=other,
                                       characteristic_id=world.mass_id, value="100.40",
                                       unit="g", timezone=TZ)
        assert later.conformity == "fail"


def test_a_characteristic_with_results_keeps_its_unit_and_kind(session, world):
    number = world.new_sample(session)
    with unit_of_work(session):
        services.record_result(session, actor=world.user(session, "tech"), number=number,
                               characteristic_id=world.mass_id, value="100.00", unit="g",
                               timezone=TZ)
    with pytest.raises(Conflict) as caught, unit_of_work(session):
        refdata.update_method(session, actor=world.user(session, "qm"),
                              method_id=world.method_id, reason="kilograms now",
                              data={"characteristics": [{"id": world.mass_id, "unit": "kg",
                                                         "lower_limit": "0.0995",
                                                         "upper_limit": "0.1005"}]})
    assert caught.value.field == "characteristics[0].unit"
    assert session.get(Characteristic, world.mass_id).unit_text == "g"
    # Without results, the unit may change; and a new characteristic may be added.
    with unit_of_work(session):
        m = refdata.update_method(session, actor=world.user(session, "qm"),
                                  method_id=world.method_id, reason="length in cm",
                                  data={"characteristics": [
                                      {"id": world.length_id, "unit": "cm", "lower_limit": "1.0"},
                                      {"name": "Width", "unit": "mm", "lower_limit": "5"}]})
        assert [c.unit_text for c in m.characteristics] == ["g", "cm", "mm"]


def test_a_retired_method_is_given_to_no_new_sample(session, world):
    number = world.new_sample(session)
    with unit_of_work(session):
        refdata.retire_method(session, actor=world.user(session, "qm"),
                              method_id=world.method_id, reason="superseded by the 2026 edition")
    tech = world.user(session, "tech")
    with unit_of_work(session):  # the sample that has it keeps working
        services.record_result(session, actor=tech, number=number,
                               characteristic_id=world.mass_id, value="100.00", unit="g",
                               timezone=TZ)
    with unit_of_work(session):
        request_id = services.create_request(session, actor=tech,
                                             customer_id=world.customer_id, **FMT).id
    with pytest.raises(InvalidInput) as caught, unit_of_work(session):
        services.register_sample(session, actor=tech, request_id=request_id, description="x",
                                 method_ids=[world.method_id], **FMT)
    assert caught.value.field == "method_ids" and "retired" in caught.value.message
    with pytest.raises(Conflict), unit_of_work(session):
        refdata.update_method(session, actor=world.user(session, "qm"),
                              method_id=world.method_id, data={"title": "x"}, reason="late")
    assert session.get(TestMethod, world.method_id).retired_reason == \
        "superseded by the 2026 edition"


def test_methods_are_managed_by_the_quality_manager(session, world):
    with pytest.raises(PermissionDenied), unit_of_work(session):
        refdata.retire_method(session, actor=world.user(session, "tech"),
                              method_id=world.method_id, reason="no")


def test_a_retired_instrument_is_out_of_service_for_good(session, world):
    qm = world.user(session, "qm")
    with unit_of_work(session):
        i = instruments.retire_instrument(session, actor=qm, asset="EQ-1", reason="scrapped",
                                          version=1)
        assert (i.status, i.status_reason, i.version) == ("out of service", "scrapped", 2)
    assert _last_event(session, "instrument.retire").reason == "scrapped"
    with pytest.raises(Conflict), unit_of_work(session):
        instruments.set_in_service(session, actor=qm, asset="EQ-1", in_service=True,
                                   reason="found it")
    with pytest.raises(Conflict), unit_of_work(session):
        instruments.update_instrument(session, actor=qm, asset="EQ-1", data={"name": "x"},
                                      reason="edit")
    number = world.new_sample(session)
    with pytest.raises(InstrumentNotFit), unit_of_work(session):
        services.record_result(session, actor=world.user(session, "tech"), number=number,
                               characteristic_id=world.mass_id, value="100.00", unit="g",
                               instrument_id=world.balance_id, timezone=TZ)


def test_an_instrument_edit_is_versioned(session, world):
    qm = world.user(session, "qm")
    with unit_of_work(session):
        instruments.update_instrument(session, actor=qm, asset="EQ-1",
                                      data={"location": "room 2"}, reason="moved", version=1)
    with pytest.raises(StaleEdit), unit_of_work(session):
        instruments.update_instrument(session, actor=qm, asset="EQ-1",
                                      data={"location": "room 3"}, reason="moved", version=1)
    assert session.scalar(select(Instrument.location).where(
        Instrument.asset_number == "EQ-1")) == "room 2"


def test_of_concurrent_edits_from_one_version_one_wins(app, world):
    """Four people saved the method page they opened at version 1: exactly one edit lands,
    the others are told the record changed (real threads; PostgreSQL row locks)."""
    from tests.integration.test_races import race

    def edit(n: int) -> Any:
        def run(s: Any) -> int:
            return refdata.update_method(s, actor=world.user(s, "qm"), method_id=world.method_id,
                                         data={"title": f"Fabric mass, edit {n}"},
                                         reason=f"edit {n}", version=1).version
        return run

    outcomes = race(app, [edit(n) for n in range(4)])
    assert outcomes.count(2) == 1
    assert all(isinstance(o, StaleEdit) for o in outcomes if o != 2)
