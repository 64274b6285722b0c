"""Read an incoming calibration certificate into a neutral, validated structure.

Two formats arrive: PTB's Digital Calibration Certificate (DCC, XML, schema 3.1.x) and the
LIMS's own JSON form (documented at :func:`parse_json`). Both become a
:class:`ParsedCertificate`; a calibration service decides what to store. The received
certificate is the evidence of traceability (ISO/IEC 17025 6.5), so numbers keep the digits
they were written with ("100.00" stays "100.00") and nothing is rounded or converted here.

This module is pure: no Flask, no SQLAlchemy, no network. Every refusal is
:class:`lims.errors.InvalidInput`; no lxml, json or pint exception leaves it.

DCC reading rules, in short:

* one :class:`CertificateResult` per ``si:real`` (and per element of an ``si:realListXMLList``)
  under ``dcc:measurementResults/dcc:measurementResult/dcc:results``, in document order; of an
  ``si:hybrid`` (one value in several units) only its first representation; ``si:complex``,
  ``si:constant`` and ``dcc:noQuantity`` are not results;
* a ``dcc:quantity`` whose ``refType`` holds ``basic_nominalValue`` (else
  ``basic_referenceValue``) is the nominal of the other quantities in the same ``dcc:list`` or
  ``dcc:data``, not a result: one value is shared by all of them, a list of values pairs with
  lists of equal length, anything else leaves ``nominal`` None. A nominal with no sibling is a
  result of its own, so that no value is lost;
* an expanded uncertainty given only as ``si:coverageInterval`` is not translated (it has no
  single U); ``expanded_uncertainty`` stays None;
* the provider is an NMI when its name matches :data:`NMIS`, else ``accredited``.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from lims import validate
from lims.calibration.dsi import dsi_to_unit
from lims.errors import InvalidInput
from lims.units import parse_unit, parse_value

PROVIDER_KINDS = ("nmi", "accredited", "in-house")
SCHEMA_VERSION = "3.1.2"  # the vendored dcc.xsd; 3.1.0 and 3.1.1 share its structure
MAX_BYTES = 20 * 1024 * 1024  # a DCC with embedded PDF is a few MB; more is not a certificate

DCC = "https://ptb.de/dcc"
SI = "https://ptb.de/si"
_NS = {"dcc": DCC, "si": SI}
_SCHEMA_DIR = Path(__file__).with_name("schemas")
_VERSION = re.compile(r"3\.1\.\d+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_COUNTRY = re.compile(r"[A-Z]{2}")

# National metrology institutes (and the BIPM) by abbreviation and by name. Not exhaustive:
# a lab missing here is taken as "accredited", and the caller may override the kind.
# Abbreviations match as whole, case-sensitive words; names match anywhere, ignoring case.
NMIS: dict[str, tuple[str, ...]] = {
    "PTB": ("Physikalisch-Technische Bundesanstalt",),
    "NIM": ("National Institute of Metrology", "中国计量科学研究院"),
    "NIST": ("National Institute of Standards and Technology",),
    "NPL": ("National Physical Laboratory",),
    "LNE": ("Laboratoire national de métrologie et d'essais",),
    "METAS": ("Eidgenössisches Institut für Metrologie", "Federal Institute of Metrology"),
    "NMIJ": ("National Metrology Institute of Japan", "計量標準総合センター"),
    "KRISS": ("Korea Research Institute of Standards and Science", "한국표준과학연구원"),
    "NRC": ("National Research Council Canada", "Conseil national de recherches Canada"),
    "VSL": ("Van Swinden Laboratorium",),
    "INRIM": ("Istituto Nazionale di Ricerca Metrologica",),
    "BIPM": ("Bureau International des Poids et Mesures",
             "International Bureau of Weights and Measures"),
    "NMIA": ("National Measurement Institute, Australia",),
    "NMISA": ("National Metrology Institute of South Africa",),
    "CENAM": ("Centro Nacional de Metrología",),
    "INMETRO": ("Instituto Nacional de Metrologia, Qualidade e Tecnologia",),
    "VNIIM": ("D. I. Mendeleyev Institute for Metrology",),
    "CMI": ("Czech Metrology Institute", "Český metrologický institut"),
    "BEV": ("Bundesamt für Eich- und Vermessungswesen",),
}


@dataclass(frozen=True, slots=True)
class CertificateResult:
    """One reported value. ``unit`` is lims unit text (see :mod:`lims.calibration.dsi`).

    ``expanded_uncertainty`` is in ``unit``; ``nominal`` is in ``nominal_unit``, which is set
    whenever ``nominal`` is (the nominal of a mass error in mg is often given in g).
    """

    quantity: str
    value: str
    unit: str
    dsi_unit: str | None
    nominal: str | None = None
    nominal_unit: str | None = None
    expanded_uncertainty: str | None = None
    k: str | None = None
    coverage_probability: str | None = None
    standards_used: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Condition:
    """An environmental or influence condition; ``unit`` None means ``value`` is free text."""

    name: str
    value: str
    unit: str | None


@dataclass(frozen=True, slots=True)
class CertificateItem:
    name: str
    manufacturer: str
    model: str
    serial_number: str


@dataclass(frozen=True, slots=True)
class ParsedCertificate:
    """What a certificate says, validated; the caller maps asset numbers and stores it.

    ``schema_version`` is the DCC's declared version (None for JSON); ``instrument`` and the
    ``standards_used`` asset numbers come only from the JSON form.
    """

    format: str  # "dcc" or "json"
    schema_version: str | None
    number: str
    provider_name: str
    provider_kind: str  # one of PROVIDER_KINDS
    provider_accreditation: str
    provider_country: str
    calibrated_on: dt.date
    valid_until: dt.date | None
    item: CertificateItem
    instrument: str | None
    standards_used: tuple[str, ...]
    conditions: tuple[Condition, ...]
    conformity: str
    results: tuple[CertificateResult, ...]


def parse_certificate(data: bytes, *, filename: str | None = None,
                      provider_kind: str | None = None) -> ParsedCertificate:
    """Parse a certificate file, DCC XML or LIMS JSON, told apart by its content.

    The file name only decides how to report a file whose content is neither.

    :param provider_kind: overrides the provider kind found in or derived from the file.
    :raises InvalidInput: not a certificate, or a certificate that fails validation.
    """
    if not isinstance(data, bytes | bytearray):
        raise InvalidInput("a certificate file is required", field="file")
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB", field="file")
    first = _first_character(bytes(data))
    suffix = Path(filename).suffix.lower() if filename else ""
    if first == "<" or (first not in ("{", "[") and suffix == ".xml"):
        return parse_dcc(bytes(data), provider_kind=provider_kind)
    if first in ("{", "[") or suffix == ".json":
        return parse_json(_load_json(bytes(data)), provider_kind=provider_kind)
    raise InvalidInput("not a calibration certificate: expected DCC XML or JSON", field="file")


# --------------------------------------------------------------------------- DCC (XML)


def parse_dcc(data: bytes, *, provider_kind: str | None = None) -> ParsedCertificate:
    """Parse and validate a PTB Digital Calibration Certificate, schema 3.1.0 to 3.1.2.

    :raises InvalidInput: not well-formed XML, a DTD, not a DCC, an unsupported schemaVersion,
        a schema error (message names its line), an unknown D-SI unit, no numeric results.
    """
    kind = _kind_override(provider_kind)
    root = _load_xml(data)
    version = _schema_version(root)
    _validate(root)
    admin = _one(root, "dcc:administrativeData")
    core = _one(admin, "dcc:coreData")
    lab = _one(admin, "dcc:calibrationLaboratory")
    names = _all_texts(lab.find("dcc:contact/dcc:name", _NS))
    begin = _xs_date(core.findtext("dcc:beginPerformanceDate", "", _NS), "beginPerformanceDate")
    end = _xs_date(core.findtext("dcc:endPerformanceDate", "", _NS), "endPerformanceDate")
    calibrated_on = end or begin
    if calibrated_on is None:
        raise InvalidInput("the DCC has no performance date", field="endPerformanceDate")
    units: dict[str, str] = {}
    results: list[CertificateResult] = []
    for data_el in root.iterfind("dcc:measurementResults/dcc:measurementResult/dcc:results/"
                                 "dcc:result/dcc:data", _NS):
        result_name = _text(data_el.getparent().find("dcc:name", _NS))
        results.extend(_walk(data_el, result_name, units))
    if not results:
        raise InvalidInput("the DCC has no numeric results (si:real under dcc:results)",
                           field="measurementResults")
    number = _clean(core.findtext("dcc:uniqueIdentifier", "", _NS))
    if not number:
        raise InvalidInput("the DCC has no certificate number", field="uniqueIdentifier")
    return ParsedCertificate(
        format="dcc",
        schema_version=version,
        number=number,
        provider_name=_text(lab.find("dcc:contact/dcc:name", _NS)),
        provider_kind=kind or ("nmi" if is_nmi(*names) else "accredited"),
        provider_accreditation=_clean(lab.findtext("dcc:calibrationLaboratoryCode", "", _NS)),
        provider_country=_clean(lab.findtext("dcc:contact/dcc:location/dcc:countryCode", "", _NS)
                                or core.findtext("dcc:countryCodeISO3166_1", "", _NS)),
        calibrated_on=calibrated_on,
        valid_until=None,  # core DCC 3.1 has no due date; a recalibration interval is the user's
        item=_dcc_item(_one(admin, "dcc:items")),
        instrument=None,
        standards_used=(),
        conditions=_dcc_conditions(root, units),
        conformity="; ".join(dict.fromkeys(
            _clean(el.text) for el in root.iter(f"{{{DCC}}}conformity") if _clean(el.text))),
        results=tuple(results),
    )


def is_nmi(*names: str) -> bool:
    """Tell whether any of the laboratory's names is a national metrology institute (NMIS)."""
    for name in names:
        folded = " ".join(name.split()).casefold()
        for abbreviation, full_names in NMIS.items():
            if re.search(rf"(?<!\w){re.escape(abbreviation)}(?!\w)", name):
                return True
            if any(full.casefold() in folded for full in full_names):
                return True
    return False


