"""Calibration records, imports and their refusals, the record in force, chains, impact, checks.

Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lims.audit.models import AuditEvent
from lims.calibration import chains, services
from lims.calibration.certificates import parse_json
from lims.calibration.models import CalibrationPoint, CalibrationRecord
from lims.db import unit_of_work, utcnow
from lims.errors import (
    CalibrationExpired,
    Conflict,
    InstrumentNotFit,
    InstrumentUnavailable,
    InvalidInput,
)
from lims.instruments.models import Instrument
from lims.instruments.services import register_instrument
from lims.samples import services as samples
from tests.support.world import TZ

CERTS = Path(__file__).resolve().parents[1] / "data" / "certificates"
TODAY = utcnow().date()
NMI = {"name": "National Institute of Metrology, China", "kind": "nmi", "accreditation": "",
       "country": "CN"}
LAB = {"name": "Test Lab (in-house)", "kind": "in-house", "accreditation": "", "country": "CN"}


def day(offset: int) -> str:
    return (TODAY + dt.timedelta(days=offset)).isoformat()


def counts(session) -> tuple[int, ...]:
    return tuple(session.scalar(select(func.count()).select_from(t)) for t in
                 (CalibrationRecord, CalibrationPoint, Instrument, AuditEvent))


def register(session, world, asset: str, unit: str = "g", **extra) -> Instrument:
    with unit_of_work(session):
        return register_instrument(session, actor=world.user(session, "qm"), timezone=TZ,
                                   data={"asset_number": asset, "name": asset,
                                         "quantities": [{"quantity": "q", "unit": unit}],
                                         **extra})


def calibrate(session, world, asset: str, number: str, provider: dict, calibrated: int,
              valid: int, *, unit: str = "g", standards=(), points=(("100", "100.0001",
                                                                        "0.0002"),)) -> None:
    cert = parse_json({"number": number, "provider": provider, "instrument": asset,
                       "calibrated_on": day(calibrated), "valid_until": day(valid),
                       "standards_used": list(standards),
                       "results": [{"quantity": "mass", "nominal": n, "nominal_unit": unit,
                                    "value": v, "unit": unit, "expanded_uncertainty": u,
                                    "k": "2"} for n, v, u in points]})
    with unit_of_work(session):
        instrument = session.scalar(select(Instrument).where(Instrument.asset_number == asset))
        services.record_certificate(session, actor=world.user(session, "qm"),
                                    instrument=instrument, cert=cert, source="typed",
                                    timezone=TZ)


def chain_world(session, world) -> None:
    """NMI → STD-E1 → (in-house) STD-E2 → (in-house) EQ-1, the world's balance."""
    register(session, world, "STD-E1")
    register(session, world, "STD-E2")
    calibrate(session, world, "STD-E1", "NMI-1", NMI, -300, 400,
              points=(("10", "10.000001", "0.000005"), ("200", "200.00001", "0.00002")))
    calibrate(session, world, "STD-E2", "E2-1", LAB, -200, 160, standards=["STD-E1"],
              points=(("10", "10.00001", "0.00003"), ("200", "200.0001", "0.0001")))
    calibrate(session, world, "EQ-1", "BAL-1", LAB, -100, 200, standards=["STD-E2"],
              points=(("10", "10.0001", "0.0002"), ("200", "200.0002", "0.0005")))


def reported_sample(session, world, settings, value: str = "100.00") -> str:
    return world.reported_sample(session, settings, value=value)[1]


# --- import ----------------------------------------------------------------------------------

def test_dcc_of_an_unknown_item_registers_a_reference_standard(session, world):
    data = (CERTS / "dcc-nim-mass-e1.xml").read_bytes()
    with unit_of_work(session):
        rec = services.import_certificate(session, actor=world.user(session, "qm"), data=data,
                                          filename="nim.xml", timezone=TZ)
        rec_id = rec.id
    rec = session.get(CalibrationRecord, rec_id)
    std = session.get(Instrument, rec.instrument_id)
    assert std.role == "reference standard" and std.serial_number == "23-04817"
    assert rec.provider.kind == "nmi" and rec.source == "dcc"
    assert rec.calibrated_on == dt.date(2024, 3, 6)
    assert rec.valid_until == dt.date(2025, 3, 5)  # the lab's 365-day interval
    assert [p.value for p in rec.points][:3] == ["1.0000010", "0.0010", "-0.0040"]
    assert {q.dimension for q in std.quantities} == {"[mass]", "[mass] / [length] ** 3"}
    assert rec.file == data and len(rec.file_sha256) == 64


