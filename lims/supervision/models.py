"""The supervision side (监督抽查): regions, the register of enterprises, spot-check plans, random
draws, sampling tasks and records, backup samples, result notices, objections and the lab's
working-day calendar.

The ``双随机、一公开`` programme: a plan names the categories to sample and a quota per region; a
draw picks enterprises and inspectors at random with a recorded seed (reproducible by an
auditor); each drawn enterprise becomes a sampling task, whose sampling record (抽样单) becomes a
request with a test sample, while the sealed backup sample (备份样品) waits for a possible
re-inspection (复检). Records of what was drawn, sampled, notified and objected to are evidence
and are never rewritten; a correction is a new event in the audit trail.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from lims.db import Model, utcnow
from lims.samples.models import ProductCategory


class Region(Model):
    """An administrative division by its GB/T 2260 code (6 digits): the province, its
    prefectures (地级) and their counties (县级), each below its parent."""

    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name_zh: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    level: Mapped[str] = mapped_column(String(20))   # "province" / "prefecture" / "county"
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)

    def name(self, locale: str) -> str:
        return self.name_zh if locale.startswith("zh") else self.name_en


class Enterprise(Model):
    """An enterprise that may be sampled: the register the random draw picks from.

    ``credit_code`` is the 统一社会信用代码 (GB 32100-2015, check character validated);
    ``size`` one of "large", "medium", "small", "micro" (国家统计局 大中小微型企业划分).
    """

    __tablename__ = "enterprises"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    address: Mapped[str] = mapped_column(String(300), default="")
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("product_categories.id"), index=True)
    size: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[dt.datetime | None]

    region: Mapped[Region] = relationship()
    category: Mapped[ProductCategory] = relationship()


class SamplingInspector(Model):
    """A member of staff qualified to take samples (抽样人员), with the qualification's number
    and end; the draw picks inspectors from those qualified on the day of the draw."""

    __tablename__ = "sampling_inspectors"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    qualification: Mapped[str] = mapped_column(String(80), default="")
    valid_until: Mapped[dt.date | None]
    active: Mapped[bool] = mapped_column(default=True)


class SpotCheckPlan(Model):
    """A spot-check plan (抽查计划) of one year, issued by an authority."""

    __tablename__ = "spot_check_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    year: Mapped[int] = mapped_column(index=True)
    title: Mapped[str] = mapped_column(String(300))
    authority: Mapped[str] = mapped_column(String(200))
    sampling_method: Mapped[str] = mapped_column(Text, default="")
    budget_samples: Mapped[int]
    # Enterprises sampled (a task of any plan) within this many months are left out of a draw.
    exclusion_months: Mapped[int] = mapped_column(default=12)
    status: Mapped[str] = mapped_column(String(20), default="open")  # "open" / "closed"
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    categories: Mapped[list[PlanCategory]] = relationship(order_by="PlanCategory.id",
                                                          back_populates="plan")
    quotas: Mapped[list[PlanQuota]] = relationship(order_by="PlanQuota.id",
                                                   back_populates="plan")


class PlanCategory(Model):
    """A category the plan samples, with the product standard judged against (判定依据) and
    the test methods (with their characteristics) applied to each sample."""

    __tablename__ = "plan_categories"
    __table_args__ = (UniqueConstraint("plan_id", "category_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("spot_check_plans.id"))
    category_id: Mapped[int] = mapped_column(ForeignKey("product_categories.id"), index=True)
    product_standard: Mapped[str] = mapped_column(String(300), default="")
    method_codes: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of method codes

    plan: Mapped[SpotCheckPlan] = relationship(back_populates="categories")
    category: Mapped[ProductCategory] = relationship()


class PlanQuota(Model):
    """How many samples of a category the plan takes in a region."""

    __tablename__ = "plan_quotas"
    __table_args__ = (UniqueConstraint("plan_id", "category_id", "region_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("spot_check_plans.id"))
    category_id: Mapped[int] = mapped_column(ForeignKey("product_categories.id"), index=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    quota: Mapped[int]

    plan: Mapped[SpotCheckPlan] = relationship(back_populates="quotas")
    category: Mapped[ProductCategory] = relationship()
    region: Mapped[Region] = relationship()


class RandomDraw(Model):
    """One random draw (双随机): the seed, the candidate pools in the order they were drawn
    from, and the rule applied, so that an auditor can repeat it and get the same tasks."""

    __tablename__ = "random_draws"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("spot_check_plans.id"), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("product_categories.id"), index=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    seed: Mapped[str] = mapped_column(String(64))
    count: Mapped[int]
    exclusion_months: Mapped[int]
    enterprise_pool: Mapped[str] = mapped_column(Text)  # JSON list of enterprise ids, sorted
    inspector_pool: Mapped[str] = mapped_column(Text)   # JSON list of user ids, sorted
    drawn_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    drawn_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))


class SamplingTask(Model):
    """An enterprise drawn for sampling, with the two inspectors drawn to sample it."""

    __tablename__ = "sampling_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("spot_check_plans.id"), index=True)
    draw_id: Mapped[int | None] = mapped_column(ForeignKey("random_draws.id"), index=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("product_categories.id"), index=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    inspector1_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    inspector2_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # "drawn" → "sampled" (a sampling record), or "refused" / "cancelled" with the reason.
    status: Mapped[str] = mapped_column(String(20), default="drawn")
    status_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)

    plan: Mapped[SpotCheckPlan] = relationship()
    enterprise: Mapped[Enterprise] = relationship()
    category: Mapped[ProductCategory] = relationship()
    region: Mapped[Region] = relationship()


class SamplingRecord(Model):
    """The sampling record (抽样单) of a task: what was taken where, from what, sealed how, and
    the enterprise's confirmation. It becomes a request of inspection type ``supervision``
    with the test sample (``sample_id``); the backup sample stays sealed (:class:`BackupSample`)."""

    __tablename__ = "sampling_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("sampling_tasks.id"), unique=True)
    site: Mapped[str] = mapped_column(String(300))
    sampled_on: Mapped[dt.date] = mapped_column(index=True)
    product_name: Mapped[str] = mapped_column(String(200))
    trademark: Mapped[str] = mapped_column(String(120), default="")
    model: Mapped[str] = mapped_column(String(120), default="")
    batch: Mapped[str] = mapped_column(String(120), default="")          # batch / production date
    manufacturer: Mapped[str] = mapped_column(String(200), default="")   # if not the enterprise
    base_quantity: Mapped[str] = mapped_column(String(120))              # 抽样基数
    sample_quantity: Mapped[str] = mapped_column(String(120))            # 抽样数量
    test_seal: Mapped[str] = mapped_column(String(60))                   # 检验样品封条编号
    backup_seal: Mapped[str] = mapped_column(String(60))                 # 备份样品封条编号
    representative: Mapped[str] = mapped_column(String(120))             # 企业陪同人员
    representative_confirmed_at: Mapped[dt.datetime | None]
    request_id: Mapped[int | None] = mapped_column(ForeignKey("test_requests.id"), index=True)
    sample_id: Mapped[int | None] = mapped_column(ForeignKey("samples.id"), index=True)
    # Checked on receipt: a broken seal on the test sample flags the record (and the sample).
    seal_checked_at: Mapped[dt.datetime | None]
    seal_intact: Mapped[bool | None]
    seal_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    task: Mapped[SamplingTask] = relationship()


class SamplingAttachment(Model):
    """A photo or scan attached to a sampling record (the seals, the site, the signed form),
    kept with its SHA-256."""

    __tablename__ = "sampling_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("sampling_records.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    data: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    uploaded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))


class BackupSample(Model):
    """The sealed backup sample (备份样品) of a sampling record: where it is kept, until when,
    and how it left (disposal, or use for a re-inspection)."""

    __tablename__ = "backup_samples"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("sampling_records.id"), unique=True)
    seal_number: Mapped[str] = mapped_column(String(60))
    location: Mapped[str] = mapped_column(String(200))
    retain_until: Mapped[dt.date] = mapped_column(index=True)
    disposed_at: Mapped[dt.datetime | None]
    disposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    disposal_method: Mapped[str | None] = mapped_column(String(200))
    # The re-inspection sample made of it; set once, when it is unsealed for the re-inspection.
    used_for_sample_id: Mapped[int | None] = mapped_column(ForeignKey("samples.id"), index=True)

    record: Mapped[SamplingRecord] = relationship()


class WorkingDayOverride(Model):
    """A day of the lab's calendar that is not as Monday–Friday says: a public holiday on a
    weekday (``working`` False), or a weekend made a working day (调休, ``working`` True)."""

    __tablename__ = "working_day_overrides"

    day: Mapped[dt.date] = mapped_column(primary_key=True)
    working: Mapped[bool]
    note: Mapped[str] = mapped_column(String(120), default="")


class ResultNotice(Model):
    """The notification of inspection results (检验结果通知书) of an unqualified supervision
    sample, to the enterprise and the authority: a signed PDF stored with its SHA-256, never
    rewritten. Recording its delivery starts the objection clock (``objection_deadline``)."""

    __tablename__ = "result_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id"), index=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    # "product": 15 days from delivery; "food": 7 working days (the lab's calendar).
    objection_rule: Mapped[str] = mapped_column(String(20))
    issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    issued_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    content: Mapped[str] = mapped_column(Text)    # JSON snapshot of what the notice says
    pdf: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    delivered_on: Mapped[dt.date | None]
    delivery_recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    objection_deadline: Mapped[dt.date | None] = mapped_column(index=True)


class Objection(Model):
    """An enterprise's objection (异议) to a notified result, and what became of it: rejected,
    withdrawn, or accepted with a re-inspection (复检) on the backup sample."""

    __tablename__ = "objections"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("result_notices.id"), index=True)
    received_on: Mapped[dt.date]
    applicant: Mapped[str] = mapped_column(String(200))
    grounds: Mapped[str] = mapped_column(Text)
    # "received" → "accepted" (re-inspection) / "rejected" / "withdrawn"
    status: Mapped[str] = mapped_column(String(20), default="received")
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[dt.datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reinspection_sample_id: Mapped[int | None] = mapped_column(ForeignKey("samples.id"),
                                                               index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    notice: Mapped[ResultNotice] = relationship()


class WhitePaper(Model):
    """An annual quality white paper as issued: the signed PDF with its SHA-256 and the
    figures it printed (JSON, each reproducible from the statistics API)."""

    __tablename__ = "white_papers"
    __table_args__ = (Index("ix_white_papers_year_issued_at", "year", "issued_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int]
    issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    figures: Mapped[str] = mapped_column(Text)
    pdf: Mapped[bytes] = deferred(mapped_column(LargeBinary))