def _load_xml(data: bytes) -> etree._Element:
    """Parse untrusted XML: no entity expansion, no DTD, no network, no huge trees."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False, dtd_validation=False)
    # A DCC has no DTD; one here is at best noise and at worst XXE or "billion laughs". libxml2
    # may already stop on the entity declarations, so the refusal names the DOCTYPE either way.
    no_dtd = InvalidInput("XML with a DOCTYPE (DTD or entity declarations) is not accepted",
                          field="file")
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        if b"<!DOCTYPE" in data:
            raise no_dtd from exc
        raise InvalidInput(f"not well-formed XML: line {exc.lineno}: {exc.msg}", field="file",
                           line=exc.lineno) from exc
    except (etree.LxmlError, ValueError) as exc:
        raise InvalidInput(f"cannot read the XML: {exc}", field="file") from exc
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise no_dtd
    return root


def _schema_version(root: etree._Element) -> str:
    if root.tag != f"{{{DCC}}}digitalCalibrationCertificate":
        raise InvalidInput(f"not a PTB DCC: the root element is {root.tag!r}", field="file")
    version = root.get("schemaVersion")
    if not version:
        raise InvalidInput("the DCC declares no schemaVersion", field="schemaVersion")
    if not _VERSION.fullmatch(version.strip()):
        raise InvalidInput(f"unsupported DCC schemaVersion {version!r}: this LIMS reads 3.1.x",
                           field="schemaVersion")
    return version.strip()


_SCHEMA_LOCK = threading.Lock()


@functools.cache
def _schema() -> etree.XMLSchema:
    """Load the vendored DCC 3.1.2 schema once per process (it takes ~100 ms)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.XMLSchema(etree.parse(str(_SCHEMA_DIR / "dcc.xsd"), parser))


