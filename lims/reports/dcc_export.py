"""Write a certificate as a PTB Digital Calibration Certificate (DCC 3.1.2 XML).

Built element by element with lxml (no text templates: every value is escaped by the
library) from a :class:`~lims.reports.certificate_content.CertificateContent`, and validated
against the vendored DCC 3.1.2 schema before it is returned. Pure: no Flask, no session.

Shape, chosen so that :func:`lims.calibration.dcc.parse_dcc` reads every point back with its
value, D-SI unit, U, k and nominal (its reading rules are in that module's docstring):

* one ``dcc:measurementResult`` per adjustment state; when the item was adjusted, the
  as-found one's influence conditions carry ``dcc:status`` ``beforeAdjustment`` and the
  as-left one's ``afterAdjustment`` (JJF 1071-2010 5.12; ISO/IEC 17025 7.8.4.1 d);
* in it one ``dcc:result`` per quantity calibrated, whose ``dcc:data/dcc:list`` holds the
  nominal values (refType ``basic_nominalValue``), the reference values of the standard
  (``basic_referenceValue``), the indications (``basic_indicatedValue``) and the errors
  (``basic_measurementError``) with their expanded uncertainty, each as an
  ``si:realListXMLList`` of one value per point; the per-point verdict and the MPE (as
  tolerance limits) go into that quantity's ``dcc:measurementMetaData``, which the reader
  does not take for results;
* a quantity whose points cannot share a list (a value or U missing at some points only)
  is written one ``dcc:list`` per point with ``si:real`` values instead.

Numbers are written as printed (already rounded, ILAC-P14); only the minus sign U+2212 and
digit-group spaces are normalised, because ``si:decimalType`` allows neither.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from zoneinfo import ZoneInfo

from lxml import etree

from lims.calibration.dcc import _SCHEMA_LOCK, DCC, SCHEMA_VERSION, SI, _schema
from lims.calibration.dsi import PREFIXES, UNITS, dsi_to_unit
from lims.errors import InvalidInput, ReportError, msg
from lims.reports.certificate_content import (
    CALIBRATION_CERTIFICATE,
    VERIFICATION_CERTIFICATE,
    VERIFICATION_NOTICE,
    CertificateContent,
    Condition,
    Party,
    PointLine,
)
from lims.units import parse_unit, ureg

SOFTWARE_NAME = "LIMS"
_NSMAP = {"dcc": DCC, "si": SI}
_DECIMAL = re.compile(r"[-+]?((\d*\.\d+)|(\d+\.\d*)|(\d+\.?))([Ee][-+]?\d+)?")
_K = re.compile(r"\+?(([1-9]\d*\.\d*)|([1-9]\d*))")
_PROBABILITY = re.compile(r"\+?((0(\.\d*)?)|(1(\.0*)?))")
_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]")
_EMPTY = ("", "—", "–", "-", "/", "N/A", "n/a")
# ILAC-G8 verdicts as the LIMS writes them -> the DCC's conformity vocabulary.
_CONFORMITY = {"pass": "pass", "fail": "fail", "conditional pass": "conditionalPass",
               "conditional fail": "conditionalFail"}
_TITLES = {
    CALIBRATION_CERTIFICATE: "校准证书 Calibration certificate",
    VERIFICATION_CERTIFICATE: "检定证书 Verification certificate",
    VERIFICATION_NOTICE: "检定结果通知书 Notice of verification result",
}
_ON_SITE = re.compile(r"现场|on[- ]site|customer|客户", re.IGNORECASE)


def build_dcc(content: CertificateContent, *, software_version: str) -> bytes:
    """Return the DCC 3.1.2 XML (UTF-8) of ``content``, validated against the schema.

    :raises ReportError: a number or unit the DCC cannot carry (naming the point and the
        field), or a document the schema refuses (naming the XSD message).
    """
    if content.kind not in _TITLES:
        raise ReportError(msg("a %(kind)s has no DCC: only certificates have", kind=content.kind),
                          field="kind", kind=content.kind)
    if not content.points:
        raise ReportError(msg("a certificate without calibration points has no DCC results"),
                          field="points")
    root = _el(None, "dcc:digitalCalibrationCertificate", schemaVersion=SCHEMA_VERSION)
    try:
        _administrative_data(_el(root, "dcc:administrativeData"), content, software_version)
        results = _el(root, "dcc:measurementResults")
        groups = _state_groups(content.points)
        adjusted = len(groups) > 1
        for state, points in groups:
            _measurement_result(results, content, state, points, adjusted=adjusted)
    except ValueError as exc:  # lxml: a control character or NUL, which XML cannot carry
        raise ReportError(msg("the certificate holds text XML cannot carry: %(reason)s", reason=exc),
                          field="dcc") from exc
    validate_dcc(root)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8",
                                pretty_print=True))


def validate_dcc(root: etree._Element) -> None:
    """Validate a DCC tree against the vendored 3.1.2 schema (parsed once per process).

    :raises ReportError: naming the first XSD message and where it is.
    """
    schema = _schema()
    with _SCHEMA_LOCK:  # the error log belongs to the shared schema object
        valid = schema.validate(root)
        errors = list(schema.error_log)
    if not valid:
        first = errors[0] if errors else None
        message = first.message if first is not None else "invalid"
        if first is not None and first.path:
            raise ReportError(msg("the DCC does not conform to schema %(version)s at %(path)s: "
                                  "%(message)s", version=SCHEMA_VERSION, path=first.path,
                                  message=message), field="dcc", xsd_message=message)
        raise ReportError(msg("the DCC does not conform to schema %(version)s: %(message)s",
                              version=SCHEMA_VERSION, message=message),
                          field="dcc", xsd_message=message)


# --------------------------------------------------------------------------- elements


def _el(parent: etree._Element | None, tag: str, text: str | None = None,
        **attrib: str) -> etree._Element:
    prefix, _, local = tag.partition(":")
    qname = f"{{{_NSMAP[prefix]}}}{local}"
    el = (etree.Element(qname, nsmap=_NSMAP) if parent is None
          else etree.SubElement(parent, qname))
    for key, value in attrib.items():
        el.set(key, value)
    if text is not None:
        el.text = text
    return el


def split_languages(text: str) -> tuple[str, str]:
    """Split a bilingual label as the LIMS writes them ("示值误差 Error of indication") into
    its Chinese and English parts; ("", text) when there is no Chinese, (text, "") when
    there is no English after it."""
    text = " ".join(text.split())
    last = None
    for match in _CJK.finditer(text):
        last = match
    if last is None:
        return "", text
    zh, en = text[:last.end()].strip(), text[last.end():].strip(" ,;/")
    if not re.search(r"[A-Za-z]", en):
        return text, ""
    # A closing bracket of the Chinese part stays with it: "天平（2）" is not English.
    return zh, en


def _text(parent: etree._Element, tag: str, text: str, *, en: str = "") -> etree._Element:
    """A dcc:textType: the Chinese and English parts (zh is the mandatory language)."""
    el = _el(parent, tag)
    zh, english = split_languages(text)
    english = en or english
    if zh:
        _el(el, "dcc:content", zh, lang="zh")
    if english:
        _el(el, "dcc:content", english, lang="en")
    if not zh and not english:
        _el(el, "dcc:content", "—")
    return el


def _rich(parent: etree._Element, tag: str, *texts: str, **attrib: str) -> etree._Element:
    """A dcc:richContentType holding each text, split into its languages."""
    el = _el(parent, tag, **attrib)
    for text in texts:
        zh, en = split_languages(text)
        if zh:
            _el(el, "dcc:content", zh, lang="zh")
        if en:
            _el(el, "dcc:content", en, lang="en")
    return el


def _contact(parent: etree._Element, tag: str, party: Party, *, country: str | None) -> None:
    el = _el(parent, tag)
    names = _el(el, "dcc:name")
    if party.name:
        _el(names, "dcc:content", party.name, lang="zh" if _CJK.search(party.name) else "en")
    if party.name_en and party.name_en != party.name:
        _el(names, "dcc:content", party.name_en, lang="en")
    if not len(names):
        _el(names, "dcc:content", "—")
    email = party.contact if "@" in party.contact else ""
    _el(el, "dcc:eMail", email)
    if party.contact and not email:
        _el(el, "dcc:phone", party.contact)
    location = _el(el, "dcc:location")
    if country:
        _el(location, "dcc:countryCode", country)
    _rich(location, "dcc:further", *([party.address] if party.address else []))


# --------------------------------------------------------------------------- administrative


def _administrative_data(admin: etree._Element, c: CertificateContent,
                         software_version: str) -> None:
    tz = ZoneInfo(c.timezone)
    software = _el(_el(admin, "dcc:dccSoftware"), "dcc:software")
    _text(software, "dcc:name", SOFTWARE_NAME,
          en=f"{SOFTWARE_NAME} (laboratory information management system)")
    _el(software, "dcc:release", software_version or "unknown")
    _el(software, "dcc:type", "application")

    core = _el(admin, "dcc:coreData")
    _el(core, "dcc:countryCodeISO3166_1", "CN")
    _el(core, "dcc:usedLangCodeISO639_1", "zh")
    _el(core, "dcc:usedLangCodeISO639_1", "en")
    _el(core, "dcc:mandatoryLangCodeISO639_1", "zh")
    _el(core, "dcc:uniqueIdentifier", c.number)
    ids = _el(core, "dcc:identifications")
    _identification(ids, "calibrationLaboratory", c.request_number, "委托编号 Request number",
                    ref_type="basic_orderNumber")
    _el(core, "dcc:receiptDate", c.received_at.astimezone(tz).date().isoformat())
    _el(core, "dcc:beginPerformanceDate", c.calibrated_on.isoformat())
    _el(core, "dcc:endPerformanceDate", c.calibrated_on.isoformat())
    _el(core, "dcc:performanceLocation", "customer" if _ON_SITE.search(c.place) else "laboratory")

    items = _el(admin, "dcc:items")
    item = _el(items, "dcc:item")
    _text(item, "dcc:name", c.item.name)
    details = [t for t in (
        f"准确度等级 Accuracy class: {c.item.accuracy_class}" if c.item.accuracy_class else "",
        f"收样状态 Condition on receipt: {c.item.condition_on_receipt}"
        if c.item.condition_on_receipt else "") if t]
    if details:
        _rich(item, "dcc:description", *details)
    manufacturer = _el(item, "dcc:manufacturer")
    _text(manufacturer, "dcc:name", c.item.manufacturer or "—")
    if c.item.model:
        _el(item, "dcc:model", c.item.model)
    item_ids = _el(item, "dcc:identifications")
    if c.item.serial_number:
        _identification(item_ids, "manufacturer", c.item.serial_number,
                        "出厂编号 Serial number", ref_type="basic_serialNumber")
    _identification(item_ids, "calibrationLaboratory", c.item.sample_number,
                    "样品编号 Sample number", ref_type="basic_sampleNumber")

    lab = _el(admin, "dcc:calibrationLaboratory")
    _contact(lab, "dcc:contact", c.lab, country="CN")

    people = _el(admin, "dcc:respPersons")
    approver = _approver_index(c)
    for i, sig in enumerate(c.signatures):
        person = _el(people, "dcc:respPerson")
        contact = _el(person, "dcc:person")
        _el(_el(contact, "dcc:name"), "dcc:content", sig.name or "—")
        if sig.at is not None:
            _rich(person, "dcc:description",
                  f"签名时间 Signed at {sig.at.astimezone(tz).isoformat(timespec='minutes')}")
        _el(person, "dcc:role", sig.meaning)
        if i == approver:
            _el(person, "dcc:mainSigner", "true")

    _contact(admin, "dcc:customer", c.customer, country=None)
    _statements(_el(admin, "dcc:statements"), c)


def _approver_index(c: CertificateContent) -> int:
    for i, sig in enumerate(c.signatures):
        if "批准" in sig.meaning or "approv" in sig.meaning.lower():
            return i
    return len(c.signatures) - 1


def _identification(parent: etree._Element, issuer: str, value: str, name: str, *,
                    ref_type: str) -> None:
    ident = _el(parent, "dcc:identification", refType=ref_type)
    _el(ident, "dcc:issuer", issuer)
    _el(ident, "dcc:value", value or "—")
    _text(ident, "dcc:name", name)


def _statements(statements: etree._Element, c: CertificateContent) -> None:
    """ISO/IEC 17025 7.8.2.1, 7.8.4.1, 7.8.6 and 7.8.8.2 statements, each in zh and en."""
    kind = _el(statements, "dcc:statement", refType="basic_documentKind")
    _el(kind, "dcc:norm", c.procedure.code)
    _rich(kind, "dcc:declaration", _TITLES[c.kind])
    trace = _el(statements, "dcc:statement", refType="basic_traceability")
    _el(trace, "dcc:traceable", "true")
    for standard in c.standards:
        _el(trace, "dcc:reference", standard.certificate_number)
    _rich(trace, "dcc:declaration",
          "本证书的测量结果通过所用计量标准溯源至国家计量基准 The measurement results are "
          "traceable to the national measurement standards through the standards used, "
          "listed with their certificate numbers in measuringEquipments")
    only = _el(statements, "dcc:statement", refType="basic_validityOfResults")
    _rich(only, "dcc:declaration", "本证书校准结果仅对所校准的器具有效 The results relate only "
          "to the item calibrated")
    if c.conformity_statement:
        conformity = _el(statements, "dcc:statement", refType="basic_conformity")
        if c.decision_rule:  # ILAC-G8: the rule the statement was judged by
            _el(conformity, "dcc:convention", c.decision_rule)
        _el(conformity, "dcc:norm", c.procedure.code)
        _rich(conformity, "dcc:declaration", c.conformity_statement)
        overall = _overall_conformity(c)
        if overall:
            _el(conformity, "dcc:conformity", overall)
    if c.decision_rule:
        rule = _el(statements, "dcc:statement", refType="basic_decisionRule")
        _el(rule, "dcc:reference", "ILAC-G8:09/2019")
        _rich(rule, "dcc:declaration", f"判定规则 Decision rule: {c.decision_rule}")
    if c.valid_until is not None:
        valid = _el(statements, "dcc:statement", refType="basic_validUntil")
        _el(valid, "dcc:norm", c.procedure.code)
        _rich(valid, "dcc:declaration", f"有效期至 Valid until {c.valid_until.isoformat()}")
        _el(valid, "dcc:date", c.valid_until.isoformat())
    if c.recalibration:  # only when the customer asked (ISO/IEC 17025 7.8.4.3)
        _rich(_el(statements, "dcc:statement", refType="basic_recalibration"),
              "dcc:declaration", c.recalibration)
    if c.supersedes:
        replaces = _el(statements, "dcc:statement", refType="basic_supersedes")
        _el(replaces, "dcc:reference", c.supersedes)
        texts = [f"本证书代替 {c.supersedes} This certificate replaces {c.supersedes}"]
        if c.amendment:
            texts.append(c.amendment)
        _rich(replaces, "dcc:declaration", *texts)
    if c.outside_scope:
        _rich(_el(statements, "dcc:statement", refType="basic_outsideAccreditation"),
              "dcc:declaration", "不在认可/资质认定范围内 Not within the accredited scope")
    for remark in c.remarks:
        _rich(_el(statements, "dcc:statement", refType="basic_remark"), "dcc:declaration",
              remark)


def _overall_conformity(c: CertificateContent) -> str | None:
    verdicts = {p.conformity for p in c.points if p.conformity}
    if verdicts:
        if "fail" in verdicts:
            return "fail"
        if verdicts == {"pass"}:
            return "pass"
        return None  # a non-binary outcome has no single DCC word
    return {VERIFICATION_CERTIFICATE: "pass", VERIFICATION_NOTICE: "fail"}.get(c.kind)


# --------------------------------------------------------------------------- results


def _state_groups(points: Sequence[PointLine]) -> list[tuple[str, list[PointLine]]]:
    """The points by adjustment state, as found first (JJF 1071-2010 5.12 i)."""
    by_state: dict[str, list[PointLine]] = {}
    for p in points:
        by_state.setdefault(p.state, []).append(p)
    return sorted(by_state.items(), key=lambda kv: kv[0] != "as found")


def _measurement_result(parent: etree._Element, c: CertificateContent, state: str,
                        points: list[PointLine], *, adjusted: bool) -> None:
    mr = _el(parent, "dcc:measurementResult")
    label = {"as found": "调整前 as found", "as left": "调整后 as left"}.get(state, state)
    kind = "检定结果 Verification results" if c.kind != CALIBRATION_CERTIFICATE \
        else "校准结果 Calibration results"
    zh, en = split_languages(kind)
    state_zh, state_en = split_languages(label)
    _text(mr, "dcc:name", f"{zh}（{state_zh}）" if adjusted and state_zh else zh,
          en=f"{en}, {state_en}" if adjusted else en)
    _rich(mr, "dcc:description", f"地点 Place: {c.place}")
    method = _el(_el(mr, "dcc:usedMethods"), "dcc:usedMethod", refType="basic_procedure")
    _text(method, "dcc:name", c.procedure.title)
    if c.method_note:
        _rich(method, "dcc:description", c.method_note)
    _el(method, "dcc:norm", c.procedure.code)
    if c.procedure.clause:
        _el(method, "dcc:reference", f"{c.procedure.code} {c.procedure.clause}")
    if c.standards:
        equipments = _el(mr, "dcc:measuringEquipments")
        for s in c.standards:
            eq = _el(equipments, "dcc:measuringEquipment", refType="basic_standardUsed")
            _text(eq, "dcc:name", s.name)
            _rich(eq, "dcc:description", *[t for t in (
                f"准确度 Accuracy: {s.accuracy}" if s.accuracy else "",
                f"校准机构 Calibrated by: {s.provider}",
                f"证书有效期至 Certificate valid until {s.valid_until.isoformat()}") if t])
            if s.model:
                _el(eq, "dcc:model", s.model)
            ids = _el(eq, "dcc:identifications")
            _identification(ids, "calibrationLaboratory", s.certificate_number,
                            "证书编号 Certificate number", ref_type="basic_certificateNumber")
            _identification(ids, "owner", s.asset_number, "设备编号 Asset number",
                            ref_type="basic_assetNumber")
            if s.serial_number:
                _identification(ids, "manufacturer", s.serial_number,
                                "出厂编号 Serial number", ref_type="basic_serialNumber")
    status = None
    if adjusted:
        status = "beforeAdjustment" if state == "as found" else "afterAdjustment"
    _conditions(mr, c.conditions, status, label)
    results = _el(mr, "dcc:results")
    groups: dict[str, list[PointLine]] = {}
    for p in points:
        groups.setdefault(p.quantity, []).append(p)
    for quantity, group in groups.items():
        result = _el(results, "dcc:result", refType="basic_calibrationResult")
        _text(result, "dcc:name", quantity)
        data = _el(result, "dcc:data")
        lines = [_Line.of(p) for p in group]
        if _regular(lines):
            _list_of_points(data, quantity, lines)
        else:
            for line in lines:
                _list_of_points(data, quantity, [line])


def _conditions(mr: etree._Element, conditions: Iterable[Condition], status: str | None,
                state_label: str) -> None:
    written = list(conditions)
    if not written and status is None:
        return
    block = _el(mr, "dcc:influenceConditions")
    if not written:  # the state must be said somewhere: an adjustment condition of its own
        cond = _el(block, "dcc:influenceCondition", refType="basic_adjustmentState")
        _text(cond, "dcc:name", "调整状态 Adjustment state")
        _el(cond, "dcc:status", status or "")
        _rich(_el(cond, "dcc:data"), "dcc:text", state_label)
        return
    for condition in written:
        ref = _condition_ref_type(condition.name)
        cond = (_el(block, "dcc:influenceCondition", refType=ref) if ref
                else _el(block, "dcc:influenceCondition"))
        _text(cond, "dcc:name", condition.name)
        if status:
            _el(cond, "dcc:status", status)
        data = _el(cond, "dcc:data")
        value = _number(condition.value)
        dsi = unit_to_dsi(condition.unit) if condition.unit else None
        if value is not None and dsi is not None:
            real = _el(_el(data, "dcc:quantity"), "si:real")
            _el(real, "si:value", value)
            _el(real, "si:unit", dsi)
        else:
            text = f"{condition.value} {condition.unit or ''}".strip()
            _el(_el(data, "dcc:text"), "dcc:content", text)


def _condition_ref_type(name: str) -> str | None:
    lowered = name.lower()
    if "温度" in name or "temperature" in lowered:
        return "basic_temperature"
    if "湿度" in name or "humidity" in lowered:
        return "basic_humidityRelative"
    if "气压" in name or "pressure" in lowered:
        return "basic_airPressure"
    return None


@dataclasses.dataclass(frozen=True)
class _Line:
    """A point's numbers as the DCC writes them (None: not given)."""

    point: PointLine
    nominal: str | None
    reference: str | None
    indicated: str | None
    error: str | None
    u: str | None
    k: str | None
    p: str | None
    mpe: str | None
    conformity: str | None  # in the DCC's vocabulary; "?" when it has no word for it
    dsi: str

    @classmethod
    def of(cls, p: PointLine) -> _Line:
        def num(field: str) -> str | None:
            text = getattr(p, field)
            value = _number(text or "")
            if value is None and (text or "").strip() not in _EMPTY:
                raise ReportError(msg("point %(seq)s (%(state)s): %(field)s %(text)r is not a number the "
                                      "DCC can carry", seq=p.seq, state=p.state, field=field,
                                      text=text), field=f"points[{p.seq}].{field}",
                                  seq=p.seq)
            return value

        dsi = _point_dsi(p)
        u = num("expanded_uncertainty")
        if u is not None and u.startswith("-"):
            raise ReportError(msg("point %(seq)s: the expanded uncertainty %(uncertainty)s is negative",
                                  seq=p.seq, uncertainty=u),
                              field=f"points[{p.seq}].expanded_uncertainty", seq=p.seq)
        k = p.k.strip() or None
        prob = _probability(p.coverage_probability)
        if u is not None:
            if k is None or not _K.fullmatch(k):
                raise ReportError(msg("point %(seq)s: coverage factor k %(k)r is not a number ≥ 1", seq=p.seq,
                                      k=p.k), field=f"points[{p.seq}].k", seq=p.seq)
            if prob is None:
                raise ReportError(msg("point %(seq)s: coverage probability %(probability)r is not a "
                                      "fraction such as 0.95", seq=p.seq, probability=p.coverage_probability),
                                  field=f"points[{p.seq}].coverage_probability", seq=p.seq)
        mpe = _number((p.mpe or "").replace("±", "")) if p.mpe else None
        if mpe is not None:
            mpe = mpe.lstrip("+-")
        conformity = None
        if p.conformity:
            conformity = _CONFORMITY.get(p.conformity, "?")
        return cls(p, num("nominal"), num("reference"), num("indicated"), num("error"), u,
                   k if u is not None else None, prob if u is not None else None, mpe,
                   conformity, dsi)


