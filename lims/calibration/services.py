"""Calibration records: record, import, correct, revoke; the record in force at a moment; the
fitness-for-use interlock; due-date flags; intermediate checks.

Services take a session and keyword data, flush but never commit, and write an audit event for
every change in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, TypeVarTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, lazyload

from lims import units
from lims.audit.services import record, snapshot
from lims.auth.models import User
from lims.auth.services import require
from lims.calibration.certificates import CertificateResult, ParsedCertificate, parse_certificate
from lims.calibration.models import (
    CalibrationPoint,
    CalibrationProvider,
    CalibrationRecord,
    CalibrationStandard,
    IntermediateCheck,
    ProviderKind,
    RecordStatus,
)
from lims.db import utcnow
from lims.errors import (
    CalibrationExpired,
    Choices,
    Conflict,
    InstrumentUnavailable,
    InvalidInput,
    LimsError,
    NotFound,
    msg,
)
from lims.instruments.models import (
    CalibrationFlag,
    EquipmentRole,
    Instrument,
    InstrumentQuantity,
    InstrumentStatus,
)
from lims.numbering import next_number
from lims.validate import as_id, moment, text

DIMENSIONLESS = "dimensionless"


def lock_instrument(session: Session, instrument: Instrument) -> None:
    """Take the instrument's row lock and refresh it (PostgreSQL ``FOR UPDATE``; SQLite's
    writer lock is taken up front by :func:`lims.db.unit_of_work`)."""
    session.execute(select(Instrument).where(Instrument.id == instrument.id)
                    .with_for_update(of=Instrument).execution_options(populate_existing=True))


def lab_day(at: dt.datetime | dt.date, timezone: str) -> dt.date:
    """The day of the lab's calendar a moment belongs to."""
    if isinstance(at, dt.datetime):
        return at.astimezone(ZoneInfo(timezone)).date()
    return at


def dimension_of(unit_text: str, *, field: str = "unit") -> str:
    """pint's dimensionality of a unit in lab notation, as stored (``[mass]``)."""
    unit = units.parse_unit(unit_text, field=field)
    dim = str(unit.dimensionality)
    return DIMENSIONLESS if dim in ("", "dimensionless") else dim


# --- the record in force ---------------------------------------------------------------------

def record_in_force(session: Session, instrument: Instrument | int, at: dt.datetime | dt.date, *,
                    timezone: str) -> CalibrationRecord | None:
    """The calibration record valid at ``at``, or None.

    It is the instrument's latest calibration on or before that day (current version, not
    revoked), provided the day is not after its valid-until day (lab calendar: the valid-until
    day itself is still valid). A later calibration replaces an earlier one from its date on,
    whatever the earlier one's validity said; one that has expired leaves the instrument with
    no calibration, even if an older certificate would have run longer.
    """
    iid = instrument if isinstance(instrument, int) else instrument.id
    day = lab_day(at, timezone)
    rec = session.scalar(latest_on(select(CalibrationRecord), iid, day))
    return rec if rec is not None and day <= rec.valid_until else None


_Row = TypeVarTuple("_Row")


def records_in_force(session: Session, instrument_ids: Iterable[int], at: dt.datetime, *,
                     timezone: str) -> dict[int, CalibrationRecord]:
    """:func:`record_in_force` of each of ``instrument_ids`` in one query (a page's capture
    sources, not one look-up each: issue 14): the same rule, the instruments without a record
    in force left out."""
    ids = sorted(set(instrument_ids))
    if not ids:
        return {}
    day = lab_day(at, timezone)
    rows = session.scalars(
        # The points and standards only if asked for: fitness reads the dates and status.
        select(CalibrationRecord).options(lazyload(CalibrationRecord.points),
                                          lazyload(CalibrationRecord.standards))
        .where(CalibrationRecord.instrument_id.in_(ids), CalibrationRecord.is_current,
               CalibrationRecord.status != RecordStatus.REVOKED,
               or_(CalibrationRecord.calibrated_on.is_(None),
                   CalibrationRecord.calibrated_on <= day))
        .order_by(CalibrationRecord.calibrated_on.desc().nulls_last(),
                  CalibrationRecord.id.desc()))
    latest: dict[int, CalibrationRecord] = {}
    for rec in rows:  # newest first: the first of each instrument is its latest on that day
        latest.setdefault(rec.instrument_id, rec)
    return {iid: rec for iid, rec in latest.items() if day <= rec.valid_until}


