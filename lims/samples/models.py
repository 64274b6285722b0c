"""Customers, test methods, requests, samples, tests and results."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.db import Model, utcnow
from lims.kinds import judge


class Customer(Model):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    contact: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str] = mapped_column(String(300), default="")
    # Pinyin initials of the name for search (lims.samples.names.initials); set with the name.
    name_initials: Mapped[str] = mapped_column(String(200), default="", server_default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # 统一社会信用代码 (18 characters, GB 32100-2015) and a phone number, both optional.
    credit_code: Mapped[str] = mapped_column(String(18), default="", server_default="")
    phone: Mapped[str] = mapped_column(String(40), default="", server_default="")
    # Optimistic check of edits and retirement (lims.samples.refdata).
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    retired_at: Mapped[dt.datetime | None]
    retired_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    retired_reason: Mapped[str | None] = mapped_column(String(500))


class TestMethod(Model):
    """A documented method, e.g. a national standard and clause (ISO/IEC 17025 7.2)."""

    __tablename__ = "test_methods"
    __test__ = False  # not a pytest test class

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)  # e.g. "GB/T 26497-2011"
    title: Mapped[str] = mapped_column(String(200))
    clause: Mapped[str] = mapped_column(String(80), default="")
    field: Mapped[str] = mapped_column(String(80))  # the scope a signatory is authorised for
    # The method needs its environmental conditions recorded with each test (ISO/IEC 17025
    # 6.3.3, 7.8.2.1 and RB/T 214 4.5.20: reported where they influence the results).
    requires_conditions: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Optimistic check of edits; a retired method is offered for no new sample (but samples
    # already tested by it keep it): ISO/IEC 17025 8.3.2 f, obsolete documents withdrawn.
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    retired_at: Mapped[dt.datetime | None]
    retired_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    retired_reason: Mapped[str | None] = mapped_column(String(500))

    characteristics: Mapped[list[Characteristic]] = relationship(
        back_populates="method", order_by="Characteristic.id", lazy="selectin")


class Characteristic(Model):
    """A measured property of a method: its kind of quantity, unit and specification.

    ``kind`` is one of :data:`lims.kinds.KINDS`; a result is accepted only in a unit of it.
    ``unit_text`` is the unit as the method writes it (``r/min``, ``N·m``, ``%(m/m)``), shown on
    pages and reports; ``unit`` the canonical form stored beside it. Limits, LOD and LOQ keep
    their digits as specified, in ``unit_text``; ``expected`` is the value a qualitative
    characteristic requires (阴性).
    """

    __tablename__ = "characteristics"

    id: Mapped[int] = mapped_column(primary_key=True)
    method_id: Mapped[int] = mapped_column(ForeignKey("test_methods.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(40))
    unit: Mapped[str] = mapped_column(String(60))       # canonical (pint's form, or the notation)
    unit_text: Mapped[str] = mapped_column(String(40))  # as written
    lower_limit: Mapped[str | None] = mapped_column(String(40))  # digits as specified
    upper_limit: Mapped[str | None] = mapped_column(String(40))
    lod: Mapped[str | None] = mapped_column(String(40))  # limit of detection, in unit_text
    loq: Mapped[str | None] = mapped_column(String(40))  # limit of quantification
    expected: Mapped[str | None] = mapped_column(String(40))  # qualitative: the value required
    # How a result's uncertainty is obtained (from method validation): "expanded" (U in
    # unit_text) or "relative" (U in % of the value), with its coverage factor k.
    uncertainty_kind: Mapped[str | None] = mapped_column(String(20))
    uncertainty: Mapped[str | None] = mapped_column(String(40))
    coverage_factor: Mapped[str | None] = mapped_column(String(10))

    method: Mapped[TestMethod] = relationship(back_populates="characteristics")

    def requirement(self) -> str:
        """The specification as text, e.g. ``99.95 … 100.05 g``, ``≤ 0.5 %(m/m)``, ``阴性``."""
        return judge.requirement(self)

    def uncertainty_text(self) -> str:
        """How the uncertainty is obtained, e.g. ``U = 0.02 mg/kg (k = 2)``, ``U = 1.5 % (k = 2)``."""
        return judge.uncertainty_source(self)


def trigram_index(table: str, column: str) -> Index:
    """A trigram GIN index, which serves the lists' substring search (ILIKE '%q%') on
    PostgreSQL (make bench); SQLite searches FTS5 tables instead (migration 0020)."""
    return Index(f"ix_{table}_{column}_trgm", column, postgresql_using="gin",
                 postgresql_ops={column: "gin_trgm_ops"}).ddl_if(dialect="postgresql")


class ProductCategory(Model):
    """A node of the product catalogue (产品类别): a target family at the top (食品; 药品、医疗器械、
    化妆品; 工业产品, the province's pass-rate targets) and its subcategories below (儿童服装,
    电线电缆 …), to any depth. Managed by :mod:`lims.samples.categories`.

    ``target_pass_rate`` (percent) is set on a top-level family only; a subcategory is
    measured against its family's. A retired category is offered for no new sample; samples
    already in it keep it (as retired methods, ISO/IEC 17025 8.3.2 f).
    """

    __tablename__ = "product_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("product_categories.id"),
                                                  index=True)
    target_pass_rate: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    retired: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def name(self, locale: str) -> str:
        """The name in the reader's language (``zh…`` Chinese, else English)."""
        return self.name_zh if locale.startswith("zh") else self.name_en


