"""Read a PTB Digital Calibration Certificate (DCC, XML, schema 3.1.x).

Validated against the DCC 3.1.2 schema vendored in ``schemas/`` (PTB, LGPL-3.0). Pure: no
Flask, no SQLAlchemy, no network; entities and DTDs are never resolved. Reading rules:

* one :class:`CertificateResult` per ``si:real`` (and per element of an ``si:realListXMLList``)
  under ``dcc:measurementResults/dcc:measurementResult/dcc:results``, in document order; of an
  ``si:hybrid`` (one value in several units) only its first representation; ``si:complex``,
  ``si:constant`` and ``dcc:noQuantity`` are not results;
* a ``dcc:quantity`` whose ``refType`` holds ``basic_nominalValue`` (else
  ``basic_referenceValue``) is the nominal of the other quantities in the same ``dcc:list`` or
  ``dcc:data``, not a result: one value is shared by all of them, a list of values pairs with
  lists of equal length, anything else leaves ``nominal`` None. A nominal with no sibling is a
  result of its own, so that no value is lost;
* a result is "as found" when its measurement result's influence conditions carry the
  ``dcc:status`` ``beforeAdjustment`` (or ``beforeRepair``), else "as left";
* an expanded uncertainty given only as ``si:coverageInterval`` is not translated (it has no
  single U); ``expanded_uncertainty`` stays None;
* the provider is an NMI when its name matches :data:`NMIS`, else ``accredited``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from lims.calibration.certificates import (
    CertificateItem,
    CertificateResult,
    Condition,
    ParsedCertificate,
    checked,
    kind_override,
)
from lims.calibration.dsi import dsi_to_unit
from lims.errors import InvalidInput, msg
from lims.units import parse_value

SCHEMA_VERSION = "3.1.2"  # the vendored dcc.xsd; 3.1.0 and 3.1.1 share its structure
DCC = "https://ptb.de/dcc"
SI = "https://ptb.de/si"
_NS = {"dcc": DCC, "si": SI}
_SCHEMA_DIR = Path(__file__).with_name("schemas")
_VERSION = re.compile(r"3\.1\.[0-2]")  # the versions that share 3.1.2's structure
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

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


def parse_dcc(data: bytes, *, provider_kind: str | None = None) -> ParsedCertificate:
    """Parse and validate a PTB Digital Calibration Certificate, schema 3.1.0 to 3.1.2.

    :raises InvalidInput: not well-formed XML, a DTD, not a DCC, an unsupported schemaVersion,
        a schema error (message names its line), an unknown D-SI unit, no numeric results.
    """
    kind = kind_override(provider_kind)
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
        raise InvalidInput(msg("the DCC has no performance date"), field="endPerformanceDate")
    units: dict[str, str] = {}
    results: list[CertificateResult] = []
    for measurement in root.iterfind("dcc:measurementResults/dcc:measurementResult", _NS):
        state = _state(measurement)
        for data_el in measurement.iterfind("dcc:results/dcc:result/dcc:data", _NS):
            parent = data_el.getparent()  # dcc:result, by the path above
            result_name = _text(parent.find("dcc:name", _NS) if parent is not None else None)
            results.extend(r if state == r.state else dataclasses.replace(r, state=state)
                           for r in _walk(data_el, result_name, units))
    if not results:
        raise InvalidInput(msg("the DCC has no numeric results (si:real under dcc:results)"),
                           field="measurementResults")
    number = _clean(core.findtext("dcc:uniqueIdentifier", "", _NS))
    if not number:
        raise InvalidInput(msg("the DCC has no certificate number"), field="uniqueIdentifier")
    return checked(ParsedCertificate(
        format="dcc",
        schema_version=version,
        number=number,
        provider_name=_text(lab.find("dcc:contact/dcc:name", _NS)),
        # ILAC-P10: only an NMI, or a laboratory that states its accreditation, is a root of a
        # chain; a laboratory that states neither is "other" unless the importer says more.
        provider_kind=kind or ("nmi" if is_nmi(*names) else "accredited"
                               if _clean(lab.findtext("dcc:calibrationLaboratoryCode", "", _NS))
                               else "other"),
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
    ))


def is_nmi(*names: str) -> bool:
    """Tell whether any of the laboratory's names is a national metrology institute (NMIS).

    The name must *be* an NMI's name or abbreviation (in any of its languages, one after the
    other), optionally followed by a comma or a parenthesis: "NIST-traceable Cal Services"
    is not NIST, and an NMI is a root of the chain (ILAC-P10), so a false match would
    certify a chain that is not there.
    """
    for name in names:
        folded = " ".join(name.split()).casefold()
        for abbreviation, full_names in NMIS.items():
            candidates = sorted({abbreviation.casefold(), *(f.casefold() for f in full_names)},
                                key=len, reverse=True)
            rest, matched = folded, False
            while True:
                head = next((c for c in candidates if rest.startswith(c)), None)
                if head is None:
                    break
                rest, matched = rest[len(head):].lstrip(" -–/"), True
            if matched and (not rest or rest[0] in ",(（，"):
                return True
    return False


def _load_xml(data: bytes) -> etree._Element:
    """Parse untrusted XML: no entity expansion, no DTD, no network, no huge trees."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False, dtd_validation=False)
    # A DCC has no DTD; one here is at best noise and at worst XXE or "billion laughs". libxml2
    # may already stop on the entity declarations, so the refusal names the DOCTYPE either way.
    no_dtd = InvalidInput(msg("XML with a DOCTYPE (DTD or entity declarations) is not accepted"),
                          field="file")
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        if b"<!DOCTYPE" in data:
            raise no_dtd from exc
        raise InvalidInput(msg("not well-formed XML: line %(line)s: %(error)s",
                               line=exc.lineno, error=exc.msg), field="file",
                           line=exc.lineno) from exc
    except (etree.LxmlError, ValueError) as exc:
        raise InvalidInput(msg("cannot read the XML: %(error)s", error=exc), field="file") from exc
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise no_dtd
    return root