def _validate(root: etree._Element) -> None:
    """Validate against 3.1.2, whose XSD fixes schemaVersion to "3.1.2".

    The attribute is set to 3.1.2 for the check and put back afterwards: 3.1.0 and 3.1.1
    documents have the same structure, and validating in place keeps the line numbers.
    """
    declared = root.get("schemaVersion")
    root.set("schemaVersion", SCHEMA_VERSION)
    try:
        schema = _schema()
        with _SCHEMA_LOCK:  # error_log belongs to the shared schema object
            valid = schema.validate(root)
            errors = list(schema.error_log)
    finally:
        root.set("schemaVersion", declared or "")
    if not valid:
        if not errors:
            raise InvalidInput(f"the DCC does not conform to schema {SCHEMA_VERSION}", field="file")
        first = errors[0]
        raise InvalidInput(f"the DCC does not conform to schema {SCHEMA_VERSION}: line {first.line}: "
                           f"{first.message}", field="file", line=first.line)


@dataclass(frozen=True, slots=True)
class _Value:
    value: str
    dsi_unit: str
    unit: str
    uncertainty: str | None = None
    k: str | None = None
    p: str | None = None


def _walk(container: etree._Element, fallback: str, units: dict[str, str]) -> Iterator[CertificateResult]:
    """Yield the results of a dcc:data or dcc:list in document order, nominals attached."""
    quantities = container.findall("dcc:quantity", _NS)
    nominal = _nominal_quantity(quantities)
    if nominal is not None and len(quantities) == 1:
        nominal = None  # nothing to attach it to: report it as a result
    nominals = _values(nominal, units) if nominal is not None else []
    for child in container.iterchildren(f"{{{DCC}}}quantity", f"{{{DCC}}}list"):
        name = _text(child.find("dcc:name", _NS)) or fallback
        if child.tag == f"{{{DCC}}}list":
            yield from _walk(child, name, units)
            continue
        if child is nominal:
            continue
        values = _values(child, units)
        paired: list[_Value | None]
        if len(nominals) == 1:
            paired = [nominals[0]] * len(values)
        elif nominals and len(nominals) == len(values):
            paired = list(nominals)
        else:
            paired = [None] * len(values)
        for value, nom in zip(values, paired, strict=True):
            yield CertificateResult(
                quantity=name, value=value.value, unit=value.unit, dsi_unit=value.dsi_unit,
                nominal=nom.value if nom else None, nominal_unit=nom.unit if nom else None,
                expanded_uncertainty=value.uncertainty, k=value.k, coverage_probability=value.p)