class TestRequest(Model):
    __tablename__ = "test_requests"
    __test__ = False
    __table_args__ = (trigram_index("test_requests", "number"),
                      trigram_index("test_requests", "description"))

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # The decision rule agreed with the customer (ISO/IEC 17025 7.1.3, ILAC-G8): "simple",
    # "guarded" (w = r·U) or "non-binary"; r is the guard band factor.
    decision_rule: Mapped[str] = mapped_column(String(20), default="simple")
    guard_factor: Mapped[str | None] = mapped_column(String(10))
    # 检验类别, one of :data:`lims.samples.particulars.INSPECTION_TYPES` (RB/T 214 4.5.20).
    inspection_type: Mapped[str] = mapped_column(String(30), default="commissioned")
    # 判定依据: the product standard the verdicts are judged against, which is not the test
    # method (检验依据); "" when the customer asked for data only.
    product_standard: Mapped[str] = mapped_column(String(300), default="")
    # Which data the customer supplied (ISO/IEC 17025 7.8.2.2): the report names them and
    # disclaims them; "" when none.
    customer_data: Mapped[str] = mapped_column(Text, default="")

    customer: Mapped[Customer] = relationship(lazy="joined")
    samples: Mapped[list[Sample]] = relationship(back_populates="request", order_by="Sample.id")