def latest_on(query: Select[*_Row], instrument_id: int, day: dt.date) -> Select[*_Row]:
    """Restrict ``query`` to an instrument's latest calibration on or before ``day``."""
    return (query.where(CalibrationRecord.instrument_id == instrument_id,
                        CalibrationRecord.is_current,
                        CalibrationRecord.status != RecordStatus.REVOKED,
                        or_(CalibrationRecord.calibrated_on.is_(None),
                            CalibrationRecord.calibrated_on <= day))
            .order_by(CalibrationRecord.calibrated_on.desc().nulls_last(),
                      CalibrationRecord.id.desc()).limit(1))


def latest_record(session: Session, instrument_id: int) -> CalibrationRecord | None:
    """The latest current, non-revoked calibration: what the due date is read from."""
    return session.scalar(
        select(CalibrationRecord)
        .where(CalibrationRecord.instrument_id == instrument_id, CalibrationRecord.is_current,
               CalibrationRecord.status != RecordStatus.REVOKED)
        .order_by(CalibrationRecord.calibrated_on.desc().nulls_last(),
                  CalibrationRecord.id.desc()).limit(1))


def history_query(instrument_id: int) -> Select[CalibrationRecord]:
    """Every record of an instrument, corrected versions included; ordered and paged by the
    caller (the instrument page and its API)."""
    return select(CalibrationRecord).where(CalibrationRecord.instrument_id == instrument_id)


_LOOK_UP: Any = object()  # check_fit_for_use reads the record in force itself


def check_fit_for_use(session: Session, instrument: Instrument, at: dt.datetime, *,
                      timezone: str, in_force: CalibrationRecord | None = _LOOK_UP
                      ) -> CalibrationRecord:
    """Refuse equipment out of service, with a failed intermediate check, or with no calibration
    record in force at ``at`` (ISO/IEC 17025 6.4.4, 6.4.10; EQ-04).

    ``in_force``: the record in force at ``at`` when the caller read it already
    (:func:`records_in_force`, for many instruments at once).

    :returns: the record in force, which the result keeps.
    :raises CalibrationExpired:
    :raises InstrumentUnavailable:
    """
    if instrument.status != InstrumentStatus.IN_SERVICE:
        raise InstrumentUnavailable(
            msg("instrument %(asset)s is %(status)s: %(reason)s", asset=instrument.asset_number,
                status=instrument.status, reason=instrument.status_reason)
            if instrument.status_reason else
            msg("instrument %(asset)s is %(status)s", asset=instrument.asset_number,
                status=instrument.status),
            field="instrument_id", instrument=instrument.asset_number)
    if instrument.calibration_flag == CalibrationFlag.CHECK_FAILED:
        raise InstrumentUnavailable(
            msg("instrument %(asset)s failed its last intermediate check; record a passing check or a "
                "calibration before using it (ISO/IEC 17025 6.4.10)",
                asset=instrument.asset_number),
            field="instrument_id", instrument=instrument.asset_number)
    rec = (record_in_force(session, instrument, at, timezone=timezone)
           if in_force is _LOOK_UP else in_force)
    if rec is not None and rec.status == RecordStatus.OUT_OF_TOLERANCE:
        raise InstrumentUnavailable(
            msg("instrument %(asset)s was found out of tolerance on its calibration %(certificate)s; "
                "recalibrate it before use (ISO/IEC 17025 6.4.9, 7.10)",
                asset=instrument.asset_number, certificate=rec.certificate_number),
            field="instrument_id", instrument=instrument.asset_number)
    if rec is None:
        day = lab_day(at, timezone)
        last = latest_record(session, instrument.id)
        due = last.valid_until.isoformat() if last else None
        raise CalibrationExpired(
            msg("instrument %(asset)s had no calibration in force on %(day)s (due %(due)s); it cannot "
                "be used for results (ISO/IEC 17025 6.4)", asset=instrument.asset_number, day=day,
                due=due)
            if due else
            msg("instrument %(asset)s had no calibration in force on %(day)s (no calibration "
                "recorded); it cannot be used for results (ISO/IEC 17025 6.4)",
                asset=instrument.asset_number, day=day),
            field="instrument_id", instrument=instrument.asset_number, due_on=due,
            measured_on=day.isoformat())
    return rec


