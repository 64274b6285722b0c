"""JSON shapes of customers, methods, samples and results for the API."""

from __future__ import annotations

import json
from typing import Any

from lims.samples.models import (
    Characteristic,
    ConformityDecision,
    Customer,
    Result,
    Sample,
    TestMethod,
    TestRequest,
)
from lims.samples.services import derived_conclusion
from lims.samples.turnaround import turnaround


def _lab_zone(timezone: str | None) -> str:
    """The lab's zone: given, or the running app's (every caller is an API view)."""
    if timezone is not None:
        return timezone
    from lims.web.context import settings

    return settings().timezone


def _turnaround(s: Sample, timezone: str) -> dict[str, Any]:
    from lims.db import utcnow
    from lims.samples.turnaround import local_date

    return turnaround(s, local_date(utcnow(), timezone), timezone=timezone).as_dict()


def iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def customer(c: Customer) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, "contact": c.contact, "address": c.address,
            "credit_code": c.credit_code, "phone": c.phone, "version": c.version,
            "retired_at": iso(c.retired_at)}


def characteristic(ch: Characteristic) -> dict[str, Any]:
    return {"id": ch.id, "name": ch.name, "kind": ch.kind, "unit": ch.unit_text,
            "unit_canonical": ch.unit, "lower_limit": ch.lower_limit,
            "upper_limit": ch.upper_limit, "lod": ch.lod, "loq": ch.loq,
            "expected": ch.expected, "requirement": ch.requirement(),
            "uncertainty": None if ch.uncertainty_kind is None else {
                ch.uncertainty_kind: ch.uncertainty, "k": ch.coverage_factor}}


def decision_rule(req: TestRequest) -> dict[str, Any]:
    return {"rule": req.decision_rule, "r": req.guard_factor}


def method(m: TestMethod) -> dict[str, Any]:
    return {"id": m.id, "code": m.code, "title": m.title, "clause": m.clause, "field": m.field,
            "requires_conditions": m.requires_conditions, "version": m.version,
            "retired_at": iso(m.retired_at),
            "characteristics": [characteristic(ch) for ch in m.characteristics]}


def decision(d: ConformityDecision | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {"id": d.id, "conformity": d.conformity, "reason": d.reason,
            "decided_by_id": d.decided_by_id, "decided_at": iso(d.decided_at)}


def result(r: Result) -> dict[str, Any]:
    shown_value, shown_unit = r.shown()
    return {"id": r.id, "characteristic_id": r.characteristic_id, "version": r.version,
            "is_current": r.is_current, "value": r.value, "unit": r.unit_text,
            "unit_canonical": r.unit, "kind": r.characteristic.kind,
            "shown": f"{shown_value} {shown_unit}".strip(),
            "conformity": r.conformity, "decision": decision(r.decision),
            "verdict": r.verdict, "expanded_uncertainty": r.expanded_uncertainty,
            "k": r.coverage_factor,
            "uncertainty_unit": r.characteristic.unit_text if r.expanded_uncertainty else None,
            "source": r.source,
            "instrument_id": r.instrument_id, "instrument_due_on": iso(r.instrument_due_on),
            "calibration_record_id": r.calibration_record_id,
            "raw": r.raw.decode("latin-1") if r.raw is not None else None,
            "reading_id": r.reading_id, "measured_at": iso(r.measured_at), "recorded_at": iso(r.recorded_at),
            "recorded_by_id": r.recorded_by_id, "replaces_id": r.replaces_id, "reason": r.reason}


def request_particulars(req: TestRequest) -> dict[str, Any]:
    return {"inspection_type": req.inspection_type, "product_standard": req.product_standard,
            "customer_data": req.customer_data}


def sample(s: Sample, *, with_results: bool = True, timezone: str | None = None,
           comments: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A sample as the API shows it; ``comments``: its review comments when the caller knows
    them already (none, for a sample registered in this transaction), read otherwise."""
    zone = _lab_zone(timezone)
    data: dict[str, Any] = {
        "number": s.number, "request": s.request.number, "customer": customer(s.request.customer),
        "decision_rule": decision_rule(s.request), **request_particulars(s.request),
        "particulars": {"trademark": s.trademark, "model": s.model, "batch": s.batch,
                        "quantity": s.quantity, "manufacturer": s.manufacturer},
        "description": s.description, "status": s.status,
        "registered_at": iso(s.registered_at), "received_at": iso(s.received_at),
        "received_by_id": s.received_by_id, "condition_on_receipt": s.condition_on_receipt,
        "reviewed_at": iso(s.reviewed_at), "reviewed_by_id": s.reviewed_by_id,
        "approved_at": iso(s.approved_at), "approved_by_id": s.approved_by_id,
        **planning(s), "reported_at": iso(s.reported_at), "turnaround": _turnaround(s, zone),
    }
    if with_results:
        derived = derived_conclusion(s)
        data["conclusion"] = {"derived": derived.text, "outcome": derived.outcome,
                              "worded": s.conclusion, "reason": s.conclusion_reason}
        data["tests"] = [{"method": method(t.method),
                          "conditions": json.loads(t.conditions) if t.conditions else None,
                          "deviation": t.deviation,
                          "results": [result(r) for r in t.results]} for t in s.tests]
        data["review_comments"] = review_comments(s) if comments is None else comments
    return data


def review_comments(s: Sample) -> list[dict[str, Any]]:
    """The comments given when the sample was sent back, oldest first (issue 11 §2)."""
    from sqlalchemy.orm import object_session

    from lims.samples.review import comments_of

    session = object_session(s)
    return [] if session is None else [c.as_json() for c in comments_of(session, s)]
def planning(s: Sample) -> dict[str, Any]:
    return {"acquisition": s.acquisition, "due_date": iso(s.due_date), "priority": s.priority,
            "assignee_id": s.assignee_id,
            # the product category's code (lims.samples.categories), or None
            "category": s.category.code if s.category_id is not None and s.category else None}


def request_sample(s: Sample, *, assignees: dict[int, str], timezone: str) -> dict[str, Any]:
    """A sample as a line of its request: status, plan and turnaround."""
    return {"number": s.number, "description": s.description, "status": s.status,
            **planning(s),
            "assignee": assignees.get(s.assignee_id) if s.assignee_id else None,
            "received_at": iso(s.received_at), "condition_on_receipt": s.condition_on_receipt,
            "methods": [t.method.code for t in s.tests], "turnaround": _turnaround(s, timezone)}


def request(req: TestRequest, *, assignees: dict[int, str], timezone: str | None = None,
            detail: bool = True) -> dict[str, Any]:
    """A request with its samples; ``detail`` adds the customer, description and creation."""
    zone = _lab_zone(timezone)
    data: dict[str, Any] = {
        "id": req.id, "number": req.number, "customer_id": req.customer_id,
        "decision_rule": decision_rule(req), **request_particulars(req),
        "samples": [request_sample(s, assignees=assignees, timezone=zone) for s in req.samples]}
    if detail:
        data.update(customer=customer(req.customer), description=req.description,
                    created_at=iso(req.created_at))
    return data