def _nominal_quantity(quantities: list[etree._Element]) -> etree._Element | None:
    """The quantity marked as the nominal value of its list (PTB refType conventions)."""
    for ref_type in ("basic_nominalValue", "basic_referenceValue"):
        for quantity in quantities:
            if ref_type in (quantity.get("refType") or "").split():
                return quantity
    return None


def _values(quantity: etree._Element, units: dict[str, str]) -> list[_Value]:
    """The numeric values of a dcc:quantity, expanded and in document order."""
    for child in quantity.iterchildren(f"{{{SI}}}*"):
        return _si_values(child, units)
    return []  # dcc:noQuantity


def _si_values(el: etree._Element, units: dict[str, str]) -> list[_Value]:
    tag = etree.QName(el).localname
    if tag == "real":
        return [_real(el, units)]
    if tag == "realListXMLList":
        return _xml_list(el, units)
    if tag == "hybrid":
        # One value in several units; the first representation is the value.
        for child in el.iterchildren(f"{{{SI}}}*"):
            return _si_values(child, units)
    if tag == "list":
        values = []
        for real in el.iter(f"{{{SI}}}real"):
            real_list = real.getparent()
            is_in_list = etree.QName(real_list).localname == "realList"
            values.append(_real(real, units, real_list if is_in_list else None))
        return values
    return []  # si:complex, si:constant, si:complexList


def _real(el: etree._Element, units: dict[str, str], real_list: etree._Element | None = None) -> _Value:
    """Read an si:real; inside an si:realList it may take the list's unit and uncertainty."""
    dsi = _clean(el.findtext("si:unit", "", _NS))
    unc = el.find("si:expandedUnc", _NS)
    if real_list is not None:
        dsi = dsi or _clean(real_list.findtext("si:listUnit", "", _NS))
        if unc is None and el.find("si:coverageInterval", _NS) is None:
            unc = real_list.find("si:listUnivariateUnc/si:expandedUnc", _NS)
    if not dsi:
        raise InvalidInput(f"si:real at line {el.sourceline} has no unit", field="si:unit",
                           line=el.sourceline)
    return _Value(
        value=_number_at(el.findtext("si:value", "", _NS), el),
        dsi_unit=dsi, unit=_unit_at(dsi, el, units),
        uncertainty=None if unc is None else _number_at(unc.findtext("si:uncertainty", "", _NS), unc),
        k=None if unc is None else _number_at(unc.findtext("si:coverageFactor", "", _NS), unc),
        p=None if unc is None else _number_at(unc.findtext("si:coverageProbability", "", _NS), unc),
    )