def fit_for_use(session: Session, instruments: Iterable[Instrument], at: dt.datetime, *,
                timezone: str) -> set[int]:
    """The ids of ``instruments`` that :func:`check_fit_for_use` lets through at ``at``: its
    rules, with the records in force read in one query for them all."""
    instruments = list(instruments)
    records = records_in_force(session, (i.id for i in instruments), at, timezone=timezone)
    fit: set[int] = set()
    for instrument in instruments:
        if instrument.id not in records:
            continue  # no calibration in force (the check would read why, for its message)
        try:
            check_fit_for_use(session, instrument, at, timezone=timezone,
                              in_force=records[instrument.id])
        except LimsError:
            continue
        fit.add(instrument.id)
    return fit


def calibration_flag(rec: CalibrationRecord | None, today: dt.date, *, warning_days: int) -> str:
    if rec is None or today > rec.valid_until:
        return CalibrationFlag.OVERDUE
    if (rec.valid_until - today).days <= warning_days:
        return CalibrationFlag.DUE_SOON
    return CalibrationFlag.OK


def refresh_flag(session: Session, instrument: Instrument, *, today: dt.date,
                 warning_days: int, timezone: str) -> str | None:
    """Recompute the instrument's due-date flag; audit and return it when it changed.

    A failed intermediate check keeps its flag until a check passes or a calibration is recorded.
    """
    rec = record_in_force(session, instrument, today, timezone=timezone)
    flag = calibration_flag(rec, today, warning_days=warning_days)
    if instrument.calibration_flag == CalibrationFlag.CHECK_FAILED and flag != CalibrationFlag.OVERDUE:
        return None
    if flag == instrument.calibration_flag:
        return None
    before = {"calibration_flag": instrument.calibration_flag}
    instrument.calibration_flag, instrument.flagged_at = flag, utcnow()
    record(session, actor=None, action="instrument.calibration_flag", entity_type="instruments",
           entity_id=instrument.asset_number, before=before,
           after={"calibration_flag": flag, "valid_until": rec.valid_until if rec else None})
    return flag


def flag_calibration_due(session: Session, *, today: dt.date, warning_days: int,
                         timezone: str = "Asia/Shanghai") -> list[str]:
    """Flag equipment of every role due within the warning period or overdue; audit each change.

    :returns: the asset numbers whose flag changed.
    """
    changed = []
    for instrument in session.scalars(select(Instrument).order_by(Instrument.id)):
        if refresh_flag(session, instrument, today=today, warning_days=warning_days,
                        timezone=timezone):
            changed.append(instrument.asset_number)
    session.flush()
    return changed


# --- providers and records -------------------------------------------------------------------

def get_provider(session: Session, *, name: Any, kind: Any, accreditation: Any = "",
                 country: Any = "", field: str = "provider") -> CalibrationProvider:
    """Find a provider by name or register it.

    :raises InvalidInput: an unknown kind, or a known provider given with another kind.
    """
    name = text(name, f"{field}.name", max_len=200)
    kinds = [k.value for k in ProviderKind]
    if kind not in kinds:
        raise InvalidInput(msg("must be one of %(allowed)s", allowed=Choices(kinds)), field=f"{field}.kind")
    provider = session.scalar(select(CalibrationProvider).where(CalibrationProvider.name == name))
    if provider is not None:
        if provider.kind != kind:
            raise InvalidInput(msg("%(name)s is registered as a provider of kind %(registered)s, "
                                   "not %(kind)s", name=name, registered=provider.kind, kind=kind),
                               field=f"{field}.kind")
        return provider
    provider = CalibrationProvider(
        name=name, kind=kind, accreditation=text(accreditation, f"{field}.accreditation",
                                                 required=False, max_len=80),
        country=text(country, f"{field}.country", required=False, max_len=2))
    session.add(provider)
    session.flush()
    record(session, actor=None, action="provider.create", entity_type="calibration_providers",
           entity_id=provider.id, after=snapshot(provider))
    return provider


