"""Incoming calibration certificates (PTB DCC XML and the LIMS JSON form) to ParsedCertificate."""

from __future__ import annotations

import copy
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from lims.calibration import certificates, dcc
from lims.calibration.certificates import (
    CertificateItem,
    CertificateResult,
    Condition,
    parse_certificate,
    parse_json,
)
from lims.calibration.dcc import parse_dcc
from lims.errors import InvalidInput

DATA = Path(__file__).parents[2] / "data" / "certificates"
SCHEMAS = Path(certificates.__file__).with_name("schemas")
NIM = DATA / "dcc-nim-mass-e1.xml"
DMM = DATA / "dcc-dakks-dmm.xml"
JSON_CERT = DATA / "json-thermometer.json"


def refusal(data: bytes, **kwargs) -> InvalidInput:
    with pytest.raises(InvalidInput) as exc:
        parse_certificate(data, **kwargs)
    return exc.value


def json_refusal(obj: object) -> InvalidInput:
    with pytest.raises(InvalidInput) as exc:
        parse_json(obj)
    return exc.value


@pytest.fixture
def cert() -> dict:
    return json.loads(JSON_CERT.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- the schema


@pytest.mark.parametrize("fixture", [NIM, DMM])
def test_fixtures_validate_against_the_vendored_schema(fixture):
    schema = etree.XMLSchema(etree.parse(str(SCHEMAS / "dcc.xsd")))
    doc = etree.parse(str(fixture))
    doc.getroot().set("schemaVersion", "3.1.2")  # the XSD fixes it; the DMM fixture says 3.1.1
    schema.assertValid(doc)


def test_the_vendored_schema_imports_the_local_si_schema_and_keeps_its_licence():
    imports = etree.parse(str(SCHEMAS / "dcc.xsd")).getroot().findall(
        "{http://www.w3.org/2001/XMLSchema}import")
    assert [i.get("schemaLocation") for i in imports] == ["SI_Format.xsd"]
    assert (SCHEMAS / "SI_Format.xsd").is_file()
    assert "LESSER GENERAL PUBLIC LICENSE" in (SCHEMAS / "COPYING.LESSER").read_text()


def test_the_schema_is_loaded_once():
    assert dcc._schema() is dcc._schema()


# --------------------------------------------------------------------------- DCC: NMI mass


@pytest.fixture(scope="module")
def nim() -> certificates.ParsedCertificate:
    return parse_certificate(NIM.read_bytes(), filename="ZLJL2024-00173.xml")


def test_dcc_administrative_data(nim):
    assert nim.format == "dcc"
    assert nim.schema_version == "3.1.2"
    assert nim.number == "ZLJL2024-00173"
    assert nim.calibrated_on == dt.date(2024, 3, 6)  # the end of the performance
    assert nim.valid_until is None
    assert nim.provider_name == "National Institute of Metrology, China"  # English preferred
    assert nim.provider_kind == "nmi"
    assert nim.provider_accreditation == ""
    assert nim.provider_country == "CN"
    assert nim.item == CertificateItem(name="Weight set, class E1, 1 g to 100 g",
                                       manufacturer="Häfner Gewichte GmbH",
                                       model="E1-1G-100G-SS", serial_number="23-04817")
    assert nim.instrument is None
    assert nim.standards_used == ()
    assert nim.conformity == "pass"


def test_dcc_results_keep_digits_units_and_uncertainty(nim):
    first = nim.results[0]
    assert first == CertificateResult(
        quantity="Conventional mass", value="1.0000010", unit="g", dsi_unit=r"\gram",
        nominal="1", nominal_unit="g", expanded_uncertainty="0.0000020", k="2",
        coverage_probability="0.95")
    error = nim.results[1]
    assert (error.quantity, error.value, error.unit, error.dsi_unit) == (
        "Conventional mass error", "0.0010", "mg", r"\milli\gram")
    assert (error.expanded_uncertainty, error.k, error.coverage_probability) == ("0.0020", "2", "0.95")


def test_dcc_results_in_document_order_with_nominals_attached(nim):
    assert [(r.quantity, r.nominal, r.value) for r in nim.results] == [
        ("Conventional mass", "1", "1.0000010"),
        ("Conventional mass error", "1", "0.0010"),
        ("Conventional mass error", "10", "-0.0040"),  # the nominal follows it in the file
        ("Conventional mass error", "100", "0.012"),
        ("Density", "1", "7999"),
        ("Density", "10", "8001"),
        ("Density", "100", "7998.5"),
    ]
    assert all(r.nominal_unit == "g" for r in nim.results)


def test_dcc_xml_lists_expand_one_result_per_element(nim):
    density = nim.results[4:]
    assert {r.unit for r in density} == {"kg/m**3"}
    assert {r.dsi_unit for r in density} == {r"\kilogram\metre\tothe{-3}"}
    assert [r.expanded_uncertainty for r in density] == ["140", "60", "20"]
    assert {(r.k, r.coverage_probability) for r in density} == {("2", "0.95")}  # one for all


def test_dcc_conditions_in_english_and_repeated_once(nim):
    assert nim.conditions == (Condition("Ambient temperature", "20.3", "degC"),
                              Condition("Relative humidity", "45.0", "%"))


# --------------------------------------------------------------------------- DCC: accredited DMM


@pytest.fixture(scope="module")
def dmm() -> certificates.ParsedCertificate:
    return parse_dcc(DMM.read_bytes())


def test_dcc_3_1_1_from_an_accredited_lab(dmm):
    assert dmm.schema_version == "3.1.1"
    assert dmm.provider_name == "Kalibrierlabor Elektrik Nord GmbH"
    assert dmm.provider_kind == "accredited"
    assert dmm.provider_accreditation == "D-K-19876-01-00"
    assert dmm.provider_country == "DE"
    assert dmm.item == CertificateItem("Digital multimeter", "Keysight Technologies", "34465A",
                                       "MY59001234")


def test_dcc_reference_value_is_the_nominal_element_by_element(dmm):
    assert [(r.quantity, r.nominal, r.nominal_unit, r.value, r.unit, r.expanded_uncertainty)
            for r in dmm.results] == [
        ("Indication", "10.000000", "V", "10.00012", "V", "0.000035"),
        ("Deviation of the indication", "1.0000000", "V", "11", "uV", "8.0"),
        ("Deviation of the indication", "5.000000", "V", "62", "uV", "20"),
        ("Deviation of the indication", "10.000000", "V", "120", "uV", "35"),
        # an si:hybrid gives its first representation only; nothing marks a nominal here
        ("Resistance indication", None, None, "10.00021", "kohm", "0.00012"),
    ]


def test_dcc_conditions_with_several_values_and_text(dmm):
    assert dmm.conditions == (
        Condition("Ambient temperature, minimum", "22.6", "degC"),
        Condition("Ambient temperature, maximum", "23.4", "degC"),
        Condition("Warm-up", "at least 4 h, powered from mains", None),
    )


def test_the_caller_may_override_the_provider_kind():
    assert parse_dcc(DMM.read_bytes(), provider_kind="nmi").provider_kind == "nmi"
    assert parse_certificate(NIM.read_bytes(), provider_kind="accredited").provider_kind == "accredited"
    with pytest.raises(InvalidInput) as exc:
        parse_dcc(DMM.read_bytes(), provider_kind="friendly")
    assert exc.value.field == "provider_kind"


@pytest.mark.parametrize(("names", "expected"), [
    (("Physikalisch-Technische Bundesanstalt (PTB)",), True),
    (("中国计量科学研究院",), True),
    (("NIST",), True),
    (("Guangdong Institute of Metrology", "广东省计量科学研究院"), False),
    (("Kalibrierlabor Elektrik Nord GmbH",), False),
    (("Optiptb Services",), False),  # an abbreviation counts only as a whole word
    # An NMI is a root of the chain (ILAC-P10): a name that merely mentions one is not one.
    (("Acme NIST-traceable Cal Services",), False),
    (("NIM Calibration Co., Ltd.",), False),
    (("中国计量科学研究院 National Institute of Metrology, China",), True),
    (("National Institute of Metrology, China",), True),
])
def test_nmi_table(names, expected):
    assert dcc.is_nmi(*names) is expected


def test_a_nominal_alone_in_its_list_is_a_result():
    root = etree.fromstring(NIM.read_bytes())
    ns = {"dcc": dcc.DCC}
    weight_100g = root.findall(".//dcc:results/dcc:result", ns)[2].find("dcc:data/dcc:list", ns)
    weight_100g.remove(weight_100g.findall("dcc:quantity", ns)[1])
    parsed = parse_dcc(etree.tostring(root))
    assert [(r.quantity, r.value, r.unit, r.nominal) for r in parsed.results][3] == (
        "Nominal value", "100", "g", None)


def test_a_3_1_0_document_is_validated_as_3_1_2():
    parsed = parse_dcc(NIM.read_bytes().replace(b'schemaVersion="3.1.2"', b'schemaVersion="3.1.0"'))
    assert parsed.schema_version == "3.1.0"


def test_a_byte_order_mark_and_a_misleading_name_do_not_matter():
    parsed = parse_certificate(b"\xef\xbb\xbf" + NIM.read_bytes(), filename="certificate.json")
    assert parsed.format == "dcc"
    assert parse_certificate(JSON_CERT.read_bytes(), filename="certificate.xml").format == "json"


# --------------------------------------------------------------------------- DCC refusals


@pytest.mark.parametrize("version", ["2.4.0", "3.0.0", "3.2.0", "3.1", ""])
def test_unsupported_schema_version(version):
    data = NIM.read_bytes().replace(b'schemaVersion="3.1.2"', f'schemaVersion="{version}"'.encode())
    error = refusal(data)
    assert error.field == "schemaVersion"
    assert "schemaVersion" in error.message
    if version:
        assert f"unsupported DCC schemaVersion {version!r}: this LIMS reads 3.1.x" == error.message


def test_a_schema_error_names_the_line_and_the_message():
    data = NIM.read_bytes().replace(b"<dcc:uniqueIdentifier>ZLJL2024-00173</dcc:uniqueIdentifier>", b"")
    error = refusal(data)
    assert error.message.startswith("the DCC does not conform to schema 3.1.2: line 23: ")
    assert "receiptDate" in error.message and "uniqueIdentifier" in error.message
    assert error.data["line"] == 23


def test_a_value_that_is_not_a_number_fails_the_schema():
    error = refusal(NIM.read_bytes().replace(b"<si:value>0.012</si:value>", b"<si:value>1,2</si:value>"))
    assert "decimalType" in error.message and "line " in error.message


def test_unknown_dsi_unit_is_named():
    error = refusal(NIM.read_bytes().replace(b"\\milli\\gram", b"\\furlong", 1))
    assert error.field == "si:unit"
    assert r"unknown D-SI unit \furlong" in error.message
    assert error.data["dsi_unit"] == r"\furlong"
    assert error.data["line"] > 0


def test_xml_list_lengths_must_agree():
    data = DMM.read_bytes().replace(b"<si:uncertaintyXMLList>8.0 20 35<", b"<si:uncertaintyXMLList>8.0 20<")
    error = refusal(data)
    assert "has 2 items for 3 values" in error.message


def test_a_dcc_without_numeric_results_is_refused():
    root = etree.fromstring(DMM.read_bytes())
    ns = {"dcc": dcc.DCC, "si": dcc.SI}
    for quantity in root.iterfind(".//dcc:results//dcc:quantity", ns):
        for child in quantity.findall("si:*", ns):
            quantity.remove(child)
        etree.SubElement(quantity, f"{{{dcc.DCC}}}noQuantity")
    error = refusal(etree.tostring(root))
    assert error.field == "measurementResults"
    assert "no numeric results" in error.message


@pytest.mark.parametrize(("data", "message"), [
    (b"", "not a calibration certificate"),
    (b"%PDF-1.7\n...", "not a calibration certificate"),
    (b"<dcc:digitalCalibrationCertificate", "not well-formed XML"),
    (b"<a><b></a>", "not well-formed XML: line 1"),
    (b"<certificate/>", "not a PTB DCC"),
    (b'<x:digitalCalibrationCertificate xmlns:x="urn:other"/>', "not a PTB DCC"),
    (b'<digitalCalibrationCertificate xmlns="https://ptb.de/dcc"/>', "declares no schemaVersion"),
])
def test_not_a_dcc(data, message):
    assert message in refusal(data).message


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<dcc:digitalCalibrationCertificate xmlns:dcc="https://ptb.de/dcc"
  schemaVersion="3.1.2">&lol9;</dcc:digitalCalibrationCertificate>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY secret SYSTEM "file:///etc/hostname">]>
