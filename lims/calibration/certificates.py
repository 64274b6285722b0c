"""Read an incoming calibration certificate into a neutral, validated structure.

Two formats arrive: PTB's Digital Calibration Certificate (DCC, XML, schema 3.1.x; read by
:mod:`lims.calibration.dcc`) and the LIMS's own JSON form (documented at :func:`parse_json`).
Both become a :class:`ParsedCertificate`; a calibration service decides what to store. The
received certificate is the evidence of traceability (ISO/IEC 17025 6.5), so numbers keep the
digits they were written with ("100.00" stays "100.00") and nothing is rounded or converted here.

This module is pure: no Flask, no SQLAlchemy, no network. Every refusal is
:class:`lims.errors.InvalidInput`; no lxml, json or pint exception leaves it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lims import validate
from lims.errors import Choices, InvalidInput, msg
from lims.units import parse_unit, parse_value

# "other": a provider that is neither an NMI nor accredited; a chain through it is incomplete.
PROVIDER_KINDS = ("nmi", "accredited", "in-house", "other")
MAX_BYTES = 20 * 1024 * 1024  # a DCC with embedded PDF is a few MB; more is not a certificate
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_COUNTRY = re.compile(r"[A-Z]{2}")


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
    state: str = "as left"


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
        raise InvalidInput(msg("a certificate file is required"), field="file")
    if len(data) > MAX_BYTES:
        raise InvalidInput(msg("the file is larger than %(max_mb)s MB",
                               max_mb=MAX_BYTES // (1024 * 1024)), field="file")
    first = _first_character(bytes(data))
    suffix = Path(filename).suffix.lower() if filename else ""
    if first == "<" or (first not in ("{", "[") and suffix == ".xml"):
        from lims.calibration.dcc import parse_dcc

        return parse_dcc(bytes(data), provider_kind=provider_kind)
    if first in ("{", "[") or suffix == ".json":
        return parse_json(_load_json(bytes(data)), provider_kind=provider_kind)
    raise InvalidInput(msg("not a calibration certificate: expected DCC XML or JSON"), field="file")


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
        raise InvalidInput(msg("malformed JSON: %(error)s at line %(line)s column %(column)s",
                               error=exc.msg, line=exc.lineno, column=exc.colno),
                           field="file") from exc
    except (ValueError, RecursionError) as exc:  # bad encoding, NaN, absurd nesting
        raise InvalidInput(msg("malformed JSON: %(error)s", error=exc), field="file") from exc


_TOP_KEYS = frozenset({"number", "provider", "instrument", "item", "calibrated_on", "valid_until",
                       "standards_used", "conditions", "conformity", "results"})
_PROVIDER_KEYS = frozenset({"name", "kind", "accreditation", "country"})
_ITEM_KEYS = frozenset({"name", "manufacturer", "model", "serial_number"})
_CONDITION_KEYS = frozenset({"name", "value", "unit"})
_RESULT_KEYS = frozenset({"quantity", "nominal", "nominal_unit", "value", "unit",
                          "expanded_uncertainty", "k", "coverage_probability", "standards_used",
                          "state"})
STATES = ("as found", "as left")  # before and after an adjustment; as left when not adjusted


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
    override = kind_override(provider_kind)
    top = _object(obj, "", _TOP_KEYS)
    provider = _object(top.get("provider"), "provider", _PROVIDER_KEYS, required=True)
    kind = _text_field(provider.get("kind"), "provider.kind", max_len=20)
    if kind not in PROVIDER_KINDS:
        raise InvalidInput(msg("must be one of %(allowed)s, not %(kind)r",
                               allowed=Choices(PROVIDER_KINDS), kind=kind),
                           field="provider.kind")
    accreditation = _text_field(provider.get("accreditation"), "provider.accreditation",
                                required=kind == "accredited", max_len=80)
    country = _text_field(provider.get("country"), "provider.country", required=False).upper()
    if country and not _COUNTRY.fullmatch(country):
        raise InvalidInput(msg("must be a two-letter ISO 3166-1 country code"), field="provider.country")
    calibrated_on = _date_field(top.get("calibrated_on"), "calibrated_on")
    valid_until = _date_field(top.get("valid_until"), "valid_until", required=False)
    if calibrated_on is None:  # pragma: no cover - required=True already refused it
        raise InvalidInput(msg("is required (YYYY-MM-DD)"), field="calibrated_on")
    if valid_until is not None and valid_until < calibrated_on:
        raise InvalidInput(msg("is before calibrated_on (%(calibrated_on)s)",
                               calibrated_on=calibrated_on.isoformat()), field="valid_until")
    item = _object(top.get("item"), "item", _ITEM_KEYS, required=False)
    results = _list(top.get("results"), "results", required=True)
    if not results:
        raise InvalidInput(msg("at least one result is required"), field="results")
    instrument = top.get("instrument")
    return checked(ParsedCertificate(
        format="json",
        schema_version=None,
        number=_text_field(top.get("number"), "number", max_len=80),
        provider_name=_text_field(provider.get("name"), "provider.name"),
        provider_kind=override or kind,
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
    ))


def _json_result(obj: object, at: str) -> CertificateResult:
    r = _object(obj, at, _RESULT_KEYS, required=True)
    unit = _unit_field(r.get("unit"), f"{at}.unit")
    nominal = _number_field(r.get("nominal"), f"{at}.nominal", required=False)
    nominal_unit = None
    if r.get("nominal_unit") is not None:
        if nominal is None:
            raise InvalidInput(msg("is given without a nominal"), field=f"{at}.nominal_unit")
        nominal_unit = _unit_field(r.get("nominal_unit"), f"{at}.nominal_unit")
    uncertainty = _number_field(r.get("expanded_uncertainty"), f"{at}.expanded_uncertainty",
                                required=False)
    k = _number_field(r.get("k"), f"{at}.k", required=False)
    p = _number_field(r.get("coverage_probability"), f"{at}.coverage_probability", required=False)
    if uncertainty is not None and parse_value(uncertainty) < 0:
        raise InvalidInput(msg("must not be negative"), field=f"{at}.expanded_uncertainty")
    if k is not None and parse_value(k) < 1:
        raise InvalidInput(msg("a coverage factor is at least 1"), field=f"{at}.k")
    if p is not None and not 0 < parse_value(p) <= 1:
        raise InvalidInput(msg("must be a fraction in (0, 1], e.g. 0.95"), field=f"{at}.coverage_probability")
    if uncertainty is not None and k is None and p is None:
        raise InvalidInput(msg("give k or coverage_probability with the expanded uncertainty (JCGM "
                               "100:2008 7.2.3)"), field=f"{at}.k")
    if uncertainty is None and (k is not None or p is not None):
        raise InvalidInput(msg("k or coverage_probability is given without an expanded uncertainty"),
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
        state=_state(r.get("state"), f"{at}.state"),
    )


def _state(value: object, at: str) -> str:
    if value is None:
        return "as left"
    if value not in STATES:
        raise InvalidInput(msg("must be one of %(allowed)s", allowed=Choices(STATES)), field=at)
    return str(value)


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
        raise InvalidInput(msg("unknown field %(name)r; allowed: %(allowed)s",
                               name=unknown[0], allowed=', '.join(sorted(keys))),
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
        raise InvalidInput(msg("must be text, not a number"), field=at)
    return validate.text(value, at, required=required, max_len=max_len)


def _number_field(value: object, at: str, *, required: bool = True) -> str | None:
    """A number as text with its digits as written; a float from elsewhere becomes str(x)."""
    if value is None or value == "":
        if required:
            raise InvalidInput(msg("is required (a number, e.g. \"100.00\")"), field=at)
        return None
    if isinstance(value, float) and value == value and value not in (float("inf"), float("-inf")):
        value = repr(value)  # the shortest text that reads back as the same float
    elif isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise InvalidInput(msg("must be a number, e.g. \"100.00\""), field=at)
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
            raise InvalidInput(msg("is required (YYYY-MM-DD)"), field=at)
        return None
    if not isinstance(value, str) or isinstance(value, _JSONNumber) or not _DATE.fullmatch(value.strip()):
        raise InvalidInput(msg("%(value)r is not a date (YYYY-MM-DD)", value=value), field=at)
    return validate.date(value.strip(), at)


def _asset(value: object, at: str) -> str:
    return _text_field(value, at, max_len=40)  # instruments.asset_number is VARCHAR(40)


def _assets(value: object, at: str) -> tuple[str, ...]:
    return tuple(_asset(v, f"{at}[{i}]") for i, v in enumerate(_list(value, at)))


# --------------------------------------------------------------------------- shared


def checked(cert: ParsedCertificate) -> ParsedCertificate:
    """Refuse text that no record can hold: too long for its column, or with control
    characters (PostgreSQL refuses NUL; SQLite would keep it silently)."""
    def fit(value: str | None, field: str, max_len: int) -> None:
        if value is not None:
            validate.text(value, field, required=False, max_len=max_len)

    fit(cert.number, "number", 80)
    fit(cert.provider_name, "provider.name", 200)
    fit(cert.provider_accreditation, "provider.accreditation", 80)
    fit(cert.provider_country, "provider.country", 2)
    for key, max_len in (("name", 120), ("manufacturer", 120), ("model", 120),
                         ("serial_number", 80)):
        fit(getattr(cert.item, key), f"item.{key}", max_len)
    fit(cert.conformity, "conformity", 2000)
    for i, c in enumerate(cert.conditions):
        fit(c.name, f"conditions[{i}].name", 120)
        fit(c.value, f"conditions[{i}].value", 200)
        fit(c.unit, f"conditions[{i}].unit", 60)
    for i, r in enumerate(cert.results):
        fit(r.quantity, f"results[{i}].quantity", 120)
        for key in ("value", "nominal", "expanded_uncertainty", "k", "coverage_probability"):
            fit(getattr(r, key), f"results[{i}].{key}", 40)
        fit(r.unit, f"results[{i}].unit", 60)
        fit(r.nominal_unit, f"results[{i}].nominal_unit", 60)
    return cert


def kind_override(kind: str | None) -> str | None:
    if kind is not None and kind not in PROVIDER_KINDS:
        raise InvalidInput(msg("must be one of %(allowed)s, not %(kind)r",
                               allowed=Choices(PROVIDER_KINDS), kind=kind),
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