def test_dcc_matches_an_instrument_by_serial_number(session, world):
    register(session, world, "DMM-7", unit="V", serial_number="MY59001234")
    with unit_of_work(session):
        rec = services.import_certificate(
            session, actor=world.user(session, "qm"), timezone=TZ, filename="d.xml",
            data=(CERTS / "dcc-dakks-dmm.xml").read_bytes(), valid_until=dt.date(2025, 5, 13))
        assert session.get(Instrument, rec.instrument_id).asset_number == "DMM-7"
        assert rec.valid_until == dt.date(2025, 5, 13)


@pytest.mark.parametrize(("data", "field", "words"), [
    (b"<not xml", "file", "XML"),
    (b'{"number": "X"}', None, ""),
    ((CERTS / "dcc-nim-mass-e1.xml").read_bytes().replace(b"\\gram", b"\\furlong"),
     None, "furlong"),
])
def test_refused_imports_write_nothing(session, world, data, field, words):
    before = counts(session)
    with pytest.raises(InvalidInput) as exc, unit_of_work(session):
        services.import_certificate(session, actor=world.user(session, "qm"), data=data,
                                    filename="x", timezone=TZ)
    assert words in str(exc.value)
    session.rollback()
    assert counts(session) == before


def test_a_certificate_for_another_quantity_is_refused_naming_both(session, world):
    before = counts(session)
    with pytest.raises(InvalidInput) as exc, unit_of_work(session):
        services.import_certificate(session, actor=world.user(session, "qm"), asset="EQ-1",
                                    data=(CERTS / "dcc-dakks-dmm.xml").read_bytes(),
                                    filename="d.xml", timezone=TZ)
    assert "mass (g)" in str(exc.value) and "V" in str(exc.value)
    session.rollback()
    assert counts(session) == before


def test_the_same_certificate_twice_is_a_conflict(session, world):
    calibrate(session, world, "EQ-1", "DUP-1", NMI, -10, 100)
    with pytest.raises(Conflict):
        calibrate(session, world, "EQ-1", "DUP-1", NMI, -10, 100)


def test_in_house_calibration_needs_standards_in_force(session, world):
    register(session, world, "STD-OLD")
    calibrate(session, world, "STD-OLD", "OLD-1", NMI, -400, -30)
    with pytest.raises(Conflict, match="STD-OLD had no calibration in force"):
        calibrate(session, world, "EQ-1", "BAL-9", LAB, -10, 300, standards=["STD-OLD"])
    with pytest.raises(InvalidInput, match="own calibration"):
        calibrate(session, world, "EQ-1", "BAL-8", LAB, -10, 300, standards=["EQ-1"])


# --- in force ---------------------------------------------------------------------------------

def test_record_in_force_by_the_lab_calendar(session, world):
    register(session, world, "T-1")
    calibrate(session, world, "T-1", "A", NMI, -100, 10)
    calibrate(session, world, "T-1", "B", NMI, -5, 400)
    inst = session.scalar(select(Instrument).where(Instrument.asset_number == "T-1"))
    at = {n: services.record_in_force(session, inst, TODAY + dt.timedelta(days=n), timezone=TZ)
          for n in (-101, -100, -6, -5, 10, 400, 401)}
    assert at[-101] is None and at[401] is None
    assert at[-100].certificate_number == "A" and at[-6].certificate_number == "A"
    assert at[-5].certificate_number == "B" and at[400].certificate_number == "B"
    # The older record is superseded, yet still in force for what was measured under it.
    assert at[-6].status == "superseded"
    with unit_of_work(session):
        services.set_record_status(session, actor=world.user(session, "qm"),
                                   record_id=at[-5].id, status="revoked", reason="wrong item")
    assert services.record_in_force(session, inst, TODAY, timezone=TZ).certificate_number == "A"