def _xml_list(el: etree._Element, units: dict[str, str]) -> list[_Value]:
    """Expand an si:realListXMLList; a one-item unit or uncertainty list applies to every value."""
    values = el.findtext("si:valueXMLList", "", _NS).split()

    def spread(path: str) -> list[str | None]:
        items = (el.findtext(path, "", _NS) or "").split()
        if not items:
            return [None] * len(values)
        if len(items) == 1:
            return items * len(values)
        if len(items) != len(values):
            raise InvalidInput(f"{path.split('/')[-1]} at line {el.sourceline} has {len(items)} "
                               f"items for {len(values)} values", field=path, line=el.sourceline)
        return list(items)

    dsi_units = spread("si:unitXMLList")
    uncs = spread("si:expandedUncXMLList/si:uncertaintyXMLList")
    ks = spread("si:expandedUncXMLList/si:coverageFactorXMLList")
    ps = spread("si:expandedUncXMLList/si:coverageProbabilityXMLList")
    out = []
    for value, dsi, unc, k, p in zip(values, dsi_units, uncs, ks, ps, strict=True):
        if dsi is None:
            raise InvalidInput(f"si:realListXMLList at line {el.sourceline} has no unit",
                               field="si:unitXMLList", line=el.sourceline)
        out.append(_Value(
            value=_number_at(value, el), dsi_unit=dsi, unit=_unit_at(dsi, el, units),
            uncertainty=unc and _number_at(unc, el), k=k and _number_at(k, el),
            p=p and _number_at(p, el)))
    return out


def _number_at(text: str, el: etree._Element) -> str:
    """Return the number as written, refusing one the LIMS could not later read."""
    text = text.strip()
    try:
        parse_value(text)
    except InvalidInput as exc:
        raise InvalidInput(f"{exc.message} (line {el.sourceline})", field="si:value",
                           line=el.sourceline) from exc
    return text


def _unit_at(dsi: str, el: etree._Element, units: dict[str, str]) -> str:
    if dsi not in units:
        try:
            units[dsi] = dsi_to_unit(dsi, field="si:unit")
        except InvalidInput as exc:
            raise InvalidInput(f"{exc.message} (line {el.sourceline})", field="si:unit",
                               line=el.sourceline, dsi_unit=dsi) from exc
    return units[dsi]


def _dcc_conditions(root: etree._Element, units: dict[str, str]) -> tuple[Condition, ...]:
    """Influence conditions of all measurement results; a repeated condition is kept once."""
    conditions: dict[Condition, None] = {}
    for cond in root.iterfind("dcc:measurementResults//dcc:influenceCondition", _NS):
        name = _text(cond.find("dcc:name", _NS))
        data = cond.find("dcc:data", _NS)
        named_values = [(_text(q.find("dcc:name", _NS)), v)
                        for q in (data.iter(f"{{{DCC}}}quantity") if data is not None else ())
                        for v in _values(q, units)]
        for quantity_name, value in named_values:
            label = name if len(named_values) == 1 or not quantity_name else f"{name}, {quantity_name}"
            conditions[Condition(label, value.value, value.unit)] = None
        if not named_values and data is not None:
            text = _text(data.find("dcc:text", _NS))
            if text:
                conditions[Condition(name, text, None)] = None
    return tuple(conditions)


def _dcc_item(items: etree._Element) -> CertificateItem:
    """The calibration item: the first dcc:item; a named set of several items gives its name."""
    all_items = items.findall("dcc:item", _NS)
    first = all_items[0]
    name = _text(first.find("dcc:name", _NS))
    if len(all_items) > 1 and items.find("dcc:name", _NS) is not None:
        name = _text(items.find("dcc:name", _NS))
    identifications = items.findall("dcc:identifications/dcc:identification", _NS) + \
        first.findall("dcc:identifications/dcc:identification", _NS)
    return CertificateItem(
        name=name,
        manufacturer=_text(first.find("dcc:manufacturer/dcc:name", _NS)),
        model=_clean(first.findtext("dcc:model", "", _NS))
        or _identification(identifications, "basic_modelNumber", r"\b(model|type)\b|型号"),
        serial_number=_identification(identifications, "basic_serialNumber",
                                      r"serial|seriennummer|序列号|出厂编号")
        or next((_clean(i.findtext("dcc:value", "", _NS)) for i in identifications
                 if i.findtext("dcc:issuer", "", _NS).strip() == "manufacturer"), ""),
    )


def _identification(identifications: list[etree._Element], ref_type: str, pattern: str) -> str:
    """The value of the identification marked by refType, or else named like ``pattern``."""
    for ident in identifications:
        if ref_type in (ident.get("refType") or "").split():
            return _clean(ident.findtext("dcc:value", "", _NS))
    for ident in identifications:
        if any(re.search(pattern, t, re.IGNORECASE) for t in _all_texts(ident.find("dcc:name", _NS))):
            return _clean(ident.findtext("dcc:value", "", _NS))
    return ""