def _regular(lines: Sequence[_Line]) -> bool:
    """Whether the points can share one si:realListXMLList per column: every column given
    at all points or at none (an XML list has no gaps)."""
    for column in ("nominal", "reference", "indicated", "error", "u", "mpe", "conformity"):
        given = {getattr(line, column) is not None for line in lines}
        if len(given) > 1:
            return False
    return all(line.conformity != "?" for line in lines)


def _list_of_points(data: etree._Element, quantity: str, lines: Sequence[_Line]) -> None:
    """One dcc:list: nominal, reference, indication and error (with U) of ``lines``."""
    listing = _el(data, "dcc:list")
    measurand = "error" if lines[0].error is not None else "indicated"
    columns = (("nominal", "basic_nominalValue", "标称值 Nominal value"),
               ("reference", "basic_referenceValue", "标准值 Reference value"),
               ("indicated", "basic_indicatedValue", "示值 Indicated value"),
               ("error", "basic_measurementError", quantity))
    wrote = False
    for column, ref_type, name in columns:
        values = [getattr(line, column) for line in lines]
        if values[0] is None:
            continue
        quantity_el = _el(listing, "dcc:quantity", refType=ref_type)
        _text(quantity_el, "dcc:name", name)
        units = [line.dsi for line in lines]
        uncertain = column == measurand and lines[0].u is not None
        if len(lines) == 1:
            real = _el(quantity_el, "si:real")
            _el(real, "si:value", values[0])
            _el(real, "si:unit", units[0])
            if uncertain:
                unc = _el(real, "si:expandedUnc")
                _el(unc, "si:uncertainty", lines[0].u or "")
                _el(unc, "si:coverageFactor", lines[0].k or "")
                _el(unc, "si:coverageProbability", lines[0].p or "")
        else:
            real_list = _el(quantity_el, "si:realListXMLList")
            _el(real_list, "si:valueXMLList", " ".join(v or "" for v in values))
            _el(real_list, "si:unitXMLList", _xml_list(units))
            if uncertain:
                unc = _el(real_list, "si:expandedUncXMLList")
                _el(unc, "si:uncertaintyXMLList", " ".join(line.u or "" for line in lines))
                _el(unc, "si:coverageFactorXMLList", _xml_list([line.k or "" for line in lines]))
                _el(unc, "si:coverageProbabilityXMLList",
                    _xml_list([line.p or "" for line in lines]))
        if column == measurand:
            _verdicts(quantity_el, lines)
        wrote = True
    if not wrote:
        seq = lines[0].point.seq
        raise ReportError(msg("point %(seq)s has no numeric value to export", seq=seq),
                          field=f"points[{seq}]", seq=seq)


