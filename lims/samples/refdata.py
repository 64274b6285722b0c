"""Edit and retire the reference data of the lab: customers and test methods.

Every edit names its reason (≤ 500 characters) and writes one audit event with the record
before and after, in the caller's transaction. An edit carries the ``version`` of the record
it was made from; when someone else changed the record in between, the edit is refused
(:class:`lims.edits.StaleEdit`, 409) rather than silently applied over theirs. The record's
row is locked while it is checked and changed, so that of two concurrent edits from one
version exactly one wins.

Retired records keep their history and every record that refers to them; they are offered for
no new work (a retired customer gets no new request, a retired method is given to no new
sample: ISO/IEC 17025 8.3.2 f, unintended use of obsolete documents prevented).
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lims.audit.services import record, snapshot
from lims.auth.models import User
from lims.auth.services import require
from lims.db import utcnow
from lims.edits import check_version, reason_of
from lims.errors import Conflict, InvalidInput, NotFound, msg
from lims.kinds import judge
from lims.samples import duplicates
from lims.samples.models import (
    Characteristic,
    Customer,
    Result,
    Sample,
    TestMethod,
    TestRequest,
)
from lims.samples.names import initials
from lims.validate import as_id, text

CUSTOMER_FIELDS = {"name": 200, "contact": 200, "address": 300, "phone": 40}


R = TypeVar("R", Customer, TestMethod)


def _locked(session: Session, model: type[R], record_id: Any, field: str) -> R:
    found = session.scalar(select(model).where(model.id == as_id(record_id, field))
                           .with_for_update().execution_options(populate_existing=True))
    if found is None:
        raise NotFound(msg("no %(record)s with id %(id)s",
                           record=model.__tablename__.rstrip('s').replace('_', ' '), id=record_id))
    return found


# --- customers -----------------------------------------------------------------------------

def credit_code(value: Any) -> str:
    """A unified social credit code (统一社会信用代码), normalised; "" when none is given.

    :raises InvalidInput: not 18 characters of GB 32100-2015 with a matching check character.
    """
    code = duplicates.normalise_credit_code(text(value, "credit_code", required=False,
                                                 max_len=40))
    if code:
        error = duplicates.credit_code_error(code)
        if error:
            raise InvalidInput(error, field="credit_code")
    return code


def customer_duplicates(session: Session, *, name: str, credit_code: str = "",
                        exclude_id: int | None = None) -> list[duplicates.Match]:
    """Customers on record that are likely the same firm (see :mod:`lims.samples.duplicates`)."""
    rows = session.execute(select(Customer.id, Customer.name, Customer.credit_code)).all()
    return duplicates.find(duplicates.Party(exclude_id, name, credit_code),
                           [duplicates.Party(r.id, r.name, r.credit_code) for r in rows])


def get_customer(session: Session, customer_id: Any) -> Customer:
    customer = session.get(Customer, as_id(customer_id, "customer_id"))
    if customer is None:
        raise NotFound(msg("no customer with id %(id)s", id=customer_id))
    return customer


@dataclasses.dataclass(frozen=True)
class CustomerUse:
    requests: int
    samples: int


def customer_use(session: Session, customer_id: int) -> CustomerUse:
    requests = session.scalar(select(func.count()).select_from(TestRequest)
                              .where(TestRequest.customer_id == customer_id)) or 0
    samples = session.scalar(select(func.count()).select_from(Sample).join(TestRequest)
                             .where(TestRequest.customer_id == customer_id)) or 0
    return CustomerUse(requests, samples)


def update_customer(session: Session, *, actor: User, customer_id: Any, data: dict[str, Any],
                    reason: Any, version: Any = None) -> Customer:
    """Edit a customer's name, contact, address, phone or credit code, with a reason. The
    pinyin initials follow the name. Requests keep pointing at the customer, so their pages
    show the new particulars; issued reports keep the ones they were issued with.

    :raises InvalidInput: a bad field or reason. :raises StaleEdit: edited from an old version.
    :raises Conflict: the customer is retired.
    """
    require(actor, "customer.manage")
    why = reason_of(reason)
    customer = _locked(session, Customer, customer_id, "customer_id")
    check_version(customer.version, version, f"customer {customer.name}")
    if customer.retired_at is not None:
        raise Conflict(msg("customer %(name)s is retired; its record is kept as it was",
                           name=customer.name))
    before = snapshot(customer)
    for key, max_len in CUSTOMER_FIELDS.items():
        if key in data:
            setattr(customer, key, text(data[key], key, required=key == "name",
                                        max_len=max_len))
    if "credit_code" in data:
        customer.credit_code = credit_code(data["credit_code"])
    customer.name_initials = initials(customer.name)
    after = snapshot(customer)
    if {k: v for k, v in after.items() if k != "version"} == \
            {k: v for k, v in before.items() if k != "version"}:
        raise InvalidInput(msg("nothing was changed"), field="name")
    customer.version += 1
    session.flush()
    record(session, actor=actor, action="customer.update", entity_type="customers",
           entity_id=customer.id, before=before, after=snapshot(customer), reason=why)
    return customer


def retire_customer(session: Session, *, actor: User, customer_id: Any, reason: Any,
                    version: Any = None) -> Customer:
    """Retire a customer: kept with its requests and samples, offered for no new request."""
    require(actor, "customer.manage")
    why = reason_of(reason)
    customer = _locked(session, Customer, customer_id, "customer_id")
    check_version(customer.version, version, f"customer {customer.name}")
    if customer.retired_at is not None:
        raise Conflict(msg("customer %(name)s is already retired", name=customer.name))
    before = snapshot(customer)
    customer.retired_at, customer.retired_by_id, customer.retired_reason = utcnow(), actor.id, why
    customer.version += 1
    session.flush()
    record(session, actor=actor, action="customer.retire", entity_type="customers",
           entity_id=customer.id, before=before, after=snapshot(customer), reason=why)
    return customer


# --- methods -------------------------------------------------------------------------------

def get_method(session: Session, method_id: Any) -> TestMethod:
    method = session.get(TestMethod, as_id(method_id, "method_id"))
    if method is None:
        raise NotFound(msg("no method with id %(id)s", id=method_id))
    return method


def results_by_characteristic(session: Session, method: TestMethod) -> dict[int, int]:
    """How many results (every version) each characteristic of the method has."""
    ids = [c.id for c in method.characteristics]
    if not ids:
        return {}
    rows = session.execute(select(Result.characteristic_id, func.count())
                           .where(Result.characteristic_id.in_(ids))
                           .group_by(Result.characteristic_id)).all()
    return {cid: n for cid, n in rows}


def _as_declared(ch: Characteristic) -> dict[str, Any]:
    """A characteristic's current specification in the shape :func:`judge.declare` takes."""
    return {"unit": ch.unit_text, "kind": ch.kind, "lower_limit": ch.lower_limit,
            "upper_limit": ch.upper_limit, "lod": ch.lod, "loq": ch.loq,
            "expected": ch.expected,
            "uncertainty": None if ch.uncertainty_kind is None else {
                ch.uncertainty_kind: ch.uncertainty, "k": ch.coverage_factor}}


