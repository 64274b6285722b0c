"""The accredited scope on real databases: scope items, signatory authority over them, the
marks a report carries, and what migration 0009 does to the signatories' free-text scopes."""

from __future__ import annotations

import json

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text

from lims.accreditation import services as scope
from lims.accreditation.models import ScopeItem, SignatoryAuthority
from lims.audit.models import AuditEvent
from lims.auth.services import create_user, set_roles
from lims.db import make_engine, unit_of_work
from lims.errors import InvalidInput, OutsideScope, PermissionDenied, UnitMismatch
from lims.migrate import alembic_config, check, downgrade, upgrade
from lims.reports.content import ReportContent
from lims.reports.models import Report
from lims.reports.services import issue_report
from lims.samples import services as samples
from lims.samples.models import Sample
from tests.support.world import PASSWORD

METHOD = "GB/T 4669-2008"  # the world's method: "Specimen mass" (g) and "Length" (mm)


def _certificates(session, world):
    with unit_of_work(session):
        qm = world.user(session, "qm")
        scope.set_accreditation(session, actor=qm, scheme="CMA",
                                certificate_number="231234567890", valid_from="2024-01-01",
                                valid_until="2099-12-31")
        scope.set_accreditation(session, actor=qm, scheme="cnas",
                                certificate_number="CNAS L1234", valid_from="2024-01-01",
                                valid_until="2099-12-31")


def _item(session, world, parameter, *, schemes=("CMA", "CNAS"), **range_):
    with unit_of_work(session):
        return scope.add_scope_item(session, actor=world.user(session, "qm"), method_code=METHOD,
                                    parameter=parameter, schemes=list(schemes), **range_).id


def test_scope_items_are_checked_and_audited(session, world):
    _certificates(session, world)
    with pytest.raises(PermissionDenied), unit_of_work(session):
        scope.add_scope_item(session, actor=world.user(session, "tech"), method_code=METHOD,
                             schemes=["CMA"])
    with pytest.raises(InvalidInput) as exc, unit_of_work(session):
        scope.add_scope_item(session, actor=world.user(session, "qm"), method_code=METHOD,
                             parameter="Specimen mass", schemes=["CMA"], minimum="1",
                             maximum="x", unit="g")
    assert exc.value.field == "maximum"
    with pytest.raises(UnitMismatch) as exc, unit_of_work(session):
        scope.add_scope_item(session, actor=world.user(session, "qm"), method_code=METHOD,
                             parameter="Specimen mass", schemes=["CMA"], minimum="1",
                             maximum="200", unit="mm", kind="mass")
    assert exc.value.field == "unit" and "mm" in exc.value.message and "mass" in exc.value.message
    with pytest.raises(InvalidInput, match="above"), unit_of_work(session):
        scope.add_scope_item(session, actor=world.user(session, "qm"), method_code=METHOD,
                             parameter="Specimen mass", schemes=["CMA"], minimum="200",
                             maximum="1", unit="g")
    with pytest.raises(InvalidInput, match="goes with a range") as exc, unit_of_work(session):
        scope.add_scope_item(session, actor=world.user(session, "qm"), method_code=METHOD,
                             parameter="Specimen mass", schemes=["CMA"], unit="g")
    assert exc.value.field == "unit"
    assert session.scalar(select(func.count()).select_from(ScopeItem)) == 0

    item_id = _item(session, world, "Specimen mass", minimum="0.1", maximum="220", unit="g")
    item = session.get(ScopeItem, item_id)
    assert (item.kind, item.unit, item.schemes, item.range_text()) == (
        "mass", "g", ("CMA", "CNAS"), "(0.1 … 220) g")
    actions = list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions[-3:] == ["accreditation.set", "accreditation.set", "scope.add"]


def test_a_scheme_needs_its_certificate_first(session, world):
    with pytest.raises(InvalidInput, match="no CNAS certificate") as exc, unit_of_work(session):
        scope.add_scope_item(session, actor=world.user(session, "qm"), method_code=METHOD,
                             schemes=["CNAS"])
    assert exc.value.field == "schemes"


