"""JSON API for customers, methods, requests, samples and results (``/api/v1``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from sqlalchemy import or_, select

from lims.db import unit_of_work
from lims.samples import api_models as m
from lims.samples import categories, intake, lists, serialize, services
from lims.samples import review as workflow
from lims.samples.models import Customer, ProductCategory, Sample, TestMethod
from lims.web import listing
from lims.web.api_models import API_PER_PAGE
from lims.web.auth import current_user, login_policy
from lims.web.context import get_session, settings
from lims.web.inputs import json_model, query_model
from lims.web.openapi import operation

bp = Blueprint("samples_api", __name__, url_prefix="/api/v1")


@bp.get("/customers")
@operation("List customers, a page at a time", query=m.CustomersQuery, response=m.Customers)
def customers() -> Any:
    query_model(m.CustomersQuery)
    page = listing.paginate(get_session(), lists.customers_query(request.args), request.args,
                            sorts=lists.CUSTOMER_SORTS, default="id",
                            tiebreak=Customer.id, per_page=API_PER_PAGE, scalars=False)
    return jsonify(customers=[serialize.customer(c) for c, _n in page.items], **page.api())


@bp.post("/customers")
@operation("Create a customer (warnings name likely duplicates)", body=m.NewCustomer,
           response=m.CustomerRegistered, status=201, errors=[403])
def create_customer() -> Any:
    from lims.samples.refdata import customer_duplicates
    from lims.samples.refdata_views import duplicate_warnings

    data = json_model(m.NewCustomer)
    with unit_of_work(get_session()) as db:
        c = services.create_customer(db, actor=current_user(), name=data.name,
                                     contact=data.contact, address=data.address,
                                     credit_code=data.credit_code, phone=data.phone)
        body = {**serialize.customer(c), "warnings": duplicate_warnings(customer_duplicates(
            db, name=c.name, credit_code=c.credit_code, exclude_id=c.id))}
    return jsonify(body), 201


@bp.get("/methods")
@operation("List test methods with their characteristics, a page at a time",
           query=m.MethodsQuery, response=m.Methods)
def methods() -> Any:
    query_model(m.MethodsQuery)
    page = listing.paginate(get_session(), lists.methods_query(request.args), request.args,
                            sorts=lists.METHOD_SORTS, default="id", tiebreak=TestMethod.id,
                            per_page=API_PER_PAGE)
    return jsonify(methods=[serialize.method(m) for m in page.items], **page.api())


CATEGORY_SORTS = {"id": ProductCategory.id, "code": ProductCategory.code}


@bp.get("/product-categories")
@operation("List the product catalogue as a tree: the target families and their "
           "subcategories, a page of families at a time", query=m.ProductCategoriesQuery,
           response=m.ProductCategories)
def product_categories() -> Any:
    """Every category, retired ones too (older samples name them), each family with its
    target pass rate in percent; a sample is registered in one by its ``code``."""
    current_user()  # permission "read": every role
    query_model(m.ProductCategoriesQuery)
    db = get_session()
    query = select(ProductCategory).where(ProductCategory.parent_id.is_(None))
    if term := listing.search_term(request.args):
        query = query.where(or_(*(listing.contains_text(c, term) for c in (
            ProductCategory.code, ProductCategory.name_zh, ProductCategory.name_en))))
    page = listing.paginate(db, query, request.args, sorts=CATEGORY_SORTS, default="id",
                            tiebreak=ProductCategory.id, per_page=API_PER_PAGE)
    return jsonify(categories=[categories.as_dict(n)
                               for n in categories.subtrees(db, page.items)], **page.api())


@bp.post("/methods")
@operation("Create a test method (quality manager, admin)", body=m.NewMethod,
           response=m.Method, status=201, errors=[403, 409])
def create_method() -> Any:
    data = json_model(m.NewMethod)
    with unit_of_work(get_session()) as db:
        method = services.create_method(
            db, actor=current_user(), code=data.code, title=data.title, field=data.field,
            clause=data.clause, characteristics=[c.model_dump() for c in data.characteristics],
            requires_conditions=data.requires_conditions)
        body = serialize.method(method)
    return jsonify(body), 201


@bp.post("/requests")
@operation("Create a test request, with its samples if given (all in one transaction)",
           body=m.NewRequest, response=m.RequestCreated, status=201, errors=[403],
           links=("/api/v1/requests/{number}", {"number": "number"}))
def create_request() -> Any:
    """Without ``samples`` the request is opened empty, and samples are added one by one with
    ``POST /api/v1/samples``; with them, the request and every sample are registered together
    or not at all, and an error names the sample (``samples[2].due_date``)."""
    data = json_model(m.NewRequest)
    s = settings()
    fields = {"description": data.description, "decision_rule": data.decision_rule,
              "r": data.r, "inspection_type": data.inspection_type,
              "product_standard": data.product_standard, "customer_data": data.customer_data}
    with unit_of_work(get_session()) as db:
        if data.samples is None:
            req = services.create_request(db, actor=current_user(), customer_id=data.customer_id,
                                          number_format=s.request_number_format,
                                          timezone=s.timezone, **fields)
        else:
            req = intake.create_request_with_samples(
                db, actor=current_user(), customer_id=data.customer_id,
                samples=[x.model_dump() for x in data.samples],
                request_format=s.request_number_format, sample_format=s.sample_number_format,
                timezone=s.timezone, **fields)
        body = serialize.request(req, assignees=intake.assignee_names(db, req.samples),
                                 timezone=s.timezone, detail=False)
    return jsonify(body), 201


@bp.get("/requests/<number>")
@operation("Show a request with its samples, their due dates and turnaround",
           response=m.RequestDetail)
def request_detail(number: str) -> Any:
    db = get_session()
    req = intake.get_request(db, number)
    return jsonify(serialize.request(req, assignees=intake.assignee_names(db, req.samples),
                                     timezone=settings().timezone))


@bp.post("/requests/<number>/receive")
@operation("Receive several samples of a request at once, with the condition on receipt",
           body=m.BulkReceipt, response=m.RequestDetail, errors=[403, 404, 409],
           links=("/api/v1/requests/{number}", {"number": "number"}))
def receive_request(number: str) -> Any:
    """All or nothing: a sample already received (409) or not of the request (422) stops
    them all. ``conditions`` gives a sample its own condition; the others take
    ``condition``."""
    data = json_model(m.BulkReceipt)
    with unit_of_work(get_session()) as db:
        intake.receive_samples(db, actor=current_user(), request_number=number,
                               numbers=data.samples, condition=data.condition,
                               conditions=data.conditions)
        req = intake.get_request(db, number)
        db.refresh(req, ["samples"])
        body = serialize.request(req, assignees=intake.assignee_names(db, req.samples),
                                 timezone=settings().timezone)
    return jsonify(body)


@bp.get("/samples")
@operation("List samples, newest first, a page at a time", query=m.SamplesQuery,
           response=m.Samples)
def samples() -> Any:
    query_model(m.SamplesQuery)
    page = listing.paginate(get_session(),
                            lists.samples_query(request.args, timezone=settings().timezone),
                            request.args, sorts=lists.SAMPLE_SORTS,
                            default=lists.SAMPLE_DEFAULT_SORT, tiebreak=Sample.id,
                            per_page=API_PER_PAGE,
                            lean=lists.samples_query(request.args, timezone=settings().timezone,
                                                     lean=True),
                            rows=lists.samples_query({}, timezone=settings().timezone))
    return jsonify(samples=[serialize.sample(x, with_results=False) for x in page.items],
                   **page.api())


@bp.post("/samples")
@operation("Register a sample", body=m.NewSample, response=m.Sample, status=201, errors=[403],
           links=("/api/v1/samples/{number}", {"number": "number"}))
def register_sample() -> Any:
    data = json_model(m.NewSample)
    s = settings()
    with unit_of_work(get_session()) as db:
        sample = services.register_sample(
            db, actor=current_user(), request_id=data.request_id,
            description=data.description, method_ids=data.method_ids,
            number_format=s.sample_number_format, timezone=s.timezone,
            trademark=data.trademark, model=data.model, batch=data.batch,
            quantity=data.quantity, manufacturer=data.manufacturer,
            acquisition=data.acquisition, due_date=data.due_date, priority=data.priority,
            assignee_id=data.assignee_id, assignee=data.assignee, category=data.category)
        # Registered just now: nobody has sent it back with comments yet.
        body = serialize.sample(sample, comments=[])
    return jsonify(body), 201


@bp.get("/samples/<number>")
@operation("Show a sample with its results", response=m.Sample)
def sample(number: str) -> Any:
    return jsonify(serialize.sample(services.get_sample(get_session(), number)))


@bp.post("/samples/<number>/receive")
@operation("Record receipt", body=m.Receipt, response=m.Sample, errors=[403, 409],
           links=("/api/v1/samples/{number}", {"number": "number"}))
def receive(number: str) -> Any:
    data = json_model(m.Receipt)
    with unit_of_work(get_session()) as db:
        s = services.receive_sample(db, actor=current_user(), number=number,
                                    condition=data.condition)
        body = serialize.sample(s)
    return jsonify(body)


@bp.post("/samples/<number>/results")
@operation("Record a result", body=m.NewResult, response=m.Result, status=201,
           errors=[403, 409], links=("/api/v1/results/{result_id}", {"result_id": "id"}))
def record_result(number: str) -> Any:
    data = json_model(m.NewResult)
    with unit_of_work(get_session()) as db:
        r = services.record_result(db, actor=current_user(), number=number,
                                   characteristic_id=data.characteristic_id,
                                   value=data.value, unit=data.unit,
                                   instrument_id=data.instrument_id,
                                   measured_at=data.measured_at,
                                   timezone=settings().timezone)
        body = serialize.result(r)
    return jsonify(body), 201


@bp.post("/samples/<number>/capture")
@operation("Read an instrument now and record the reading with its raw bytes", body=m.Capture,
           response=m.Result, status=201, errors=[403, 409])
def capture(number: str) -> Any:
    """Read the instrument now and record its reading, with the raw bytes, as the result."""
    data = json_model(m.Capture)
    user = current_user()
    db = get_session()
    instrument, reading = services.read_for_result(
        db, actor=user, number=number, characteristic_id=data.characteristic_id,
        instrument_id=data.instrument_id, timezone=settings().timezone,
        port_hosts=settings().port_hosts)
    with unit_of_work(db):
        r = services.record_reading(db, actor=user, number=number,
                                    characteristic_id=data.characteristic_id,
                                    instrument=instrument, reading=reading,
                                    timezone=settings().timezone)
        body = serialize.result(r)
    return jsonify(body), 201


@bp.post("/samples/<number>/tests/<int:method_id>/conditions")
@operation("Record a test's environmental conditions and/or its deviation from the method",
           body=m.ConditionsRecord, response=m.Sample, errors=[403, 409])
def conditions(number: str, method_id: int) -> Any:
    """Conditions are checked by kind: ``{"kind": "temperature", "value": "23.1", "unit":
    "%RH"}`` is refused naming both."""
    data = json_model(m.ConditionsRecord)
    with unit_of_work(get_session()) as db:
        test = services.record_conditions(
            db, actor=current_user(), number=number, method_id=method_id,
            conditions=None if data.conditions is None
            else [c.model_dump() for c in data.conditions], deviation=data.deviation)
        body = serialize.sample(test.sample)
    return jsonify(body)


@bp.post("/results/<int:result_id>/corrections")
@operation("Correct a result: a new version with a reason", body=m.ResultCorrection,
           response=m.Result, status=201, errors=[403, 409])
def correct(result_id: int) -> Any:
    data = json_model(m.ResultCorrection)
    with unit_of_work(get_session()) as db:
        r = services.correct_result(db, actor=current_user(), result_id=result_id,
                                    value=data.value, unit=data.unit, reason=data.reason,
                                    instrument_id=data.instrument_id,
                                    measured_at=data.measured_at,
                                    timezone=settings().timezone)
        body = serialize.result(r)
    return jsonify(body), 201


@bp.post("/results/<int:result_id>/decision")
@operation("Decide the conformity of an undecided result, with a reason (reviewer)",
           body=m.Decision, response=m.ConformityDecision, status=201, errors=[403, 404, 409])
def decide(result_id: int) -> Any:
    """A reviewer's conformity decision for an undecided result, with the reason."""
    data = json_model(m.Decision)
    with unit_of_work(get_session()) as db:
        d = services.decide_conformity(db, actor=current_user(), result_id=result_id,
                                       conformity=data.conformity, reason=data.reason)
        body = serialize.decision(d)
    return jsonify(body), 201