def _method_state(method: TestMethod) -> dict[str, Any]:
    return {**snapshot(method), "characteristics": [snapshot(c) for c in method.characteristics]}


SPEC_KEYS = ("unit", "kind", "lower_limit", "upper_limit", "lod", "loq", "expected",
             "uncertainty")


def update_method(session: Session, *, actor: User, method_id: Any, data: dict[str, Any],
                  reason: Any, version: Any = None) -> TestMethod:
    """Edit a method's title, clause, field, ``requires_conditions`` and characteristics, with
    a reason (ISO/IEC 17025 7.2.1.3: methods kept up to date; 8.3.2 c, d: changes identified,
    reviewed and approved — the audit event holds who, why, and the text before and after).

    ``data["characteristics"]`` is a list of objects: with an ``id``, changes to that
    characteristic (keys left out keep their value); without, a new characteristic. The rule
    for a characteristic that already has results (records are evidence, 7.5): its ``unit``
    and ``kind`` cannot change, since recorded values are in them (refused with a Conflict
    naming the field: create a new characteristic instead); its name, limits, LOD/LOQ,
    expected value and uncertainty may change with the reason and apply to results recorded
    from then on — each result keeps the verdict judged when it was recorded, and the audit
    event keeps the limits it was judged against.

    :raises InvalidInput: a bad field or reason. :raises StaleEdit: edited from an old version.
    :raises Conflict: the method is retired; a unit or kind change of a characteristic with
        results.
    """
    require(actor, "method.manage")
    why = reason_of(reason)
    method = _locked(session, TestMethod, method_id, "method_id")
    check_version(method.version, version, f"method {method.code}")
    if method.retired_at is not None:
        raise Conflict(msg("method %(code)s is retired; its record is kept as it was",
                           code=method.code))
    before = _method_state(method)
    if "title" in data:
        method.title = text(data["title"], "title")
    if "clause" in data:
        method.clause = text(data["clause"], "clause", required=False, max_len=80)
    if "field" in data:
        method.field = text(data["field"], "field", max_len=80)
    if "requires_conditions" in data:
        if not isinstance(data["requires_conditions"], bool):
            raise InvalidInput(msg("must be true or false"), field="requires_conditions")
        method.requires_conditions = data["requires_conditions"]
    specs = data.get("characteristics") or []
    if not isinstance(specs, list | tuple) or len(specs) > 200:
        raise InvalidInput(msg("must be a list of up to 200 characteristics"),
                           field="characteristics")
    used = results_by_characteristic(session, method)
    existing = {c.id: c for c in method.characteristics}
    for i, spec in enumerate(specs):
        prefix = f"characteristics[{i}]"
        if not isinstance(spec, dict):
            raise InvalidInput(msg("must be an object"), field=prefix)
        ch: Characteristic | None = None
        if spec.get("id") not in (None, ""):
            ch = existing.get(as_id(spec["id"], f"{prefix}.id"))
            if ch is None:
                raise InvalidInput(msg("not a characteristic of this method"),
                                   field=f"{prefix}.id")
        merged = _as_declared(ch) if ch is not None else {}
        merged.update({k: spec[k] for k in SPEC_KEYS if k in spec})
        name = text(spec.get("name", ch.name if ch else None), f"{prefix}.name", max_len=120)
        declared = judge.declare(**merged, prefix=prefix)
        if ch is None:
            method.characteristics.append(Characteristic(name=name,
                                                         **dataclasses.asdict(declared)))
            continue
        if used.get(ch.id):
            for key in ("unit", "kind"):
                if getattr(declared, key) != getattr(ch, key):
                    raise Conflict(
                        msg("%(characteristic)s has %(count)s recorded result(s) in %(unit)s "
                            "(%(kind)s); its %(key)s cannot change — add a new characteristic "
                            "instead", characteristic=ch.name, count=used[ch.id],
                            unit=ch.unit_text, kind=ch.kind, key=key), field=f"{prefix}.{key}")
        ch.name = name
        for key, value in dataclasses.asdict(declared).items():
            setattr(ch, key, value)
    session.flush()
    after = _method_state(method)
    if {k: v for k, v in after.items() if k != "version"} == \
            {k: v for k, v in before.items() if k != "version"}:
        raise InvalidInput(msg("nothing was changed"), field="title")
    method.version += 1
    session.flush()
    record(session, actor=actor, action="method.update", entity_type="test_methods",
           entity_id=method.id, before=before, after=_method_state(method), reason=why)
    return method


def retire_method(session: Session, *, actor: User, method_id: Any, reason: Any,
                  version: Any = None) -> TestMethod:
    """Withdraw a method from use (ISO/IEC 17025 8.3.2 f): samples already tested by it keep
    it, their results can still be recorded and corrected; no new sample is given it."""
    require(actor, "method.manage")
    why = reason_of(reason)
    method = _locked(session, TestMethod, method_id, "method_id")
    check_version(method.version, version, f"method {method.code}")
    if method.retired_at is not None:
        raise Conflict(msg("method %(code)s is already retired", code=method.code))
    before = snapshot(method)
    method.retired_at, method.retired_by_id, method.retired_reason = utcnow(), actor.id, why
    method.version += 1
    session.flush()
    record(session, actor=actor, action="method.retire", entity_type="test_methods",
           entity_id=method.id, before=before, after=snapshot(method), reason=why)
    return method