def _verdicts(quantity_el: etree._Element, lines: Sequence[_Line]) -> None:
    """The verdict per point and the MPE as tolerance limits on the measurand (ILAC-G8;
    JJG: the error of indication against ± MPE)."""
    mpes = [line.mpe for line in lines]
    verdicts = [line.conformity for line in lines]
    known = all(v is not None and v != "?" for v in verdicts)
    if all(m is None for m in mpes) and not any(verdicts):
        return
    meta = _el(_el(quantity_el, "dcc:measurementMetaData"), "dcc:metaData",
               refType="basic_conformity")
    unknown = [line.point.conformity for line in lines if line.conformity == "?"]
    if unknown:
        _rich(meta, "dcc:declaration", *[f"判定 Verdict: {v}" for v in unknown])
    if known:
        _el(meta, "dcc:conformityXMLList", " ".join(v or "" for v in verdicts))
    if all(m is not None for m in mpes):
        data = _el(meta, "dcc:data")
        units = [line.dsi for line in lines]
        for ref_type, name, sign in (
                ("basic_toleranceLimitLower", "最大允许误差下限 Lower limit (−MPE)", "-"),
                ("basic_toleranceLimitUpper", "最大允许误差上限 Upper limit (+MPE)", "")):
            limit = _el(data, "dcc:quantity", refType=ref_type)
            _text(limit, "dcc:name", name)
            real_list = _el(limit, "si:realListXMLList")
            _el(real_list, "si:valueXMLList", " ".join(_signed(sign, m or "") for m in mpes))
            _el(real_list, "si:unitXMLList", _xml_list(units))


