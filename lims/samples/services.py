"""Customers, methods, requests, samples and results.

Services take a session and keyword data, flush but never commit, and write an audit event for
every change in the same transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Select, Table, bindparam, exists, inspect, select
from sqlalchemy.orm import Session, joinedload, lazyload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from drivers import Reading
from lims import kinds
from lims.audit.services import record, snapshot
from lims.auth.models import User
from lims.auth.services import require
from lims.auth.sessions import LoginPolicy, reauthenticate
from lims.calibration.services import check_fit_for_use
from lims.db import utcnow
from lims.errors import (
    CalibrationExpired,
    Conflict,
    InstrumentNotFit,
    InstrumentUnavailable,
    InvalidInput,
    NotFound,
    SampleStateError,
    SeparationOfDuties,
    UnitMismatch,
    msg,
)
from lims.instruments.capture import take_reading, take_streamed_reading
from lims.instruments.models import Instrument
from lims.instruments.services import get_instrument
from lims.kinds import judge
from lims.metrology.decision import RULES, UNDECIDED
from lims.numbering import next_number
from lims.readings.live import has_agent
from lims.reports.conclusion import Conclusion, derive
from lims.samples import categories, particulars, planning
from lims.samples.lifecycle import RESULTS_OPEN, SampleStatus, check_transition
from lims.samples.models import (
    Characteristic,
    ConformityDecision,
    Customer,
    Result,
    Sample,
    SampleTest,
    TestMethod,
    TestRequest,
)
from lims.samples.names import initials
from lims.samples.review import check_reviewer, check_signatory
from lims.samples.turnaround import turnaround as turnaround
from lims.validate import as_id, moment, text

MAX_TEXT = 2000
# The meaning of the authorised signatory's electronic signature (21 CFR 11.50(a)(3)), on the
# approval and on the report it signs.
APPROVAL_MEANING = "批准 Approved"


def _local_today(tz: str) -> dt.date:
    return utcnow().astimezone(ZoneInfo(tz)).date()


# --- customers and methods -----------------------------------------------------------------

def create_customer(session: Session, *, actor: User, name: Any, contact: Any = "",
                    address: Any = "", credit_code: Any = "", phone: Any = "") -> Customer:
    """Add a customer. Likely duplicates are the caller's to look for and confirm
    (:func:`lims.samples.refdata.customer_duplicates`): a warning, not a refusal."""
    from lims.samples.refdata import credit_code as valid_credit_code

    require(actor, "customer.create")
    name = text(name, "name")
    customer = Customer(name=name, name_initials=initials(name),
                        contact=text(contact, "contact", required=False),
                        address=text(address, "address", required=False, max_len=300),
                        credit_code=valid_credit_code(credit_code),
                        phone=text(phone, "phone", required=False, max_len=40))
    session.add(customer)
    session.flush()
    record(session, actor=actor, action="customer.create", entity_type="customers",
           entity_id=customer.id, after=snapshot(customer))
    return customer


def create_method(session: Session, *, actor: User, code: Any, title: Any, field: Any,
                  clause: Any = "", characteristics: object,
                  requires_conditions: Any = False) -> TestMethod:
    """Create a test method with its characteristics: ``name``, ``unit``, ``kind`` (inferred
    from the unit when it names one kind), ``lower_limit``, ``upper_limit``, ``lod``, ``loq``
    and, for a qualitative characteristic, ``expected`` (see :func:`lims.kinds.judge.declare`).
    ``requires_conditions``: each test by the method records its environmental conditions.

    :raises InvalidInput: unknown unit or kind, a unit of several kinds without ``kind``, bad
        limit, lower limit above upper limit, LOD above LOQ (each names its field).
    """
    require(actor, "method.manage")
    code = text(code, "code", max_len=80)
    if session.scalar(select(TestMethod).where(TestMethod.code == code)):
        raise Conflict(msg("method %(code)r exists", code=code), field="code")
    if not isinstance(characteristics, list | tuple) or not characteristics:
        raise InvalidInput(msg("at least one characteristic is required"), field="characteristics")
    if len(characteristics) > 200:
        raise InvalidInput(msg("at most 200 characteristics per method"), field="characteristics")
    if not isinstance(requires_conditions, bool):
        raise InvalidInput(msg("must be true or false"), field="requires_conditions")
    method = TestMethod(code=code, title=text(title, "title"), field=text(field, "field", max_len=80),
                        clause=text(clause, "clause", required=False, max_len=80),
                        requires_conditions=requires_conditions)
    for i, spec in enumerate(characteristics):
        prefix = f"characteristics[{i}]"
        if not isinstance(spec, dict):
            raise InvalidInput(msg("must be an object"), field=prefix)
        name = text(spec.get("name"), f"{prefix}.name", max_len=120)
        declared = judge.declare(
            unit=spec.get("unit"), kind=spec.get("kind"), lower_limit=spec.get("lower_limit"),
            upper_limit=spec.get("upper_limit"), lod=spec.get("lod"), loq=spec.get("loq"),
            expected=spec.get("expected"), uncertainty=spec.get("uncertainty"), prefix=prefix)
        method.characteristics.append(Characteristic(name=name, **dataclasses.asdict(declared)))
    session.add(method)
    session.flush()
    record(session, actor=actor, action="method.create", entity_type="test_methods",
           entity_id=method.id, after={**snapshot(method), "characteristics": [
               snapshot(c) for c in method.characteristics]})
    return method


# --- requests and samples ------------------------------------------------------------------

def create_request(session: Session, *, actor: User, customer_id: Any, description: Any = "",
                   decision_rule: Any = None, r: Any = None, inspection_type: Any = None,
                   product_standard: Any = "", customer_data: Any = "", number_format: str,
                   timezone: str) -> TestRequest:
    """Open a test request with the decision rule agreed with the customer (ISO/IEC 17025
    7.1.3): ``simple`` (the default), ``guarded`` or ``non-binary`` with guard band w = r·U
    (``r`` default 1); the inspection type (检验类别, default ``commissioned``), the product
    standard the verdicts are judged against (判定依据) and which data the customer supplied
    (7.8.2.2), all of which the report states.

    :raises InvalidInput: no such customer, an unknown rule or inspection type, r not a number
        from 0 to 10, a text too long.
    """
    require(actor, "sample.register")
    customer = session.get(Customer, as_id(customer_id, "customer_id"))
    if customer is None:
        raise InvalidInput(msg("no such customer"), field="customer_id")
    if customer.retired_at is not None:
        raise InvalidInput(msg("customer %(name)s is retired", name=customer.name),
                           field="customer_id")
    rule = "simple" if decision_rule in (None, "") else decision_rule
    if rule not in RULES:
        raise InvalidInput(msg("must be one of %(choices)s", choices=', '.join(RULES)),
                           field="decision_rule")
    factor = None
    if rule != "simple":
        factor = "1" if r in (None, "") else kinds.values.written(r, "r")
        if not Decimal(0) <= kinds.values.number(factor, field="r") <= Decimal(10):
            raise InvalidInput(msg("a guard band factor lies between 0 and 10"), field="r")
    elif r not in (None, ""):
        raise InvalidInput(msg("simple acceptance has no guard band"), field="r")
    kind = particulars.inspection_type(inspection_type)
    standard = text(product_standard, "product_standard", required=False, max_len=300)
    supplied = text(customer_data, "customer_data", required=False, max_len=MAX_TEXT,
                    multiline=True)
    req = TestRequest(
        number=next_number(session, "request", number_format, today=_local_today(timezone)),
        customer_id=customer.id, created_by_id=actor.id, decision_rule=rule,
        guard_factor=factor, inspection_type=kind, product_standard=standard,
        customer_data=supplied,
        description=text(description, "description", required=False, max_len=MAX_TEXT))
    session.add(req)
    session.flush()
    record(session, actor=actor, action="request.create", entity_type="test_requests",
           entity_id=req.number, after=snapshot(req))
    return req


# Methods by id with their characteristics joined (the decision rule checks them, the reply
# lists them); built once, so that registering skips building the query and its cache key.
_METHODS_BY_ID = (select(TestMethod).where(TestMethod.id.in_(bindparam("ids", expanding=True)))
                  .options(joinedload(TestMethod.characteristics)))

SAMPLE_PARTICULARS = {"trademark": 120, "model": 120, "batch": 120, "quantity": 120,
                      "manufacturer": 200}


def register_sample(session: Session, *, actor: User, request_id: Any, description: Any,
                    method_ids: Any, number_format: str, timezone: str, trademark: Any = "",
                    model: Any = "", batch: Any = "", quantity: Any = "",
                    manufacturer: Any = "", acquisition: Any = None, due_date: Any = None,
                    priority: Any = None, assignee_id: Any = None, assignee: Any = None,
                    category: Any = None, prefix: str = "", series: str = "sample",
                    sampled_on: dt.date | None = None) -> Sample:
    """Register a sample under a request with the methods it is to be tested by, and its
    particulars as keywords (RB/T 214 4.5.20): ``trademark`` (商标), ``model`` (规格型号),
    ``batch`` (生产日期/批号), ``quantity`` (样品数量), ``manufacturer`` (生产单位); and its
    planning (:mod:`lims.samples.planning`): ``acquisition`` (delivered 送样 or sampled 抽样),
    ``due_date`` (not before today in the lab's zone), ``priority`` (normal or urgent), the
    technician responsible by ``assignee_id`` or ``assignee`` (a username); its product
    ``category`` by code (:mod:`lims.samples.categories`), optional.

    :param prefix: put before every field an error names (``samples[2].``), for a sample
        registered as one of many.
    :param series: the number series (supervision samples have their own, issue 13).
    :param sampled_on: the day the sample was taken, from a validated sampling record (or the
        original's, for a re-inspection); today in the lab's zone when it was delivered.
    :raises InvalidInput: no such request or method, no method given, a particular too long,
        a due date in the past, an assignee who is not an active technician, an unknown or
        retired category.
    """
    require(actor, "sample.register")
    req = session.get(TestRequest, as_id(request_id, "request_id"))
    if req is None:
        raise InvalidInput(msg("no such request"), field="request_id")
    if not isinstance(method_ids, list | tuple) or not method_ids:
        raise InvalidInput(msg("at least one method is required"), field=f"{prefix}method_ids")
    if len(method_ids) > 200:  # PostgreSQL caps bind parameters; no sample has 200 methods
        raise InvalidInput(msg("at most 200 methods per sample"), field=f"{prefix}method_ids")
    ids = [as_id(m, f"{prefix}method_ids") for m in method_ids]
    methods = session.scalars(_METHODS_BY_ID, {"ids": ids}).unique().all()
    if len({m.id for m in methods}) != len(set(ids)):
        raise InvalidInput(msg("unknown method id"), field=f"{prefix}method_ids")
    retired = sorted(m.code for m in methods if m.retired_at is not None)
    if retired:  # withdrawn from use (ISO/IEC 17025 8.3.2 f); earlier samples keep it
        raise InvalidInput(msg("method %(methods)s is retired", methods=', '.join(retired)),
                           field=f"{prefix}method_ids")
    if req.decision_rule != "simple":
        # A guard band is r·U: every judged measured value needs its uncertainty (ILAC-G8 4.2).
        unknown = [f"{m.code} {ch.name}" for m in methods for ch in m.characteristics
                   if kinds.get(ch.kind).values == "number" and ch.uncertainty is None
                   and (ch.lower_limit is not None or ch.upper_limit is not None)]
        if unknown:
            raise InvalidInput(msg("request %(number)s agreed the %(rule)s decision "
                                   "rule, which needs the measurement uncertainty; none is declared "
                                   "for %(characteristics)s", number=req.number,
                                   rule=req.decision_rule, characteristics=', '.join(unknown)),
                               field=f"{prefix}method_ids")
    raw = {"trademark": trademark, "model": model, "batch": batch, "quantity": quantity,
           "manufacturer": manufacturer}
    given = {key: text(raw[key], f"{prefix}{key}", required=False, max_len=size)
             for key, size in SAMPLE_PARTICULARS.items()}
    description = text(description, f"{prefix}description", max_len=300)
    today = _local_today(timezone)
    responsible = planning.assignee(session, assignee_id, username=assignee,
                                    field=f"{prefix}assignee_id")
    plan = {"acquisition": planning.acquisition(acquisition, f"{prefix}acquisition"),
            "due_date": planning.due_date(due_date, registered_on=today,
                                          field=f"{prefix}due_date"),
            "priority": planning.priority(priority, f"{prefix}priority"),
            "assignee_id": responsible.id if responsible else None}
    in_category = categories.resolve(session, category, f"{prefix}category")
    # The graph is built of the objects just read (the request, its methods, their empty
    # results), so that the reply and the audit event read none of them again (issue 14).
    sample = Sample(
        number=next_number(session, series, number_format, today=today),
        request=req, description=description,
        status=SampleStatus.REGISTERED, registered_by_id=actor.id,
        category=in_category, sampled_on=sampled_on or today,
        **given, **plan)
    sample.tests = [SampleTest(method=m, results=[]) for m in sorted(methods, key=lambda m: m.id)]
    session.add(sample)
    session.flush()
    record(session, actor=actor, action="sample.register", entity_type="samples",
           entity_id=sample.number, after={**snapshot(sample), "method_ids": sorted(set(ids))})
    return sample


# A sample with what its services read: the request and customer (joined by the model), the
# tests with their methods and characteristics, the results with their decisions; three
# statements (issue 14: four to five with the models' own loaders).
SAMPLE_GRAPH = (selectinload(Sample.tests).options(
    joinedload(SampleTest.method).joinedload(TestMethod.characteristics),
    selectinload(SampleTest.results).joinedload(Result.decision)),)
# Built once (a statement memoises its cache key): the sample by number with its graph, and
# the same locked and read afresh.
_SAMPLE = select(Sample).where(Sample.number == bindparam("number")).options(*SAMPLE_GRAPH)
_SAMPLE_LOCKED = _SAMPLE.with_for_update(of=Sample).execution_options(populate_existing=True)


def get_sample(session: Session, number: str, *, lock: bool = False) -> Sample:
    """Find a sample; with ``lock``, take its row lock for the rest of the transaction.

    Every state change and every change to a sample's results locks the sample first and reads
    it afresh, so that of concurrent attempts (two issues, a correction racing a review) one
    wins and the others see the state it left (PostgreSQL: ``SELECT … FOR UPDATE``; SQLite
    serialises writers already, :func:`lims.db.unit_of_work` takes its lock up front).
    """
    return _one_sample(session, _SAMPLE_LOCKED if lock else _SAMPLE, number)


def _one_sample(session: Session, statement: Select[Sample], number: str) -> Sample:
    """The sample ``statement`` reads by its ``number`` parameter.

    :raises NotFound:
    """
    sample = session.scalar(statement, {"number": number})
    if sample is None and number != number.upper():
        # A number typed or scanned in lower case ("yp2026-000001") still finds its sample;
        # the exact match first keeps the usual lookup on the unique index.
        return _one_sample(session, statement, number.upper())
    if sample is None:
        raise NotFound(msg("no sample %(number)r", number=number), sample=number)
    return sample


def _transition(session: Session, sample: Sample, target: SampleStatus, *, actor: User,
                action: str, reason: str | None = None, audit: dict[str, Any] | None = None,
                **changes: Any) -> None:
    check_transition(sample.status, target, sample=sample.number)
    before = snapshot(sample)
    sample.status = target
    for key, value in changes.items():
        setattr(sample, key, value)
    session.flush()
    record(session, actor=actor, action=action, entity_type="samples", entity_id=sample.number,
           before=before, after={**snapshot(sample), **(audit or {})}, reason=reason)


def signature_record(user: User, at: dt.datetime, meaning: str) -> dict[str, Any]:
    """What the audit trail keeps of an electronic signature: the printed name, the date and
    time, the meaning (21 CFR 11.50(a)), and that the signer re-entered their password
    (11.200(a)(1))."""
    return {"signature": {"name": user.full_name, "username": user.username,
                          "at": at.isoformat(), "meaning": meaning,
                          "reauthenticated": True}}


def receive_sample(session: Session, *, actor: User, number: str, condition: Any,
                   received_at: dt.datetime | None = None) -> Sample:
    """Record receipt: when, by whom and the condition on receipt (ISO/IEC 17025 7.4.3)."""
    require(actor, "sample.receive")
    sample = get_sample(session, number, lock=True)
    _transition(session, sample, SampleStatus.RECEIVED, actor=actor, action="sample.receive",
                received_at=received_at or utcnow(), received_by_id=actor.id,
                condition_on_receipt=text(condition, "condition", max_len=MAX_TEXT))
    return sample


def find_characteristic(sample: Sample, characteristic_id: Any
                                  ) -> tuple[SampleTest, Characteristic]:
    cid = as_id(characteristic_id, "characteristic_id")
    for test in sample.tests:
        for ch in test.method.characteristics:
            if ch.id == cid:
                return test, ch
    raise InvalidInput(msg("characteristic %(characteristic)s is not tested on sample %(number)s",
                           characteristic=cid, number=sample.number),
                       field="characteristic_id")


def sample_of_result(session: Session, result_id: Any) -> str:
    """The number of the sample a result belongs to.

    :raises NotFound:
    """
    result = session.get(Result, as_id(result_id, "result_id"))
    if result is None:
        raise NotFound(msg("no such result"), result=result_id)
    return result.test.sample.number


def record_result(session: Session, *, actor: User, number: str, characteristic_id: Any,
                  value: Any, unit: Any, instrument_id: Any = None, measured_at: Any = None,
                  raw: bytes | None = None, source: str = "manual", timezone: str,
                  reading_id: int | None = None) -> Result:
    """Record a result exactly as entered or captured.

    ``value`` is written as labs write it (:mod:`lims.kinds.values`: "100.00", "<0.01",
    "未检出", "1.5×10³", a grade, a qualitative value); ``measured_at`` is when it was measured
    (ISO 8601 text or an aware datetime; default now).

    :raises UnitMismatch: the unit is not of the characteristic's kind (naming both).
    :raises InvalidInput: a value not of the kind or outside its domain; measured before the
        sample's receipt or in the future; an instrument not fit for use then
        (:class:`InstrumentNotFit`).
    :raises SampleStateError: the sample does not accept results now.
    :raises Conflict: the characteristic already has a result (correct it instead).
    """
    require(actor, "result.capture" if source == "instrument" else "result.record")
    # Issue 14: the sample locked alone (with its request), then the one test and
    # characteristic the result is for, rather than the sample's whole graph.
    sample = _locked_sample(session, number)
    _check_results_open(sample)
    test, ch, recorded = _test_of(session, sample, characteristic_id)
    return _write_result(session, actor=actor, sample=sample, test=test, ch=ch,
                         recorded=recorded, value=value, unit=unit,
                         instrument_id=instrument_id, measured_at=measured_at, raw=raw,
                         source=source, timezone=timezone, reading_id=reading_id)


# The sample row locked and read afresh with its request (the decision rule), but none of its
# tests: a result needs one test and one characteristic, which _TEST_OF reads (issue 14).
# Built once: the statements are the same at every call, their parameters aside.
_LOCKED_SAMPLE = (
    select(Sample).where(Sample.number == bindparam("number"))
    .options(joinedload(Sample.request).lazyload(TestRequest.customer), lazyload(Sample.tests))
    .with_for_update(of=Sample).execution_options(populate_existing=True))
# The test of the sample by the characteristic's method, the characteristic, and whether it
# has a current result; read after the lock above, in a statement of its own, so that on
# PostgreSQL it sees what a writer that held the lock before committed.
_TEST_OF = (
    select(SampleTest, Characteristic,
           exists().where(Result.test_id == SampleTest.id,
                          Result.characteristic_id == Characteristic.id,
                          Result.is_current).label("recorded"))
    .join(Characteristic, Characteristic.method_id == SampleTest.method_id)
    .where(SampleTest.sample_id == bindparam("sample_id"), Characteristic.id == bindparam("cid"))
    .options(lazyload(SampleTest.method), lazyload(SampleTest.results)))


# Testing starts with a sample's first result: only from received (the lock above makes it so;
# the condition keeps it so should the lock ever be missed).
_SAMPLES = cast(Table, Sample.__table__)
_START_TESTING = (_SAMPLES.update()
                  .where(_SAMPLES.c.id == bindparam("sample_id"),
                         _SAMPLES.c.status == SampleStatus.RECEIVED.value)
                  .values(status=SampleStatus.IN_TESTING.value))


def _locked_sample(session: Session, number: str) -> Sample:
    """:func:`get_sample` with ``lock``, loading the sample and its request only."""
    return _one_sample(session, _LOCKED_SAMPLE, number)


def _test_of(session: Session, sample: Sample, characteristic_id: Any
             ) -> tuple[SampleTest, Characteristic, bool]:
    """:func:`find_characteristic` read from the database, with whether the characteristic
    has a current result."""
    cid = as_id(characteristic_id, "characteristic_id")
    row = session.execute(_TEST_OF, {"sample_id": sample.id, "cid": cid}).first()
    if row is None:
        raise InvalidInput(msg("characteristic %(characteristic)s is not tested on sample "
                               "%(number)s", characteristic=cid, number=sample.number),
                           field="characteristic_id")
    return row[0], row[1], bool(row[2])


def _write_result(session: Session, *, actor: User, sample: Sample, test: SampleTest,
                  ch: Characteristic, recorded: bool, value: Any, unit: Any,
                  instrument_id: Any, measured_at: Any, raw: bytes | None, source: str,
                  timezone: str, reading_id: int | None) -> Result:
    """Record the result on a sample locked by the caller, whose results are open; starts
    testing of a received sample. ``recorded``: the characteristic has a current result."""
    if recorded:
        raise Conflict(msg("%(characteristic)s already has a result on %(number)s; correct it instead",
                           characteristic=ch.name, number=sample.number),
                       field="characteristic_id")
    result = _build_result(session, actor=actor, sample=sample, test=test, ch=ch, value=value,
                           unit=unit, instrument_id=instrument_id, measured_at=measured_at,
                           raw=raw, source=source, timezone=timezone)
    result.reading_id = reading_id  # captured from an agent's stream: the reading it is
    starts = sample.status == SampleStatus.RECEIVED
    if starts:
        # The result's first: testing starts, by one conditional UPDATE rather than through
        # the flush (issue 14); the sample in memory takes the status as the database has it.
        # Its event follows the result's, as before.
        check_transition(sample.status, SampleStatus.IN_TESTING, sample=sample.number)
        before = snapshot(sample)
        if session.connection().execute(_START_TESTING, {"sample_id": sample.id}).rowcount != 1:
            raise RuntimeError(f"sample {sample.number} changed status under its row lock")
        set_committed_value(sample, "status", SampleStatus.IN_TESTING)
    _flush_result(session, result, ch)
    record(session, actor=actor, action="result.record", entity_type="results",
           entity_id=result.id, after=snapshot(result))
    if starts:
        # Nothing but the status changed since ``before`` was taken (the UPDATE above).
        record(session, actor=actor, action="sample.start", entity_type="samples",
               entity_id=sample.number, before=before,
               after={**before, "status": SampleStatus.IN_TESTING.value})
    return result


def read_for_result(session: Session, *, actor: User, number: str, characteristic_id: Any,
                    instrument_id: Any, timezone: str, port_hosts: tuple[str, ...] = (),
                    max_age: dt.timedelta = dt.timedelta(seconds=30)
                    ) -> tuple[Instrument, Reading]:
    """Read an instrument for a result, writing nothing (run it outside a write transaction:
    a stable weight can take seconds and the database must not stay locked meanwhile).

    An instrument a capture agent reads gives its latest stable reading uploaded at most
    ``max_age`` ago (the agent holds the port); any other is read through its port now.

    :raises CalibrationExpired: the instrument is overdue now (nothing is read).
    :raises InstrumentUnavailable: see :func:`lims.instruments.capture.take_reading`.
    """
    require(actor, "result.capture")
    _test, ch = find_characteristic(get_sample(session, number), characteristic_id)
    instrument = get_instrument(session, as_id(instrument_id, "instrument_id"))

    def accepts(reading: Reading) -> bool:
        return _of_kind(ch, reading.unit, reading.quantity)
    if has_agent(session, instrument.id):
        return instrument, take_streamed_reading(session, instrument, timezone=timezone,
                                                 max_age=max_age, accepts=accepts)
    return instrument, take_reading(session, instrument, ch.unit_text, timezone=timezone,
                                    port_hosts=port_hosts, accepts=accepts)


def _of_kind(ch: Characteristic, unit: str | None, quantity: str | None = None) -> bool:
    """Whether a reading is of the characteristic's kind (capture picks it): its unit, and the
    quantity the driver says it measured (℃ is a temperature or a temperature difference, and
    only the instrument knows which: a Vaisala HMT330 ``dT`` against its ``T``)."""
    if quantity in _TEMPERATURES and ch.kind in _TEMPERATURES and quantity != ch.kind:
        return False
    try:
        kinds.resolve(kinds.get(ch.kind), unit, like=ch.unit)
    except InvalidInput:
        return False
    return True


_TEMPERATURES = ("temperature", "temperature_difference")


def record_reading(session: Session, *, actor: User, number: str, characteristic_id: Any,
                   instrument: Instrument, reading: Reading, timezone: str) -> Result:
    """Record a captured reading, with its raw bytes and time, as the result.

    :raises UnitMismatch: the driver says the reading is a temperature and the characteristic
        a temperature difference, or the other way round (both read in ℃).
    """
    require(actor, "result.capture")
    sample = get_sample(session, number, lock=True)  # once: the result is recorded on it
    test, ch = find_characteristic(sample, characteristic_id)
    if not _of_kind(ch, reading.unit, reading.quantity) and reading.quantity in _TEMPERATURES:
        raise UnitMismatch(msg("%(instrument)s read a %(quantity)s in "
                               "%(unit)r; %(characteristic)s is a %(kind)s",
                               instrument=instrument.asset_number, quantity=reading.quantity,
                               unit=reading.unit, characteristic=ch.name, kind=ch.kind), field="unit",
                           given=reading.unit, kind=ch.kind)
    _check_results_open(sample)
    return _write_result(session, actor=actor, sample=sample, test=test, ch=ch,
                         recorded=ch.id in test.current_results(), value=reading.value,
                         unit=reading.unit, instrument_id=instrument.id,
                         measured_at=reading.at, raw=reading.raw, source="instrument",
                         timezone=timezone, reading_id=getattr(reading, "reading_id", None))


def correct_result(session: Session, *, actor: User, result_id: Any, value: Any, unit: Any,
                   reason: Any, instrument_id: Any = None, measured_at: Any = None,
                   timezone: str) -> Result:
    """Correct a result: a new version with the reason; the original stays readable (7.5.2).

    The measurement time is the corrected version's unless ``measured_at`` is given: a
    correction of a typing error does not move when the item was measured.
    """
    require(actor, "result.correct")
    reason = text(reason, "reason", max_len=MAX_TEXT)
    old = session.get(Result, as_id(result_id, "result_id"))
    if old is None:
        raise NotFound(msg("no such result"), result=result_id)
    # Lock the sample, then read the result again: a concurrent correction or review may have
    # changed both since the first read.
    sample = get_sample(session, old.test.sample.number, lock=True)
    session.refresh(old)
    if not old.is_current:
        raise Conflict(msg("result %(result)s was already corrected; correct the current version",
                           result=old.id),
                       field="result_id")
    _check_results_open(sample)
    new = _build_result(session, actor=actor, sample=sample, test=old.test,
                        ch=old.characteristic, value=value, unit=unit,
                        instrument_id=instrument_id if instrument_id not in (None, "")
                        else old.instrument_id,
                        measured_at=old.measured_at if measured_at in (None, "") else measured_at,
                        raw=None, source="manual", timezone=timezone)
    new.version, new.replaces_id, new.reason = old.version + 1, old.id, reason
    old.is_current = False
    _flush_result(session, new, old.characteristic)
    record(session, actor=actor, action="result.correct", entity_type="results",
           entity_id=new.id, before=snapshot(old), after=snapshot(new), reason=reason)
    return new


# A bench PC's clock may run a little ahead of the server's; beyond this a time is refused.
CLOCK_TOLERANCE = dt.timedelta(minutes=5)


def measurement_time(sample: Sample, measured_at: Any, *, timezone: str,
                     now: dt.datetime | None = None) -> dt.datetime:
    """When a result was measured: given, or now. ISO/IEC 17025 7.5.1 / 7.8.2.1 h: the dates
    of testing are the measurements'; none precedes the sample's receipt (7.4.1) and none is in
    the future.

    :raises InvalidInput: (field ``measured_at``) not a date and time, before receipt, or in
        the future.
    """
    now = now or utcnow()
    at = now if measured_at in (None, "") else moment(measured_at, "measured_at",
                                                      timezone=timezone)
    shown = at.astimezone(ZoneInfo(timezone)).isoformat(timespec="seconds")
    if sample.received_at is not None and at < sample.received_at:
        received = sample.received_at.astimezone(ZoneInfo(timezone)).isoformat(timespec="seconds")
        raise InvalidInput(msg("measured at %(time)s, before sample %(number)s was received "
                               "(%(received)s)", time=shown, number=sample.number, received=received),
                           field="measured_at", received_at=received)
    if at > now + CLOCK_TOLERANCE:
        raise InvalidInput(msg("measured at %(time)s, which is in the future", time=shown),
                           field="measured_at")
    return at


def _build_result(session: Session, *, actor: User, sample: Sample, test: SampleTest,
                  ch: Characteristic, value: Any, unit: Any, instrument_id: Any,
                  measured_at: Any, raw: bytes | None, source: str, timezone: str) -> Result:
    req = sample.request
    evaluated = judge.evaluate(ch, value, unit, rule=req.decision_rule,
                               r=kinds.values.number(req.guard_factor or "1", field="r"))
    at = measurement_time(sample, measured_at, timezone=timezone)
    instrument = calibration = None
    if instrument_id not in (None, ""):
        instrument = get_instrument(session, as_id(instrument_id, "instrument_id"))
        # ISO/IEC 17025 6.4.4 / EQ-04: an instrument not fit for use at the time of measurement
        # cannot produce a result; the result keeps the record in force then (7.5.1).
        try:
            calibration = check_fit_for_use(session, instrument, at, timezone=timezone)
        except (CalibrationExpired, InstrumentUnavailable) as exc:
            raise InstrumentNotFit(exc.message, field="instrument_id", reason=exc.code,
                                   **exc.data) from None
    # A test whose results are in memory takes the new one there too; otherwise the result
    # names its test by id, and the flush has no collection of the test's to visit (issue 14:
    # a tenth of a first result's function calls). A later read of the results finds it.
    link: dict[str, Any] = ({"test": test} if "results" in inspect(test).dict
                            else {"test_id": test.id})
    return Result(
        **link, characteristic_id=ch.id, value=evaluated.value.text,
        unit=evaluated.unit.canonical, unit_text=evaluated.unit.written,
        conformity=evaluated.conformity, source=source,
        expanded_uncertainty=None if evaluated.expanded_uncertainty is None
        else format(evaluated.expanded_uncertainty, "f"),
        coverage_factor=None if evaluated.coverage_factor is None
        else format(evaluated.coverage_factor, "f"),
        instrument_id=instrument.id if instrument else None,
        calibration_record_id=calibration.id if calibration else None,
        instrument_due_on=calibration.valid_until if calibration else None,
        raw=raw, measured_at=at, recorded_by_id=actor.id)


def _flush_result(session: Session, result: Result, ch: Characteristic) -> None:
    """Write a result :func:`_build_result` made; then its characteristic, and its decision (a
    new result has none), are set as loaded: the reply reads neither from the database.

    Set after the flush, not in the constructor, they are no work for it (issue 14: two fifths
    of the flush's function calls)."""
    session.add(result)
    session.flush()
    set_committed_value(result, "characteristic", ch)
    set_committed_value(result, "decision", None)


def _check_results_open(sample: Sample) -> None:
    if sample.status not in RESULTS_OPEN:
        raise SampleStateError(
            msg("sample %(number)s is %(status)s; results can be recorded or corrected "
                "only while it is %(statuses)s", number=sample.number, status=sample.status,
                statuses=', '.join(sorted(RESULTS_OPEN))),
            sample=sample.number, current=sample.status)


def result_authors(sample: Sample) -> set[int]:
    """Everyone who recorded or corrected any result of the sample (or, for a customer's
    instrument, any of its calibration readings)."""
    from lims.calibration.work import reading_authors  # the calibration domain builds on this

    return {r.recorded_by_id for t in sample.tests for r in t.results} | reading_authors(sample)


def complete_testing(session: Session, *, actor: User, number: str) -> Sample:
    """Declare testing complete; every characteristic must have a current result."""
    require(actor, "sample.complete")
    sample = get_sample(session, number, lock=True)
    missing = [f"{t.method.code} {ch.name}" for t in sample.tests
               for ch in t.method.characteristics if ch.id not in t.current_results()]
    from lims.calibration.work import missing_points  # a customer instrument's points

    missing += missing_points(sample)
    if sample.status == SampleStatus.IN_TESTING and missing:
        raise SampleStateError(msg("sample %(number)s still lacks results for: %(missing)s",
                                   number=number, missing=', '.join(missing)),
                               sample=number, missing=missing)
    unrecorded = [t.method.code for t in sample.tests
                  if t.method.requires_conditions and not t.conditions]
    if sample.status == SampleStatus.IN_TESTING and unrecorded:
        # ISO/IEC 17025 7.8.2.1 / RB/T 214 4.5.20: a method that depends on its environment
        # reports the conditions it ran under; testing is not complete without them.
        raise SampleStateError(msg("sample %(number)s has no environmental conditions recorded "
                                   "for: %(methods)s", number=number, methods=', '.join(unrecorded)),
                               sample=number, missing=unrecorded)
    _transition(session, sample, SampleStatus.RESULTS_COMPLETE, actor=actor,
                action="sample.complete")
    return sample


def review_sample(session: Session, *, actor: User, number: str) -> Sample:
    """Record the technical review; the reviewer must not have entered any result (7.5.1)."""
    require(actor, "sample.review")
    sample = get_sample(session, number, lock=True)
    check_transition(sample.status, SampleStatus.REVIEWED, sample=number)
    check_reviewer(actor, sample)  # the rules the sample page asks too
    undecided = [f"{t.method.code} {r.characteristic.name} (result {r.id})" for t in sample.tests
                 for r in t.current_results().values() if r.verdict == UNDECIDED]
    if undecided:
        # ISO/IEC 17025 7.8.6.1: no report states an undecided conformity; a person resolves
        # it (a corrected result, or a decision with its reason) before the review.
        raise Conflict(msg("conformity is undecided for %(characteristics)s: correct the "
                           "result or record a decision with a reason before the review",
                           characteristics=', '.join(undecided)),
                       sample=number, undecided=undecided)
    _transition(session, sample, SampleStatus.REVIEWED, actor=actor, action="sample.review",
                reviewed_at=utcnow(), reviewed_by_id=actor.id)
    return sample


def decide_conformity(session: Session, *, actor: User, result_id: Any, conformity: Any,
                      reason: Any) -> ConformityDecision:
    """Record a reviewer's statement of conformity for a result the rule left undecided (a
    censored value whose bound straddles a limit), with the reason. Audited; never rewritten.

    :raises InvalidInput: conformity not "pass" or "fail"; no reason.
    :raises Conflict: the result is not current, not undecided, or already decided; the sample
        no longer takes results.
    :raises SeparationOfDuties: the reviewer entered results of the sample.
    """
    require(actor, "sample.review")
    if conformity not in ("pass", "fail"):
        raise InvalidInput(msg("must be pass or fail"), field="conformity")
    reason = text(reason, "reason", max_len=MAX_TEXT)
    result = session.get(Result, as_id(result_id, "result_id"))
    if result is None:
        raise NotFound(msg("no such result"), result=result_id)
    sample = get_sample(session, result.test.sample.number, lock=True)
    session.refresh(result)
    _check_results_open(sample)
    if not result.is_current or result.conformity != UNDECIDED:
        raise Conflict(msg("result %(result)s is not a current undecided result", result=result.id),
                       field="result_id")
    if result.decision is not None:
        raise Conflict(msg("result %(result)s was decided already", result=result.id),
                       field="result_id")
    if actor.id in result_authors(sample):
        raise SeparationOfDuties(msg("%(user)s entered results of %(number)s and may "
                                     "not decide their conformity", user=actor.username,
                                     number=sample.number), sample=sample.number)
    decision = ConformityDecision(result_id=result.id, conformity=conformity, reason=reason,
                                  decided_by_id=actor.id)
    session.add(decision)
    session.flush()
    session.refresh(result)
    record(session, actor=actor, action="result.decide", entity_type="conformity_decisions",
           entity_id=decision.id, after=snapshot(decision), reason=reason)
    return decision


def record_conditions(session: Session, *, actor: User, number: str, method_id: Any,
                      conditions: Any = None, deviation: Any = None) -> SampleTest:
    """Record the environmental conditions of one test of a sample (a list of ``{"kind",
    "value", "unit"}``, see :func:`lims.samples.particulars.parse_conditions`) and/or a
    deviation from its method (text), while results are open (ISO/IEC 17025 7.8.2.1, 7.8.3.1
    a). Given values replace the test's earlier ones; the audit event keeps both.

    :raises InvalidInput: neither given; the method is not tested on the sample; a kind,
        value or text that is not right (naming the field).
    :raises UnitMismatch: a condition's unit is not of its kind.
    :raises SampleStateError: the sample does not take results now.
    """
    require(actor, "result.record")
    if conditions in (None, "", []) and deviation in (None, ""):
        raise InvalidInput(msg("give the conditions or a deviation"), field="conditions")
    checked = None if conditions in (None, "", []) else particulars.parse_conditions(conditions)
    why = None if deviation in (None, "") else text(deviation, "deviation", max_len=MAX_TEXT,
                                                     multiline=True)
    sample = get_sample(session, number, lock=True)
    _check_results_open(sample)
    mid = as_id(method_id, "method_id")
    test = next((t for t in sample.tests if t.method_id == mid), None)
    if test is None:
        raise InvalidInput(msg("method %(method)s is not tested on sample %(number)s",
                               method=mid, number=sample.number),
                           field="method_id")
    before = {"conditions": test.conditions, "deviation": test.deviation}
    if checked is not None:
        test.conditions = json.dumps(checked, ensure_ascii=False)
    if why is not None:
        test.deviation = why
    session.flush()
    record(session, actor=actor, action="test.conditions", entity_type="sample_tests",
           entity_id=test.id, before=before,
           after={"sample": sample.number, "method": test.method.code,
                  "conditions": test.conditions, "deviation": test.deviation})
    return test


def derived_conclusion(sample: Sample) -> Conclusion:
    """The overall conclusion the verdicts of the sample's current results give
    (:func:`lims.reports.conclusion.derive`), against the request's product standard."""
    items = [(r.characteristic.name, r.verdict) for t in sample.tests
             for ch in t.method.characteristics
             for r in [t.current_results().get(ch.id)] if r is not None]
    return derive(items, standard=sample.request.product_standard,
                  rule=sample.request.decision_rule)


def approve_sample(session: Session, *, actor: User, number: str, password: Any,
                   policy: LoginPolicy | None = None, conclusion: Any = None,
                   conclusion_reason: Any = None) -> Sample:
    """Approve the results for reporting by an authorised signatory: an electronic signature,
    so the signatory re-enters their password (21 CFR 11.200(a)(1)), and the audit event
    keeps their name, the time and the meaning (11.50).

    :param policy: the login policy whose throttling and lockout a wrong password counts
        towards (default: :class:`LoginPolicy`'s defaults).
    :raises InvalidInput: no password (``field`` ``password``).
    :raises ReauthenticationFailed: a wrong password (the web edge records it as a failed
        login) or a locked account. :raises TooManyAttempts:
    :param conclusion: the signatory's own wording of the overall conclusion (检验结论), which
        replaces the derived one on the report; it needs ``conclusion_reason``, and the audit
        event keeps both with the derived wording (RB/T 214 4.5.20).
    :raises OutsideScope: an item is outside the signatory's authorised scope items (or,
        outside the accredited scope, their fields).
    :raises SeparationOfDuties: the signatory entered or reviewed results of this sample.
    :raises InvalidInput: a conclusion without a reason, or a reason without a conclusion.
    """
    require(actor, "sample.approve")
    worded = None if conclusion in (None, "") else text(conclusion, "conclusion",
                                                        max_len=MAX_TEXT, multiline=True)
    reason = None if conclusion_reason in (None, "") else text(
        conclusion_reason, "conclusion_reason", max_len=MAX_TEXT, multiline=True)
    if worded is not None and reason is None:
        raise InvalidInput(msg("a conclusion worded otherwise than derived needs the reason"),
                           field="conclusion_reason")
    if reason is not None and worded is None:
        raise InvalidInput(msg("a reason is given for no conclusion"), field="conclusion")
    reauthenticate(session, user=actor, password=password, meaning=APPROVAL_MEANING,
                   policy=policy)
    sample = get_sample(session, number, lock=True)
    check_transition(sample.status, SampleStatus.APPROVED, sample=number)
    # RB/T 214 4.2.4: the signatory's authorised scope items (fields, outside the scope), and
    # separation of duties; the rules the sample page asks too.
    check_signatory(session, actor, sample)
    now = utcnow()
    derived = derived_conclusion(sample)
    if worded == derived.text:  # the derived wording typed out again is no rewording
        worded = reason = None
    audit: dict[str, Any] = {**signature_record(actor, now, APPROVAL_MEANING),
                             "derived_conclusion": derived.text}
    _transition(session, sample, SampleStatus.APPROVED, actor=actor, action="sample.approve",
                approved_at=now, approved_by_id=actor.id, conclusion=worded,
                conclusion_reason=reason, audit=audit, reason=reason)
    return sample


def mark_reported(session: Session, *, actor: User, sample: Sample, report_number: str) -> None:
    # The first report ends the turnaround time (lims.samples.turnaround); a replacement
    # report after an amendment keeps it.
    first: dict[str, Any] = {} if sample.reported_at is not None else {"reported_at": utcnow()}
    _transition(session, sample, SampleStatus.REPORTED, actor=actor, action="sample.report",
                reason=f"report {report_number} issued", **first)