def _schema_version(root: etree._Element) -> str:
    if root.tag != f"{{{DCC}}}digitalCalibrationCertificate":
        raise InvalidInput(msg("not a PTB DCC: the root element is %(tag)r", tag=root.tag), field="file")
    version = root.get("schemaVersion")
    if not version:
        raise InvalidInput(msg("the DCC declares no schemaVersion"), field="schemaVersion")
    if not _VERSION.fullmatch(version.strip()):
        raise InvalidInput(msg("unsupported DCC schemaVersion %(version)r: this LIMS reads 3.1.x",
                               version=version),
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
            raise InvalidInput(msg("the DCC does not conform to schema %(schema)s",
                                   schema=SCHEMA_VERSION), field="file")
        first = errors[0]
        raise InvalidInput(msg("the DCC does not conform to schema %(schema)s: line %(line)s: %(error)s",
                               schema=SCHEMA_VERSION, line=first.line, error=first.message),
                           field="file", line=first.line)


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


def _state(measurement: etree._Element) -> str:
    """"as found" when the measurement result's influence conditions say it was measured
    before an adjustment or repair (dcc:status), else "as left" (JJF 1071-2010 5.12)."""
    for status in measurement.iterfind("dcc:influenceConditions/dcc:influenceCondition/"
                                       "dcc:status", _NS):
        if _clean(status.text) in ("beforeAdjustment", "beforeRepair"):
            return "as found"
    return "as left"


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
            real_list = real.getparent()  # never None: el.iter() stays below el
            is_in_list = real_list is not None and etree.QName(real_list).localname == "realList"
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
        raise InvalidInput(msg("si:real at line %(line)s has no unit", line=el.sourceline), field="si:unit",
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
        items: list[str | None] = [*(el.findtext(path, "", _NS) or "").split()]
        if not items:
            return [None] * len(values)
        if len(items) == 1:
            return items * len(values)
        if len(items) != len(values):
            raise InvalidInput(msg("%(element)s at line %(line)s has %(items)s items for %(values)s values",
                                   element=path.split("/")[-1], line=el.sourceline, items=len(items),
                                   values=len(values)), field=path, line=el.sourceline)
        return list(items)

    dsi_units = spread("si:unitXMLList")
    uncs = spread("si:expandedUncXMLList/si:uncertaintyXMLList")
    ks = spread("si:expandedUncXMLList/si:coverageFactorXMLList")
    ps = spread("si:expandedUncXMLList/si:coverageProbabilityXMLList")
    out = []
    for value, dsi, unc, k, p in zip(values, dsi_units, uncs, ks, ps, strict=True):
        if dsi is None:
            raise InvalidInput(msg("si:realListXMLList at line %(line)s has no unit",
                                   line=el.sourceline),
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
        raise InvalidInput(msg("%(message)s (line %(line)s)",
                               message=exc.message, line=el.sourceline), field="si:value",
                           line=el.sourceline) from exc
    return text


def _unit_at(dsi: str, el: etree._Element, units: dict[str, str]) -> str:
    if dsi not in units:
        try:
            units[dsi] = dsi_to_unit(dsi, field="si:unit")
        except InvalidInput as exc:
            raise InvalidInput(msg("%(message)s (line %(line)s)",
                                   message=exc.message, line=el.sourceline), field="si:unit",
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
        raise InvalidInput(msg("the DCC has no %(path)s", path=path), field=path)
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
        raise InvalidInput(msg("%(text)r is not a date", text=text), field=field) from exc