def _one(parent: etree._Element, path: str) -> etree._Element:
    el = parent.find(path, _NS)
    if el is None:  # the schema requires these; a guard in case it ever does not
        raise InvalidInput(f"the DCC has no {path}", field=path)
    return el


def _all_texts(text_el: etree._Element | None) -> list[str]:
    if text_el is None:
        return []
    return [t for t in (_clean(c.text) for c in text_el.findall("dcc:content", _NS)) if t]


def _text(text_el: etree._Element | None) -> str:
    """A dcc:textType in English if given, else in its first language."""
    if text_el is None:
        return ""
    contents = text_el.findall("dcc:content", _NS)
    english = [c for c in contents if c.get("lang") == "en"]
    for content in english + contents:
        if _clean(content.text):
            return _clean(content.text)
    return ""


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


def _xs_date(text: str, field: str) -> dt.date | None:
    """An xs:date; a time-zone suffix ("2024-03-05+08:00") does not change the calendar day."""
    text = text.strip()
    if not text:
        return None
    try:
        if not _DATE.match(text):
            raise ValueError(text)
        return dt.date.fromisoformat(text[:10])
    except ValueError as exc:
        raise InvalidInput(f"{text!r} is not a date", field=field) from exc


# --------------------------------------------------------------------------- LIMS JSON


class _JSONNumber(str):
    """A JSON number literal kept as the text it was written as ("100.00", not 100.0)."""


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number")


def _load_json(data: bytes) -> Any:
    try:
        return json.loads(data, parse_float=_JSONNumber, parse_int=_JSONNumber,
                          parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                           field="file") from exc
    except (ValueError, RecursionError) as exc:  # bad encoding, NaN, absurd nesting
        raise InvalidInput(f"malformed JSON: {exc}", field="file") from exc


_TOP_KEYS = frozenset({"number", "provider", "instrument", "item", "calibrated_on", "valid_until",
                       "standards_used", "conditions", "conformity", "results"})
_PROVIDER_KEYS = frozenset({"name", "kind", "accreditation", "country"})
_ITEM_KEYS = frozenset({"name", "manufacturer", "model", "serial_number"})
_CONDITION_KEYS = frozenset({"name", "value", "unit"})
_RESULT_KEYS = frozenset({"quantity", "nominal", "nominal_unit", "value", "unit",
                          "expanded_uncertainty", "k", "coverage_probability", "standards_used"})


