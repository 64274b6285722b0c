"""JSON shapes of customers, methods, samples and results for the API."""

from __future__ import annotations

from typing import Any

from lims.samples.models import Customer, Result, Sample, TestMethod
from lims.units import symbol


def iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def customer(c: Customer) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, "contact": c.contact, "address": c.address}


def method(m: TestMethod) -> dict[str, Any]:
    return {"id": m.id, "code": m.code, "title": m.title, "clause": m.clause, "field": m.field,
            "characteristics": [
                {"id": ch.id, "name": ch.name, "unit": symbol(ch.unit),
                 "lower_limit": ch.lower_limit, "upper_limit": ch.upper_limit}
                for ch in m.characteristics]}


def result(r: Result) -> dict[str, Any]:
    return {"id": r.id, "characteristic_id": r.characteristic_id, "version": r.version,
            "is_current": r.is_current, "value": r.value, "unit": r.unit_text,
            "unit_canonical": r.unit, "conformity": r.conformity, "source": r.source,
            "instrument_id": r.instrument_id, "instrument_due_on": iso(r.instrument_due_on),
            "calibration_record_id": r.calibration_record_id,
            "raw": r.raw.decode("latin-1") if r.raw is not None else None,
            "measured_at": iso(r.measured_at), "recorded_at": iso(r.recorded_at),
            "recorded_by_id": r.recorded_by_id, "replaces_id": r.replaces_id, "reason": r.reason}


def sample(s: Sample, *, with_results: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "number": s.number, "request": s.request.number, "customer": customer(s.request.customer),
        "description": s.description, "status": s.status,
        "registered_at": iso(s.registered_at), "received_at": iso(s.received_at),
        "received_by_id": s.received_by_id, "condition_on_receipt": s.condition_on_receipt,
        "reviewed_at": iso(s.reviewed_at), "reviewed_by_id": s.reviewed_by_id,
        "approved_at": iso(s.approved_at), "approved_by_id": s.approved_by_id,
    }
    if with_results:
        data["tests"] = [{"method": method(t.method),
                          "results": [result(r) for r in t.results]} for t in s.tests]
    return data
