"""Sampling records, seals, backups, result notices, objections and re-inspection (issue 13
§2–3), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from typing import Any

import pytest
from sqlalchemy import select, update

from lims.db import unit_of_work
from lims.errors import Conflict, InvalidInput, LimsError, SeparationOfDuties
from lims.reports.sign import validate_pdf
from lims.samples.models import Sample
from lims.supervision import backups, notices, objections, sampling, workdays
from lims.supervision.models import BackupSample, ResultNotice, SamplingTask
from tests.support.pdf import nss_db, pdfsig, pdftotext
from tests.support.supervision import AUTHORITY, SAMPLING, drawn_task, report_sample

TZ = "Asia/Shanghai"
REQ = {"request_number_format": "WT{year}-{seq:06d}", "timezone": TZ}
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


def _sample(app: Any, world: Any, task: str, name: str) -> Any:
    session = app.extensions["lims"].sessionmaker()
    try:
        with unit_of_work(session):
            return sampling.create_record(session, actor=world.user(session, name),
                                          task_number=task,
                                          data={**SAMPLING, "sampled_on": "2026-09-01"},
                                          **REQ).number
    except LimsError as exc:
        return exc
    finally:
        session.close()


def test_concurrent_sampling_of_one_task_makes_one_record(app, session, world):
    task = drawn_task(session)
    outcomes: list[Any] = [None, None]
    barrier = threading.Barrier(2)

    def run(i: int, name: str) -> None:
        barrier.wait()
        outcomes[i] = _sample(app, world, task, name)

    threads = [threading.Thread(target=run, args=(i, n)) for i, n in enumerate(("tech", "tech2"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    winners = [o for o in outcomes if isinstance(o, str)]
    assert len(winners) == 1 and winners[0].startswith("CY"), outcomes
    loser = next(o for o in outcomes if not isinstance(o, str))
    assert isinstance(loser, Conflict) and "is sampled, not drawn" in str(loser)


def test_food_rule_deadline_and_backup_disposal(session, world):
    task = drawn_task(session, category="FOOD-DAIRY")
    tech = world.user(session, "tech")
    with unit_of_work(session):
        rec = sampling.create_record(session, actor=tech, task_number=task,
                                     data={**SAMPLING, "sampled_on": "2026-01-05"}, **REQ)
        number = rec.number
        assert notices.objection_rule(session, session.get(Sample, rec.sample_id)) == "food"
    today = sampling.lab_today(TZ)
    assert number in [n for _b, n in session.execute(backups.due_query(today))]
    with unit_of_work(session):  # kept past its retention: no reason needed
        backups.dispose_backup(session, actor=tech, record_number=number, method="高压灭菌后销毁",
                               timezone=TZ)
    assert number not in [n for _b, n in session.execute(backups.due_query(today))]
    with pytest.raises(Conflict), unit_of_work(session):
        backups.dispose_backup(session, actor=tech, record_number=number, method="x",
                               timezone=TZ)

    # 2026: 9-25 (Fri) 中秋, 10-1…7 国庆, 10-10 (Sat) a 调休 working day (migration 0026).
    delivered = dt.date(2026, 9, 24)
    assert notices.objection_deadline(session, "food", delivered) == dt.date(2026, 10, 12)
    assert notices.objection_deadline(session, "product", delivered) == dt.date(2026, 10, 9)
    # 15 days ending in a rest day run on to the next working day (民法典 art. 203): 10-01
    # (国庆) → 10-08; 10-04 (a Sunday in the holiday) → 10-08; 2027-01-02 (Saturday) → 01-04.
    for day, deadline in (("2026-09-16", "2026-10-08"), ("2026-09-19", "2026-10-08"),
                          ("2026-12-18", "2027-01-04"), ("2026-12-16", "2026-12-31")):
        assert notices.objection_deadline(session, "product", dt.date.fromisoformat(day)) \
            == dt.date.fromisoformat(deadline), day
    # Food across the year's end: 12-29, 30, 31, 2027-01-01 (as the calendar stands), 01-04…06.
    assert notices.objection_deadline(session, "food", dt.date(2026, 12, 28)) == \
        dt.date(2027, 1, 6)
    with unit_of_work(session):
        workdays.set_overrides(session, actor=world.user(session, "admin"), days=[
            {"day": "2026-10-12", "working": False, "note": "test"}])
    assert workdays.add_working_days(session, delivered, 7) == dt.date(2026, 10, 13)
    with pytest.raises(InvalidInput) as bad, unit_of_work(session):
        workdays.set_overrides(session, actor=world.user(session, "admin"), days=[
            {"day": "2026-10-17", "working": False}])  # a Saturday is off already
    assert bad.value.field == "days[0].working"


def test_sampling_to_notice_objection_and_reinspection(session, world, settings, pki_dir,
                                                       tmp_path):
    task = drawn_task(session)
    tech, qm = world.user(session, "tech"), world.user(session, "qm")
    with pytest.raises(InvalidInput) as bad, unit_of_work(session):
        sampling.create_record(session, actor=tech, task_number=task, data={
            **SAMPLING, "backup_seal": SAMPLING["test_seal"], "sampled_on": "2026-09-01"}, **REQ)
    assert bad.value.field == "backup_seal"
    with unit_of_work(session):
        rec = sampling.create_record(session, actor=tech, task_number=task,
                                     data={**SAMPLING, "sampled_on": "2026-09-01"}, **REQ)
        number, sample_number = rec.number, rec.task.number
        sample = session.get(Sample, rec.sample_id)
        sample_number = sample.number
        assert sample.number.startswith("JD") and sample.acquisition == "sampled"
        assert sample.request.inspection_type == "supervision"
        assert sample.request.customer.name == AUTHORITY
        assert sample.request.product_standard == "GB 31701-2015"
        assert sample.category.code == "IND-CHILD-CLOTHING" and sample.trademark == "小熊"
        assert [t.method_id for t in sample.tests] == [world.method_id]
        assert session.get(SamplingTask, rec.task_id).status == "sampled"
        backup = backups.backup_of(session, rec.id)
        assert backup.seal_number == "FB-0001"
        assert backup.retain_until == dt.date(2026, 9, 1) + dt.timedelta(days=183)
        att = sampling.add_attachment(session, actor=tech, record_number=number,
                                      filename="seal.png", media_type="image/png", data=PNG)
        assert att.sha256 == hashlib.sha256(PNG).hexdigest()
    with pytest.raises(InvalidInput) as bad, unit_of_work(session):
        sampling.add_attachment(session, actor=tech, record_number=number, filename="x.png",
                                media_type="image/png", data=b"%PDF-1.7")
    assert bad.value.field == "file"
    with pytest.raises(InvalidInput) as bad, unit_of_work(session):  # kept until 2027-03-03
        backups.dispose_backup(session, actor=tech, record_number=number, method="销毁",
                               timezone=TZ)
    assert bad.value.field == "reason"
    with pytest.raises(Conflict), unit_of_work(session):  # drawn → sampled happens once
        sampling.create_record(session, actor=tech, task_number=task,
                               data={**SAMPLING, "sampled_on": "2026-09-01"}, **REQ)

    # Seal check on receipt: a broken seal needs a note, is recorded once, flags the record.
    with pytest.raises(InvalidInput) as bad, unit_of_work(session):
        sampling.check_seal(session, actor=tech, record_number=number, intact=False)
    assert bad.value.field == "note"
    with unit_of_work(session):
        sampling.check_seal(session, actor=tech, record_number=number, intact=False,
                            note="封条一角撕裂")
    with pytest.raises(Conflict), unit_of_work(session):
        sampling.check_seal(session, actor=tech, record_number=number, intact=True)
    assert sampling.get_record(session, number).seal_intact is False

    # No notice before an unqualified report is issued.
    with pytest.raises(Conflict), unit_of_work(session):
        notices.issue_notice(session, actor=qm, record_number=number, settings=settings)
    report_sample(session, world, settings, sample_number, mass="101.00")  # above 100.50 g: fails
    with unit_of_work(session):
        notice = notices.issue_notice(session, actor=qm, record_number=number,
                                      settings=settings)
        notice_number, pdf = notice.number, notice.pdf
        assert notice.objection_rule == "product"
        assert hashlib.sha256(pdf).hexdigest() == notice.sha256
    ca = (pki_dir / "ca.pem").read_bytes()
    check = validate_pdf(pdf, ca)  # pyHanko
    assert check is not None and check.ok and check.approval.timestamped, check
    path = tmp_path / "notice.pdf"
    path.write_bytes(pdf)
    assert "Signature is Valid." in pdfsig(path, nss_db(tmp_path, ca))  # poppler
    printed = pdftotext(path)
    for text in ("检验结果通知书", "武汉童装有限公司", "Specimen mass", "101.00", AUTHORITY,
                 "十五日内", sample_number):
        assert text in printed, text

    # Delivery once; the deadline is 15 calendar days for products. (The notice is dated
    # back so that its clock can have run out by today.)
    with unit_of_work(session):
        session.execute(update(ResultNotice).where(ResultNotice.number == notice_number)
                        .values(issued_at=dt.datetime(2026, 9, 20, tzinfo=dt.UTC)))
        notices.record_delivery(session, actor=qm, notice_number=notice_number,
                                delivered_on="2026-09-24", timezone=TZ)
    with pytest.raises(Conflict), unit_of_work(session):
        notices.record_delivery(session, actor=qm, notice_number=notice_number,
                                delivered_on="2026-09-25", timezone=TZ)
    assert notices.get_notice(session, notice_number).objection_deadline == dt.date(2026, 10, 9)
    with pytest.raises(InvalidInput) as late, unit_of_work(session):
        objections.receive_objection(session, actor=qm, notice_number=notice_number,
                                     received_on="2026-10-10", applicant="武汉童装",
                                     grounds="复检", timezone=TZ)
    assert late.value.field == "received_on" and "2026-10-09" in str(late.value)
    with unit_of_work(session):
        objection = objections.receive_objection(
            session, actor=qm, notice_number=notice_number, received_on="2026-10-09",
            applicant="武汉童装有限公司", grounds="对检验结论有异议，申请复检", timezone=TZ)
        objection_id = objection.id
    with pytest.raises(Conflict), unit_of_work(session):  # the backup is kept while it is open
        backups.dispose_backup(session, actor=tech, record_number=number, method="销毁",
                               reason="test", timezone=TZ)
    with pytest.raises(InvalidInput) as bad, unit_of_work(session):
        objections.decide_objection(session, actor=qm, objection_id=objection_id,
                                    decision="reject")
    assert bad.value.field == "reason"
    with pytest.raises(SeparationOfDuties), unit_of_work(session):  # ISO/IEC 17025 7.9.6
        objections.decide_objection(session, actor=world.user(session, "signatory"),
                                    objection_id=objection_id, decision="reject",
                                    reason="the signatory who approved the result")
    with unit_of_work(session):
        objections.decide_objection(session, actor=qm, objection_id=objection_id,
                                    decision="accept")
    with pytest.raises(Conflict), unit_of_work(session):  # kept for the re-inspection granted
        backups.dispose_backup(session, actor=tech, record_number=number, method="销毁",
                               reason="test", timezone=TZ)
    with pytest.raises(InvalidInput) as bad, unit_of_work(session):
        objections.start_reinspection(session, actor=tech, objection_id=objection_id,
                                      backup_seal_intact=False, **REQ)
    assert bad.value.field == "backup_seal_intact"
    with unit_of_work(session):
        again = objections.start_reinspection(session, actor=tech, objection_id=objection_id,
                                              backup_seal_intact=True, **REQ)
        assert objections.get_objection(session, objection_id).reinspection_sample_id == again.id
        original = session.scalar(select(Sample).where(Sample.number == sample_number))
        assert again.reinspection_of_id == original.id and again.number.startswith("JD")
        assert again.request.inspection_type == "supervision" and again.request_id != \
            original.request_id
        assert [t.method_id for t in again.tests] == [t.method_id for t in original.tests]
        assert session.scalar(select(BackupSample.used_for_sample_id)) == again.id
        assert objections.reinspections_of(session, original.id) == [again]
        assert sampling.record_of_sample(session, again.id).number == number
    with pytest.raises(Conflict), unit_of_work(session):  # decided once
        objections.decide_objection(session, actor=qm, objection_id=objection_id,
                                    decision="withdraw", reason="x")
    with pytest.raises(Conflict), unit_of_work(session):  # unsealed for the re-inspection
        backups.dispose_backup(session, actor=tech, record_number=number, method="销毁",
                               reason="test", timezone=TZ)



def _race(app: Any, world: Any, user: str, act: Any) -> list[Any]:
    """Run ``act(session, actor)`` in two threads at once, each in its own transaction; what
    each returned (an id or number), or the LimsError it raised."""
    outcomes: list[Any] = [None, None]
    barrier = threading.Barrier(2)

    def run(i: int) -> None:
        session = app.extensions["lims"].sessionmaker()
        try:
            barrier.wait()
            with unit_of_work(session):
                outcomes[i] = act(session, world.user(session, user))
        except LimsError as exc:
            outcomes[i] = exc
        finally:
            session.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return outcomes


def _one_wins(outcomes: list[Any]) -> Any:
    losers = [o for o in outcomes if isinstance(o, LimsError)]
    assert len(losers) == 1 and isinstance(losers[0], Conflict), outcomes
    return next(o for o in outcomes if not isinstance(o, LimsError))


def test_concurrent_notice_delivery_objection_decision_reinspection_disposal(
        app, session, world, settings):
    """Of two concurrent attempts at each step of the notice → objection → re-inspection path,
    and at a backup's disposal, exactly one wins and the other gets a Conflict."""
    tasks = drawn_task(session), drawn_task(session)
    with unit_of_work(session):
        rec = sampling.create_record(session, actor=world.user(session, "tech"),
                                     task_number=tasks[0],
                                     data={**SAMPLING, "sampled_on": "2026-09-01"}, **REQ)
        number, sample_id = rec.number, rec.sample_id
        sample_number = session.get(Sample, sample_id).number
        other = sampling.create_record(session, actor=world.user(session, "tech"),
                                       task_number=tasks[1],
                                       data={**SAMPLING, "sampled_on": "2026-09-01"},
                                       **REQ).number
    report_sample(session, world, settings, sample_number, mass="101.00")

    notice = _one_wins(_race(app, world, "qm", lambda db, qm: notices.issue_notice(
        db, actor=qm, record_number=number, settings=settings).number))
    session.rollback()  # a fresh snapshot (SQLite's WAL keeps the old one open)
    assert len(notices.notices_of_sample(session, sample_id)) == 1
    with unit_of_work(session):
        session.execute(update(ResultNotice).values(
            issued_at=dt.datetime(2026, 9, 20, tzinfo=dt.UTC)))
    _one_wins(_race(app, world, "qm", lambda db, qm: notices.record_delivery(
        db, actor=qm, notice_number=notice, delivered_on="2026-09-24", timezone=TZ).number))
    objection = _one_wins(_race(app, world, "qm", lambda db, qm: objections.receive_objection(
        db, actor=qm, notice_number=notice, received_on="2026-09-25", applicant="A",
        grounds="G", timezone=TZ).id))
    session.rollback()
    assert len(objections.objections_of(session, [session.scalar(select(ResultNotice.id))])) == 1
    _one_wins(_race(app, world, "qm", lambda db, qm: objections.decide_objection(
        db, actor=qm, objection_id=objection, decision="accept").status))
    again = _one_wins(_race(app, world, "tech", lambda db, tech: objections.start_reinspection(
        db, actor=tech, objection_id=objection, backup_seal_intact=True, **REQ).number))
    session.rollback()
    assert [s.number for s in objections.reinspections_of(session, sample_id)] == [again]
    _one_wins(_race(app, world, "tech", lambda db, tech: backups.dispose_backup(
        db, actor=tech, record_number=other, method="销毁", reason="test", timezone=TZ).id))