def test_a_result_keeps_the_record_in_force_and_is_refused_without_one(session, world):
    number = world.new_sample(session)
    tech = world.user(session, "tech")
    with unit_of_work(session):
        r = samples.record_result(session, actor=tech, number=number,
                                  characteristic_id=world.mass_id, value="100.00", unit="g",
                                  instrument_id=world.balance_id, timezone=TZ)
        assert r.calibration_record_id == services.latest_record(session, world.balance_id).id
    with unit_of_work(session):  # a sample received long ago, measured before the record
        old = world.new_sample(session, receive=False)
        samples.receive_sample(session, actor=tech, number=old, condition="intact",
                               received_at=utcnow() - dt.timedelta(days=500))
    with pytest.raises(InstrumentNotFit) as exc, unit_of_work(session):
        samples.record_result(session, actor=tech, number=old,
                              characteristic_id=world.length_id, value="12.0", unit="mm",
                              instrument_id=world.balance_id, timezone=TZ,
                              measured_at=utcnow() - dt.timedelta(days=400))
    assert exc.value.data["reason"] == "calibration_expired"


def test_corrections_keep_the_original(session, world):
    calibrate(session, world, "EQ-1", "FIX-1", NMI, -10, 100)
    old = session.scalar(select(CalibrationRecord)
                         .where(CalibrationRecord.certificate_number == "FIX-1"))
    with unit_of_work(session):
        new = services.correct_record(
            session, actor=world.user(session, "qm"), record_id=old.id, reason="typo in U",
            timezone=TZ, data={"number": "FIX-1", "provider": NMI, "instrument": "EQ-1",
                               "calibrated_on": day(-10), "valid_until": day(100),
                               "results": [{"quantity": "mass", "value": "100.0001",
                                            "unit": "g", "expanded_uncertainty": "0.0003",
                                            "k": "2"}]})
        assert new.version == 2 and new.replaces_id == old.id
    session.expire_all()
    assert not session.get(CalibrationRecord, old.id).is_current
    assert session.get(CalibrationRecord, old.id).points[0].expanded_uncertainty == "0.0002"


# --- chains -----------------------------------------------------------------------------------

def test_the_chain_of_a_reported_result_reaches_the_nmi(session, world, settings):
    chain_world(session, world)
    report = reported_sample(session, world, settings)
    data = chains.trace_report(session, report, timezone=TZ)
    mass = next(r for r in data["results"] if r["instrument"] == "EQ-1")
    assert mass["complete"] is True, mass["reason"]
    assert [n["asset"] for n in mass["chain"]] == ["EQ-1", "STD-E2", "STD-E1"]
    assert [n["certificate"] for n in mass["chain"]] == ["BAL-1", "E2-1", "NMI-1"]
    assert mass["chain"][-1]["provider_kind"] == "nmi"
    assert all(n["valid_at_use"] for n in mass["chain"])
    assert mass["chain"][0]["expanded_uncertainty"] == "0.0002"  # nearest point: 10 g … 200 g
    typed = next(r for r in data["results"] if r["instrument"] is None)
    assert typed["complete"] is False