def parse_json(obj: object, *, provider_kind: str | None = None) -> ParsedCertificate:
    """Validate the LIMS JSON certificate form (an already decoded JSON object)::

        {"number": "CAL-2024-0173",
         "provider": {"name": "…", "kind": "nmi" | "accredited" | "in-house",
                      "accreditation": "CNAS L0001",   # required when kind is "accredited"
                      "country": "CN"},                # optional, ISO 3166-1 alpha-2
         "instrument": "BAL-0007",                     # optional asset number
         "item": {"name": "…", "manufacturer": "…", "model": "…", "serial_number": "…"},
         "calibrated_on": "2024-03-05", "valid_until": "2025-03-04",   # valid_until optional
         "standards_used": ["WS-E1-01"],               # optional asset numbers
         "conditions": [{"name": "Temperature", "value": "20.1", "unit": "℃"},
                        {"name": "Location", "value": "Lab 2"}],       # no unit: free text
         "conformity": "…",                            # optional text
         "results": [{"quantity": "Mass", "nominal": "100", "nominal_unit": "g",
                      "value": "0.012", "unit": "mg", "expanded_uncertainty": "0.016",
                      "k": "2", "coverage_probability": "0.95",
                      "standards_used": ["WS-E1-01"]}]}

    Numbers may be strings or JSON numbers; :func:`parse_certificate` keeps a JSON number's
    literal digits, while a float handed in directly is written with ``str()`` (100.0).
    ``nominal_unit`` defaults to ``unit``; the expanded uncertainty is in ``unit`` and comes
    with ``k`` or ``coverage_probability`` (a fraction, 0.95), JCGM 100:2008 7.2.3.
    Unknown keys are refused, so a misspelt optional field is not silently dropped.

    :raises InvalidInput: naming the field, e.g. ``results[2].unit``.
    """
    kind_override = _kind_override(provider_kind)
    top = _object(obj, "", _TOP_KEYS)
    provider = _object(top.get("provider"), "provider", _PROVIDER_KEYS, required=True)
    kind = _text_field(provider.get("kind"), "provider.kind", max_len=20)
    if kind not in PROVIDER_KINDS:
        raise InvalidInput(f"must be one of {', '.join(PROVIDER_KINDS)}, not {kind!r}",
                           field="provider.kind")
    accreditation = _text_field(provider.get("accreditation"), "provider.accreditation",
                                required=kind == "accredited", max_len=80)
    country = _text_field(provider.get("country"), "provider.country", required=False).upper()
    if country and not _COUNTRY.fullmatch(country):
        raise InvalidInput("must be a two-letter ISO 3166-1 country code", field="provider.country")
    calibrated_on = _date_field(top.get("calibrated_on"), "calibrated_on")
    valid_until = _date_field(top.get("valid_until"), "valid_until", required=False)
    if calibrated_on is None:  # pragma: no cover - required=True already refused it
        raise InvalidInput("is required (YYYY-MM-DD)", field="calibrated_on")
    if valid_until is not None and valid_until < calibrated_on:
        raise InvalidInput(f"is before calibrated_on ({calibrated_on.isoformat()})", field="valid_until")
    item = _object(top.get("item"), "item", _ITEM_KEYS, required=False)
    results = _list(top.get("results"), "results", required=True)
    if not results:
        raise InvalidInput("at least one result is required", field="results")
    instrument = top.get("instrument")
    return ParsedCertificate(
        format="json",
        schema_version=None,
        number=_text_field(top.get("number"), "number", max_len=80),
        provider_name=_text_field(provider.get("name"), "provider.name"),
        provider_kind=kind_override or kind,
        provider_accreditation=accreditation,
        provider_country=country,
        calibrated_on=calibrated_on,
        valid_until=valid_until,
        item=CertificateItem(
            name=_text_field(item.get("name"), "item.name", required=bool(item)),
            manufacturer=_text_field(item.get("manufacturer"), "item.manufacturer", required=False),
            model=_text_field(item.get("model"), "item.model", required=False),
            serial_number=_text_field(item.get("serial_number"), "item.serial_number",
                                      required=False, max_len=80),
        ),
        instrument=None if instrument is None else _asset(instrument, "instrument"),
        standards_used=_assets(top.get("standards_used"), "standards_used"),
        conditions=tuple(_json_condition(c, f"conditions[{i}]")
                         for i, c in enumerate(_list(top.get("conditions"), "conditions"))),
        conformity=_text_field(top.get("conformity"), "conformity", required=False, max_len=2000),
        results=tuple(_json_result(r, f"results[{i}]") for i, r in enumerate(results)),
    )


def _json_result(obj: object, at: str) -> CertificateResult:
    r = _object(obj, at, _RESULT_KEYS, required=True)
    unit = _unit_field(r.get("unit"), f"{at}.unit")
    nominal = _number_field(r.get("nominal"), f"{at}.nominal", required=False)
    nominal_unit = None
    if r.get("nominal_unit") is not None:
        if nominal is None:
            raise InvalidInput("is given without a nominal", field=f"{at}.nominal_unit")
        nominal_unit = _unit_field(r.get("nominal_unit"), f"{at}.nominal_unit")
    uncertainty = _number_field(r.get("expanded_uncertainty"), f"{at}.expanded_uncertainty",
                                required=False)
    k = _number_field(r.get("k"), f"{at}.k", required=False)
    p = _number_field(r.get("coverage_probability"), f"{at}.coverage_probability", required=False)
    if uncertainty is not None and parse_value(uncertainty) < 0:
        raise InvalidInput("must not be negative", field=f"{at}.expanded_uncertainty")
    if k is not None and parse_value(k) < 1:
        raise InvalidInput("a coverage factor is at least 1", field=f"{at}.k")
    if p is not None and not 0 < parse_value(p) <= 1:
        raise InvalidInput("must be a fraction in (0, 1], e.g. 0.95", field=f"{at}.coverage_probability")
    if uncertainty is not None and k is None and p is None:
        raise InvalidInput("give k or coverage_probability with the expanded uncertainty "
                           "(JCGM 100:2008 7.2.3)", field=f"{at}.k")
    if uncertainty is None and (k is not None or p is not None):
        raise InvalidInput("k or coverage_probability is given without an expanded uncertainty",
                           field=f"{at}.expanded_uncertainty")
    return CertificateResult(
        quantity=_text_field(r.get("quantity"), f"{at}.quantity"),
        value=_number_field(r.get("value"), f"{at}.value") or "",
        unit=unit,
        dsi_unit=None,
        nominal=nominal,
        nominal_unit=(nominal_unit or unit) if nominal is not None else None,
        expanded_uncertainty=uncertainty,
        k=k,
        coverage_probability=p,
        standards_used=_assets(r.get("standards_used"), f"{at}.standards_used"),
    )


