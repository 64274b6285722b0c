"""The lists of samples, requests and customers (issue 11 §3): their filters, search, sort keys
and export columns, shared by the pages, the JSON API and ``make bench``.

Filters and search come from the URL query (:mod:`lims.web.listing`); a bad value raises
:class:`~lims.errors.InvalidInput` naming the parameter. Search is case-insensitive and finds
a customer by its name or the pinyin initials of its name (:mod:`lims.samples.names`), as
Chinese staff search ("cjdl" finds 长江电缆).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext
from sqlalchemy import Select, exists, func, or_, select, union
from sqlalchemy.orm import Session, contains_eager, lazyload
from sqlalchemy.sql.elements import ColumnElement

from lims import validate
from lims.auth.models import User
from lims.errors import InvalidInput, msg
from lims.instruments.models import Instrument
from lims.samples.lifecycle import SampleStatus
from lims.samples.models import (
    Customer,
    ProductCategory,
    Result,
    Sample,
    SampleTest,
    TestMethod,
    TestRequest,
)
from lims.samples.names import initials
from lims.web.listing import (
    Column,
    choice,
    contains_any,
    contains_text,
    day,
    like,
    record_id,
    search_term,
    text_arg,
    unindexed,
)

STATUSES = [s.value for s in SampleStatus]


def _matches(column: Any, term: str) -> ColumnElement[bool]:
    return contains_text(column, term)


def customers_matching(term: str) -> Select[Any]:
    """Ids of the customers whose name, or the pinyin initials of it, contain ``term``."""
    key = initials(term) or term.lower()
    return select(Customer.id).where(or_(_matches(Customer.name, term),
                                         Customer.name_initials.like(like(key), escape="\\")))


# -- samples ---------------------------------------------------------------------------------


def in_category(code: str) -> ColumnElement[bool]:
    """Samples in the category of ``code`` or any category below it (a recursive query over
    the small catalogue); ``none``: samples without a category. An unknown code selects
    nothing."""
    if code.lower() == "none":
        return Sample.category_id.is_(None)
    below = (select(ProductCategory.id).where(ProductCategory.code == code.upper())
             .cte("below", recursive=True))
    below = below.union_all(select(ProductCategory.id)
                            .where(ProductCategory.parent_id == below.c.id))
    return Sample.category_id.in_(select(below.c.id))


SAMPLE_SORTS: dict[str, Any] = {
    "number": Sample.number, "request": TestRequest.number, "customer": Customer.name,
    "description": Sample.description, "status": Sample.status,
    "registered": Sample.registered_at,
}
SAMPLE_DEFAULT_SORT = "-registered"


def samples_query(args: Mapping[str, str], *, timezone: str, lean: bool = False) -> Select[Any]:
    """The samples the filters and search of ``args`` select (unsorted).

    ``status``, ``from``/``to`` (registration date in the lab's zone, both days included),
    ``customer``, ``method`` (``method_code``: the same by its code), ``instrument`` (a
    result measured with it; ``asset``: the same by its asset number), ``assignee`` (a
    username, or ``none`` for samples no one has taken), ``category`` (a product category's
    code: the samples in it or below it; ``none`` for samples without one) and ``q``.

    ``lean``: the same samples with only the joins the filters and the sort need, and no
    eager loading, for counting and for walking a deep page's ids (a join per row scanned
    would cost more than the whole page; make bench).
    """
    conditions: list[ColumnElement[bool]] = []
    joined = (args.get("sort") or "").lstrip("-") in ("request", "customer")
    term = search_term(args)
    # With a search, the samples it finds are looked up by id; the status and registration
    # indexes would walk every sample of a status instead (make bench).
    status_column = unindexed(Sample.status) if term else Sample.status
    registered = unindexed(Sample.registered_at) if term else Sample.registered_at
    if (status := choice(args, "status", STATUSES)) is not None:
        conditions.append(status_column == status)
    if (start := day(args, "from", timezone)) is not None:
        conditions.append(registered >= start)
    if (end := day(args, "to", timezone, end=True)) is not None:
        conditions.append(registered < end)
    if (customer := record_id(args, "customer")) is not None:
        conditions.append(Sample.request_id.in_(
            select(TestRequest.id).where(TestRequest.customer_id == customer)))
    if (method := record_id(args, "method")) is not None:
        conditions.append(exists().where(SampleTest.sample_id == Sample.id,
                                         SampleTest.method_id == method))
    if code := text_arg(args, "method_code", max_len=80):
        # The page's method field takes a code (typed, not a <select> of every method: issue
        # 14), in any case: the method of that exact code, else those of it in another case
        # (two codes may differ only in case); an unknown code selects nothing.
        exact = select(TestMethod.id).where(TestMethod.code == code)
        conditions.append(exists().where(
            SampleTest.sample_id == Sample.id, SampleTest.method_id.in_(
                select(TestMethod.id).where(or_(
                    TestMethod.code == code,
                    (func.upper(TestMethod.code) == code.upper()) & ~exact.exists())))))
    if (instrument := record_id(args, "instrument")) is not None:
        conditions.append(exists().where(SampleTest.sample_id == Sample.id,
                                         Result.test_id == SampleTest.id,
                                         Result.instrument_id == instrument))
    if asset := text_arg(args, "asset", max_len=40):
        # The page's instrument field takes an asset number (typed, not a <select> of every
        # instrument: issue 14); an unknown one selects nothing.
        conditions.append(exists().where(
            SampleTest.sample_id == Sample.id, Result.test_id == SampleTest.id,
            Result.instrument_id.in_(select(Instrument.id).where(
                func.upper(Instrument.asset_number) == asset.strip().upper()))))
    if category := text_arg(args, "category", max_len=40):
        conditions.append(in_category(category))
    assignee = text_arg(args, "assignee", max_len=10_000)
    if assignee == "none":  # the technician queue's "not assigned yet"
        conditions.append(Sample.assignee_id.is_(None))
    elif assignee:
        conditions.append(Sample.assignee_id.in_(
            select(User.id).where(User.username == assignee[:60])))
    if term := search_term(args):
        # The requests found by number or customer are one small set computed once, not a
        # join per sample scanned (make bench: 200,000 samples).
        # Each part is found by an index (trigrams: lims.web.listing.contains_any) and their
        # ids united, rather than one OR tested on every sample the other filters leave.
        requests = union(
            select(TestRequest.id).where(contains_any(TestRequest, ("number",), term)),
            select(TestRequest.id).where(TestRequest.customer_id.in_(customers_matching(term))))
        conditions.append(Sample.id.in_(union(
            select(Sample.id).where(contains_any(Sample, ("number", "description"), term)),
            select(Sample.id).where(Sample.request_id.in_(requests)))))
    if lean:
        query = select(Sample)
        if joined:
            query = query.join(Sample.request).join(TestRequest.customer)
        return query.where(*conditions)
    return (select(Sample).join(Sample.request).join(TestRequest.customer)
            .options(contains_eager(Sample.request).contains_eager(TestRequest.customer),
                     lazyload(Sample.tests))
            .where(*conditions))


SAMPLE_COLUMNS = [
    Column("number", lazy_gettext("Sample number"), lambda s: s.number),
    Column("request", lazy_gettext("Request"), lambda s: s.request.number),
    Column("customer", lazy_gettext("Customer"), lambda s: s.request.customer.name),
    Column("description", lazy_gettext("Description"), lambda s: s.description),
    Column("status", lazy_gettext("Status"), lambda s: _label(s.status)),
    Column("registered", lazy_gettext("Registered"), lambda s: _time(s.registered_at)),
]


def _label(value: str) -> str:
    from lims.web.i18n import label

    return label(value)


def _time(value: Any) -> str:
    from lims.web.context import local_time

    return local_time(value)


# -- requests --------------------------------------------------------------------------------

SAMPLE_COUNT = (select(func.count(Sample.id)).where(Sample.request_id == TestRequest.id)
                .correlate(TestRequest).scalar_subquery().label("sample_count"))
REQUEST_SORTS: dict[str, Any] = {
    "number": TestRequest.number, "customer": Customer.name,
    "created": TestRequest.created_at, "samples": SAMPLE_COUNT,
}
REQUEST_DEFAULT_SORT = "-created"


def requests_query(args: Mapping[str, str], *, timezone: str) -> Select[Any]:
    """Requests with their sample count, rows of (request, count): ``customer``,
    ``from``/``to`` (creation date) and ``q`` (number, customer name or initials,
    description)."""
    query = (select(TestRequest, SAMPLE_COUNT).join(TestRequest.customer)
             .options(contains_eager(TestRequest.customer)))
    if (customer := record_id(args, "customer")) is not None:
        query = query.where(TestRequest.customer_id == customer)
    if (start := day(args, "from", timezone)) is not None:
        query = query.where(TestRequest.created_at >= start)
    if (end := day(args, "to", timezone, end=True)) is not None:
        query = query.where(TestRequest.created_at < end)
    if term := search_term(args):
        query = query.where(TestRequest.id.in_(union(
            select(TestRequest.id).where(
                contains_any(TestRequest, ("number", "description"), term)),
            select(TestRequest.id).where(
                TestRequest.customer_id.in_(customers_matching(term))))))
    return query


REQUEST_COLUMNS = [
    Column("number", lazy_gettext("Request"), lambda r: r[0].number),
    Column("customer", lazy_gettext("Customer"), lambda r: r[0].customer.name),
    Column("created", lazy_gettext("Created"), lambda r: _time(r[0].created_at)),
    Column("samples", lazy_gettext("Samples"), lambda r: r[1]),
    Column("description", lazy_gettext("Description"), lambda r: r[0].description),
]


# -- customers -------------------------------------------------------------------------------

CUSTOMER_SAMPLES = (select(func.count(Sample.id)).join(Sample.request)
                    .where(TestRequest.customer_id == Customer.id)
                    .correlate(Customer).scalar_subquery().label("sample_count"))
CUSTOMER_SORTS: dict[str, Any] = {
    "id": Customer.id, "name": Customer.name, "created": Customer.created_at, "samples": CUSTOMER_SAMPLES,
}
CUSTOMER_DEFAULT_SORT = "name"


def customers_query(args: Mapping[str, str]) -> Select[Any]:
    """Customers with their sample count, rows of (customer, count); ``q`` searches the name
    and its pinyin initials."""
    query = select(Customer, CUSTOMER_SAMPLES)
    if term := search_term(args):
        query = query.where(Customer.id.in_(customers_matching(term)))
    return query


CUSTOMER_COLUMNS = [
    Column("name", lazy_gettext("Name"), lambda r: r[0].name),
    Column("contact", lazy_gettext("Contact"), lambda r: r[0].contact),
    Column("address", lazy_gettext("Address"), lambda r: r[0].address),
    Column("samples", lazy_gettext("Samples"), lambda r: r[1]),
]

_TAGGED = re.compile(r"^(?P<name>.*?)\s*#(?P<id>[0-9]{1,9})$")
SUGGESTED = 50  # customers offered in the register form's list


def recent_customers(session: Session, limit: int = SUGGESTED) -> list[Customer]:
    """The customers of the latest requests, then the newest customers: what the register
    form offers before anything is typed (the latest requests are read by id, not the
    whole table grouped)."""
    recent = session.scalars(select(TestRequest.customer_id)
                             .order_by(TestRequest.id.desc()).limit(5 * limit))
    ids = list(dict.fromkeys(recent))[:limit]
    if len(ids) < limit:
        ids += [i for i in session.scalars(select(Customer.id).order_by(Customer.id.desc())
                                           .limit(limit)) if i not in ids][:limit - len(ids)]
    found = {c.id: c for c in session.scalars(select(Customer).where(
        Customer.id.in_(ids), Customer.retired_at.is_(None)))}
    return [found[i] for i in ids if i in found]


def find_customers(session: Session, term: str, limit: int = 20) -> list[Customer]:
    """Customers whose name or pinyin initials contain ``term``, exact matches first."""
    term = term.strip()[:100]
    if not term:
        return recent_customers(session, limit)
    exact = or_(func.lower(Customer.name) == term.lower(), Customer.name_initials == term.lower())
    query = (select(Customer).where(Customer.id.in_(customers_matching(term)),
                                    Customer.retired_at.is_(None))
             .order_by(exact.desc(), Customer.name, Customer.id).limit(limit))
    return list(session.scalars(query))


def resolve_customer(session: Session, text: str | None, *, field: str = "customer") -> int:
    """The id of the customer the register form's text names: its exact name, or the exact
    pinyin initials of its name, or the name tagged with its id as the browser's list offers
    it when two customers share a name ("华测 #12").

    :raises InvalidInput: naming ``field``, when nothing or more than one customer matches.
    """
    if not (text or "").strip():
        raise InvalidInput(msg("customer is required: type its name or pinyin initials"),
                           field=field)
    # Checked as any text is (control characters, a lone surrogate: PostgreSQL refuses NUL).
    text = validate.text(text, field, max_len=200)
    if (tagged := _TAGGED.match(text)) is not None:
        found = session.get(Customer, int(tagged["id"]))
        if found is not None and tagged["name"] in ("", found.name):
            return found.id
    # A retired customer takes no new request (lims.samples.refdata): not offered, not found.
    by_name = list(session.scalars(select(Customer.id).where(
        func.lower(Customer.name) == text.lower(), Customer.retired_at.is_(None)).limit(2)))
    if len(by_name) == 1:
        return by_name[0]
    candidates = by_name or list(session.scalars(
        select(Customer.id).where(Customer.name_initials == text.lower(),
                                  Customer.retired_at.is_(None)).limit(6)))
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise InvalidInput(msg("customer: no customer is named %(text)r or has those pinyin "
                               "initials", text=text[:60]), field=field)
    names = session.scalars(select(Customer.name).where(Customer.id.in_(candidates)))
    raise InvalidInput(msg("customer: %(text)r matches several customers "
                           "(%(names)s); type the full name",
                           text=text[:60], names='; '.join(names)), field=field)


METHOD_SORTS = {"id": TestMethod.id, "code": TestMethod.code}


def methods_query(args: Mapping[str, str]) -> Select[Any]:
    """The methods whose code or title contains ``q``: the methods page and API (issue 14)."""
    query = select(TestMethod)
    if term := search_term(args):
        query = query.where(or_(*(c.ilike(like(term), escape="\\")
                                  for c in (TestMethod.code, TestMethod.title))))
    return query