<dcc:digitalCalibrationCertificate xmlns:dcc="https://ptb.de/dcc"
  schemaVersion="3.1.2">&secret;</dcc:digitalCalibrationCertificate>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE r SYSTEM "http://example.invalid/dcc.dtd">
<dcc:digitalCalibrationCertificate xmlns:dcc="https://ptb.de/dcc" schemaVersion="3.1.2"/>"""


@pytest.mark.parametrize("data", [BILLION_LAUGHS, XXE, EXTERNAL_DTD], ids=["laughs", "xxe", "dtd"])
def test_entities_and_dtds_are_refused_without_expanding(data):
    # Refused at the DOCTYPE, before any entity could be expanded or fetched.
    error = refusal(data)
    assert error.message == "XML with a DOCTYPE (DTD or entity declarations) is not accepted"
    assert error.field == "file"


def test_the_parser_itself_does_not_resolve_entities():
    # Beneath the DOCTYPE refusal: the parser leaves an external entity unresolved.
    root = etree.fromstring(XXE.replace(b"&secret;", b"<x>&secret;</x>"), etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False))
    assert "".join(root.itertext()) == "&secret;"  # an unexpanded entity reference node


# --------------------------------------------------------------------------- JSON


def test_json_certificate(cert):
    parsed = parse_certificate(JSON_CERT.read_bytes(), filename="WK-2024-1187.json")
    assert parsed.format == "json"
    assert parsed.schema_version is None
    assert (parsed.number, parsed.provider_name, parsed.provider_kind, parsed.provider_accreditation,
            parsed.provider_country) == ("WK-2024-1187", "Shanghai Example Calibration Centre",
                                         "accredited", "CNAS L9999", "CN")
    assert (parsed.calibrated_on, parsed.valid_until) == (dt.date(2024, 4, 18), dt.date(2025, 4, 17))
    assert parsed.instrument == "TH-0012"
    assert parsed.standards_used == ("SPRT-01", "BATH-03")
    assert parsed.item == CertificateItem("Platinum resistance thermometer", "Fluke", "5615", "B3C217")
    assert parsed.conformity == "Within the tolerance of IEC 60751 class A."
    assert parsed.conditions == (
        Condition("Ambient temperature", "21.5", "℃"),
        Condition("Relative humidity", "48.0", "%RH"),  # a JSON number keeps its literal digits
        Condition("Immersion depth", "200", "mm"),
        Condition("Location", "Temperature lab, bath 3", None),
    )
    assert parsed.results == (
        CertificateResult("Temperature correction", "0.012", "K", None, nominal="0.000",
                          nominal_unit="℃", expanded_uncertainty="0.020", k="2",
                          standards_used=("SPRT-01",)),
        CertificateResult("Temperature correction", "-0.030", "K", None, nominal="100.00",
                          nominal_unit="℃", expanded_uncertainty="0.030", k="2",
                          coverage_probability="0.95"),
        CertificateResult("Resistance at 0 ℃", "100.0123", "Ω", None),
    )


def test_json_minimal_and_decoded_numbers(cert):
    obj = {"number": "N-1", "provider": {"name": "Own lab", "kind": "in-house"},
           "calibrated_on": "2024-01-02",
           "results": [{"quantity": "Length", "value": 25.0, "unit": "mm", "nominal": 25,
                        "expanded_uncertainty": 0.5e-3, "coverage_probability": 0.95}]}
    parsed = parse_json(obj)
    assert parsed.item == CertificateItem("", "", "", "")
    assert (parsed.instrument, parsed.standards_used, parsed.conditions, parsed.valid_until) == (
        None, (), (), None)
    result = parsed.results[0]
    # a float handed in directly is written with str(): 25.0, not "25.000"
    assert (result.value, result.nominal, result.nominal_unit, result.expanded_uncertainty) == (
        "25.0", "25", "mm", "0.0005")


@pytest.mark.parametrize(("change", "field", "message"), [
    (lambda c: c.pop("number"), "number", "is required"),
    (lambda c: c.update(number=173), "number", "must be text"),
    (lambda c: c["provider"].update(kind="friend"), "provider.kind",
     "must be one of nmi, accredited, in-house, other, not 'friend'"),
    (lambda c: c["provider"].pop("accreditation"), "provider.accreditation", "is required"),
    (lambda c: c["provider"].update(country="China"), "provider.country", "two-letter"),
    (lambda c: c.update(calibrated_on="18.04.2024"), "calibrated_on", "is not a date (YYYY-MM-DD)"),
    (lambda c: c.update(calibrated_on="2024-02-30"), "calibrated_on", "is not a date"),
    (lambda c: c.pop("calibrated_on"), "calibrated_on", "is required"),
    (lambda c: c.update(valid_until="2024-04-17"), "valid_until", "is before calibrated_on (2024-04-18)"),
    (lambda c: c.update(results=[]), "results", "at least one result"),
    (lambda c: c.pop("results"), "results", "is required"),
    (lambda c: c["results"][2].update(unit="bogons"), "results[2].unit", "unknown unit 'bogons'"),
    (lambda c: c["results"][1].update(value="1,5"), "results[1].value", "is not a number"),
    (lambda c: c["results"][1].update(value=True), "results[1].value", "must be a number"),
    (lambda c: c["results"][0].pop("quantity"), "results[0].quantity", "is required"),
    (lambda c: c["results"][0].update(k="0.5"), "results[0].k", "at least 1"),
    (lambda c: c["results"][0].pop("k"), "results[0].k", "JCGM 100:2008 7.2.3"),
    (lambda c: c["results"][1].update(coverage_probability="95"), "results[1].coverage_probability",
     "fraction"),
    (lambda c: c["results"][2].update(k="2"), "results[2].expanded_uncertainty", "without an expanded"),
    (lambda c: c["results"][0].update(expanded_uncertainty="-0.1"), "results[0].expanded_uncertainty",
     "negative"),
    (lambda c: c["results"][2].update(nominal_unit="V"), "results[2].nominal_unit", "without a nominal"),
    (lambda c: c["results"][0].update(standards_used=[""]), "results[0].standards_used[0]",
     "is required"),
    (lambda c: c["results"][0].update(uncertainty="0.1"), "results[0].uncertainty", "unknown field"),
    (lambda c: c.update(valid_untill="2025-01-01"), "valid_untill", "unknown field"),
    (lambda c: c["conditions"][0].update(unit="bogons"), "conditions[0].unit", "unknown unit"),
    (lambda c: c["conditions"][0].update(value="warm"), "conditions[0].value", "is not a number"),
    (lambda c: c.update(conditions={"Temperature": "20 ℃"}), "conditions", "must be a list"),
    (lambda c: c["item"].update(name=""), "item.name", "is required"),
    (lambda c: c.update(standards_used="SPRT-01"), "standards_used", "must be a list"),
    (lambda c: c.update(instrument="x" * 41), "instrument", "longer than 40"),
])
def test_json_refusals_name_the_field(cert, change, field, message):
    change(cert)
    error = json_refusal(cert)
    assert error.field == field
    assert message in error.message


def test_json_provider_kind_override(cert):
    assert parse_json(cert, provider_kind="in-house").provider_kind == "in-house"


def test_malformed_json():
    error = refusal(b'{"number": "N-1",', filename="x.json")
    assert error.message.startswith("malformed JSON: ")
    assert "line 1" in error.message
    assert "NaN is not a number" in refusal(b'{"number": NaN}').message
    assert refusal(b"[1, 2]").message == "a certificate must be a JSON object"
    assert "malformed JSON" in refusal(b"\xff\xfe{\xd8", filename="x.json").message


def test_json_numbers_keep_their_literal_digits(cert):
    cert["results"][0]["value"] = "PLACEHOLDER"
    data = json.dumps(cert).replace('"PLACEHOLDER"', "1.500E-3").encode()
    assert parse_certificate(data).results[0].value == "1.500E-3"


def test_an_oversized_file_is_refused(monkeypatch):
    monkeypatch.setattr(certificates, "MAX_BYTES", 100)
    assert "larger than" in refusal(NIM.read_bytes()).message


def test_the_parsed_certificate_is_frozen(nim):
    with pytest.raises(AttributeError):
        nim.number = "other"  # type: ignore[misc]
    assert copy.deepcopy(nim) == nim


def test_the_module_is_pure():
    code = ("import sys, lims.calibration.certificates; "
            "print(sorted(m for m in ('flask', 'sqlalchemy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_dcc_lab_without_an_accreditation_code_is_not_a_root():
    data = DMM.read_bytes()
    root = etree.fromstring(data)
    for code in root.iter(f"{{{dcc.DCC}}}calibrationLaboratoryCode"):
        code.getparent().remove(code)
    assert parse_dcc(etree.tostring(root)).provider_kind == "other"
    assert parse_dcc(data).provider_kind == "accredited"


def test_schema_versions_beyond_3_1_2_are_refused():
    with pytest.raises(InvalidInput, match="3.1.9"):
        parse_dcc(NIM.read_bytes().replace(b'schemaVersion="3.1.2"', b'schemaVersion="3.1.9"'))
