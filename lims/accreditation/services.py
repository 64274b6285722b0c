"""The accredited scope: accreditations, scope items, signatory authority and the marks.

Services take a session and keyword data, flush but never commit, and audit every change in
the same transaction. Changing the scope needs ``scope.manage`` (quality manager, admin).

Signatory authority (RB/T 214 4.2.4; CNAS-CL01 6.2.6): an item of a document that a scope
item lists (its method and parameter) can be signed only by a signatory granted one of those
scope items. Work that no scope item lists (outside the accredited scope, reported with "*")
is signed under the signatory's field authority: the free-text fields every signatory held
before scope items existed (``signatory_scopes``, kept by migration 0009 so that everyone
can still sign what they could).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, object_session, selectinload

from lims import kinds
from lims.accreditation import marks
from lims.accreditation.models import Accreditation, Scheme, ScopeItem
from lims.audit.services import record
from lims.auth.models import Role, User
from lims.auth.services import require
from lims.errors import InvalidInput, OutsideScope, msg
from lims.kinds import values
from lims.kinds.registry import GRADE, NUMBER
from lims.samples.models import Sample, TestMethod
from lims.validate import date, text

if TYPE_CHECKING:
    from lims.reports.content import ResultLine

CATEGORIES = ("test", "calibration")


def _scheme(value: object, field: str = "scheme") -> Scheme:
    try:
        return Scheme(str(value).strip().upper())
    except ValueError:
        raise InvalidInput(msg("unknown scheme %(value)r; one of CMA, CNAS", value=str(value)[:20]),
                           field=field) from None


def snapshot(a: Accreditation) -> dict[str, Any]:
    return {"scheme": a.scheme, "certificate_number": a.certificate_number,
            "valid_from": a.valid_from.isoformat(), "valid_until": a.valid_until.isoformat()}


def item_snapshot(i: ScopeItem) -> dict[str, Any]:
    return {"id": i.id, "category": i.category, "object": i.object, "parameter": i.parameter,
            "method_code": i.method_code, "kind": i.kind, "minimum": i.minimum,
            "maximum": i.maximum, "unit": i.unit, "limitation": i.limitation,
            "schemes": list(i.schemes)}


def item_json(i: ScopeItem) -> dict[str, Any]:
    """A scope item as the API and ``lims scope list --json`` show it."""
    return {**item_snapshot(i), "range": i.range_text()}


def scope_json(session: Session) -> dict[str, Any]:
    return {"accreditations": [snapshot(a) for a in list_accreditations(session)],
            "items": [item_json(i) for i in list_scope(session)]}


def set_accreditation(session: Session, *, actor: User | None, scheme: object,
                      certificate_number: object, valid_from: object,
                      valid_until: object) -> Accreditation:
    """Record a scheme's certificate (CMA 资质认定证书, CNAS 认可证书), or its renewal.

    :raises InvalidInput: an unknown scheme, no number, a bad date, or a validity that ends
        before it begins.
    """
    require(actor, "scope.manage")
    which = _scheme(scheme)
    number = text(certificate_number, "certificate_number", max_len=40)
    start, end = date(valid_from, "valid_from"), date(valid_until, "valid_until")
    if start is None or end is None:  # pragma: no cover - required dates are never None
        raise InvalidInput(msg("is required (YYYY-MM-DD)"), field="valid_from")
    if end < start:
        raise InvalidInput(msg("valid_until is before valid_from"), field="valid_until")
    row = session.scalar(select(Accreditation).where(Accreditation.scheme == which.value)
                         .with_for_update())
    before = snapshot(row) if row is not None else None
    if row is None:
        row = Accreditation(scheme=which.value, certificate_number=number, valid_from=start,
                            valid_until=end)
        session.add(row)
    else:
        row.certificate_number, row.valid_from, row.valid_until = number, start, end
    session.flush()
    record(session, actor=actor, action="accreditation.set", entity_type="accreditations",
           entity_id=which.value, before=before, after=snapshot(row))
    return row


def list_accreditations(session: Session) -> list[Accreditation]:
    return list(session.scalars(select(Accreditation).order_by(Accreditation.scheme)))


def list_scope(session: Session) -> list[ScopeItem]:
    return list(session.scalars(select(ScopeItem).order_by(ScopeItem.method_code,
                                                           ScopeItem.id)))


SCOPE_SORTS = {"method": ScopeItem.method_code, "id": ScopeItem.id}


def scope_query(args: Mapping[str, str]) -> Select[Any]:
    """The scope items whose method, parameter or object contains ``q``: the scope page and
    API, a page at a time (issue 14: a centre's scope runs to thousands of items)."""
    from lims.web.listing import contains_text, search_term

    query = select(ScopeItem).options(selectinload(ScopeItem.accreditations))
    if term := search_term(args):
        query = query.where(or_(*(contains_text(c, term) for c in (
            ScopeItem.method_code, ScopeItem.parameter, ScopeItem.object))))
    return query


def _bound(value: object, field: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidInput(msg("must be a number written as text, e.g. \"0.01\""), field=field)
    values.number(value, field=field)
    return str(value).strip()


def add_scope_item(session: Session, *, actor: User | None, method_code: object,
                   schemes: Sequence[object], parameter: object = "", category: object = "test",
                   object_: object = "", minimum: object = None, maximum: object = None,
                   unit: object = "", kind: object = None, limitation: object = "") -> ScopeItem:
    """Add a line of the accredited scope, covered by ``schemes`` (CMA and/or CNAS).

    The range is checked here: its bounds are numbers, its unit a unit of its quantity kind
    (given, or the kind the unit names), the lower bound not above the upper.

    :raises InvalidInput: a missing method, an unknown scheme or category, a scheme whose
        certificate is not recorded, a bad bound, a range without a unit.
    :raises lims.errors.UnitMismatch: the unit is not of the kind given.
    """
    require(actor, "scope.manage")
    code = text(method_code, "method_code", max_len=80)
    name = text(parameter, "parameter", required=False, max_len=120)
    if category not in CATEGORIES:
        raise InvalidInput(msg("category is test or calibration"), field="category")
    if isinstance(schemes, str) or not isinstance(schemes, Sequence) or not schemes:
        raise InvalidInput(msg("at least one scheme (CMA, CNAS) is required"), field="schemes")
    wanted = sorted({_scheme(s, "schemes") for s in schemes})
    rows = {a.scheme: a for a in list_accreditations(session)}
    missing = [s.value for s in wanted if s.value not in rows]
    if missing:
        raise InvalidInput(msg("no %(schemes)s certificate is recorded; record it first (lims scope "
                               "accreditation)", schemes=', '.join(missing)), field="schemes")
    low, high = _bound(minimum, "minimum"), _bound(maximum, "maximum")
    written = text(unit, "unit", required=False, max_len=40)
    kind_id: str | None = None
    if low is not None or high is not None:
        if kind not in (None, ""):
            found = kinds.get(kind)
        else:
            if not written:
                raise InvalidInput(msg("a range needs its unit"), field="unit")
            found = kinds.infer(written, field="unit")
        if found.values not in (NUMBER, GRADE):
            raise InvalidInput(msg("a %(kind)s characteristic has no numeric range", kind=found.id),
                               field="kind")
        resolved = kinds.resolve(found, written, field="unit")
        written, kind_id = resolved.written, found.id
        if low is not None and high is not None and values.number(low) > values.number(high):
            raise InvalidInput(msg("minimum %(low)s is above maximum %(high)s", low=low,
                                   high=high), field="minimum")
    elif written:
        raise InvalidInput(msg("a unit goes with a range: give minimum and/or maximum"),
                           field="unit")
    elif kind not in (None, ""):
        kind_id = kinds.get(kind).id
    item = ScopeItem(category=category, object=text(object_, "object", required=False,
                                                      max_len=120),
                     parameter=name, method_code=code, kind=kind_id, minimum=low, maximum=high,
                     unit=written, limitation=text(limitation, "limitation", required=False,
                                                   max_len=200),
                     accreditations=[rows[s.value] for s in wanted])
    session.add(item)
    session.flush()
    record(session, actor=actor, action="scope.add", entity_type="scope_items",
           entity_id=item.id, after=item_snapshot(item))
    return item


def signatories_to_grant(session: Session, item: ScopeItem) -> list[str]:
    """Signatories who signed the item's method under their field and, now that the scope
    lists it, need the item granted to go on signing it (the page and ``lims scope add`` say
    so: adding to the scope must not silently take authority away)."""
    key = marks.method_key(item.method_code)
    fields = {m.field for m in session.scalars(select(TestMethod))
              if marks.method_key(m.code) == key}
    return sorted(u.username for u in session.scalars(select(User).order_by(User.username))
                  if Role.SIGNATORY in u.roles and u.active and u.scopes & fields
                  and item.id not in u.scope_items)


# --- the marks ---------------------------------------------------------------------------------

def entries(session: Session) -> list[marks.Entry]:
    return [marks.Entry(i.id, i.method_code, i.parameter, frozenset(i.schemes), i.kind,
                        i.minimum, i.maximum, i.unit) for i in list_scope(session)]


def certificates(session: Session) -> list[marks.Accreditation]:
    return [marks.Accreditation(a.scheme, a.certificate_number, a.valid_from, a.valid_until)
            for a in list_accreditations(session)]


def decide(session: Session, items: Sequence[marks.Item], *, on: dt.date) -> marks.Decision:
    """:func:`lims.accreditation.marks.decide` with the lab's scope and certificates."""
    return marks.decide(items, entries(session), certificates(session), on=on)


@dataclasses.dataclass(frozen=True)
class Marked:
    results: tuple[ResultLine, ...]
    marks: tuple[str, ...]
    numbers: tuple[str, ...]  # the certificate number of each mark, in the same order


def mark_results(session: Session, results: Sequence[ResultLine], *, on: dt.date) -> Marked:
    """A test report's result lines with ``in_scope`` set, and the marks it carries."""
    decision = decide(session, [marks.Item(r.method, r.characteristic, r.value, r.unit)
                                for r in results], on=on)
    lines = tuple(dataclasses.replace(r, in_scope=v.in_scope)
                  for r, v in zip(results, decision.verdicts, strict=True))
    return Marked(lines, decision.marks, tuple(decision.numbers[m] for m in decision.marks))


# --- signatory authority ---------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Signable:
    """An item a signatory signs for: the method code, its field, and the parameter."""

    method: str
    field: str
    parameter: str


def sample_items(sample: Sample) -> list[Signable]:
    """What a sample's report holds: each characteristic with a current result (every
    characteristic of a method nothing was recorded for yet)."""
    out = []
    for test in sample.tests:
        current = test.current_results()
        chars = [c for c in test.method.characteristics if c.id in current] \
            or list(test.method.characteristics)
        out += [Signable(test.method.code, test.method.field, c.name) for c in chars]
        if not chars:
            out.append(Signable(test.method.code, test.method.field, ""))
    from lims.calibration.work import job_of  # a customer instrument: its procedure

    session = object_session(sample)
    job = job_of(session, sample) if session is not None else None
    if job is not None:
        out.append(Signable(job.procedure.code, job.procedure.field, job.procedure.quantity))
    return out


def check_authority(session: Session, *, actor: User, items: Iterable[Signable],
                    **data: Any) -> None:
    """Refuse a signatory who is not authorised for every item (module docstring).

    :raises OutsideScope: naming the items (and the scope items that would authorise them),
        or the fields outside the accredited scope the signatory does not hold.
    """
    scope = entries(session)
    granted = actor.scope_items
    outside: dict[str, list[int]] = {}
    fields: set[str] = set()
    for each in items:
        listing = [e.id for e in scope
                   if marks.method_key(e.method) == marks.method_key(each.method)
                   and (not e.parameter or marks.parameter_key(e.parameter)
                        == marks.parameter_key(each.parameter))]
        if listing:
            if not granted & set(listing):
                outside[f"{each.method} {each.parameter}".strip()] = listing
        elif each.field not in actor.scopes:
            fields.add(each.field)
    if outside or fields:
        named = [f"{k} (scope item {', '.join(f'#{i}' for i in v)})" for k, v in outside.items()]
        named += [f"field {f!r}" for f in sorted(fields)]
        raise OutsideScope(msg("%(username)s is not authorised to sign for %(items)s",
                               username=actor.username, items='; '.join(named)), items=sorted(outside),
                           scope_items=sorted({i for v in outside.values() for i in v}),
                           fields=sorted(fields), **data)