def _find_asset(session: Session, asset: str, field: str) -> Instrument:
    instrument = session.scalar(select(Instrument).where(Instrument.asset_number == asset))
    if instrument is None:
        raise InvalidInput(msg("no instrument %(asset)r in the register", asset=asset), field=field)
    return instrument


def _points(cert: ParsedCertificate) -> list[tuple[CalibrationPoint, tuple[str, ...]]]:
    out = []
    for i, r in enumerate(cert.results):
        f = f"results[{i}]"
        unit = units.parse_unit(r.unit, field=f"{f}.unit")
        if r.nominal is not None:
            # A nominal of another dimension names the item (the density of the 1 g weight);
            # it is kept, and the chain only compares nominals of the quantity's dimension.
            units.parse_unit(r.nominal_unit or r.unit, field=f"{f}.nominal_unit")  # it parses
        out.append((CalibrationPoint(
            seq=i + 1, state=r.state, quantity=r.quantity[:120], nominal=r.nominal,
            nominal_unit=(r.nominal_unit or r.unit) if r.nominal is not None else None,
            value=r.value, unit=r.unit, unit_canonical=units.canonical(unit),
            dimension=dimension_of(r.unit, field=f"{f}.unit"),
            expanded_uncertainty=r.expanded_uncertainty, k=r.k,
            coverage_probability=r.coverage_probability), r.standards_used))
    return out


def _declare_or_check(session: Session, instrument: Instrument,
                      points: list[tuple[CalibrationPoint, tuple[str, ...]]],
                      results: tuple[CertificateResult, ...]) -> list[str]:
    """The certificate must calibrate at least one quantity the instrument declares (ratios and
    relative errors may stand beside it); an instrument that declares none takes the
    certificate's quantities."""
    declared = {q.dimension for q in instrument.quantities}
    dims = [p.dimension for p, _ in points]
    if not points:
        return []  # a record from the register form: dates and certificate number only
    if not declared:
        added: list[str] = []
        for (p, _), r in zip(points, results, strict=True):
            if p.dimension != DIMENSIONLESS and p.dimension not in {
                    q.dimension for q in instrument.quantities}:
                instrument.quantities.append(InstrumentQuantity(
                    quantity=r.quantity[:60], unit=(r.nominal_unit or r.unit)[:40],
                    dimension=p.dimension))
                added.append(f"{r.quantity} ({r.nominal_unit or r.unit})")
        return added
    if not any(d in declared for d in dims):
        shown = ", ".join(f"{q.quantity} ({q.unit})" for q in instrument.quantities)
        given = ", ".join(sorted({r.unit for r in results}))
        raise InvalidInput(msg("the certificate calibrates %(given)s; %(asset)s measures %(shown)s: none "
                               "of its quantities is calibrated",
                               given=given, asset=instrument.asset_number, shown=shown),
                           field="results")
    return []