def test_chain_checks_dimension_range_ratio_and_cycles(session, world, settings):
    register(session, world, "STD-V", unit="V")
    register(session, world, "STD-X")
    calibrate(session, world, "STD-V", "V-1", NMI, -300, 400, unit="V",
              points=(("10", "10.0001", "0.0001"),))
    # EQ-1 calibrated in-house against a voltage standard: the chain must break there.
    calibrate(session, world, "EQ-1", "BAD-1", LAB, -50, 200, standards=["STD-V"],
              points=(("150", "150.001", "0.001"),))
    report = reported_sample(session, world, settings, value="100.00")
    mass = next(r for r in chains.trace_report(session, report, timezone=TZ)["results"]
                if r["instrument"] == "EQ-1")
    assert mass["complete"] is False and "dimension" in mass["reason"]
    assert any("extrapolated" in w for w in mass["chain"][0]["warnings"])  # 100 g vs 150 g only

    # Two instruments cannot calibrate each other: refused when recorded.
    calibrate(session, world, "STD-X", "X-1", LAB, -30, 300, standards=["EQ-1"],
              points=(("100", "100.001", "0.0001"),))
    with pytest.raises(InvalidInput, match="cannot calibrate each other"):
        calibrate(session, world, "EQ-1", "CYC-0", LAB, -30, 300, standards=["STD-X"])
    # A longer cycle in the data (X against EQ-1, Y against X, EQ-1 against Y) is reported.
    register(session, world, "STD-Y")
    calibrate(session, world, "STD-Y", "Y-1", LAB, -30, 300, standards=["STD-X"],
              points=(("100", "100.001", "0.0001"),))
    calibrate(session, world, "EQ-1", "CYC-1", LAB, -30, 300, standards=["STD-Y"],
              points=(("100", "100.0001", "0.0002"),))
    loader = chains.SessionLoader(session, TZ)
    from lims.calibration.traceability import trace

    chain = trace(loader, chains.convert, instrument_id=world.balance_id, day=TODAY,
                  dimension="[mass]", value=None, unit=None)
    assert chain.complete is False and "loops back" in chain.reason
    assert [n.asset for n in chain.nodes] == ["EQ-1", "STD-Y", "STD-X", "EQ-1"]
    assert any("test uncertainty ratio" in w for n in chain.nodes for w in n.warnings)


def test_impact_finds_instruments_results_reports_and_customers(session, world, settings):
    chain_world(session, world)
    report = reported_sample(session, world, settings)
    found = chains.impact(session, "STD-E1", start=TODAY - dt.timedelta(days=365), end=TODAY,
                          timezone=TZ)
    assert found.instruments == ["EQ-1", "STD-E2"]
    assert [c["certificate"] for c in found.calibrations] == ["E2-1", "BAL-1"]
    assert found.results == 1 and found.reports == [report]
    assert found.customers == ["ACME Textiles"]
    later = chains.impact(session, "STD-E1", start=TODAY - dt.timedelta(days=100), end=TODAY,
                          timezone=TZ)
    assert later.calibrations == [] and later.results == 0 and later.reports == []


# --- intermediate checks ----------------------------------------------------------------------

def test_a_failed_check_stops_use_until_a_check_passes(session, world):
    qm = world.user(session, "qm")
    balance = session.get(Instrument, world.balance_id)
    with unit_of_work(session):
        check = services.record_check(session, actor=qm, instrument=balance, timezone=TZ, data={
            "nominal": "100.0000", "unit": "g", "readings": ["100.0012", "100.0010"],
            "limit": "0.0005"})
        assert check.result == "fail" and check.deviation == "0.00110"
    assert balance.calibration_flag == "check failed"
    with pytest.raises(InstrumentUnavailable, match="intermediate check"):
        services.check_fit_for_use(session, balance, utcnow(), timezone=TZ)
    with pytest.raises(InvalidInput, match="measures"), unit_of_work(session):
        services.record_check(session, actor=qm, instrument=balance, timezone=TZ, data={
            "nominal": "10", "unit": "V", "readings": ["10"], "limit": "0.1"})
    with unit_of_work(session):
        services.record_check(session, actor=qm, instrument=balance, timezone=TZ, data={
            "nominal": "100.0000", "unit": "g", "readings": ["100.0002"], "limit": "0.0005"})
    assert balance.calibration_flag != "check failed"
    services.check_fit_for_use(session, balance, utcnow(), timezone=TZ)


def test_a_later_calibration_replaces_an_earlier_one_even_when_it_expires(session, world):
    register(session, world, "T-2")
    calibrate(session, world, "T-2", "LONG", NMI, -300, 700)
    calibrate(session, world, "T-2", "SHORT", NMI, -100, -10)
    inst = session.scalar(select(Instrument).where(Instrument.asset_number == "T-2"))
    assert services.record_in_force(session, inst, TODAY + dt.timedelta(days=-50),
                                    timezone=TZ).certificate_number == "SHORT"
    assert services.record_in_force(session, inst, TODAY, timezone=TZ) is None
    assert services.latest_record(session, inst.id).certificate_number == "SHORT"
    with pytest.raises(CalibrationExpired):
        services.check_fit_for_use(session, inst, utcnow(), timezone=TZ)


