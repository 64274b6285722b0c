"""JSON API for customers, methods, requests, samples and results (``/api/v1``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import select

from lims.db import unit_of_work
from lims.samples import serialize, services
from lims.samples.models import Customer, Sample, TestMethod
from lims.web.auth import current_user, login_policy
from lims.web.context import get_session, settings
from lims.web.inputs import json_body, json_body_or_empty

bp = Blueprint("samples_api", __name__, url_prefix="/api/v1")


@bp.get("/customers")
def customers() -> Any:
    rows = get_session().scalars(select(Customer).order_by(Customer.id)).all()
    return jsonify(customers=[serialize.customer(c) for c in rows])


@bp.post("/customers")
def create_customer() -> Any:
    data = json_body()
    with unit_of_work(get_session()) as db:
        c = services.create_customer(db, actor=current_user(), name=data.get("name"),
                                     contact=data.get("contact", ""),
                                     address=data.get("address", ""))
        body = serialize.customer(c)
    return jsonify(body), 201


@bp.get("/methods")
def methods() -> Any:
    rows = get_session().scalars(select(TestMethod).order_by(TestMethod.id)).all()
    return jsonify(methods=[serialize.method(m) for m in rows])


@bp.post("/methods")
def create_method() -> Any:
    data = json_body()
    with unit_of_work(get_session()) as db:
        m = services.create_method(db, actor=current_user(), code=data.get("code"),
                                   title=data.get("title"), field=data.get("field"),
                                   clause=data.get("clause", ""),
                                   characteristics=data.get("characteristics"))
        body = serialize.method(m)
    return jsonify(body), 201


@bp.post("/requests")
def create_request() -> Any:
    data = json_body()
    s = settings()
    with unit_of_work(get_session()) as db:
        req = services.create_request(db, actor=current_user(), customer_id=data.get("customer_id"),
                                      description=data.get("description", ""),
                                      decision_rule=data.get("decision_rule"), r=data.get("r"),
                                      number_format=s.request_number_format, timezone=s.timezone)
        body = {"id": req.id, "number": req.number, "customer_id": req.customer_id,
                "decision_rule": serialize.decision_rule(req)}
    return jsonify(body), 201


@bp.get("/samples")
def samples() -> Any:
    rows = get_session().scalars(select(Sample).order_by(Sample.id.desc()).limit(500)).all()
    return jsonify(samples=[serialize.sample(x, with_results=False) for x in rows])


@bp.post("/samples")
def register_sample() -> Any:
    data = json_body()
    s = settings()
    with unit_of_work(get_session()) as db:
        sample = services.register_sample(
            db, actor=current_user(), request_id=data.get("request_id"),
            description=data.get("description"), method_ids=data.get("method_ids"),
            number_format=s.sample_number_format, timezone=s.timezone)
        body = serialize.sample(sample)
    return jsonify(body), 201


@bp.get("/samples/<number>")
def sample(number: str) -> Any:
    return jsonify(serialize.sample(services.get_sample(get_session(), number)))


@bp.post("/samples/<number>/receive")
def receive(number: str) -> Any:
    data = json_body()
    with unit_of_work(get_session()) as db:
        s = services.receive_sample(db, actor=current_user(), number=number,
                                    condition=data.get("condition"))
        body = serialize.sample(s)
    return jsonify(body)


@bp.post("/samples/<number>/results")
def record_result(number: str) -> Any:
    data = json_body()
    with unit_of_work(get_session()) as db:
        r = services.record_result(db, actor=current_user(), number=number,
                                   characteristic_id=data.get("characteristic_id"),
                                   value=data.get("value"), unit=data.get("unit"),
                                   instrument_id=data.get("instrument_id"),
                                   measured_at=data.get("measured_at"),
                                   timezone=settings().timezone)
        body = serialize.result(r)
    return jsonify(body), 201


@bp.post("/samples/<number>/capture")
def capture(number: str) -> Any:
    """Read the instrument now and record its reading, with the raw bytes, as the result."""
    data = json_body()
    user = current_user()
    db = get_session()
    instrument, reading = services.read_for_result(
        db, actor=user, number=number, characteristic_id=data.get("characteristic_id"),
        instrument_id=data.get("instrument_id"), timezone=settings().timezone,
        port_hosts=settings().port_hosts)
    with unit_of_work(db):
        r = services.record_reading(db, actor=user, number=number,
                                    characteristic_id=data.get("characteristic_id"),
                                    instrument=instrument, reading=reading,
                                    timezone=settings().timezone)
        body = serialize.result(r)
    return jsonify(body), 201


@bp.post("/results/<int:result_id>/corrections")
def correct(result_id: int) -> Any:
    data = json_body()
    with unit_of_work(get_session()) as db:
        r = services.correct_result(db, actor=current_user(), result_id=result_id,
                                    value=data.get("value"), unit=data.get("unit"),
                                    reason=data.get("reason"),
                                    instrument_id=data.get("instrument_id"),
                                    measured_at=data.get("measured_at"),
                                    timezone=settings().timezone)
        body = serialize.result(r)
    return jsonify(body), 201


@bp.post("/results/<int:result_id>/decision")
def decide(result_id: int) -> Any:
    """A reviewer's conformity decision for an undecided result, with the reason."""
    data = json_body()
    with unit_of_work(get_session()) as db:
        d = services.decide_conformity(db, actor=current_user(), result_id=result_id,
                                       conformity=data.get("conformity"),
                                       reason=data.get("reason"))
        body = serialize.decision(d)
    return jsonify(body), 201


def _transition(number: str, service: object) -> Any:
    with unit_of_work(get_session()) as db:
        s = service(db, actor=current_user(), number=number)  # type: ignore[operator]
        body = serialize.sample(s)
    return jsonify(body)


@bp.post("/samples/<number>/complete")
def complete(number: str) -> Any:
    return _transition(number, services.complete_testing)


@bp.post("/samples/<number>/review")
def review(number: str) -> Any:
    return _transition(number, services.review_sample)


@bp.post("/samples/<number>/approve")
def approve(number: str) -> Any:
    """Approve: an electronic signature, so ``{"password": …}`` is required (422 without it,
    403 ``reauthentication_failed`` when wrong)."""
    data = json_body_or_empty()
    with unit_of_work(get_session()) as db:
        s = services.approve_sample(db, actor=current_user(), number=number,
                                    password=data.get("password"), policy=login_policy())
        body = serialize.sample(s)
    return jsonify(body)
