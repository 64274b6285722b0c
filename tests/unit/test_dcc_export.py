"""The DCC 3.1.2 export of certificates: schema-valid, and read back by the LIMS's own DCC
reader (``lims calibration import``) with the same values, units, U, k and nominals."""

from __future__ import annotations

import dataclasses

import pytest
from lxml import etree

from lims.calibration import dcc as dcc_reader
from lims.calibration.certificates import CertificateResult
from lims.calibration.dcc import parse_dcc
from lims.errors import ReportError
from lims.reports.certificate_content import (
    CALIBRATION_CERTIFICATE,
    TEST_REPORT,
    VERIFICATION_CERTIFICATE,
    VERIFICATION_NOTICE,
    CertificateContent,
    PointLine,
)
from lims.reports.dcc_export import build_dcc, split_languages, unit_to_dsi, validate_dcc
from lims.units import parse_unit
from tests.support.certificates import adjusted, sample_certificate

NS = {"dcc": dcc_reader.DCC, "si": dcc_reader.SI}
KINDS = (CALIBRATION_CERTIFICATE, VERIFICATION_CERTIFICATE, VERIFICATION_NOTICE)


def _minus(text: str) -> str:
    return text.replace("\u2212", "-").strip()


def assert_round_trip(content: CertificateContent) -> None:
    """Every point comes back: its error with U, k, p, D-SI unit, nominal and state, and
    its reference and indicated values, in document order."""
    parsed = parse_dcc(build_dcc(content, software_version="9.9.9"))
    assert parsed.number == content.number
    assert parsed.calibrated_on == content.calibrated_on
    by_name: dict[str, list[CertificateResult]] = {}
    for r in parsed.results:
        by_name.setdefault(r.quantity, []).append(r)
    for state in ("as found", "as left"):
        points = [p for p in content.points if p.state == state]
        if not points:
            continue
        quantity = split_languages(points[0].quantity)[1]
        errors = [r for r in by_name[quantity] if r.state == state]
        references = [r for r in by_name["Reference value"] if r.state == state]
        indications = [r for r in by_name["Indicated value"] if r.state == state]
        assert len(errors) == len(references) == len(indications) == len(points)
        for p, err, ref, ind in zip(points, errors, references, indications, strict=True):
            assert err.value == _minus(p.error)
            assert err.expanded_uncertainty == p.expanded_uncertainty
            assert err.k == p.k and err.coverage_probability == p.coverage_probability
            assert err.dsi_unit == p.dsi_unit
            assert parse_unit(err.unit) == parse_unit(p.unit), (err.unit, p.unit)
            for r in (err, ref, ind):
                assert r.nominal == p.nominal and r.state == state
                assert parse_unit(r.nominal_unit) == parse_unit(p.unit)
            assert ref.value == p.reference and ind.value == p.indicated
            assert ref.expanded_uncertainty is None and ind.expanded_uncertainty is None
    assert len(parsed.results) == 3 * len(content.points)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", [1, 20])
def test_every_kind_round_trips_one_and_twenty_points(kind, n):
    assert_round_trip(sample_certificate(kind, n_points=n))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", [1, 20])
def test_as_found_and_as_left_come_back_as_such(kind, n):
    content = adjusted(sample_certificate(kind, n_points=n))
    assert_round_trip(content)
    root = etree.fromstring(build_dcc(content, software_version="1"))
    results = root.findall("dcc:measurementResults/dcc:measurementResult", NS)
    assert len(results) == 2
    statuses = [{s.text for s in r.iterfind(".//dcc:influenceCondition/dcc:status", NS)}
                for r in results]
    assert statuses == [{"beforeAdjustment"}, {"afterAdjustment"}]


def test_as_found_without_conditions_still_says_its_state():
    content = adjusted(sample_certificate(n_points=2, conditions=()))
    assert_round_trip(content)


