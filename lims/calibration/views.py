"""Calibration pages and API: records, imports, checks, traceability chains, impact analysis."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import func, select

from lims import units
from lims.auth.permissions import allowed
from lims.auth.services import require
from lims.calibration import api_models as m
from lims.calibration import chains, services, svg
from lims.calibration.models import CalibrationRecord, IntermediateCheck
from lims.db import unit_of_work, utcnow
from lims.errors import InvalidInput, NotFound, msg
from lims.instruments.services import find_instrument
from lims.readings.live import live_values
from lims.validate import as_id, date
from lims.web import listing
from lims.web.api_models import API_PER_PAGE
from lims.web.auth import current_user
from lims.web.context import get_session, settings
from lims.web.i18n import LABELS, label
from lims.web.inputs import allow_upload, form, json_model, query_model
from lims.web.openapi import operation

bp = Blueprint("calibration", __name__)
api = Blueprint("calibration_api", __name__, url_prefix="/api/v1")

MAX_CERTIFICATE = 20 * 1024 * 1024


def record_json(rec: CalibrationRecord) -> dict[str, Any]:
    return {
        "id": rec.id, "instrument_id": rec.instrument_id, "certificate": rec.certificate_number,
        "version": rec.version, "is_current": rec.is_current, "replaces_id": rec.replaces_id,
        "reason": rec.reason, "provider": rec.provider.name, "provider_kind": rec.provider.kind,
        "accreditation": rec.provider.accreditation,
        "calibrated_on": rec.calibrated_on.isoformat() if rec.calibrated_on else None,
        "valid_until": rec.valid_until.isoformat(), "status": rec.status,
        "conditions": rec.conditions, "conformity": rec.conformity, "source": rec.source,
        "file": {"name": rec.file_name, "type": rec.file_type, "sha256": rec.file_sha256}
        if rec.file_sha256 else None,
        "points": [{"seq": p.seq, "state": p.state, "quantity": p.quantity,
                    "nominal": p.nominal, "nominal_unit": p.nominal_unit, "value": p.value,
                    "unit": p.unit, "expanded_uncertainty": p.expanded_uncertainty, "k": p.k,
                    "coverage_probability": p.coverage_probability} for p in rec.points],
        "standards": sorted({s.instrument_id for s in rec.standards}),
    }


def import_json(rec: CalibrationRecord, asset: str) -> dict[str, Any]:
    """The ``lims calibration import --json`` document (an issue contract; keep the keys)."""
    return {"certificate": {"number": rec.certificate_number, "provider": rec.provider.name,
                            "provider_kind": rec.provider.kind,
                            "calibrated_on": rec.calibrated_on.isoformat()
                            if rec.calibrated_on else None,
                            "valid_until": rec.valid_until.isoformat()},
            "instrument": asset,
            "results": [{"quantity": p.quantity, "nominal": p.nominal, "value": p.value,
                         "unit": p.unit_canonical, "expanded_uncertainty": p.expanded_uncertainty,
                         "k": p.k, "coverage_probability": p.coverage_probability}
                        for p in rec.points]}


def attachment(name: str) -> str:
    """A Content-Disposition for any file name: an ASCII fallback and the UTF-8 name (RFC 6266);
    a raw non-ASCII name in a header breaks the WSGI server."""
    from urllib.parse import quote

    fallback = "".join(ch if 32 < ord(ch) < 127 and ch not in '"\\' else "_" for ch in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _record(record_id: int) -> CalibrationRecord:
    rec = get_session().get(CalibrationRecord, as_id(record_id, "record_id"))
    if rec is None:
        raise NotFound(msg("no calibration record %(record_id)s", record_id=record_id))
    return rec


def _upload() -> tuple[bytes, str | None]:
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        try:
            data = upload.read(MAX_CERTIFICATE + 1)
        finally:
            upload.close()  # a large part is spooled to a temporary file: close it now
        name = upload.filename
    elif request.files:
        raise InvalidInput(msg("choose the certificate file"), field="file")
    else:
        data, name = request.get_data(cache=False), None
    if not data:
        raise InvalidInput(msg("the certificate file is empty"), field="file")
    if len(data) > MAX_CERTIFICATE:
        raise InvalidInput(msg("the certificate file is larger than 20 MB"), field="file")
    return data, name


def _optional_date(value: Any, field: str) -> dt.date | None:
    return date(value, field, required=False)


# --- API -------------------------------------------------------------------------------------

# Newest first by default: an undated record sorts as the oldest, last when newest first, on
# both databases.
RECORD_SORTS = {"calibrated": func.coalesce(CalibrationRecord.calibrated_on, dt.date(1, 1, 1))}
CHECK_SORTS = {"checked": IntermediateCheck.checked_at}


@api.get("/instruments/<asset>/calibrations")
@operation("Calibration history of an instrument, a page at a time",
           query=m.CalibrationRecordsQuery, response=m.CalibrationRecords)
def calibrations_json(asset: str) -> Any:
    query_model(m.CalibrationRecordsQuery)
    db = get_session()
    instrument = find_instrument(db, asset)
    query = services.history_query(instrument.id)
    if term := listing.search_term(request.args):
        query = query.where(listing.contains_text(CalibrationRecord.certificate_number, term))
    page = listing.paginate(db, query, request.args, sorts=RECORD_SORTS, default="-calibrated",
                            tiebreak=CalibrationRecord.id, per_page=API_PER_PAGE)
    return jsonify(calibrations=[record_json(r) for r in page.items], **page.api())


@api.post("/instruments/<asset>/calibrations")
@operation("Record a calibration (LIMS JSON certificate form)", body=m.Certificate,
           response=m.CalibrationRecord, status=201, errors=[403, 409],
           links=("/api/v1/calibrations/{record_id}", {"record_id": "id"}))
def record_calibration_json(asset: str) -> Any:
    """Record a typed calibration in the LIMS JSON certificate form."""
    data = json_model(m.Certificate).model_dump(exclude_unset=True)
    s = settings()
    with unit_of_work(get_session()) as db:
        require(current_user(), "calibration.record")
        instrument = find_instrument(db, asset)
        cert = services.certificate_from_json({**data, "instrument": data.get("instrument",
                                                                                asset)})
        if cert.instrument != asset:
            raise InvalidInput(msg("the certificate is for %(instrument)s, not %(asset)s",
                                   instrument=cert.instrument, asset=asset),
                               field="instrument")
        rec = services.record_certificate(db, actor=current_user(), instrument=instrument,
                                          cert=cert, source="typed", timezone=s.timezone,
                                          warning_days=s.calibration_warning_days)
        body = record_json(rec)
    return jsonify(body), 201


@api.post("/calibrations/import")
@allow_upload(MAX_CERTIFICATE + 64 * 1024)
@operation("Import a certificate file: PTB DCC XML or LIMS JSON", upload=True,
           query=m.ImportQuery, response=m.ImportedCertificate, status=201, errors=[403, 409])
def import_json_api() -> Any:
    """Import a certificate file (PTB DCC XML or LIMS JSON): multipart ``file`` or the body."""
    query = query_model(m.ImportQuery)
    data, name = _upload()
    s = settings()
    with unit_of_work(get_session()) as db:
        rec = services.import_certificate(
            db, actor=current_user(), data=data, filename=name,
            asset=query.instrument or None, provider_kind=query.provider_kind,
            valid_until=_optional_date(query.valid_until, "valid_until"),
            timezone=s.timezone, interval_days=s.calibration_interval_days,
            warning_days=s.calibration_warning_days)
        body = import_json(rec, find_asset_number(rec))
    return jsonify(body), 201


def find_asset_number(rec: CalibrationRecord) -> str:
    from lims.instruments.models import Instrument

    instrument = get_session().get(Instrument, rec.instrument_id)
    return instrument.asset_number if instrument else ""


@api.get("/calibrations/<int:record_id>")
@operation("Show a calibration record", response=m.CalibrationRecord)
def show_record_json(record_id: int) -> Any:
    return jsonify(record_json(_record(record_id)))


@api.post("/calibrations/<int:record_id>/corrections")
@operation("Correct a record: a new version with a reason", body=m.CertificateCorrection,
           response=m.CalibrationRecord, status=201, errors=[403, 409])
def correct_record_json(record_id: int) -> Any:
    data = json_model(m.CertificateCorrection).model_dump(exclude_unset=True)
    reason = data.pop("reason", None)
    with unit_of_work(get_session()) as db:
        rec = services.correct_record(db, actor=current_user(), record_id=record_id, data=data,
                                      reason=reason, timezone=settings().timezone,
                                      warning_days=settings().calibration_warning_days)
        body = record_json(rec)
    return jsonify(body), 201


@api.post("/calibrations/<int:record_id>/status")
@operation("Revoke, or mark found out of tolerance", body=m.RecordStatusChange,
           response=m.CalibrationRecord, errors=[403, 409])
def record_status_json(record_id: int) -> Any:
    data = json_model(m.RecordStatusChange)
    with unit_of_work(get_session()) as db:
        rec = services.set_record_status(db, actor=current_user(), record_id=record_id,
                                         status=data.status, reason=data.reason)
        body = record_json(rec)
    return jsonify(body)


@api.get("/calibrations/<int:record_id>/file")
@operation("The stored certificate file, as received",
           files=("application/xml", "application/json", "application/pdf",
                  "application/octet-stream"))
def record_file(record_id: int) -> Any:
    rec = _record(record_id)
    if rec.file is None:
        raise NotFound(msg("calibration record %(record_id)s has no stored certificate file",
                           record_id=record_id))
    return Response(rec.file, mimetype=rec.file_type or "application/octet-stream", headers={
        "Content-Disposition": attachment(rec.file_name or f"calibration-{rec.id}"),
        "X-Content-SHA256": rec.file_sha256 or ""})


@api.get("/instruments/<asset>/checks")
@operation("Intermediate checks, oldest first, a page at a time", query=m.ChecksQuery,
           response=m.Checks)
def checks_json(asset: str) -> Any:
    query_model(m.ChecksQuery)
    db = get_session()
    instrument = find_instrument(db, asset)
    page = listing.paginate(db, services.checks_query(instrument.id), request.args,
                            sorts=CHECK_SORTS, default="checked", tiebreak=IntermediateCheck.id,
                            per_page=API_PER_PAGE)
    return jsonify(checks=[check_json(c) for c in page.items], **page.api())


def check_json(c: Any) -> dict[str, Any]:
    return {"id": c.id, "checked_at": c.checked_at.isoformat(), "nominal": c.nominal,
            "unit": c.unit, "readings": c.readings, "mean": c.mean, "deviation": c.deviation,
            "limit": c.limit, "result": c.result, "notes": c.notes, "source": c.source}


@api.post("/instruments/<asset>/checks")
@operation("Record an intermediate check", body=m.NewCheck, response=m.Check, status=201,
           errors=[403, 409])
def record_check_json(asset: str) -> Any:
    data = json_model(m.NewCheck).model_dump(exclude_unset=True)
    with unit_of_work(get_session()) as db:
        check = services.record_check(db, actor=current_user(),
                                      instrument=find_instrument(db, asset), data=data,
                                      timezone=settings().timezone,
                                      warning_days=settings().calibration_warning_days)
        body = check_json(check)
    return jsonify(body), 201


@api.post("/instruments/<asset>/checks/capture")
@operation("Record an intermediate check read through the instrument's driver",
           body=m.CaptureCheck, response=m.Check, status=201, errors=[403, 409])
def capture_check_json(asset: str) -> Any:
    """An intermediate check read through the instrument's driver: ``count`` readings of the
    check standard, with their raw bytes, against ``nominal`` ± ``limit``."""
    check = _capture_check(asset, json_model(m.CaptureCheck).model_dump(exclude_unset=True))
    return jsonify(check_json(check)), 201


def _capture_check(asset: str, data: dict[str, Any]) -> Any:
    """Read ``count`` readings outside any transaction (it can take seconds), then record."""
    from lims.instruments.capture import take_readings

    db = get_session()
    require(current_user(), "calibration.record")
    instrument = find_instrument(db, asset)
    count = data.get("count", 3)
    if isinstance(count, str) and count.strip().isdigit():
        count = int(count)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 20:
        raise InvalidInput(msg("must be a whole number from 1 to 20"), field="count")
    unit = data.get("unit") or (instrument.quantities[0].unit if instrument.quantities else None)
    if not unit:
        raise InvalidInput(msg("give the unit of the check"), field="unit")
    db.rollback()
    readings = take_readings(instrument, unit, count, port_hosts=settings().port_hosts)
    with unit_of_work(db):
        check = services.record_check(
            db, actor=current_user(), instrument=find_instrument(db, asset),
            data={**data, "unit": readings[0].unit, "readings": [r.value for r in readings]},
            timezone=settings().timezone, warning_days=settings().calibration_warning_days,
            source="instrument", raw_bytes=b"\n".join(r.raw for r in readings))
    return check


@api.get("/reports/<number>/traceability")
@operation("Traceability chain of every result of a report", response=m.Trace)
def trace_json(number: str) -> Any:
    return jsonify(chains.trace_report(get_session(), number, timezone=settings().timezone))


@api.get("/instruments/<asset>/impact")
@operation("Impact analysis: what relied on an instrument between two days",
           query=m.ImpactQuery, response=m.Impact)
def impact_json(asset: str) -> Any:
    query = query_model(m.ImpactQuery)
    start = date(query.from_, "from")
    end = date(query.to, "to", required=False) or _today()
    assert start is not None  # noqa: S101 - required above
    return jsonify(chains.impact(get_session(), asset, start=start, end=end,
                                 timezone=settings().timezone).to_json())


def _today() -> dt.date:
    from lims.db import utcnow

    return services.lab_day(utcnow(), settings().timezone)


# --- pages -----------------------------------------------------------------------------------

# The instrument page's lists, each paged by its own arguments (``cal_page``, ``check_page``):
# a register entry that grows for years is shown a page at a time, newest first (issue 14).
RECORDS_PER_PAGE = 20  # a record unfolds into its points: fewer per page than a plain list
CHECKS_PER_PAGE = 50


def instrument_page(asset: str) -> Any:
    """The instrument's register entry, the calibration in force, a page of its calibration
    history and a page of its checks (newest first, with their control charts), and the
    forms to act. Nothing on it grows with the history (issue 14)."""
    db, args = get_session(), request.args
    instrument = find_instrument(db, asset)
    records = listing.paginate(
        db, services.history_query(instrument.id), args, sorts=RECORD_SORTS,
        default="-calibrated", tiebreak=CalibrationRecord.id, per_page=RECORDS_PER_PAGE,
        prefix="cal_")
    checks = listing.paginate(
        db, services.checks_query(instrument.id), args, sorts=CHECK_SORTS, default="-checked",
        tiebreak=IntermediateCheck.id, per_page=CHECKS_PER_PAGE, prefix="check_")
    names = _asset_names({s.instrument_id for r in records.items for s in r.standards}
                         | {c.check_standard_id for c in checks.items if c.check_standard_id})
    tz = settings().timezone
    return render_template(
        "calibration/instrument.html", instrument=instrument, records=records,
        standard_names=names, checks=checks,
        # The charts plot the checks of the page shown: the next page charts the older ones.
        charts=_control_charts(checks.items, tz),
        in_force=services.record_in_force(db, instrument, _today(), timezone=tz),
        can_manage=allowed(current_user().roles, "instrument.manage"),
        can_calibrate=allowed(current_user().roles, "calibration.record"),
        # issue 12 §2: the live value, when a capture agent reads the instrument
        live=live_values(db, [(instrument.id, instrument.asset_number)], utcnow()).get(
            instrument.id))


def _control_charts(found: list[Any], timezone: str) -> list[tuple[str, Markup]]:
    """One control chart per checked value (nominal and unit): a chart mixes no units."""
    tz = ZoneInfo(timezone)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for c in found:
        groups.setdefault((c.nominal, c.unit), []).append({
            "checked_at": c.checked_at.astimezone(tz), "deviation": c.deviation,
            "limit": c.limit, "result": c.result, "mean": c.mean, "nominal": c.nominal})
    return [(f"{nominal} {units.display(unit)}", Markup(svg.control_chart_svg(  # noqa: S704
        rows, unit=units.display(unit), ident=f"chart-{i}", tr=_translate,  # text escaped
        title=_("Intermediate checks at %(nominal)s %(unit)s", nominal=nominal,
                unit=units.display(unit)))))
        for i, ((nominal, unit), rows) in enumerate(groups.items())]


def _asset_names(ids: set[int]) -> dict[int, str]:
    from lims.instruments.models import Instrument

    if not ids:
        return {}
    return dict(get_session().execute(select(Instrument.id, Instrument.asset_number)
                                      .where(Instrument.id.in_(ids))).all())


@bp.post("/instruments/<asset>/calibrations/import")
@allow_upload(MAX_CERTIFICATE + 64 * 1024)
def import_page(asset: str) -> Any:
    data, name = _upload()
    with unit_of_work(get_session()) as db:
        rec = services.import_certificate(db, actor=current_user(), data=data, filename=name,
                                          asset=asset,
                                          valid_until=_optional_date(form().get("valid_until"),
                                                                     "valid_until"),
                                          timezone=settings().timezone,
                                          interval_days=settings().calibration_interval_days,
                                          warning_days=settings().calibration_warning_days)
        flash(_("Certificate %(number)s recorded", number=rec.certificate_number), "ok")
    return redirect(url_for("instruments.detail", asset=asset), code=303)


def typed_certificate(data: dict[str, Any], asset: str) -> dict[str, Any]:
    """The typed-calibration form as the LIMS JSON certificate form.

    Points come one per line as ``quantity | nominal | value | unit | U | k`` (nominal, U and k
    may be left empty); standards as asset numbers separated by spaces.
    """
    points = []
    for n, line in enumerate((data.get("points") or "").splitlines(), start=1):
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split("|")]
        if len(cells) != 6:
            raise InvalidInput(msg("line %(line)s: write quantity | nominal | value | unit | U | k (6 "
                                   "cells, %(cells)s given)", line=n, cells=len(cells)), field="points")
        quantity, nominal, value, unit, u, k = cells
        point = {"quantity": quantity, "value": value, "unit": unit}
        if nominal:
            point.update(nominal=nominal, nominal_unit=unit)
        if u:
            point["expanded_uncertainty"] = u
        if k:
            point["k"] = k  # never assumed: a U without k is refused (JCGM 100 7.2.3)
        points.append(point)
    if not points:
        raise InvalidInput(msg("give at least one calibrated point"), field="points")
    return {"number": data.get("number"), "instrument": asset,
            "provider": {"name": data.get("provider_name"), "kind": data.get("provider_kind"),
                         "accreditation": data.get("accreditation", "")},
            "calibrated_on": data.get("calibrated_on"),
            "valid_until": data.get("valid_until") or None,
            "standards_used": (data.get("standards_used") or "").split(),
            "conformity": data.get("conformity", ""), "results": points}


@bp.post("/instruments/<asset>/calibrations")
@allow_upload(MAX_CERTIFICATE + 64 * 1024)
def record_page(asset: str) -> Any:
    """Record a calibration typed from a paper certificate, with a scan of it (PDF)."""
    data = form()
    s = settings()
    scan = request.files.get("file")
    pdf, scan_name = None, None
    if scan is not None and scan.filename:
        scan_name = scan.filename
        try:
            pdf = scan.read(MAX_CERTIFICATE + 1)
        finally:
            scan.close()
    if pdf is not None and (not pdf.startswith(b"%PDF-") or len(pdf) > MAX_CERTIFICATE):
        raise InvalidInput(msg("the scan must be a PDF file of at most 20 MB"), field="file")
    with unit_of_work(get_session()) as db:
        require(current_user(), "calibration.record")
        instrument = find_instrument(db, asset)
        cert = services.certificate_from_json(typed_certificate(data, asset))
        rec = services.record_certificate(
            db, actor=current_user(), instrument=instrument, cert=cert, source="typed",
            timezone=s.timezone, interval_days=s.calibration_interval_days,
            warning_days=s.calibration_warning_days, file=pdf,
            file_name=services.safe_file_name(scan_name) if pdf and scan_name else None,
            file_type="application/pdf" if pdf else None)
        flash(_("Calibration %(number)s recorded", number=rec.certificate_number), "ok")
    return redirect(url_for("instruments.detail", asset=asset), code=303)


@bp.post("/calibrations/import")
@allow_upload(MAX_CERTIFICATE + 64 * 1024)
def import_any_page() -> Any:
    data, name = _upload()
    with unit_of_work(get_session()) as db:
        rec = services.import_certificate(db, actor=current_user(), data=data, filename=name,
                                          timezone=settings().timezone,
                                          interval_days=settings().calibration_interval_days,
                                          warning_days=settings().calibration_warning_days)
        asset = find_asset_number(rec)
        flash(_("Certificate %(number)s recorded for %(asset)s", number=rec.certificate_number,
                asset=asset), "ok")
    return redirect(url_for("instruments.detail", asset=asset), code=303)


@bp.post("/instruments/<asset>/checks")
def check_page(asset: str) -> Any:
    data = form()
    data["readings"] = [r for r in data.get("readings", "").replace(",", " ").split() if r]
    with unit_of_work(get_session()) as db:
        check = services.record_check(db, actor=current_user(),
                                      instrument=find_instrument(db, asset), data=data,
                                      timezone=settings().timezone,
                                      warning_days=settings().calibration_warning_days)
        flash(_("Intermediate check recorded: %(result)s", result=label(check.result)),
              "ok" if check.result == "pass" else "error")
    return redirect(url_for("instruments.detail", asset=asset), code=303)


@bp.post("/instruments/<asset>/checks/capture")
def capture_check_page(asset: str) -> Any:
    data = form()
    check = _capture_check(asset, data)
    flash(_("Intermediate check read from %(asset)s: %(readings)s %(unit)s: %(result)s",
            asset=asset, readings=", ".join(check.readings), unit=units.display(check.unit),
            result=label(check.result)), "ok" if check.result == "pass" else "error")
    return redirect(url_for("instruments.detail", asset=asset), code=303)


@bp.get("/calibrations/<int:record_id>/file")
def record_file_page(record_id: int) -> Any:
    return record_file(record_id)


@bp.get("/reports/<number>/traceability")
def trace_page(number: str) -> Any:
    """Every result of a report with its chain, drawn and tabulated (one click from a report)."""
    db = get_session()
    data = chains.trace_report(db, number, timezone=settings().timezone)
    ids = {n["record_id"] for r in data["results"] for n in r["chain"] if n.get("record_id")}
    with_file = set(db.scalars(select(CalibrationRecord.id).where(
        CalibrationRecord.id.in_(ids), CalibrationRecord.file_sha256.is_not(None)))) if ids \
        else set()
    drawings = [Markup(svg.chain_svg(  # noqa: S704 - every text is escaped in svg
        r["chain"], complete=r["complete"], reason=r["reason"], ident=f"chain-{r['result_id']}",
        tr=_translate,
        title=_("Traceability of %(what)s = %(value)s %(unit)s", what=r["characteristic"],
                value=r["value"], unit=units.display(r["unit"]))))
        for r in data["results"]]
    tz = ZoneInfo(settings().timezone)
    measured = [_local(r["measured_at"], tz) for r in data["results"]]
    return render_template("calibration/trace.html", trace=data, drawings=drawings,
                           with_file=with_file, measured=measured)


def _translate(message: str, **values: object) -> str:
    """The drawings' words in the reader's language: a stored value (role, status, provider
    kind) by its label, any other message from the catalog."""
    found = LABELS.get(message) if not values else None
    return str(found) if found is not None else _(message, **values)


def _local(iso: str, tz: ZoneInfo) -> str:
    """An ISO moment from a trace, shown in the lab's zone (a naive one is UTC)."""
    moment = dt.datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


@bp.get("/instruments/<asset>/impact")
def impact_page(asset: str) -> Any:
    """What relied on an instrument between two days: the form, then the analysis."""
    db = get_session()
    instrument = find_instrument(db, asset)
    start = date(request.args.get("from"), "from", required=False)
    result, windows = None, []
    if start is not None:
        end = date(request.args.get("to"), "to", required=False) or _today()
        result = chains.impact(db, asset, start=start, end=end, timezone=settings().timezone)
        names = _asset_names({iid for iid, _lo, _hi in result.windows})
        windows = [(names.get(iid, str(iid)), lo, hi) for iid, lo, hi in result.windows]
    return render_template("calibration/impact.html", asset=asset, instrument=instrument,
                           impact=result, windows=windows,
                           can_open=allowed(current_user().roles, "nonconformity.manage"))