def _signed(sign: str, value: str) -> str:
    return f"{sign}{value}" if sign and value.strip("0.") else value


def _xml_list(items: Sequence[str]) -> str:
    """A one-item list when every item is the same (the reader spreads it), else all."""
    return items[0] if len(set(items)) == 1 else " ".join(items)


# --------------------------------------------------------------------------- numbers and units


def _number(text: str) -> str | None:
    """A printed number as si:decimalType, or None if it is not one (or empty)."""
    cleaned = (text.replace("\u2212", "-").replace("\u2009", "").replace("\u202f", "")
               .replace(" ", "").strip())
    if cleaned in _EMPTY or not _DECIMAL.fullmatch(cleaned):
        return None
    return cleaned


def _probability(text: str) -> str | None:
    """The coverage probability as a fraction: "0.95", or "95 %" -> "0.95"."""
    cleaned = text.replace(" ", "").strip()
    if cleaned.endswith("%"):
        number = _number(cleaned[:-1])
        if number is None:
            return None
        cleaned = format(Decimal(number) / 100, "f")
    return cleaned if _PROBABILITY.fullmatch(cleaned) else None


def _point_dsi(p: PointLine) -> str:
    """The point's D-SI unit, checked the way the DCC reader will read it; derived from its
    unit when the content leaves it empty.

    :raises ReportError: naming the point's ``dsi_unit``.
    """
    dsi = p.dsi_unit.strip() or unit_to_dsi(p.unit) or ""
    try:
        _dsi_ok(dsi)
    except InvalidInput as exc:
        raise ReportError(msg("point %(seq)s: D-SI unit %(dsi_unit)r of %(unit)r: %(reason)s", seq=p.seq,
                              dsi_unit=p.dsi_unit, unit=p.unit,
                              reason=exc.message), field=f"points[{p.seq}].dsi_unit",
                          seq=p.seq) from exc
    return dsi