def record_certificate(session: Session, *, actor: User | None, instrument: Instrument,
                       cert: ParsedCertificate, source: str, timezone: str,
                       interval_days: int = 365, warning_days: int = 30,
                       file: bytes | None = None,
                       file_name: str | None = None, file_type: str | None = None,
                       reason: str | None = None, replaces: CalibrationRecord | None = None,
                       status: str = RecordStatus.VALID) -> CalibrationRecord:
    """Write a parsed certificate as the instrument's calibration record.

    Without a valid-until date (a DCC carries none) the lab's interval applies (ISO/IEC 17025
    6.4.7: the lab sets calibration intervals).

    :raises InvalidInput: units, dimensions, standards or dates that do not fit.
    :raises Conflict: the certificate is already recorded for this instrument.
    """
    if actor is not None:
        require(actor, "calibration.record")
    # One calibration of an instrument at a time: superseding, flags and the duplicate check
    # below read what a concurrent one would write.
    lock_instrument(session, instrument)
    if replaces is None and session.scalar(select(CalibrationRecord.id).where(
            CalibrationRecord.instrument_id == instrument.id,
            CalibrationRecord.certificate_number == cert.number)):
        raise Conflict(msg("certificate %(certificate)s is already recorded for %(asset)s",
                           certificate=cert.number, asset=instrument.asset_number), field="number")
    provider = get_provider(session, name=cert.provider_name, kind=cert.provider_kind,
                            accreditation=cert.provider_accreditation,
                            country=cert.provider_country)
    if cert.valid_until is None and cert.calibrated_on is None:
        raise InvalidInput(msg("give the calibration date or the valid-until date"),
                           field="valid_until")
    valid_until = cert.valid_until or (cert.calibrated_on + dt.timedelta(days=interval_days - 1))
    if cert.calibrated_on is not None and valid_until < cert.calibrated_on:
        raise InvalidInput(msg("the valid-until date is before the calibration date"),
                           field="valid_until")
    points = _points(cert)
    declared = _declare_or_check(session, instrument, points, cert.results)
    rec = CalibrationRecord(
        instrument_id=instrument.id, provider_id=provider.id, certificate_number=cert.number,
        version=replaces.version + 1 if replaces else 1, replaces_id=replaces.id if replaces else None,
        reason=reason, calibrated_on=cert.calibrated_on, valid_until=valid_until,
        status=status,
        conditions=[{"name": c.name, "value": c.value, "unit": c.unit} for c in cert.conditions],
        conformity=cert.conformity, source=source, file=file, file_name=file_name,
        file_type=file_type, file_sha256=hashlib.sha256(file).hexdigest() if file else None,
        recorded_by_id=actor.id if actor else None)
    session.add(rec)
    session.flush()
    in_house = provider.kind == ProviderKind.IN_HOUSE
    every = {*cert.standards_used, *(a for _p, assets in points for a in assets)}
    if instrument.asset_number in every:
        raise InvalidInput(msg("%(asset)s cannot be a standard of its own calibration",
                               asset=instrument.asset_number), field="standards_used")
    used: list[str] = []
    for asset in cert.standards_used:
        std = _find_asset(session, asset, "standards_used")
        _standard_in_force(session, std, cert.calibrated_on, in_house, timezone,
                               of=instrument)
        session.add(CalibrationStandard(record_id=rec.id, instrument_id=std.id))
        used.append(asset)
    for point, assets in points:
        point.record_id = rec.id
        session.add(point)
        session.flush()
        for j, asset in enumerate(assets):
            field = f"results[{point.seq - 1}].standards_used[{j}]"
            std = _find_asset(session, asset, field)
            std_dims = {q.dimension for q in std.quantities}
            if std_dims and point.dimension != DIMENSIONLESS and point.dimension not in std_dims:
                shown = ", ".join(f"{q.quantity} ({q.unit})" for q in std.quantities)
                raise InvalidInput(msg("%(asset)s measures %(shown)s; it cannot have supported a point in "
                                       "%(unit)s",
                                       asset=asset, shown=shown, unit=point.unit), field=field)
            _standard_in_force(session, std, cert.calibrated_on, in_house, timezone,
                               of=instrument)
            session.add(CalibrationStandard(record_id=rec.id, instrument_id=std.id,
                                            point_id=point.id))
            used.append(asset)
    _supersede_older(session, rec)
    session.flush()
    session.refresh(rec)
    record(session, actor=actor, action="calibration.record" if replaces is None else
           "calibration.correct", entity_type="calibration_records", entity_id=rec.id,
           before=snapshot(replaces) if replaces else None,
           after={**snapshot(rec), "provider": provider.name, "provider_kind": provider.kind,
                  "points": [snapshot(p) for p in rec.points], "standards_used": used,
                  **({"declared_quantities": declared} if declared else {})},
           reason=reason)
    today = lab_day(utcnow(), timezone)
    if instrument.calibration_flag == CalibrationFlag.CHECK_FAILED:
        instrument.calibration_flag = CalibrationFlag.OK  # a new calibration clears it
    refresh_flag(session, instrument, today=today, warning_days=warning_days, timezone=timezone)
    return rec


def _standard_in_force(session: Session, std: Instrument, day: dt.date | None, in_house: bool,
                       timezone: str, of: Instrument | None = None) -> None:
    # A standard used by this lab must itself be calibrated on the day (ISO/IEC 17025 6.5.1);
    # standards of an outside provider are the provider's business.
    if not in_house or day is None:
        return
    rec = record_in_force(session, std, day, timezone=timezone)
    if rec is None:
        raise Conflict(msg("standard %(standard)s had no calibration in force on %(day)s; it cannot have "
                           "been used for this calibration",
                           standard=std.asset_number, day=day), field="standards_used")
    if of is not None and any(s.instrument_id == of.id for s in rec.standards):
        raise InvalidInput(msg("%(standard)s was itself calibrated against %(other)s (%(certificate)s): "
                               "the two cannot calibrate each other",
                               standard=std.asset_number, other=of.asset_number,
                               certificate=rec.certificate_number),
                           field="standards_used")


