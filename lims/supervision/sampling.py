"""The sampling record (抽样单) of a drawn task, and the seal check on receipt.

Recording it is one transaction: the task goes ``drawn`` → ``sampled`` by a conditional update
(of concurrent attempts exactly one wins), and the record becomes a request of inspection type
``supervision`` (customer: the plan's authority) with one test sample (acquisition ``sampled``)
in the supervision series, tested by the plan category's methods and judged against its product
standard; the sealed backup sample (备份样品) is kept (:mod:`lims.supervision.backups`).

《产品质量监督抽查管理暂行办法》 (SAMR Order 18, 2019) asks for a sampling record signed by the
inspectors and the sampled enterprise, the samples sealed on site (the test sample and the
backup, each with its own seal), and photos of the sampling; the record is evidence and is
never rewritten.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lims.audit.services import record, snapshot
from lims.auth.models import User
from lims.auth.services import require
from lims.db import utcnow
from lims.errors import Conflict, InvalidInput, NotFound, msg
from lims.numbering import next_number
from lims.samples import services as samples
from lims.samples.models import Customer, Sample, TestMethod
from lims.supervision.models import (
    BackupSample,
    PlanCategory,
    SamplingAttachment,
    SamplingRecord,
    SamplingTask,
)
from lims.validate import date, text

# Number formats (next_number): the sampling records' series and the supervision samples' own
# series, apart from the commissioned samples' YP… (issue 13 §2).
RECORD_FORMAT = "CY{year}-{seq:05d}"
SAMPLE_FORMAT = "JD{year}-{seq:05d}"
SAMPLE_SERIES = "supervision-sample"
# The backup sample is kept 6 months by default: 《食品安全抽样检验管理办法》 (SAMR Order 15,
# 2019) art. 25 keeps a food backup 3 months after a qualified conclusion and 6 months after
# an unqualified one; counting from the sampling day covers both with the testing time.
BACKUP_RETENTION_DAYS = 183
ATTACHMENT_MAX_BYTES = 5 * 1024 * 1024
# Photos and scans by their first bytes, not by the name the browser sent.
MEDIA_MAGIC = {"image/jpeg": (b"\xff\xd8\xff",), "image/png": (b"\x89PNG\r\n\x1a\n",),
               "application/pdf": (b"%PDF-",)}

FIELDS = {"site": 300, "product_name": 200, "trademark": 120, "model": 120, "batch": 120,
          "manufacturer": 200, "base_quantity": 120, "sample_quantity": 120, "test_seal": 60,
          "backup_seal": 60, "representative": 120, "backup_location": 200}
OPTIONAL = {"trademark", "model", "batch", "manufacturer"}


def lab_today(timezone: str) -> dt.date:
    """Today in the lab's zone."""
    return utcnow().astimezone(ZoneInfo(timezone)).date()


def get_task(session: Session, number: str) -> SamplingTask:
    task = session.scalar(select(SamplingTask).where(SamplingTask.number == number))
    if task is None:
        raise NotFound(msg("no sampling task %(number)r", number=number), task=number)
    return task


def get_record(session: Session, number: str) -> SamplingRecord:
    rec = session.scalar(select(SamplingRecord).where(SamplingRecord.number == number))
    if rec is None:
        raise NotFound(msg("no sampling record %(number)r", number=number), record=number)
    return rec


def lock_sample(session: Session, sample_id: int) -> Sample:
    """The sample, read afresh under its row lock for the rest of the transaction
    (PostgreSQL ``SELECT … FOR UPDATE``; SQLite serialises writers already): the supervision
    steps of a sample (notice, objection, backup disposal) take it first, as the sample's own
    state changes do (:func:`lims.samples.services.get_sample`), so that of concurrent
    attempts one wins and the others see what it did."""
    sample = session.scalar(select(Sample).where(Sample.id == sample_id)
                            .with_for_update(of=Sample)
                            .execution_options(populate_existing=True))
    if sample is None:
        raise NotFound(msg("no sample %(number)r", number=sample_id), sample=sample_id)
    return sample


def record_of_sample(session: Session, sample_id: int) -> SamplingRecord | None:
    """The sampling record a test sample (or, through the re-inspection, its original) came
    from."""
    rec = session.scalar(select(SamplingRecord).where(SamplingRecord.sample_id == sample_id))
    if rec is None:
        original = session.scalar(select(Sample.reinspection_of_id).where(Sample.id == sample_id))
        if original is not None:
            return record_of_sample(session, original)
    return rec


