"""Requests with several samples (issue 11 §2) through the services, on SQLite and PostgreSQL:
registered all or nothing, errors naming the sample and field, bulk receipt, turnaround."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from lims.audit.models import AuditEvent
from lims.auth.models import User
from lims.db import unit_of_work, utcnow
from lims.errors import InvalidInput, PermissionDenied, SampleStateError
from lims.samples import intake, services
from lims.samples.models import Sample, TestRequest
from lims.samples.turnaround import local_date, turnaround
from tests.support.world import TZ

FORMATS = {"request_format": "WT{year}-{seq:06d}", "sample_format": "YP{year}-{seq:06d}",
           "timezone": TZ}


def _today() -> dt.date:
    return local_date(utcnow(), TZ)


def _rows(world, n=3, **overrides):
    rows = [{"description": f"样品 {i + 1}", "method_ids": [world.method_id],
             "trademark": f"TM{i}", "model": "160 cm", "batch": f"P{i}", "quantity": "3 块",
             "manufacturer": "杭州示例纺织", "acquisition": "sampled" if i == 1 else None,
             "due_date": (_today() + dt.timedelta(days=5 + i)).isoformat(),
             "priority": "urgent" if i == 2 else None} for i in range(n)]
    for key, value in overrides.items():
        index, field = key.split("__")
        rows[int(index)][field] = value
    return rows


def _create(session, world, rows, who="tech", **kw):
    with unit_of_work(session):
        req = intake.create_request_with_samples(
            session, actor=world.user(session, who), customer_id=world.customer_id,
            samples=rows, product_standard="GB 18401-2010", **FORMATS, **kw)
        return req.number, [s.number for s in req.samples]


def _counts(session):
    return (session.scalar(select(func.count()).select_from(TestRequest)),
            session.scalar(select(func.count()).select_from(Sample)))


def test_one_request_holds_several_samples_each_with_its_own_particulars_and_plan(
        session, world):
    tech2 = world.user(session, "tech2")
    rows = _rows(world)
    rows[0]["assignee_id"] = tech2.id
    rows[1]["assignee"] = "tech"
    number, samples = _create(session, world, rows)
    assert len(samples) == 3
    seqs = [int(n.rsplit("-", 1)[1]) for n in samples]
    assert seqs == list(range(seqs[0], seqs[0] + 3))  # consecutive, in row order
    req = intake.get_request(session, number.lower())  # any case
    assert req.number == number and req.product_standard == "GB 18401-2010"
    first, second, third = req.samples
    assert (first.description, first.trademark, first.batch, first.quantity) == (
        "样品 1", "TM0", "P0", "3 块")
    assert (first.acquisition, second.acquisition) == ("delivered", "sampled")
    assert (first.priority, third.priority) == ("normal", "urgent")
    assert first.due_date == _today() + dt.timedelta(days=5)
    assert first.assignee_id == tech2.id
    assert second.assignee_id == world.user(session, "tech").id
    assert third.assignee_id is None
    assert [t.method_id for t in third.tests] == [world.method_id]
    actions = session.scalars(select(AuditEvent.action).where(
        AuditEvent.action.in_(["request.create", "sample.register"]))).all()
    assert sorted(actions) == ["request.create"] + ["sample.register"] * 3


@pytest.mark.parametrize(("field", "value", "message"), [
    ("due_date", "yesterday", "is not a date"),
    ("due_date", None, "before the registration date"),  # filled in below: yesterday
    ("priority", "whenever", "must be one of normal, urgent"),
    ("acquisition", "found", "must be one of delivered, sampled"),
    ("method_ids", [], "at least one method"),
    ("description", "", "is required"),
    ("quantity", "x" * 121, "longer than 120"),
])
def test_an_error_in_the_third_sample_names_it_and_nothing_is_written(
        session, world, field, value, message):
    if field == "due_date" and value is None:
        value = (_today() - dt.timedelta(days=1)).isoformat()
    before = _counts(session)
    _create(session, world, _rows(world, 1))  # numbers taken before: the series goes on
    after_one = _counts(session)
    with pytest.raises(InvalidInput) as caught:
        _create(session, world, _rows(world, **{f"2__{field}": value}))
    assert caught.value.field == f"samples[2].{field}"
    assert message in caught.value.message
    assert _counts(session) == after_one == (before[0] + 1, before[1] + 1)
    # The failed attempt's numbers were rolled back with it: the next ones follow on.
    number, samples = _create(session, world, _rows(world, 1))
    previous = session.scalars(select(Sample.number).order_by(Sample.id)).all()[-2]
    assert int(samples[0].rsplit("-", 1)[1]) == int(previous.rsplit("-", 1)[1]) + 1


def test_the_assignee_must_be_an_active_technician(session, world):
    reviewer = world.user(session, "reviewer")
    with pytest.raises(InvalidInput) as caught:
        _create(session, world, _rows(world, 2, **{"1__assignee_id": reviewer.id}))
    assert caught.value.field == "samples[1].assignee_id"
    assert "not a technician" in caught.value.message
    with unit_of_work(session):
        world.user(session, "tech2").active = False
    with pytest.raises(InvalidInput, match="not active") as caught:
        _create(session, world, _rows(world, 1, **{"0__assignee": "tech2"}))
    assert caught.value.field == "samples[0].assignee_id"
    with pytest.raises(InvalidInput, match="no user"):
        _create(session, world, _rows(world, 1, **{"0__assignee": "nobody"}))
    assert _counts(session) == (0, 0)


def test_a_request_needs_samples_and_a_technician(session, world):
    with pytest.raises(InvalidInput) as caught:
        _create(session, world, [])
    assert caught.value.field == "samples"
    with pytest.raises(PermissionDenied):
        _create(session, world, _rows(world, 1), who="reviewer")
    with pytest.raises(InvalidInput) as caught:
        _create(session, world, ["not an object"])
    assert caught.value.field == "samples[0]"


def test_register_sample_still_takes_one_sample_and_its_plan(session, world):
    tech = world.user(session, "tech")
    with unit_of_work(session):
        req = services.create_request(session, actor=tech, customer_id=world.customer_id,
                                      number_format="WT{year}-{seq:06d}", timezone=TZ)
        plain = services.register_sample(session, actor=tech, request_id=req.id,
                                         description="plain", method_ids=[world.method_id],
                                         number_format="YP{year}-{seq:06d}", timezone=TZ)
        planned = services.register_sample(
            session, actor=tech, request_id=req.id, description="planned",
            method_ids=[world.method_id], number_format="YP{year}-{seq:06d}", timezone=TZ,
            due_date=_today().isoformat(), priority="urgent", assignee_id=tech.id,
            acquisition="sampled")
    assert (plain.due_date, plain.priority, plain.acquisition, plain.assignee_id) == (
        None, "normal", "delivered", None)
    assert (planned.due_date, planned.priority, planned.acquisition, planned.assignee_id) == (
        _today(), "urgent", "sampled", tech.id)
    with pytest.raises(InvalidInput) as caught, unit_of_work(session):
        services.register_sample(session, actor=tech, request_id=req.id, description="late",
                                 method_ids=[world.method_id], timezone=TZ,
                                 number_format="YP{year}-{seq:06d}", due_date="2020-01-01")
    assert caught.value.field == "due_date"  # no prefix for a sample registered alone


def _audit_count(session, action):
    return session.scalar(select(func.count()).select_from(AuditEvent)
                          .where(AuditEvent.action == action))


def test_bulk_receipt_receives_the_ticked_samples_with_their_conditions(session, world):
    number, (a, b, c) = _create(session, world, _rows(world))
    tech = world.user(session, "tech")
    with unit_of_work(session):
        received = intake.receive_samples(session, actor=tech, request_number=number,
                                          numbers=[c.lower(), a], condition="完好 intact",
                                          conditions={c: "包装破损 packaging torn"})
    assert [s.number for s in received] == [a, c]
    rows = {s.number: s for s in session.scalars(select(Sample).where(
        Sample.number.in_([a, b, c]))).all()}
    assert (rows[a].status, rows[a].condition_on_receipt) == ("received", "完好 intact")
    assert (rows[c].status, rows[c].condition_on_receipt) == ("received",
                                                              "包装破损 packaging torn")
    assert rows[b].status == "registered" and rows[b].received_at is None
    assert rows[a].received_by_id == tech.id
    assert _audit_count(session, "sample.receive") == 2  # one event per sample

    # All or nothing: b could be received, a cannot (again): neither is.
    with pytest.raises(SampleStateError, match=a), unit_of_work(session):
        intake.receive_samples(session, actor=tech, request_number=number, numbers=[b, a],
                               condition="intact")
    session.expire_all()
    assert session.scalar(select(Sample.status).where(Sample.number == b)) == "registered"
    assert _audit_count(session, "sample.receive") == 2


def test_bulk_receipt_refuses_what_is_not_right(session, world):
    number, (a, b, _c) = _create(session, world, _rows(world))
    other, (foreign,) = _create(session, world, _rows(world, 1))
    tech = world.user(session, "tech")
    cases = [
        ({"numbers": []}, "samples", "at least one"),
        ({"numbers": [foreign], "condition": "intact"}, "samples", f"request {number}"),
        ({"numbers": [a, b], "conditions": {a: "intact"}}, f"conditions[{b}]", b),
        ({"numbers": [a], "condition": "ok", "conditions": {b: "intact"}}, "conditions", b),
    ]
    for kwargs, field, words in cases:
        with pytest.raises(InvalidInput) as caught, unit_of_work(session):
            intake.receive_samples(session, actor=tech, request_number=number, **kwargs)
        assert caught.value.field == field and words in caught.value.message, kwargs
    with pytest.raises(PermissionDenied), unit_of_work(session):
        intake.receive_samples(session, actor=world.user(session, "reviewer"),
                               request_number=number, numbers=[a], condition="intact")
    assert _audit_count(session, "sample.receive") == 0


def test_turnaround_while_open_and_once_reported(session, world, settings):
    number, report = world.reported_sample(session, settings)
    sample = services.get_sample(session, number)
    assert sample.reported_at is not None
    today = _today()
    with unit_of_work(session):
        sample = services.get_sample(session, number)
        sample.due_date = today
    t = turnaround(sample, today, timezone=TZ)
    assert (t.reported_on, t.turnaround_days, t.on_time, t.overdue, t.days_left) == (
        today, 0, True, False, None)
    with unit_of_work(session):
        services.get_sample(session, number).due_date = today - dt.timedelta(days=1)
    late = turnaround(services.get_sample(session, number), today, timezone=TZ)
    assert (late.on_time, late.overdue) == (False, True)

    open_number = world.new_sample(session)
    with unit_of_work(session):
        services.get_sample(session, open_number).due_date = today + dt.timedelta(days=3)
    s = services.get_sample(session, open_number)
    assert turnaround(s, today, timezone=TZ).days_left == 3
    overdue = turnaround(s, today + dt.timedelta(days=5), timezone=TZ)
    assert (overdue.days_left, overdue.overdue, overdue.on_time) == (-2, True, None)


class _Planned:
    def __init__(self, **kw):
        self.__dict__.update({"received_at": None, "reported_at": None, **kw})


def test_turnaround_counts_days_in_the_lab_zone():
    utc = dt.UTC
    # Received 09:00 on 1 March in Shanghai; reported 00:30 on 6 March in Shanghai, which is
    # still 5 March in UTC: the report is a day late against a due date of 5 March.
    s = _Planned(due_date=dt.date(2026, 3, 5),
                 registered_at=dt.datetime(2026, 2, 28, 1, 0, tzinfo=utc),
                 received_at=dt.datetime(2026, 3, 1, 1, 0, tzinfo=utc),
                 reported_at=dt.datetime(2026, 3, 5, 16, 30, tzinfo=utc))
    t = turnaround(s, dt.date(2026, 3, 9), timezone=TZ)
    assert (t.reported_on, t.turnaround_days, t.on_time) == (dt.date(2026, 3, 6), 5, False)
    assert turnaround(s, dt.date(2026, 3, 9), timezone="UTC").on_time is True
    never_received = _Planned(due_date=None, registered_at=s.registered_at,
                              reported_at=s.reported_at)
    t = turnaround(never_received, dt.date(2026, 3, 9), timezone=TZ)
    assert (t.turnaround_days, t.on_time, t.overdue) == (6, None, False)
    assert turnaround(_Planned(due_date=None, registered_at=s.registered_at),
                      dt.date(2026, 3, 9)).as_dict() == {
        "due_date": None, "days_left": None, "overdue": False, "reported_on": None,
        "turnaround_days": None, "on_time": None}


def test_concurrent_multi_sample_requests_get_unique_gapless_numbers(app, world):
    """Threads registering 3-sample requests at once: no number twice, none skipped, and each
    request's samples numbered consecutively (PostgreSQL row lock, SQLite write lock)."""
    sm = app.extensions["lims"].sessionmaker
    threads_n, per_thread, size = 4, 4, 3
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads_n)

    def worker() -> None:
        session = sm()
        try:
            barrier.wait()
            for _ in range(per_thread):
                _create(session, world, _rows(world, size))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            session.close()

    threads = [threading.Thread(target=worker) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    session = sm()
    try:
        requests = session.scalars(select(TestRequest)).all()
        seq = {r.number: [int(s.number.rsplit("-", 1)[1]) for s in r.samples]
               for r in requests}
        req_seqs = sorted(int(n.rsplit("-", 1)[1]) for n in seq)
    finally:
        session.close()
    total = threads_n * per_thread
    assert req_seqs == list(range(1, total + 1))
    assert sorted(n for ns in seq.values() for n in ns) == list(range(1, total * size + 1))
    for numbers in seq.values():
        assert numbers == list(range(numbers[0], numbers[0] + size))


def test_concurrent_bulk_receipts_of_the_same_samples_receive_each_once(app, world):
    sm = app.extensions["lims"].sessionmaker
    setup = sm()
    try:
        number, samples = _create(setup, world, _rows(world, 4))
    finally:
        setup.close()
    outcomes: list[object] = []
    barrier = threading.Barrier(2)

    def worker(order: list[str], who: str) -> None:
        session = sm()
        try:
            barrier.wait()
            with unit_of_work(session):
                intake.receive_samples(session, actor=world.user(session, who),
                                       request_number=number, numbers=order,
                                       condition=f"by {who}")
            outcomes.append(who)
        except SampleStateError as exc:
            outcomes.append(exc)
        finally:
            session.close()

    threads = [threading.Thread(target=worker, args=(samples, "tech")),
               threading.Thread(target=worker, args=(list(reversed(samples)), "tech2"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    winners = [o for o in outcomes if isinstance(o, str)]
    assert len(outcomes) == 2 and len(winners) == 1, outcomes
    session = sm()
    try:
        conditions = set(session.scalars(select(Sample.condition_on_receipt)).all())
        events = session.scalar(select(func.count()).select_from(AuditEvent)
                                .where(AuditEvent.action == "sample.receive"))
        receivers = set(session.scalars(select(Sample.received_by_id)).all())
        winner = session.scalar(select(User.id).where(User.username == winners[0]))
    finally:
        session.close()
    assert conditions == {f"by {winners[0]}"} and events == 4 and receivers == {winner}


def test_an_assignee_name_with_a_control_character_is_refused_by_name(session, world):
    with pytest.raises(InvalidInput, match="control character") as caught:
        _create(session, world, _rows(world, 1, **{"0__assignee": "te\x00ch"}))
    assert caught.value.field == "samples[0].assignee_id"


def test_migration_0015_dates_reported_samples_by_their_first_report(session, world, settings,
                                                                     database_url):
    from lims.migrate import downgrade, upgrade
    from lims.reports.models import Report

    number, report = world.reported_sample(session, settings)
    issued = session.scalar(select(Report.issued_at).where(Report.number == report))
    open_number = world.new_sample(session)
    session.close()
    downgrade(database_url, "0013")
    upgrade(database_url)
    rows = dict(session.execute(select(Sample.number, Sample.reported_at)).all())
    assert rows == {number: issued, open_number: None}
    plan = session.execute(select(Sample.acquisition, Sample.priority, Sample.due_date,
                                  Sample.assignee_id).where(Sample.number == number)).one()
    assert tuple(plan) == ("delivered", "normal", None, None)