def test_administrative_data_and_non_ascii_text_survive():
    content = sample_certificate(
        customer=dataclasses.replace(sample_certificate().customer,
                                     name="喆堃镕 <仪器> & Co. “引号”", contact="a@b.example"),
        remarks=("备注：砝码已清洁 Weights cleaned",))
    xml = build_dcc(content, software_version="2.3.4")
    root = etree.fromstring(xml)
    admin = root.find("dcc:administrativeData", NS)

    def text(path: str) -> str:
        return admin.findtext(path, namespaces=NS)

    assert text("dcc:dccSoftware/dcc:software/dcc:release") == "2.3.4"
    assert text("dcc:coreData/dcc:countryCodeISO3166_1") == "CN"
    assert [e.text for e in admin.findall("dcc:coreData/dcc:usedLangCodeISO639_1", NS)] == \
        ["zh", "en"]
    assert text("dcc:coreData/dcc:mandatoryLangCodeISO639_1") == "zh"
    assert text("dcc:coreData/dcc:uniqueIdentifier") == "JZ2026-000042"
    assert text("dcc:coreData/dcc:receiptDate") == "2026-11-17"  # Asia/Shanghai, not UTC
    assert text("dcc:coreData/dcc:beginPerformanceDate") == "2026-11-19"
    assert text("dcc:coreData/dcc:performanceLocation") == "laboratory"
    item = admin.find("dcc:items/dcc:item", NS)
    assert item.findtext("dcc:model", namespaces=NS) == "ME204E"
    ids = {i.get("refType"): i.findtext("dcc:value", namespaces=NS)
           for i in item.iterfind("dcc:identifications/dcc:identification", NS)}
    assert ids == {"basic_serialNumber": "B812345678", "basic_sampleNumber": "YQ2026-000017"}
    assert "喆堃镕 <仪器> & Co. “引号”" in \
        [c.text for c in admin.iterfind("dcc:customer/dcc:name/dcc:content", NS)]
    assert text("dcc:customer/dcc:eMail") == "a@b.example"
    lab_names = [c.text for c in admin.iterfind(
        "dcc:calibrationLaboratory/dcc:contact/dcc:name/dcc:content", NS)]
    assert lab_names == ["省计量科学研究院", "Provincial Institute of Metrology"]
    people = [(p.findtext("dcc:person/dcc:name/dcc:content", namespaces=NS),
               p.findtext("dcc:role", namespaces=NS),
               p.findtext("dcc:mainSigner", namespaces=NS))
              for p in admin.iterfind("dcc:respPersons/dcc:respPerson", NS)]
    assert people == [("王技术", "校准员 Calibrated by", None),
                      ("李核验", "核验员 Checked by", None),
                      ("张批准", "批准人 Approved by", "true")]
    statements = {s.get("refType"): s for s in admin.iterfind("dcc:statements/dcc:statement", NS)}
    trace = statements["basic_traceability"]
    assert trace.findtext("dcc:traceable", namespaces=NS) == "true"
    assert [r.text for r in trace.iterfind("dcc:reference", NS)] == \
        ["ZLJL2026-00173", "WD2026-1102"]
    assert "relate only to the item calibrated" in etree.tostring(
        statements["basic_validityOfResults"], encoding="unicode")
    assert "砝码已清洁" in etree.tostring(statements["basic_remark"], encoding="unicode")
    assert "basic_conformity" not in statements  # no statement of conformity was asked
    assert "basic_recalibration" not in statements  # nor a recalibration interval
    parsed = parse_dcc(xml)
    assert parsed.item.name == "Electronic balance" and parsed.item.serial_number == "B812345678"
    assert parsed.provider_country == "CN"