def _supersede_older(session: Session, rec: CalibrationRecord) -> None:
    if rec.calibrated_on is None:
        return  # a record without a date supersedes nothing
    older = session.scalars(select(CalibrationRecord).where(
        CalibrationRecord.instrument_id == rec.instrument_id, CalibrationRecord.id != rec.id,
        CalibrationRecord.is_current, CalibrationRecord.status == RecordStatus.VALID,
        or_(CalibrationRecord.calibrated_on.is_(None),
            CalibrationRecord.calibrated_on < rec.calibrated_on)))
    for old in older:
        old.status = RecordStatus.SUPERSEDED
        record(session, actor=None, action="calibration.supersede",
               entity_type="calibration_records", entity_id=old.id,
               before={"status": RecordStatus.VALID}, after={"status": RecordStatus.SUPERSEDED},
               reason=f"superseded by certificate {rec.certificate_number}")


def import_certificate(session: Session, *, actor: User, data: bytes, filename: str | None,
                       asset: str | None = None, provider_kind: str | None = None,
                       valid_until: dt.date | None = None, timezone: str,
                       interval_days: int = 365, warning_days: int = 30) -> CalibrationRecord:
    """Record an incoming certificate file (PTB DCC XML or the LIMS JSON form).

    The instrument is the one named (``asset``, or the JSON's ``instrument``), else the one with
    the item's serial number, else a new reference standard registered from the item data.

    :raises InvalidInput: the file, a unit, a dimension or a name does not fit; nothing is written.
    """
    require(actor, "calibration.record")
    cert = parse_certificate(data, filename=filename, provider_kind=provider_kind)
    if valid_until is not None:
        from dataclasses import replace

        cert = replace(cert, valid_until=valid_until)
    named = asset or cert.instrument
    if asset and cert.instrument and asset != cert.instrument:
        raise InvalidInput(msg("the file is for %(instrument)s, not %(asset)s",
                               instrument=cert.instrument, asset=asset), field="instrument")
    if named:
        instrument = _find_asset(session, named, "instrument")
    else:
        instrument = _by_serial(session, cert) or _register_standard(session, actor, cert,
                                                                     timezone)
    is_xml = cert.format == "dcc"
    return record_certificate(session, actor=actor, instrument=instrument, cert=cert,
                              source=cert.format, timezone=timezone, interval_days=interval_days,
                              warning_days=warning_days,
                              file=data, file_name=safe_file_name(
                                  filename, f"{cert.number}." + ("xml" if is_xml else "json")),
                              file_type="application/xml" if is_xml else "application/json")