def record_numbers(session: Session, task_ids: list[int]) -> dict[int, str]:
    """The sampling record number of each of these tasks that has one."""
    if not task_ids:
        return {}
    rows = session.execute(select(SamplingRecord.task_id, SamplingRecord.number).where(
        SamplingRecord.task_id.in_(task_ids)))
    return {task_id: number for task_id, number in rows}


def authority_customer(session: Session, *, actor: User, name: str) -> Customer:
    """The customer a plan's authority is on requests: found by name, else created."""
    found = session.scalar(select(Customer).where(Customer.name == name,
                                                  Customer.retired_at.is_(None))
                           .order_by(Customer.id).limit(1))
    return found or samples.create_customer(session, actor=actor, name=name)


def create_record(session: Session, *, actor: User, task_number: str, data: dict[str, Any],
                  request_number_format: str, timezone: str,
                  sample_number_format: str = SAMPLE_FORMAT,
                  retention_days: int = BACKUP_RETENTION_DAYS) -> SamplingRecord:
    """Record the sampling of a drawn task and make its request, test sample and backup.

    ``data``: ``site``, ``sampled_on`` (YYYY-MM-DD, not after today), ``product_name``,
    ``trademark``, ``model``, ``batch`` (batch or production date), ``manufacturer`` (if not the
    enterprise), ``base_quantity`` (抽样基数), ``sample_quantity``, ``test_seal`` and
    ``backup_seal`` (distinct), ``backup_location``, ``representative`` and
    ``representative_confirmed`` (true: the enterprise's representative signed the record).

    :raises NotFound: no such task.
    :raises Conflict: the task is not ``drawn`` (sampled already, refused or cancelled).
    :raises InvalidInput: a field missing, too long or wrong (named); the plan has no methods
        for the task's category.
    """
    require(actor, "sampling.record")
    if not isinstance(data, dict):
        raise InvalidInput(msg("must be an object"), field="data")
    task = get_task(session, task_number)
    given = {k: text(data.get(k), k, required=k not in OPTIONAL, max_len=n)
             for k, n in FIELDS.items()}
    today = lab_today(timezone)
    sampled_on = date(data.get("sampled_on"), "sampled_on")
    assert sampled_on is not None  # noqa: S101 - required
    if sampled_on > today:
        raise InvalidInput(msg("%(day)s is in the future", day=sampled_on), field="sampled_on")
    if given["test_seal"] == given["backup_seal"]:
        raise InvalidInput(msg("the test and backup samples carry different seals"),
                           field="backup_seal")
    confirmed = data.get("representative_confirmed", False)
    if not isinstance(confirmed, bool):
        raise InvalidInput(msg("must be true or false"), field="representative_confirmed")
    plan_category = session.scalar(select(PlanCategory).where(
        PlanCategory.plan_id == task.plan_id, PlanCategory.category_id == task.category_id))
    codes = _method_codes(plan_category)
    methods = session.scalars(select(TestMethod).where(TestMethod.code.in_(codes))).all()
    if not codes or len(methods) != len(set(codes)):
        raise InvalidInput(msg("the plan names no known test methods for category %(code)s",
                               code=task.category.code), field="task")
    # The conditional update first: of concurrent attempts one passes, the others stop here.
    won = session.execute(update(SamplingTask).where(
        SamplingTask.id == task.id, SamplingTask.status == "drawn").values(status="sampled"))
    if won.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(task)
        raise Conflict(msg("sampling task %(number)s is %(status)s, not drawn",
                           number=task.number, status=task.status), task=task.number)
    plan = task.plan
    customer = authority_customer(session, actor=actor, name=plan.authority)
    assert plan_category is not None  # noqa: S101 - codes came from it
    req = samples.create_request(
        session, actor=actor, customer_id=customer.id, inspection_type="supervision",
        product_standard=plan_category.product_standard,
        description=f"监督抽查 {plan.number} / {task.number}",
        number_format=request_number_format, timezone=timezone)
    sample = samples.register_sample(
        session, actor=actor, request_id=req.id, description=given["product_name"],
        method_ids=[m.id for m in methods], number_format=sample_number_format,
        series=SAMPLE_SERIES, timezone=timezone, trademark=given["trademark"],
        model=given["model"], batch=given["batch"], quantity=given["sample_quantity"],
        manufacturer=given["manufacturer"] or task.enterprise.name, acquisition="sampled",
        category=task.category.code, sampled_on=sampled_on)
    rec = SamplingRecord(
        number=next_number(session, "sampling", RECORD_FORMAT, today=today), task_id=task.id,
        sampled_on=sampled_on, request_id=req.id, sample_id=sample.id, created_by_id=actor.id,
        representative_confirmed_at=utcnow() if confirmed else None,
        **{k: v for k, v in given.items() if k != "backup_location"})
    session.add(rec)
    session.flush()
    backup = BackupSample(record_id=rec.id, seal_number=given["backup_seal"],
                          location=given["backup_location"],
                          retain_until=sampled_on + dt.timedelta(days=retention_days))
    session.add(backup)
    session.flush()
    record(session, actor=actor, action="sampling.create", entity_type="sampling_records",
           entity_id=rec.number, after={**snapshot(rec), "task": task.number,
                                        "backup": snapshot(backup), "sample": sample.number})
    return rec