def test_a_signatory_signs_only_scope_items_granted(session, world, settings):
    """Once the scope lists an item, the field no longer authorises it (RB/T 214 4.2.4): the
    approval is refused naming the item, until an administrator grants it."""
    _certificates(session, world)
    mass = _item(session, world, "Specimen mass", minimum="0.1", maximum="220", unit="g")
    # "signatory" signed GB/T 4669-2008 under "textiles": adding the item says they need it.
    assert scope.signatories_to_grant(session, session.get(ScopeItem, mass)) == ["signatory"]
    number = world.new_sample(session)
    tech = world.user(session, "tech")
    with unit_of_work(session):
        for ch, value, unit in ((world.mass_id, "100.00", "g"), (world.length_id, "12.0", "mm")):
            samples.record_result(session, actor=tech, number=number, characteristic_id=ch,
                                  value=value, unit=unit, timezone="Asia/Shanghai")
        samples.complete_testing(session, actor=tech, number=number)
        samples.review_sample(session, actor=world.user(session, "reviewer"), number=number)
    with pytest.raises(OutsideScope) as exc, unit_of_work(session):
        samples.approve_sample(session, actor=world.user(session, "signatory"), number=number,
                               password=PASSWORD)
    assert f"{METHOD} Specimen mass (scope item #{mass})" in exc.value.message
    assert exc.value.data["scope_items"] == [mass] and exc.value.data["fields"] == []
    assert session.scalar(select(Sample.status).where(Sample.number == number)) == "reviewed"

    with unit_of_work(session):
        set_roles(session, actor=world.user(session, "admin"), username="signatory",
                  roles=["signatory"], scopes=["textiles"], scope_items=[mass])
    # "Length" is listed by no scope item: the field "textiles" still authorises it.
    assert scope.signatories_to_grant(session, session.get(ScopeItem, mass)) == []
    with unit_of_work(session):
        samples.approve_sample(session, actor=world.user(session, "signatory"), number=number,
                               password=PASSWORD)

    # Authority is checked again at issue: withdrawn meanwhile, the report is refused.
    with unit_of_work(session):
        set_roles(session, actor=world.user(session, "admin"), username="signatory",
                  roles=["signatory"], scopes=["textiles"], scope_items=[])
    with pytest.raises(OutsideScope, match=f"scope item #{mass}"), unit_of_work(session):
        issue_report(session, actor=world.user(session, "signatory"), sample_number=number,
                     settings=settings, password=PASSWORD)
    assert session.scalar(select(func.count()).select_from(Report)) == 0
    roles = session.scalars(select(AuditEvent).where(AuditEvent.action == "user.roles")
                            .order_by(AuditEvent.id)).all()
    assert [json.loads(e.after)["scope_items"] for e in roles] == [[mass], []]


def test_fields_outside_the_scope_are_named(session, world):
    with unit_of_work(session):
        create_user(session, username="sig3", full_name="Sig Three", password=PASSWORD,
                    roles=["signatory"], scopes=["electrical"])
    with pytest.raises(OutsideScope, match="field 'textiles'") as exc:
        scope.check_authority(session, actor=world.user(session, "sig3"),
                              items=[scope.Signable(METHOD, "textiles", "Length")])
    assert exc.value.data["fields"] == ["textiles"]
    with pytest.raises(InvalidInput, match="no scope item #99"), unit_of_work(session):
        set_roles(session, actor=world.user(session, "admin"), username="sig3",
                  roles=["signatory"], scope_items=[99])


@pytest.mark.parametrize("listed", [("Specimen mass", "Length"), ("Specimen mass",)])
def test_the_report_carries_the_marks_only_when_every_item_is_inside(session, world, settings,
                                                                    listed):
    _certificates(session, world)
    ids = [_item(session, world, name) for name in listed]
    with unit_of_work(session):
        set_roles(session, actor=world.user(session, "admin"), username="signatory",
                  roles=["signatory"], scopes=["textiles"], scope_items=ids)
    _, number = world.reported_sample(session, settings)
    report = session.scalar(select(Report).where(Report.number == number))
    content = ReportContent.from_json(report.content)
    if len(listed) == 2:
        assert content.marks == ("CMA", "CNAS")
        assert content.mark_numbers == ("231234567890", "CNAS L1234")
        assert [r.in_scope for r in content.results] == [True, True]
    else:
        assert content.marks == () and content.mark_numbers == ()
        assert [(r.characteristic, r.in_scope) for r in content.results] == [
            ("Specimen mass", True), ("Length", False)]


def test_migration_keeps_free_text_scopes_as_field_authority(database_url, session, world):
    """Pre-0009 rows: the world's signatories hold only free-text scopes. Back to the
    revision before 0009 and up again, they keep them, hold no scope item, and still approve
    what they could (every item is outside the scope, which is empty)."""
    before = ScriptDirectory.from_config(alembic_config(database_url)).get_revision(
        "0009").down_revision
    session.close()
    downgrade(database_url, before)
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            assert "scope_items" not in {r[0] for r in conn.execute(text(
                "SELECT name FROM sqlite_master WHERE type='table'" if database_url.startswith(
                    "sqlite") else "SELECT tablename FROM pg_tables"))}
            rows = conn.execute(text("SELECT u.username, s.scope FROM signatory_scopes s JOIN "
                                     "users u ON u.id = s.user_id ORDER BY u.username")).all()
        assert [tuple(r) for r in rows] == [("signatory", "textiles"),
                                            ("signatory2", "electrical")]
        upgrade(database_url)
        check(database_url)
        with engine.connect() as conn:
            after = conn.execute(text("SELECT u.username, s.scope FROM signatory_scopes s JOIN "
                                      "users u ON u.id = s.user_id ORDER BY u.username")).all()
        assert after == rows
    finally:
        engine.dispose()
    assert session.scalar(select(func.count()).select_from(SignatoryAuthority)) == 0
    number = world.approved_sample(session)  # approved by "signatory" under "textiles"
    assert session.scalar(select(Sample.status).where(Sample.number == number)) == "approved"
    sample = session.scalar(select(Sample).where(Sample.number == number))
    with pytest.raises(OutsideScope, match="field 'textiles'"):  # "electrical" never could
        scope.check_authority(session, actor=world.user(session, "signatory2"),
                              items=scope.sample_items(sample))