class Sample(Model):
    __tablename__ = "samples"
    # The sample list filters by status and sorts by registration (issue 11 §3, make bench).
    # The default order (newest first) ends with the id, so a deep page is an index-only walk
    # of (registered_at, id), with no sort of the ties (make bench, migration 0020).
    __table_args__ = (Index("ix_samples_status_registered_at", "status", "registered_at"),
                      Index("ix_samples_registered_at_id", "registered_at", "id"),
                      # The original samples of a year: the pass-rate statistics (0027).
                      Index("ix_samples_original_sampled", "reinspection_of_id",
                            "sampled_on"),
                      trigram_index("samples", "number"), trigram_index("samples", "description"))

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("test_requests.id"), index=True)
    description: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(30))
    registered_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    registered_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    received_at: Mapped[dt.datetime | None]
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    condition_on_receipt: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[dt.datetime | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[dt.datetime | None]
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Sample particulars entered at intake (RB/T 214 4.5.20, ISO/IEC 17025 7.8.2.1 f).
    trademark: Mapped[str] = mapped_column(String(120), default="")       # 商标
    model: Mapped[str] = mapped_column(String(120), default="")           # 规格型号
    batch: Mapped[str] = mapped_column(String(120), default="")           # 生产日期/批号
    quantity: Mapped[str] = mapped_column(String(120), default="")        # 样品数量
    manufacturer: Mapped[str] = mapped_column(String(200), default="")    # 生产单位
    # The signatory's own wording of the overall conclusion (检验结论) and why, given at
    # approval; None: the report states the conclusion derived from the verdicts.
    conclusion: Mapped[str | None] = mapped_column(Text)
    conclusion_reason: Mapped[str | None] = mapped_column(Text)
    # Planning of the work (lims.samples.planning): how the sample came to the lab ("delivered"
    # 送样 / "sampled" 抽样, RB/T 214 4.5.20), the date the customer was promised (a date in the
    # lab's zone), "normal" or "urgent", and the technician responsible.
    acquisition: Mapped[str] = mapped_column(String(20), default="delivered",
                                             server_default="delivered")
    due_date: Mapped[dt.date | None] = mapped_column(index=True)
    priority: Mapped[str] = mapped_column(String(20), default="normal", server_default="normal")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # When the first report of the sample was issued: the end of its turnaround time (an
    # amendment's replacement report does not move it).
    reported_at: Mapped[dt.datetime | None]
    # The product category (lims.samples.categories), for pass rates per category; None:
    # not categorised (samples registered before the catalogue, or left open).
    category_id: Mapped[int | None] = mapped_column(ForeignKey("product_categories.id"),
                                                    index=True)
    # A re-inspection (复检) names the sample it re-inspects; its conclusion is the final one
    # (lims.supervision: the statistics count it instead of the original's).
    reinspection_of_id: Mapped[int | None] = mapped_column(ForeignKey("samples.id"), index=True)
    # The day the sample was taken: its sampling record's date (抽样日期) for a sample the lab
    # took, the day of registration (lab's zone) for a delivered one, the original's for a
    # re-inspection. The pass-rate statistics count a sample in this day's year. Set by
    # register_sample; None only on a row written behind the services' back (not counted).
    sampled_on: Mapped[dt.date | None]

    request: Mapped[TestRequest] = relationship(back_populates="samples", lazy="joined")
    # Many-to-one by primary key: after the first, loads come from the identity map.
    category: Mapped[ProductCategory | None] = relationship()
    tests: Mapped[list[SampleTest]] = relationship(
        back_populates="sample", order_by="SampleTest.id", lazy="selectin")


class SampleTest(Model):
    """One method applied to one sample."""

    __tablename__ = "sample_tests"
    __table_args__ = (UniqueConstraint("sample_id", "method_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id"))
    # indexed for the sample list's method filter
    method_id: Mapped[int] = mapped_column(ForeignKey("test_methods.id"), index=True)
    # Environmental conditions during the test, a JSON list of {"kind", "value", "unit"} (see
    # :func:`lims.samples.particulars.parse_conditions`), and any deviation from the method
    # (ISO/IEC 17025 7.8.2.1, 7.8.3.1 a).
    conditions: Mapped[str | None] = mapped_column(Text)
    deviation: Mapped[str | None] = mapped_column(Text)

    sample: Mapped[Sample] = relationship(back_populates="tests")
    method: Mapped[TestMethod] = relationship(lazy="joined")
    results: Mapped[list[Result]] = relationship(
        back_populates="test", order_by="(Result.characteristic_id, Result.version)",
        lazy="selectin")

    def current_results(self) -> dict[int, Result]:
        return {r.characteristic_id: r for r in self.results if r.is_current}


class Result(Model):
    """A recorded value, exactly as entered or captured, never rewritten (ISO/IEC 17025 7.5.2).

    A correction is a new row with ``version + 1``, the reason and the person; the row it
    replaces stays readable with ``is_current = False``.
    """

    __tablename__ = "results"
    __table_args__ = (UniqueConstraint("test_id", "characteristic_id", "version"),
                      # impact analysis: everything measured with an instrument in a period
                      Index("ix_results_instrument_measured", "instrument_id", "measured_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    test_id: Mapped[int] = mapped_column(ForeignKey("sample_tests.id"))
    characteristic_id: Mapped[int] = mapped_column(ForeignKey("characteristics.id"),
                                                   index=True)
    version: Mapped[int] = mapped_column(default=1)
    is_current: Mapped[bool] = mapped_column(default=True)
    value: Mapped[str] = mapped_column(String(40))          # the digits as recorded
    unit: Mapped[str] = mapped_column(String(60))           # canonical pint unit
    unit_text: Mapped[str] = mapped_column(String(40))      # the unit as recorded
    # "pass" / "fail" / "undecided" (a censored value straddling a limit) / None, and under a
    # non-binary rule "conditional pass" / "conditional fail"
    conformity: Mapped[str | None] = mapped_column(String(20))
    # Expanded uncertainty (in the characteristic's unit) and its coverage factor, from the
    # characteristic's source at the time of recording.
    expanded_uncertainty: Mapped[str | None] = mapped_column(String(40))
    coverage_factor: Mapped[str | None] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(20))         # "manual" / "instrument"
    instrument_id: Mapped[int | None] = mapped_column(ForeignKey("instruments.id"))
    # The instrument's calibration state at the instant of measurement (ISO/IEC 17025 7.5.1):
    # the record in force then, and its valid-until date as it was.
    calibration_record_id: Mapped[int | None] = mapped_column(
        ForeignKey("calibration_records.id"), index=True)
    instrument_due_on: Mapped[dt.date | None]
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)  # bytes as received (TRC-03)
    # A result captured from a capture agent's stream (issue 12 §2): the stored reading it is,
    # so its agent, sequence number and bytes stay one join away (ISO/IEC 17025 7.5.1).
    reading_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), ForeignKey("readings.id"), index=True)
    measured_at: Mapped[dt.datetime]
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("results.id"), index=True)
    reason: Mapped[str | None] = mapped_column(Text)

    test: Mapped[SampleTest] = relationship(back_populates="results")
    characteristic: Mapped[Characteristic] = relationship(lazy="joined")
    decision: Mapped[ConformityDecision | None] = relationship(
        lazy="selectin", back_populates="result")

    @property
    def verdict(self) -> str | None:
        """The conformity that stands: a person's decision on an undecided result, or the rule's."""
        return self.decision.conformity if self.decision is not None else self.conformity

    def uncertainty_text(self) -> str:
        """``U = 0.03 g (k = 2)``, or "" without an uncertainty."""
        if self.expanded_uncertainty is None:
            return ""
        return (f"U = {self.expanded_uncertainty} {self.characteristic.unit_text}".rstrip()
                + f" (k = {self.coverage_factor})")

    def is_bound(self) -> bool:
        """Whether the value is a bound ("<0.01", "≥ 5", 未检出) rather than a number."""
        return judge.is_bound(self.value, self.characteristic)

    def shown(self) -> tuple[str, str]:
        """(value, unit) as pages and reports print them: as entered; "未检出" with its LOD."""
        return judge.display(self.value, self.unit_text, self.characteristic)


class ConformityDecision(Model):
    """A person's statement of conformity for a result the rule left undecided (a censored
    value whose bound straddles a limit), with the reason; never rewritten (ISO/IEC 17025
    7.8.6.1: the statement is unambiguous; 7.5.1: who decided and why is on record).
    """

    __tablename__ = "conformity_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("results.id"), unique=True)
    conformity: Mapped[str] = mapped_column(String(20))   # "pass" / "fail"
    reason: Mapped[str] = mapped_column(Text)
    decided_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    result: Mapped[Result] = relationship(back_populates="decision")


class ReviewComment(Model):
    """A comment given when work is sent back: by the reviewer on one result (the version they
    saw), or by the signatory on the sample as a whole (``result_id`` None). Kept as a record
    of who asked for what and when; never rewritten (ISO/IEC 17025 7.5.1, 7.7.1).

    ``stage`` is where the sample was sent back from: ``review`` (to testing) or ``approval``
    (to review).
    """

    __tablename__ = "review_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id"), index=True)
    result_id: Mapped[int | None] = mapped_column(ForeignKey("results.id"), index=True)
    result_version: Mapped[int | None]
    stage: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    result: Mapped[Result | None] = relationship()