def test_out_of_tolerance_stops_use_and_corrections_keep_status_and_file(session, world):
    qm = world.user(session, "qm")
    data = (CERTS / "json-thermometer.json").read_bytes()
    register(session, world, "TH-0012", unit="K")
    for asset in ("SPRT-01", "BATH-03"):
        register(session, world, asset, unit="K")
    with unit_of_work(session):
        rec = services.import_certificate(session, actor=qm, data=data, filename="证书.json",
                                          provider_kind="accredited", timezone=TZ,
                                          valid_until=TODAY + dt.timedelta(days=100))
        rec_id = rec.id
    with unit_of_work(session):
        services.set_record_status(session, actor=qm, record_id=rec_id,
                                   status="out of tolerance", reason="as found: +0.2 K")
    inst = session.scalar(select(Instrument).where(Instrument.asset_number == "TH-0012"))
    # The certificate says 2024; measured under it then, the instrument is refused now.
    at = dt.datetime.combine(dt.date(2024, 6, 1), dt.time(10), dt.UTC)
    with pytest.raises(InstrumentUnavailable, match="out of tolerance"):
        services.check_fit_for_use(session, inst, at, timezone=TZ)
    cert = json.loads(data)
    cert["results"][0]["expanded_uncertainty"] = "0.025"
    with unit_of_work(session):
        new = services.correct_record(session, actor=qm, record_id=rec_id, data=cert,
                                      reason="U misread", timezone=TZ)
        assert new.status == "out of tolerance" and new.file == data
        assert new.file_name == "证书.json"
        new_id = new.id
    with unit_of_work(session):
        services.set_record_status(session, actor=qm, record_id=new_id, status="revoked",
                                   reason="issued for another item")
    with pytest.raises(Conflict, match="revoked"), unit_of_work(session):
        services.correct_record(session, actor=qm, record_id=new_id, data=cert, reason="x",
                                timezone=TZ)


def test_impact_follows_the_calibration_each_result_recorded(session, world, settings):
    chain_world(session, world)
    report = reported_sample(session, world, settings)
    # A certificate for EQ-1 entered late, dated after the result: its standard did not carry
    # the result, whatever the dates of the window say.
    register(session, world, "STD-L")
    calibrate(session, world, "STD-L", "L-1", NMI, -300, 400,
              points=(("10", "10.000001", "0.000005"), ("200", "200.00001", "0.00002")))
    calibrate(session, world, "EQ-1", "LATE-1", LAB, 1, 300, standards=["STD-L"],
              points=(("10", "10.0001", "0.0002"), ("200", "200.0002", "0.0005")))
    late = chains.impact(session, "STD-L", start=TODAY - dt.timedelta(days=10),
                         end=TODAY + dt.timedelta(days=2), timezone=TZ)
    assert late.instruments == ["EQ-1"] and late.results == 0 and late.reports == []
    used = chains.impact(session, "STD-E2", start=TODAY - dt.timedelta(days=200), end=TODAY,
                         timezone=TZ)
    assert used.results == 1 and used.reports == [report]