def test_method_equipment_and_conditions():
    root = etree.fromstring(build_dcc(sample_certificate(), software_version="1"))
    mr = root.find("dcc:measurementResults/dcc:measurementResult", NS)
    method = mr.find("dcc:usedMethods/dcc:usedMethod", NS)
    assert method.findtext("dcc:norm", namespaces=NS) == "JJF 1847-2020"
    equipment = mr.findall("dcc:measuringEquipments/dcc:measuringEquipment", NS)
    certs = [e.find("dcc:identifications/dcc:identification[@refType='basic_certificateNumber']",
                    NS).findtext("dcc:value", namespaces=NS) for e in equipment]
    assert certs == ["ZLJL2026-00173", "WD2026-1102"]
    parsed = parse_dcc(etree.tostring(root))
    conditions = {c.name: (c.value, c.unit) for c in parsed.conditions}
    assert conditions["Temperature"] == ("20.3", "degC")
    assert conditions["Relative humidity"] == ("45", "%")
    assert conditions["Air pressure"] == ("(101 ± 2) kPa", None)  # not a number: kept as text


def test_verification_carries_verdicts_mpe_and_the_overall_conformity():
    cert = build_dcc(sample_certificate(VERIFICATION_CERTIFICATE, n_points=4),
                     software_version="1")
    assert parse_dcc(cert).conformity == "pass"
    notice = build_dcc(sample_certificate(VERIFICATION_NOTICE, n_points=4), software_version="1")
    assert parse_dcc(notice).conformity == "fail"
    root = etree.fromstring(notice)
    meta = root.find(".//dcc:quantity[@refType='basic_measurementError']/"
                     "dcc:measurementMetaData/dcc:metaData", NS)
    assert meta.findtext("dcc:conformityXMLList", namespaces=NS) == "pass fail pass pass"
    lower = meta.find("dcc:data/dcc:quantity[@refType='basic_toleranceLimitLower']", NS)
    upper = meta.find("dcc:data/dcc:quantity[@refType='basic_toleranceLimitUpper']", NS)
    assert lower.findtext(".//si:valueXMLList", namespaces=NS) == " ".join(["-0.010"] * 4)
    assert upper.findtext(".//si:valueXMLList", namespaces=NS) == " ".join(["0.010"] * 4)
    statements = {s.get("refType"): s for s in root.iterfind(".//dcc:statement", NS)}
    assert "ILAC-G8" in statements["basic_decisionRule"].findtext(
        "dcc:declaration/dcc:content[@lang='en']", namespaces=NS)
    assert "Notice of verification result" in etree.tostring(
        statements["basic_documentKind"], encoding="unicode")
    valid = statements.get("basic_validUntil")
    assert valid is None  # a notice has no validity date; the certificate has
    cert_root = etree.fromstring(cert)
    assert cert_root.findtext(".//dcc:statement[@refType='basic_validUntil']/dcc:date",
                              namespaces=NS) == "2027-11-18"


def test_points_that_cannot_share_a_list_are_written_one_by_one():
    content = sample_certificate(n_points=3)
    pts = list(content.points)
    pts[1] = dataclasses.replace(pts[1], mpe="±0.010", error="\u22120.0030", conformity="undecided")
    content = dataclasses.replace(content, points=tuple(pts))
    assert_round_trip(content)
    root = etree.fromstring(build_dcc(content, software_version="1"))
    assert root.find(".//dcc:result/dcc:data/dcc:list/dcc:quantity/si:realListXMLList",
                     NS) is None
    assert len(root.findall(".//dcc:result/dcc:data/dcc:list", NS)) == 3
    assert "undecided" in etree.tostring(root, encoding="unicode")


def test_amendment_supersedes_and_recalibration_are_stated():
    content = sample_certificate(supersedes="JZ2026-000041", amendment="更正型号 Model corrected",
                                 recalibration="建议复校时间间隔 1 年 Recalibrate within 1 year",
                                 outside_scope=True)
    root = etree.fromstring(build_dcc(content, software_version="1"))
    statements = {s.get("refType"): etree.tostring(s, encoding="unicode")
                  for s in root.iterfind(".//dcc:statement", NS)}
    assert "This certificate replaces JZ2026-000041" in statements["basic_supersedes"]
    assert "Model corrected" in statements["basic_supersedes"]
    assert "Recalibrate within 1 year" in statements["basic_recalibration"]
    assert "Not within the accredited scope" in statements["basic_outsideAccreditation"]


