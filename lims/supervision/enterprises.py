"""The register of enterprises (企业名录) the random draw picks from: add, search, retire.

An enterprise is named by its unified social credit code (统一社会信用代码, GB 32100-2015, check
character validated) and sits in a region and a product category; a retired enterprise (closed,
moved away) stays on record with its tasks but is drawn no more.

Services: a session and keyword data, flush but never commit, an audit event for every change;
errors name the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lims.audit.services import record, snapshot
from lims.auth.models import User
from lims.auth.services import require
from lims.db import utcnow
from lims.errors import Conflict, InvalidInput, NotFound, msg
from lims.samples.duplicates import credit_code_error
from lims.supervision import plans, regions
from lims.supervision.models import Enterprise
from lims.validate import as_id, text

# 国家统计局《统计上大中小微型企业划分办法(2017)》
SIZES = ("large", "medium", "small", "micro")


def like(term: str) -> str:
    """A LIKE pattern that finds ``term`` anywhere, with LIKE's wildcards taken literally."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def valid_credit_code(value: Any, field: str = "credit_code") -> str:
    """:raises InvalidInput: not 18 characters of GB 32100's alphabet with a matching check
    character."""
    code = text(value, field, max_len=40).upper()
    error = credit_code_error(code)
    if error is not None:
        raise InvalidInput(error, field=field)
    return code


def create_enterprise(session: Session, *, actor: User, name: Any, credit_code: Any,
                      region: Any, category: Any, size: Any, address: Any = "") -> Enterprise:
    """Add an enterprise to the register.

    :raises InvalidInput: a missing name, a bad or taken credit code, an unknown region or
        category, a size other than large, medium, small or micro (each named).
    """
    require(actor, "plan.manage")
    name = text(name, "name", max_len=200)
    code = valid_credit_code(credit_code)
    if session.scalar(select(Enterprise.id).where(Enterprise.credit_code == code)):
        raise InvalidInput(msg("an enterprise with credit code %(code)s is registered already",
                               code=code), field="credit_code")
    place = regions.resolve(session, region, "region")
    kind = plans.category(session, category, "category")
    if size not in SIZES:
        raise InvalidInput(msg("must be one of %(choices)s", choices=", ".join(SIZES)),
                           field="size")
    enterprise = Enterprise(name=name, credit_code=code, region_id=place.id,
                            category_id=kind.id, size=size,
                            address=text(address, "address", required=False, max_len=300))
    try:
        # The check above cannot see a concurrent registration of the same code; the unique
        # index does, and the savepoint keeps the transaction usable to say so.
        with session.begin_nested():
            session.add(enterprise)
            session.flush()
    except IntegrityError:
        raise InvalidInput(msg("an enterprise with credit code %(code)s is registered already",
                           code=code), field="credit_code") from None
    record(session, actor=actor, action="enterprise.create", entity_type="enterprises",
           entity_id=enterprise.id, after=snapshot(enterprise))
    return enterprise


def get_enterprise(session: Session, enterprise_id: Any) -> Enterprise:
    """:raises NotFound:"""
    found = session.get(Enterprise, as_id(enterprise_id, "enterprise"))
    if found is None:
        raise NotFound(msg("no enterprise %(id)s", id=enterprise_id), enterprise=enterprise_id)
    return found


def retire_enterprise(session: Session, *, actor: User, enterprise_id: Any,
                      reason: Any) -> Enterprise:
    """Draw the enterprise no more (closed, moved out of the region); it keeps its tasks.

    :raises Conflict: retired already (a conditional update: one of two retirements wins).
    """
    require(actor, "plan.manage")
    why = text(reason, "reason", max_len=500)
    enterprise = get_enterprise(session, enterprise_id)
    before = snapshot(enterprise)
    done = session.execute(update(Enterprise).where(Enterprise.id == enterprise.id,
                                                    Enterprise.retired_at.is_(None))
                           .values(retired_at=utcnow()))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(msg("enterprise %(name)s is retired already", name=enterprise.name))
    session.refresh(enterprise)
    record(session, actor=actor, action="enterprise.retire", entity_type="enterprises",
           entity_id=enterprise.id, before=before, after=snapshot(enterprise), reason=why)
    return enterprise


def enterprises_query(session: Session, args: Mapping[str, str]) -> Select[Any]:
    """The register filtered by ``q`` (name, credit code or address), ``region`` (a code: its
    counties included) and ``category`` (a code: its subcategories included)."""
    query = select(Enterprise)
    if term := text(args.get("q"), "q", required=False, max_len=100):
        pattern = like(term)
        query = query.where(or_(Enterprise.name.like(pattern, escape="\\"),
                                Enterprise.credit_code.like(pattern.upper(), escape="\\"),
                                Enterprise.address.like(pattern, escape="\\")))
    if code := text(args.get("region"), "region", required=False, max_len=12):
        query = query.where(Enterprise.region_id.in_(
            regions.below(session, regions.resolve(session, code, "region").id)))
    if code := text(args.get("category"), "category", required=False, max_len=40):
        query = query.where(Enterprise.category_id.in_(
            plans.category_ids(session, plans.category(session, code).id)))
    return query


SORTS = {"name": Enterprise.name, "created": Enterprise.created_at, "id": Enterprise.id}


def as_dict(e: Enterprise) -> dict[str, Any]:
    """An enterprise as the API gives it."""
    return {"id": e.id, "name": e.name, "credit_code": e.credit_code, "address": e.address,
            "region": e.region.code, "category": e.category.code, "size": e.size,
            "created_at": e.created_at.isoformat(),
            "retired_at": e.retired_at.isoformat() if e.retired_at else None}