def _transition(number: str, service: object) -> Any:
    with unit_of_work(get_session()) as db:
        s = service(db, actor=current_user(), number=number)  # type: ignore[operator]
        body = serialize.sample(s)
    return jsonify(body)


@bp.post("/samples/<number>/complete")
@operation("Declare testing complete", response=m.Sample, errors=[403, 409])
def complete(number: str) -> Any:
    return _transition(number, services.complete_testing)


@bp.post("/samples/<number>/review")
@operation("Record the technical review", response=m.Sample, errors=[403, 409])
def review(number: str) -> Any:
    return _transition(number, services.review_sample)


@bp.post("/samples/<number>/approve")
@operation("Approve (authorised signatory): an electronic signature with the password "
           "re-entered; optionally the overall conclusion worded otherwise, with the reason",
           body=m.Approval, body_required=False, response=m.Sample, errors=[403, 409, 429])
def approve(number: str) -> Any:
    """Approve: an electronic signature, so ``{"password": …}`` is required (422 without it,
    403 ``reauthentication_failed`` when wrong). ``conclusion`` replaces the derived 检验结论
    on the report and needs ``conclusion_reason`` (422 without it)."""
    data = json_model(m.Approval)
    with unit_of_work(get_session()) as db:
        s = services.approve_sample(db, actor=current_user(), number=number,
                                    password=data.password, policy=login_policy(),
                                    conclusion=data.conclusion,
                                    conclusion_reason=data.conclusion_reason)
        body = serialize.sample(s)
    return jsonify(body)


@bp.post("/samples/<number>/return")
@operation("Send a sample back: the reviewer to testing with a comment per result, or the "
           "signatory to review with the reason", body=m.SampleReturn, response=m.Sample,
           errors=[403, 409], links=("/api/v1/samples/{number}", {"number": "number"}))
def send_back(number: str) -> Any:
    """``{"comments": [{"result_id": 12, "comment": "…"}], "reason": "…"}`` returns a sample
    whose results are complete to testing (reviewer; not who measured); ``{"to": "review",
    "reason": "…"}`` returns a reviewed or approved sample to review (a signatory who may
    approve it). Of a return racing an approval or a review, one wins; the other gets 409."""
    data = json_model(m.SampleReturn)
    with unit_of_work(get_session()) as db:
        if data.to == "review":
            if data.comments:
                from lims.errors import InvalidInput, msg

                raise InvalidInput(msg("a return to review takes a reason, not comments per result"),
                                   field="comments")
            s = workflow.return_to_review(db, actor=current_user(), number=number,
                                          reason=data.reason)
        else:
            s = workflow.return_to_testing(db, actor=current_user(), number=number,
                                         comments=[c.model_dump() for c in data.comments],
                                         reason=data.reason)
        body = serialize.sample(s)
    return jsonify(body)