def test_every_standard_behind_a_point_must_reach_a_root(session, world, settings):
    chain_world(session, world)
    register(session, world, "TH-AIR", unit="℃")
    calibrate(session, world, "TH-AIR", "TH-1", {"name": "Some shop", "kind": "other",
                                                 "accreditation": "", "country": "CN"},
              -300, 400, unit="℃", points=(("20", "20.1", "0.2"),))
    cert = parse_json({"number": "BAL-2", "provider": LAB, "instrument": "EQ-1",
                       "calibrated_on": day(-50), "valid_until": day(200),
                       "standards_used": ["TH-AIR"],
                       "results": [{"quantity": "mass", "nominal": "100", "nominal_unit": "g",
                                    "value": "100.0001", "unit": "g",
                                    "expanded_uncertainty": "0.0002", "k": "2",
                                    "standards_used": ["STD-E2"]}]})
    with unit_of_work(session):
        services.record_certificate(session, actor=world.user(session, "qm"),
                                    instrument=session.get(Instrument, world.balance_id),
                                    cert=cert, source="typed", timezone=TZ)
    report = reported_sample(session, world, settings)
    mass = next(r for r in chains.trace_report(session, report, timezone=TZ)["results"]
                if r["instrument"] == "EQ-1")
    # Point-level links win: STD-E2 behind the 100 g point is the chain; the thermometer is
    # not behind that point, so it is not part of this result's traceability.
    assert [n["asset"] for n in mass["chain"]] == ["EQ-1", "STD-E2", "STD-E1"]
    assert mass["complete"] is True

    both = parse_json({"number": "BAL-3", "provider": LAB, "instrument": "EQ-1",
                       "calibrated_on": day(-40), "valid_until": day(200),
                       "standards_used": ["TH-AIR", "STD-E2"],
                       "results": [{"quantity": "mass", "nominal": "100", "nominal_unit": "g",
                                    "value": "100.0001", "unit": "g",
                                    "expanded_uncertainty": "0.0002", "k": "2"}]})
    with unit_of_work(session):
        services.record_certificate(session, actor=world.user(session, "qm"),
                                    instrument=session.get(Instrument, world.balance_id),
                                    cert=both, source="typed", timezone=TZ)
    report = reported_sample(session, world, settings)
    mass = next(r for r in chains.trace_report(session, report, timezone=TZ)["results"]
                if r["instrument"] == "EQ-1")
    assert mass["complete"] is False and "TH-AIR" in mass["reason"]
    assert mass["chain"][0]["branches"][0]["asset"] == "TH-AIR"
    assert mass["chain"][0]["branches"][0]["complete"] is False


def test_a_standard_of_another_quantity_cannot_support_a_point(session, world):
    register(session, world, "DMM-9", unit="V")
    calibrate(session, world, "DMM-9", "D-1", NMI, -100, 300, unit="V")
    cert = parse_json({"number": "BAD-2", "provider": LAB, "instrument": "EQ-1",
                       "calibrated_on": day(-5), "valid_until": day(200),
                       "results": [{"quantity": "mass", "value": "100.0001", "unit": "g",
                                    "standards_used": ["DMM-9"]}]})
    before = counts(session)
    with pytest.raises(InvalidInput, match="DMM-9 measures"), unit_of_work(session):
        services.record_certificate(session, actor=world.user(session, "qm"),
                                    instrument=session.get(Instrument, world.balance_id),
                                    cert=cert, source="typed", timezone=TZ)
    session.rollback()
    assert counts(session) == before


def test_only_the_newest_check_sets_the_flag(session, world):
    qm = world.user(session, "qm")
    balance = session.get(Instrument, world.balance_id)

    def check(readings, when=None, **extra):
        with unit_of_work(session):
            return services.record_check(session, actor=qm, instrument=balance, timezone=TZ,
                                         data={"nominal": "100.0000", "unit": "g",
                                               "readings": readings, "limit": "0.0005",
                                               **({"checked_at": when} if when else {}),
                                               **extra})

    check(["100.0012"])
    assert balance.calibration_flag == "check failed"
    old = check(["100.0001"], "2025-01-01T09:00:00", source="instrument")
    assert old.source == "typed"  # never taken from the client
    assert balance.calibration_flag == "check failed"  # an older pass changes nothing
    with pytest.raises(InvalidInput) as exc, unit_of_work(session):
        services.record_check(session, actor=qm, instrument=balance, timezone=TZ,
                              data={"nominal": "100", "unit": "g", "readings": ["100"],
                                    "limit": "1", "check_standard": "EQ-1"})
    assert exc.value.field == "check_standard"
    for bad, field in (({"checked_at": 5}, "checked_at"), ({"checked_at": "0001-01-01T00:00"},
                                                           "checked_at"),
                       ({"readings": ["1", "1e-99999"]}, "readings[1]"),
                       ({"nominal": "1e999999999"}, "nominal")):
        with pytest.raises(InvalidInput) as exc, unit_of_work(session):
            services.record_check(session, actor=qm, instrument=balance, timezone=TZ,
                                  data={"nominal": "100", "unit": "g", "readings": ["100"],
                                        "limit": "1", **bad})
        assert exc.value.field == field