@pytest.mark.parametrize(("change", "field"), [
    ({"error": "abc"}, "points[1].error"),
    ({"dsi_unit": "\\gramm"}, "points[1].dsi_unit"),
    ({"dsi_unit": "", "unit": "HV10"}, "points[1].dsi_unit"),
    ({"k": "0.5"}, "points[1].k"),
    ({"coverage_probability": ""}, "points[1].coverage_probability"),
    ({"expanded_uncertainty": "-0.1"}, "points[1].expanded_uncertainty"),
])
def test_a_point_the_dcc_cannot_carry_is_refused_by_name(change, field):
    content = sample_certificate(n_points=2)
    bad = dataclasses.replace(content.points[0], **change)
    with pytest.raises(ReportError) as exc:
        build_dcc(dataclasses.replace(content, points=(bad, content.points[1])),
                  software_version="1")
    assert exc.value.field == field


def test_an_empty_dsi_unit_is_derived_from_the_unit():
    content = sample_certificate(n_points=2)
    pts = tuple(dataclasses.replace(p, dsi_unit="", unit="mg") for p in content.points)
    parsed = parse_dcc(build_dcc(dataclasses.replace(content, points=pts), software_version="1"))
    assert {r.dsi_unit for r in parsed.results} == {"\\milli\\gram"}


def test_text_xml_cannot_carry_and_a_test_report_are_refused():
    with pytest.raises(ReportError) as exc:
        build_dcc(sample_certificate(remarks=("bad \x00 byte",)), software_version="1")
    assert exc.value.field == "dcc"
    with pytest.raises(ReportError):
        build_dcc(dataclasses.replace(sample_certificate(), kind=TEST_REPORT),
                  software_version="1")


def test_a_schema_violation_names_the_xsd_message():
    root = etree.fromstring(build_dcc(sample_certificate(), software_version="1"))
    core = root.find("dcc:administrativeData/dcc:coreData", NS)
    core.remove(core.find("dcc:uniqueIdentifier", NS))
    with pytest.raises(ReportError) as exc:
        validate_dcc(root)
    assert "uniqueIdentifier" in exc.value.message and "schema 3.1.2" in exc.value.message
    assert exc.value.data["xsd_message"]


def test_the_schema_is_parsed_once():
    build_dcc(sample_certificate(), software_version="1")
    before = dcc_reader._schema.cache_info()
    for _ in range(3):
        build_dcc(sample_certificate(n_points=20), software_version="1")
    after = dcc_reader._schema.cache_info()
    assert after.misses == before.misses and after.hits == before.hits + 3


@pytest.mark.parametrize(("unit", "dsi"), [
    ("℃", "\\degreecelsius"), ("%RH", "\\percent"), ("kPa", "\\kilo\\pascal"),
    ("μm", "\\micro\\metre"), ("m/s**2", "\\metre\\second\\tothe{-2}"), ("HV10", None),
    ("毫米", None),
])
def test_condition_units_to_dsi(unit, dsi):
    assert unit_to_dsi(unit) == dsi


def test_split_languages():
    assert split_languages("示值误差 Error of indication") == ("示值误差", "Error of indication")
    assert split_languages("E2 等级砝码组 Weight set class E2") == ("E2 等级砝码组",
                                                                   "Weight set class E2")
    assert split_languages("王技术") == ("王技术", "")
    assert split_languages("Provincial Lab") == ("", "Provincial Lab")


def test_point_line_contract_fields_used():
    # The exporter reads only fields of the shared contract; a new field must not break it.
    assert {f.name for f in dataclasses.fields(PointLine)} >= {
        "seq", "state", "quantity", "nominal", "reference", "indicated", "error", "unit",
        "dsi_unit", "expanded_uncertainty", "k", "coverage_probability", "mpe", "conformity"}