def _method_codes(plan_category: PlanCategory | None) -> list[str]:
    if plan_category is None:
        return []
    try:
        codes = json.loads(plan_category.method_codes or "[]")
    except ValueError:
        return []
    return [c for c in codes if isinstance(c, str)] if isinstance(codes, list) else []


def add_attachment(session: Session, *, actor: User, record_number: str, filename: Any,
                   media_type: Any, data: Any) -> SamplingAttachment:
    """Attach a photo or scan (JPEG, PNG or PDF, at most 5 MiB) to a sampling record, kept
    with its SHA-256.

    :raises InvalidInput: empty, too large, or not what its media type says.
    """
    require(actor, "sampling.record")
    rec = get_record(session, record_number)
    name = text(filename, "filename", max_len=200)
    if media_type not in MEDIA_MAGIC:
        raise InvalidInput(msg("must be one of %(choices)s", choices=", ".join(MEDIA_MAGIC)),
                           field="media_type")
    if not isinstance(data, bytes) or not data:
        raise InvalidInput(msg("the file is empty"), field="file")
    if len(data) > ATTACHMENT_MAX_BYTES:
        raise InvalidInput(msg("the file is larger than %(n)s bytes", n=ATTACHMENT_MAX_BYTES),
                           field="file")
    if not data.startswith(MEDIA_MAGIC[media_type]):
        raise InvalidInput(msg("the file is not a %(type)s file", type=media_type),
                           field="file")
    att = SamplingAttachment(record_id=rec.id, filename=name, media_type=media_type,
                             sha256=hashlib.sha256(data).hexdigest(), size=len(data), data=data,
                             uploaded_by_id=actor.id)
    session.add(att)
    session.flush()
    record(session, actor=actor, action="sampling.attach", entity_type="sampling_records",
           entity_id=rec.number, after=snapshot(att, exclude=("data",)))
    return att


def check_seal(session: Session, *, actor: User, record_number: str, intact: Any,
               note: Any = "") -> SamplingRecord:
    """Record, on receipt of the test sample, whether its seal is intact; a broken seal needs a
    note and flags the record (and so the sample). Recorded once (a conditional update).

    :raises Conflict: the seal was checked already.
    :raises InvalidInput: ``intact`` not true/false; a broken seal without a note.
    """
    require(actor, "sample.receive")
    rec = get_record(session, record_number)
    if not isinstance(intact, bool):
        raise InvalidInput(msg("must be true or false"), field="intact")
    remark = text(note, "note", required=not intact, max_len=2000, multiline=True)
    now = utcnow()
    done = session.execute(update(SamplingRecord).where(
        SamplingRecord.id == rec.id, SamplingRecord.seal_checked_at.is_(None)).values(
        seal_checked_at=now, seal_intact=intact, seal_note=remark or None))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(msg("the seal of %(number)s was checked already", number=rec.number),
                       record=rec.number)
    session.refresh(rec)
    record(session, actor=actor, action="sampling.seal_check", entity_type="sampling_records",
           entity_id=rec.number, after={"seal_intact": intact, "seal_note": remark or None})
    return rec