@functools.lru_cache(maxsize=256)
def _dsi_ok(dsi: str) -> str:
    return dsi_to_unit(dsi, field="dsi_unit")


_PINT_TO_DSI = {long: name for name, (_sym, long) in UNITS.items()}
_PINT_TO_DSI["percent_relative_humidity"] = "percent"
_PREFIX_TO_DSI = {long: name for name, (_sym, long) in PREFIXES.items()}


@functools.lru_cache(maxsize=256)
def unit_to_dsi(unit: str) -> str | None:
    """The D-SI form of a unit in lab notation (``℃`` -> ``\\degreecelsius``, ``kPa`` ->
    ``\\kilo\\pascal``, ``%RH`` -> ``\\percent``), or None when it has none we can vouch for
    (the text is then kept as text). The result is read back with
    :func:`lims.calibration.dsi.dsi_to_unit` and must mean the same unit."""
    try:
        unit_obj = parse_unit(unit)
    except InvalidInput:
        return None
    parts = []
    for name, exponent in unit_obj._units.items():  # noqa: SLF001 - pint's factor map
        try:
            ((prefix, base, suffix),) = ureg.parse_unit_name(name)
        except ValueError:
            return None
        dsi_base = _PINT_TO_DSI.get(base)
        if dsi_base is None or suffix or (prefix and prefix not in _PREFIX_TO_DSI):
            return None
        text = (f"\\{_PREFIX_TO_DSI[prefix]}" if prefix else "") + f"\\{dsi_base}"
        if exponent != 1:
            text += f"\\tothe{{{format(Decimal(str(exponent)).normalize(), 'f')}}}"
        parts.append(text)
    if not parts:  # pint's dimensionless also stands for HV10, pH …: only "1" is the one
        return "\\one" if unit.strip() == "1" else None
    dsi = "".join(parts)
    try:
        back = parse_unit(dsi_to_unit(dsi))
    except InvalidInput:
        return None
    return dsi if back == unit_obj else None

