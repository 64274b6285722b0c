"""Test methods chosen by typing (issue 14): the register forms and the new-plan form offer the
methods used lately and search the rest on the server, instead of a checkbox or an
``<option>`` for every method in the lab's scope (a provincial centre has thousands).

Without JavaScript a form's method field takes codes as typed, several separated by ``;``
(or ``,``, or a new line); :func:`resolve_codes` turns them into methods and names the field
and the code when one is unknown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import Session

from lims import validate
from lims.errors import InvalidInput, msg
from lims.samples.models import SampleTest, TestMethod
from lims.web.listing import like

RECENT = 12        # methods a form offers before anything is typed
FOUND = 20         # suggestions for what is typed
MAX_TYPED = 2000   # characters of typed codes a field takes

_SEPARATORS = re.compile(r"[;,\n\r；，、]+")
# The latest tests' methods, read by id from the newest tests (not the whole table grouped).
_LATEST = (select(SampleTest.method_id).order_by(SampleTest.id.desc())
           .limit(bindparam("scan")))
_ACTIVE_BY_ID = select(TestMethod).where(TestMethod.id.in_(bindparam("ids", expanding=True)),
                                         TestMethod.retired_at.is_(None))


def recent(session: Session, limit: int = RECENT) -> list[TestMethod]:
    """The methods of the latest tests, then the first methods by code: what a form offers
    before anything is typed. Retired methods are never offered."""
    ids = list(dict.fromkeys(session.scalars(_LATEST, {"scan": 10 * limit})))[:limit]
    found = {m.id: m for m in session.scalars(_ACTIVE_BY_ID, {"ids": ids})} if ids else {}
    methods = [found[i] for i in ids if i in found]
    if len(methods) < limit:
        methods += session.scalars(
            select(TestMethod).where(TestMethod.retired_at.is_(None),
                                     TestMethod.id.not_in(list(found) or [0]))
            .order_by(TestMethod.code).limit(limit - len(methods))).all()
    return methods


def find(session: Session, term: str, limit: int = FOUND) -> list[TestMethod]:
    """Active methods whose code or title contains ``term`` (any case), an exact code first;
    the recent ones when nothing is typed."""
    term = term.strip()[:100]
    if not term:
        return recent(session, limit)
    pattern = like(term)
    exact = func.lower(TestMethod.code) == term.lower()
    return list(session.scalars(
        select(TestMethod)
        .where(TestMethod.retired_at.is_(None),
               or_(TestMethod.code.ilike(pattern, escape="\\"),
                   TestMethod.title.ilike(pattern, escape="\\")))
        .order_by(exact.desc(), TestMethod.code).limit(limit)))


def split_codes(values: Iterable[str | None], field: str) -> list[str]:
    """The codes typed in a method field (every value posted under its name), in order, each
    once. A value that is exactly one code is kept whole when it holds a separator: the
    caller resolves whole values first (see :func:`resolve_codes`)."""
    codes: list[str] = []
    for value in values:
        if not (value or "").strip():
            continue
        text = validate.text(value, field, max_len=MAX_TYPED, multiline=True)
        codes += [c.strip() for c in _SEPARATORS.split(text) if c.strip()]
    return list(dict.fromkeys(codes))


def resolve_codes(session: Session, values: Iterable[str | None], *, field: str) -> list[int]:
    """The ids of the methods a form's typed text names, in the order typed (see
    :func:`resolve`)."""
    return [i for i, _code in resolve(session, values, field=field)]


def resolve(session: Session, values: Iterable[str | None], *,
            field: str) -> list[tuple[int, str]]:
    """The methods a form's typed text names, ``(id, code)`` in the order typed.

    A code matches exactly, else ignoring case. Retired methods resolve too, so that the
    registration refuses them by name (ISO/IEC 17025 8.3.2 f) rather than as unknown.

    :raises InvalidInput: naming ``field`` and every code no method has.
    """
    # Checked as any text is (control characters: PostgreSQL refuses NUL) before a query.
    wanted = [validate.text(v, field, max_len=MAX_TYPED, multiline=True).strip()
              for v in values if v and v.strip()]
    if not wanted:
        return []
    if len(wanted) > 200:
        raise InvalidInput(msg("at most 200 methods per sample"), field=field)
    whole = {m.code: (m.id, m.code) for m in session.scalars(
        select(TestMethod).where(TestMethod.code.in_(wanted[:200])))}
    codes = [c for v in wanted for c in ([v] if v in whole else split_codes([v], field))]
    if len(codes) > 200:
        raise InvalidInput(msg("at most 200 methods per sample"), field=field)
    by_code = dict(whole)
    missing = [c for c in codes if c not in by_code]
    folded: dict[str, list[TestMethod]] = {}
    if missing:
        by_code.update({m.code: (m.id, m.code) for m in session.scalars(
            select(TestMethod).where(TestMethod.code.in_(missing)))})
        lower = [c.lower() for c in missing if c not in by_code]
        if lower:
            for m in session.scalars(select(TestMethod)
                                     .where(func.lower(TestMethod.code).in_(lower))):
                folded.setdefault(m.code.lower(), []).append(m)
            for c in missing:
                if c not in by_code and len(folded.get(c.lower(), [])) == 1:
                    by_code[c] = (folded[c.lower()][0].id, folded[c.lower()][0].code)
    # Two methods whose codes differ only in case: a code typed in a third case is neither.
    for c in codes:
        if c not in by_code and len(folded.get(c.lower(), [])) > 1:
            raise InvalidInput(msg("%(code)s names several methods (%(methods)s): type the "
                                   "code exactly", code=repr(c[:80]),
                                   methods=", ".join(sorted(m.code
                                                            for m in folded[c.lower()]))),
                               field=field)
    unknown = [c for c in codes if c not in by_code]
    if unknown:
        raise InvalidInput(msg("no method has the code %(codes)s",
                               codes=", ".join(repr(c[:80]) for c in unknown[:10])),
                           field=field)
    return list(dict.fromkeys(by_code[c] for c in codes))


def by_ids(session: Session, ids: Iterable[Any]) -> dict[int, TestMethod]:
    """The methods of the ids a form posted (its ticked boxes), by id; non-numbers ignored
    here (the registration names them)."""
    wanted = {i for i in map(validate.id_or_none, ids) if i is not None}
    if not wanted:
        return {}
    return {m.id: m for m in session.scalars(select(TestMethod)
                                             .where(TestMethod.id.in_(wanted)))}


def by_codes(session: Session, codes: Iterable[str]) -> dict[str, TestMethod]:
    """The methods of the codes a form posted (its ticked boxes), by code; what no code can be
    (a control character, a lone surrogate: PostgreSQL cannot compare it) is ignored here
    (the plan names it)."""
    wanted = {c for c in codes if c and _could_be_code(c)}
    if not wanted:
        return {}
    return {m.code: m for m in session.scalars(select(TestMethod)
                                               .where(TestMethod.code.in_(wanted)))}


def _could_be_code(text: str) -> bool:
    try:
        validate.text(text, "code", max_len=80)
    except InvalidInput:
        return False
    return True


def options(chosen: Sequence[tuple[str, str]], offered: Sequence[TestMethod], *,
            by: str = "id") -> list[tuple[str, str, bool]]:
    """A picker's boxes: ``(value, text, ticked)``, the chosen ones ticked first, then the
    offered ones not chosen. ``chosen`` is ``(value, text)``; ``by`` is the value the boxes
    carry ("id" or "code")."""
    values = {v for v, _ in chosen}
    boxes = [(v, text, True) for v, text in chosen]
    for m in offered:
        value = str(m.id) if by == "id" else m.code
        if value not in values:
            boxes.append((value, f"{m.code} {m.title}", False))
    return boxes
