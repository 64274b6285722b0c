"""The report list (issue 11 §3): filters, search, sort keys and export columns, shared by the
page, the JSON API and ``make bench``; see :mod:`lims.web.listing`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from flask_babel import lazy_gettext, lazy_pgettext
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import defer

from lims.reports.certificate_content import KINDS as KIND_NAMES
from lims.reports.models import Report, ReportStatus
from lims.samples.lists import customers_matching
from lims.samples.models import Customer, Sample, TestRequest
from lims.web.listing import Column, choice, day, like, record_id, search_term

KINDS = list(KIND_NAMES)
STATUSES = [s.value for s in ReportStatus]
SORTS: dict[str, Any] = {
    "number": Report.number, "kind": Report.kind, "sample": Sample.number,
    "customer": Customer.name, "status": Report.status, "issued": Report.issued_at,
}
DEFAULT_SORT = "-issued"


def reports_query(args: Mapping[str, str], *, timezone: str) -> Select[Any]:
    """Rows of (report, sample number, customer name): ``status``, ``kind``, ``from``/``to``
    (issue date in the lab's zone), ``customer`` and ``q`` (report or sample number, customer
    name or its pinyin initials)."""
    query = cast("Select[Any]", select(Report, Sample.number, Customer.name)
                 .join(Sample, Sample.id == Report.sample_id)
                 .join(TestRequest, TestRequest.id == Sample.request_id)
                 .join(Customer, Customer.id == TestRequest.customer_id)
                 .options(defer(Report.content)))
    if (status := choice(args, "status", STATUSES)) is not None:
        query = query.where(Report.status == status)
    if (kind := choice(args, "kind", KINDS)) is not None:
        query = query.where(Report.kind == kind)
    if (start := day(args, "from", timezone)) is not None:
        query = query.where(Report.issued_at >= start)
    if (end := day(args, "to", timezone, end=True)) is not None:
        query = query.where(Report.issued_at < end)
    if (customer := record_id(args, "customer")) is not None:
        query = query.where(TestRequest.customer_id == customer)
    if term := search_term(args):
        pattern = like(term)
        query = query.where(or_(Report.number.ilike(pattern, escape="\\"),
                                Sample.number.ilike(pattern, escape="\\"),
                                TestRequest.customer_id.in_(customers_matching(term))))
    return query


def _label(value: str) -> str:
    from lims.web.i18n import label

    return label(value)


def _time(value: Any) -> str:
    from lims.web.context import local_time

    return local_time(value)


def columns(public_url: str) -> list[Column]:
    """The export's columns; the verification address lets a reader check each document."""
    return [
        Column("number", lazy_gettext("Report number"), lambda r: r[0].number),
        Column("kind", lazy_gettext("Kind"), lambda r: _label(r[0].kind)),
        Column("sample", lazy_gettext("Sample"), lambda r: r[1]),
        Column("customer", lazy_gettext("Customer"), lambda r: r[2]),
        Column("status", lazy_gettext("Status"), lambda r: _label(r[0].status)),
        Column("issued", lazy_gettext("Issued"), lambda r: _time(r[0].issued_at)),
        Column("sha256", "SHA-256", lambda r: r[0].sha256),
        # Checking a document's authenticity (核验), not metrological verification (检定),
        # which the same English word names elsewhere: a context of its own in the catalog.
        Column("verify", lazy_pgettext("authenticity check", "Verification"),
               lambda r: f"{public_url.rstrip('/')}/verify/{r[0].number}"),
    ]