def safe_file_name(name: str | None, default: str = "certificate") -> str:
    """The last component of an uploaded file's name, without control characters."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    return base[:200] or default


def _by_serial(session: Session, cert: ParsedCertificate) -> Instrument | None:
    serial = cert.item.serial_number.strip()
    if not serial:
        return None
    found = list(session.scalars(select(Instrument).where(Instrument.serial_number == serial)))
    if len(found) > 1:
        raise InvalidInput(msg("%(count)s instruments have serial number %(serial)s; name the instrument "
                               "(--instrument ASSET)", count=len(found), serial=serial), field="instrument")
    return found[0] if found else None


def _register_standard(session: Session, actor: User, cert: ParsedCertificate,
                       timezone: str) -> Instrument:
    asset = next_number(session, "standard", "STD-{seq:05d}", today=lab_day(utcnow(), timezone))
    item = cert.item
    instrument = Instrument(asset_number=asset, name=(item.name or "Reference standard")[:120],
                            manufacturer=item.manufacturer[:120], model=item.model[:120],
                            serial_number=item.serial_number[:80],
                            role=EquipmentRole.REFERENCE_STANDARD, port_settings={})
    session.add(instrument)
    session.flush()
    record(session, actor=actor, action="instrument.register", entity_type="instruments",
           entity_id=asset, after={**snapshot(instrument),
                                   "from_certificate": cert.number})
    return instrument


def certificate_from_json(data: Any) -> ParsedCertificate:
    """Validate a typed calibration in the LIMS JSON certificate form."""
    from lims.calibration.certificates import parse_json

    return parse_json(data)


def _locked_record(session: Session, record_id: int) -> CalibrationRecord:
    """A record read afresh under its row lock: of concurrent corrections or status changes
    of one record, one waits for the other and sees what it did.

    :raises InvalidInput: not an id (SQLite cannot even bind an int beyond 64 bits).
    """
    record_id = as_id(record_id, "record_id")
    rec = session.get(CalibrationRecord, record_id, with_for_update={"of": CalibrationRecord},
                      populate_existing=True)
    if rec is None:
        raise NotFound(msg("no calibration record %(record_id)s", record_id=record_id))
    return rec


def correct_record(session: Session, *, actor: User, record_id: int, data: Any, reason: Any,
                   timezone: str, warning_days: int = 30) -> CalibrationRecord:
    """Correct a calibration record: a new version with the reason; the old one stays readable."""
    require(actor, "calibration.record")
    reason = text(reason, "reason", max_len=2000)
    old = _locked_record(session, record_id)
    if not old.is_current:
        raise Conflict(msg("record %(record_id)s was already corrected; correct the current version",
                           record_id=record_id))
    if old.status == RecordStatus.REVOKED:
        raise Conflict(msg("record %(record_id)s is revoked; record a new calibration instead",
                           record_id=record_id))
    cert = certificate_from_json(data)
    if cert.number != old.certificate_number:
        raise InvalidInput(msg("a correction keeps the certificate number; record a new calibration "
                               "instead"), field="number")
    instrument = session.get(Instrument, old.instrument_id)
    assert instrument is not None  # noqa: S101 - a foreign key
    old.is_current = False
    session.flush()
    # The correction keeps what the correction does not touch: the certificate file received
    # and a status found since (out of tolerance, superseded).
    return record_certificate(session, actor=actor, instrument=instrument, cert=cert,
                              source="typed", timezone=timezone, reason=reason, replaces=old,
                              warning_days=warning_days, status=old.status, file=old.file,
                              file_name=old.file_name, file_type=old.file_type)


def set_record_status(session: Session, *, actor: User, record_id: int, status: Any,
                      reason: Any) -> CalibrationRecord:
    """Revoke a record, or mark it found out of tolerance later (the impact analysis starts)."""
    require(actor, "calibration.record")
    reason = text(reason, "reason", max_len=2000)
    allowed = (RecordStatus.REVOKED, RecordStatus.OUT_OF_TOLERANCE)
    if status not in allowed:
        raise InvalidInput(msg("must be one of %(allowed)s", allowed=Choices(allowed)), field="status")
    rec = _locked_record(session, record_id)
    if rec.status == RecordStatus.REVOKED:
        raise Conflict(msg("record %(record_id)s is revoked", record_id=record_id))
    before = {"status": rec.status}
    rec.status = status
    session.flush()
    record(session, actor=actor, action="calibration.status", entity_type="calibration_records",
           entity_id=rec.id, before=before, after={"status": status}, reason=reason)
    return rec


# --- intermediate checks ---------------------------------------------------------------------

def record_check(session: Session, *, actor: User, instrument: Instrument, data: dict[str, Any],
                 timezone: str, warning_days: int = 30, source: str = "typed",
                 raw_bytes: bytes | None = None) -> IntermediateCheck:
    """Record an intermediate check (期间核查, ISO/IEC 17025 6.4.10): the mean of the readings of
    a check standard against its nominal value; |mean − nominal| ≤ limit passes. A failed check
    flags the instrument and stops its use until a check passes or it is recalibrated. Only the
    newest check decides the flag: a check entered late for an earlier day changes nothing.

    :param source: ``instrument`` when the readings came through the driver (with
        ``raw_bytes``); never taken from the client's data.
    """
    require(actor, "calibration.record")
    lock_instrument(session, instrument)  # the newest check decides the flag: one at a time
    unit_text = text(data.get("unit"), "unit", max_len=40)
    unit = units.parse_unit(unit_text)
    dim = dimension_of(unit_text)
    declared = {q.dimension for q in instrument.quantities}
    if declared and dim not in declared:
        shown = ", ".join(f"{q.quantity} ({q.unit})" for q in instrument.quantities)
        raise InvalidInput(msg("%(asset)s measures %(shown)s, not %(unit_text)s",
                               asset=instrument.asset_number, shown=shown, unit_text=unit_text),
                           field="unit")
    nominal = units.parse_value(data.get("nominal"), field="nominal")
    limit = units.parse_value(data.get("limit"), field="limit")
    if limit <= 0:
        raise InvalidInput(msg("the acceptance limit must be positive"), field="limit")
    raw = data.get("readings")
    if not isinstance(raw, list) or not raw or len(raw) > 100:
        raise InvalidInput(msg("give 1 to 100 readings"), field="readings")
    readings = [units.parse_value(r, field=f"readings[{i}]") for i, r in enumerate(raw)]
    mean = sum(readings, Decimal(0)) / len(readings)
    # parse_value admits finite numbers only, so each exponent is an int (not 'n', 'N' or 'F').
    places = min(int(r.as_tuple().exponent) for r in readings)
    mean = mean.quantize(Decimal(1).scaleb(places - 1))  # one digit more than the readings
    deviation = mean - nominal
    standard = None
    if data.get("check_standard"):
        standard = _find_asset(session, text(data["check_standard"], "check_standard",
                                             max_len=40), "check_standard")
        if standard.id == instrument.id:
            raise InvalidInput(msg("an instrument cannot be its own check standard"),
                               field="check_standard")
        if standard.retired_at is not None:  # withdrawn from use (ISO/IEC 17025 6.4.13)
            raise InvalidInput(msg("check standard %(asset)s is retired",
                                   asset=standard.asset_number), field="check_standard")
    checked_at = utcnow() if data.get("checked_at") in (None, "") else \
        moment(data["checked_at"], "checked_at", timezone=timezone)
    if checked_at > utcnow() + dt.timedelta(minutes=5):
        raise InvalidInput(msg("a check cannot be in the future"), field="checked_at")
    check = IntermediateCheck(
        instrument_id=instrument.id, check_standard_id=standard.id if standard else None,
        checked_at=checked_at, nominal=str(data.get("nominal")).strip(), unit=unit_text,
        readings=[str(r).strip() for r in raw], mean=format(mean, "f"),
        deviation=format(deviation, "f"), limit=str(data.get("limit")).strip(),
        result="pass" if abs(deviation) <= limit else "fail",
        notes=text(data.get("notes"), "notes", required=False, max_len=2000),
        source=source, raw=raw_bytes, performed_by_id=actor.id)
    del unit
    session.add(check)
    session.flush()
    record(session, actor=actor, action="instrument.check", entity_type="intermediate_checks",
           entity_id=check.id, after={**snapshot(check), "instrument": instrument.asset_number})
    newest = session.scalar(select(IntermediateCheck.id)
                            .where(IntermediateCheck.instrument_id == instrument.id)
                            .order_by(IntermediateCheck.checked_at.desc(),
                                      IntermediateCheck.id.desc()).limit(1))
    if newest != check.id:
        return check
    if check.result == "fail":
        before = {"calibration_flag": instrument.calibration_flag}
        instrument.calibration_flag, instrument.flagged_at = CalibrationFlag.CHECK_FAILED, utcnow()
        record(session, actor=actor, action="instrument.calibration_flag",
               entity_type="instruments", entity_id=instrument.asset_number, before=before,
               after={"calibration_flag": CalibrationFlag.CHECK_FAILED},
               reason=f"intermediate check {check.id} failed")
    elif instrument.calibration_flag == CalibrationFlag.CHECK_FAILED:
        instrument.calibration_flag = CalibrationFlag.OK
        refresh_flag(session, instrument, today=lab_day(utcnow(), timezone),
                     warning_days=warning_days, timezone=timezone)
    session.flush()
    return check


def checks_query(instrument_id: int) -> Select[IntermediateCheck]:
    """An instrument's intermediate checks; ordered and paged by the caller."""
    return select(IntermediateCheck).where(IntermediateCheck.instrument_id == instrument_id)
