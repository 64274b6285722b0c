"""Concurrent attempts on one sample: exactly one wins, the others get a clear 409.

Run with real threads on both databases; PostgreSQL is where they show (SQLite serialises
writers and would hide a missing lock).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from lims.db import unit_of_work, utcnow
from lims.errors import Conflict, LimsError, SampleStateError
from lims.reports.models import Report
from lims.reports.services import issue_report
from lims.samples import services as samples
from lims.samples.models import Result, Sample, SampleTest
from tests.support.world import PASSWORD, TZ


def race(app: Any, attempts: list[Callable[[Any], Any]]) -> list[Any]:
    """Run each attempt in its own thread and session, released together; return outcomes
    (the value, or the LimsError raised)."""
    sm = app.extensions["lims"].sessionmaker
    barrier = threading.Barrier(len(attempts))
    outcomes: list[Any] = [None] * len(attempts)

    def run(i: int) -> None:
        session = sm()
        try:
            barrier.wait()
            with unit_of_work(session):
                outcomes[i] = attempts[i](session)
        except LimsError as exc:
            outcomes[i] = exc
        except BaseException as exc:  # noqa: BLE001 - anything else fails the test below
            outcomes[i] = RuntimeError(f"{type(exc).__name__}: {exc}")
        finally:
            session.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(attempts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    unexpected = [o for o in outcomes if isinstance(o, RuntimeError)]
    assert not unexpected, unexpected
    return outcomes


def test_eight_concurrent_issues_give_one_report(app, session, world, settings):
    number = world.approved_sample(session)

    def issue(s: Any) -> str:
        return issue_report(s, actor=world.user(s, "signatory"), sample_number=number,
                            settings=settings, password=PASSWORD).number

    outcomes = race(app, [issue] * 8)
    issued = [o for o in outcomes if isinstance(o, str)]
    assert len(issued) == 1
    assert all(isinstance(o, SampleStateError) for o in outcomes if not isinstance(o, str))
    session.expire_all()
    sample = session.scalar(select(Sample).where(Sample.number == number))
    assert session.scalar(select(func.count()).select_from(Report)
                          .where(Report.sample_id == sample.id)) == 1


def test_a_correction_racing_a_review_never_leaves_an_unreviewed_value(app, session, world):
    for _ in range(6):
        number = world.new_sample(session)
        tech = world.user(session, "tech")
        with unit_of_work(session):
            first = samples.record_result(session, actor=tech, number=number,
                                          characteristic_id=world.mass_id, value="100.00",
                                          unit="g", timezone=TZ)
            samples.record_result(session, actor=tech, number=number,
                                  characteristic_id=world.length_id, value="12.0", unit="mm",
                                  timezone=TZ)
            samples.complete_testing(session, actor=tech, number=number)
            rid = first.id

        def correct(s: Any, rid: int = rid) -> str:
            return samples.correct_result(s, actor=world.user(s, "tech"), result_id=rid,
                                          value="100.40", unit="g", reason="misread",
                                          timezone=TZ).value

        def review(s: Any, number: str = number) -> str:
            return samples.review_sample(s, actor=world.user(s, "reviewer"),
                                         number=number).status

        outcomes = race(app, [correct, review])
        session.expire_all()
        sample = session.scalar(select(Sample).where(Sample.number == number))
        current = session.scalars(select(Result).join(Result.test)
                                  .where(Result.is_current,
                                         Result.test.has(sample_id=sample.id))).all()
        if sample.status == "reviewed":
            # What the reviewer saw is what stands: nothing recorded after the review.
            assert all(r.recorded_at <= sample.reviewed_at for r in current)
            assert isinstance(outcomes[0], SampleStateError) or outcomes[0] == "100.40"
        else:
            assert isinstance(outcomes[1], SampleStateError)


def test_concurrent_results_for_one_characteristic_give_one_and_409s(app, session, world):
    number = world.new_sample(session)

    def record(s: Any) -> int:
        return samples.record_result(s, actor=world.user(s, "tech"), number=number,
                                     characteristic_id=world.mass_id, value="100.00",
                                     unit="g", timezone=TZ).id

    outcomes = race(app, [record] * 4)
    assert sum(isinstance(o, int) for o in outcomes) == 1
    assert all(isinstance(o, Conflict) for o in outcomes if not isinstance(o, int))


def test_concurrent_results_on_a_sample_in_testing_give_one_and_409s(app, session, world):
    """The winner does not touch the sample's row (testing started already): the losers see
    its result only because they look for it after taking the lock (issue 14)."""
    number = world.new_sample(session)
    with unit_of_work(session):
        samples.record_result(session, actor=world.user(session, "tech"), number=number,
                              characteristic_id=world.mass_id, value="100.00", unit="g",
                              timezone=TZ)

    def record(s: Any) -> int:
        return samples.record_result(s, actor=world.user(s, "tech"), number=number,
                                     characteristic_id=world.length_id, value="12.0",
                                     unit="mm", timezone=TZ).id

    outcomes = race(app, [record] * 4)
    assert sum(isinstance(o, int) for o in outcomes) == 1
    assert all(isinstance(o, Conflict) for o in outcomes if not isinstance(o, int))
    with unit_of_work(session):
        current = session.scalars(
            select(Result).join(SampleTest).join(Sample).where(
                Sample.number == number, Result.characteristic_id == world.length_id,
                Result.is_current)).all()
    assert len(current) == 1


def test_the_result_author_or_reviewer_cannot_issue(session, world, settings):
    import pytest

    from lims.errors import SeparationOfDuties

    number = world.approved_sample(session)
    sample = samples.get_sample(session, number)
    with unit_of_work(session):
        sample.reviewed_by_id = world.user(session, "signatory2").id  # as if 2 reviewed it
    with pytest.raises(SeparationOfDuties), unit_of_work(session):
        issue_report(session, actor=world.user(session, "signatory2"), sample_number=number,
                     settings=settings, password=PASSWORD)
    assert session.scalar(select(func.count()).select_from(Report)) == 0


def test_two_corrections_of_one_calibration_give_one_version(app, session, world):
    from lims.calibration import services as calibration
    from lims.calibration.models import CalibrationRecord

    world.calibrate(session, world.balance_id, valid_until=utcnow().date() + dt.timedelta(days=90),
                    number="RACE-1")
    rid = session.scalar(select(CalibrationRecord.id)
                         .where(CalibrationRecord.certificate_number == "RACE-1"))
    cert = {"number": "RACE-1", "instrument": "EQ-1",
            "provider": {"name": "Provincial Metrology Institute", "kind": "accredited",
                         "accreditation": "CNAS L0001", "country": "CN"},
            "calibrated_on": utcnow().date().isoformat(),
            "valid_until": (utcnow().date() + dt.timedelta(days=90)).isoformat(),
            "results": [{"quantity": "mass", "nominal": "100", "value": "100.0003", "unit": "g",
                         "expanded_uncertainty": "0.0003", "k": "2"}]}

    def correct(s: Any) -> int:
        return calibration.correct_record(s, actor=world.user(s, "qm"), record_id=rid,
                                          data=cert, reason="typo", timezone=TZ).version

    outcomes = race(app, [correct] * 4)
    assert outcomes.count(2) == 1
    assert all(isinstance(o, Conflict) for o in outcomes if o != 2)


def test_taking_an_instrument_out_of_service_twice_at_once(app, world):
    from lims.instruments.services import set_in_service

    def out(s: Any) -> str:
        return set_in_service(s, actor=world.user(s, "qm"), asset="EQ-1", in_service=False,
                              reason="dropped").status

    outcomes = race(app, [out] * 4)
    assert outcomes.count("out of service") == 1
    assert all(isinstance(o, Conflict) for o in outcomes if o != "out of service")


def test_two_admins_disabling_each_other_leave_one(app, session, world):
    from lims.auth.services import create_user, set_active

    with unit_of_work(session):
        create_user(session, username="admin2", full_name="A2", password="correct horse battery",
                    roles=["admin"])

    def disable(actor: str, target: str) -> Callable[[Any], str]:
        def run(s: Any) -> str:
            set_active(s, actor=world.user(s, actor), username=target, active=False)
            return target
        return run

    outcomes = race(app, [disable("admin", "admin2"), disable("admin2", "admin")])
    assert sum(isinstance(o, str) for o in outcomes) == 1
    assert sum(isinstance(o, Conflict) for o in outcomes) == 1