def _json_condition(obj: object, at: str) -> Condition:
    c = _object(obj, at, _CONDITION_KEYS, required=True)
    name = _text_field(c.get("name"), f"{at}.name")
    if c.get("unit") is None:
        value = c.get("value")
        if isinstance(value, _JSONNumber | int | float) and not isinstance(value, bool):
            return Condition(name, _number_field(value, f"{at}.value") or "", None)
        return Condition(name, _text_field(value, f"{at}.value"), None)
    return Condition(name, _number_field(c.get("value"), f"{at}.value") or "",
                     _unit_field(c.get("unit"), f"{at}.unit"))


def _object(value: object, at: str, keys: frozenset[str], *, required: bool = False) -> Mapping[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput("a certificate must be a JSON object" if not at else "must be an object",
                           field=at or None)
    unknown = sorted(str(k) for k in value if k not in keys)
    if unknown:
        where = f"{at}." if at else ""
        raise InvalidInput(f"unknown field {unknown[0]!r}; allowed: {', '.join(sorted(keys))}",
                           field=f"{where}{unknown[0]}")
    return value


def _list(value: object, at: str, *, required: bool = False) -> list[Any]:
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise InvalidInput("is required (a list)" if value is None else "must be a list", field=at)
    return value


def _text_field(value: object, at: str, *, required: bool = True, max_len: int = 200) -> str:
    if isinstance(value, _JSONNumber):
        raise InvalidInput("must be text, not a number", field=at)
    return validate.text(value, at, required=required, max_len=max_len)


def _number_field(value: object, at: str, *, required: bool = True) -> str | None:
    """A number as text with its digits as written; a float from elsewhere becomes str(x)."""
    if value is None or value == "":
        if required:
            raise InvalidInput("is required (a number, e.g. \"100.00\")", field=at)
        return None
    if isinstance(value, float) and value == value and value not in (float("inf"), float("-inf")):
        value = repr(value)  # the shortest text that reads back as the same float
    elif isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise InvalidInput("must be a number, e.g. \"100.00\"", field=at)
    text = str(value).strip()
    parse_value(text, field=at)
    return text


def _unit_field(value: object, at: str) -> str:
    text = _text_field(value, at, max_len=40)
    parse_unit(text, field=at)
    return text


def _date_field(value: object, at: str, *, required: bool = True) -> dt.date | None:
    if value is None or value == "":
        if required:
            raise InvalidInput("is required (YYYY-MM-DD)", field=at)
        return None
    if not isinstance(value, str) or isinstance(value, _JSONNumber) or not _DATE.fullmatch(value.strip()):
        raise InvalidInput(f"{value!r} is not a date (YYYY-MM-DD)", field=at)
    return validate.date(value.strip(), at)


def _asset(value: object, at: str) -> str:
    return _text_field(value, at, max_len=40)  # instruments.asset_number is VARCHAR(40)


def _assets(value: object, at: str) -> tuple[str, ...]:
    return tuple(_asset(v, f"{at}[{i}]") for i, v in enumerate(_list(value, at)))


# --------------------------------------------------------------------------- shared


def _kind_override(kind: str | None) -> str | None:
    if kind is not None and kind not in PROVIDER_KINDS:
        raise InvalidInput(f"must be one of {', '.join(PROVIDER_KINDS)}, not {kind!r}",
                           field="provider_kind")
    return kind


def _first_character(data: bytes) -> str:
    """The first non-blank character, looking through a byte-order mark."""
    head = data[:256]
    for bom, encoding in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"),
                          (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):
            return head[len(bom):].decode(encoding, errors="ignore").lstrip()[:1]
    return head.decode("utf-8", errors="ignore").lstrip()[:1]
