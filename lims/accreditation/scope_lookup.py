"""Accredited scope items chosen by typing (issue 14): the users page's "Create a user" form
and a user's page grant a signatory scope items from the items they hold and a few lately
granted, and search the rest on the server, instead of a checkbox for every item of the
scope (a provincial centre's CNAS scope has thousands).

Without JavaScript the scope field takes items as typed, several separated by ``;`` (or a
new line): each one as the list offers it, its label (``#12 GB/T 4669-2008 质量``), or
``#12`` alone, or the method code and parameter without the number (``GB/T 4669-2008 质量``,
or the method code alone when the scope has one item of that method).
:func:`resolve` turns them into ids and names the field and the text when one is unknown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from sqlalchemy import bindparam, func, literal, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from lims import validate
from lims.accreditation.models import ScopeItem, SignatoryAuthority
from lims.errors import InvalidInput, msg
from lims.web.listing import contains_text

RECENT = 12        # items a form offers before anything is typed
FOUND = 20         # suggestions for what is typed
MAX_TYPED = 20_000  # characters of typed items a field takes
MAX_ITEMS = 1_000  # items one field names
ALL = "全部参数 all parameters"  # what ScopeItem.label shows for an item of every parameter

_SEPARATORS = re.compile(r"[;\n\r；]+")
_NUMBERED = re.compile(r"#\s*(\d{1,9})(?:\s+(.*))?", re.DOTALL)
# The latest grants' items, read from the newest grants (a bounded scan, not the table grouped).
_LATEST = (select(SignatoryAuthority.scope_item_id)
           .order_by(SignatoryAuthority.granted_at.desc(), SignatoryAuthority.scope_item_id)
           .limit(bindparam("scan")))
_BY_ID = select(ScopeItem).where(ScopeItem.id.in_(bindparam("ids", expanding=True)))


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def _named(item: ScopeItem) -> str:
    """The label without its number: the method code and the parameter."""
    return f"{item.method_code} {item.parameter or ALL}"


def detail(item: ScopeItem) -> str:
    """What a box or a suggestion shows after the label: the range and the schemes."""
    parts = [item.range_text() if item.minimum is not None or item.maximum is not None else "",
             f"({', '.join(item.schemes)})" if item.schemes else ""]
    return " ".join(p for p in parts if p)


def text(item: ScopeItem) -> str:
    """A box's text: the label, the range and the schemes."""
    return f"{item.label()} {detail(item)}".strip()


def recent(session: Session, limit: int = RECENT) -> list[ScopeItem]:
    """The items granted last, then the first by method code: what a form offers before
    anything is typed."""
    ids = list(dict.fromkeys(session.scalars(_LATEST, {"scan": 10 * limit})))[:limit]
    found = {i.id: i for i in session.scalars(_BY_ID, {"ids": ids})} if ids else {}
    items = [found[i] for i in ids if i in found]
    if len(items) < limit:
        items += session.scalars(
            select(ScopeItem).where(ScopeItem.id.not_in(list(found) or [0]))
            .order_by(ScopeItem.method_code, ScopeItem.id).limit(limit - len(items))).all()
    return items


def find(session: Session, term: str, limit: int = FOUND) -> list[ScopeItem]:
    """Items whose label (number, method code, parameter), object or limitation contains
    ``term`` (any case); the item numbered as typed first, then an exact method code. The
    recent ones when nothing is typed."""
    term = term.strip()[:100]
    if not term:
        return recent(session, limit)
    named = ScopeItem.method_code + literal(" ") + ScopeItem.parameter
    found: list[ColumnElement[bool]] = [
        contains_text(named, term), contains_text(ScopeItem.object, term),
        contains_text(ScopeItem.limitation, term)]
    if term.casefold() in ALL.casefold():
        found.append(ScopeItem.parameter == "")
    numbered = _NUMBERED.fullmatch(term)
    number = int(numbered.group(1)) if numbered else 0
    if numbered:
        found.append(ScopeItem.id == number)
    return list(session.scalars(
        select(ScopeItem).where(or_(*found))
        .order_by((ScopeItem.id == number).desc(),
                  (func.lower(ScopeItem.method_code) == term.lower()).desc(),
                  ScopeItem.method_code, ScopeItem.id).limit(limit)))


def split(values: Iterable[str | None], field: str) -> list[str]:
    """The items typed in a scope field (every value posted under its name), in order, each
    once.

    :raises InvalidInput: control characters, too long a text, too many items.
    """
    typed: list[str] = []
    for value in values:
        if not (value or "").strip():
            continue
        written = validate.text(value, field, max_len=MAX_TYPED, multiline=True)
        typed += [" ".join(t.split()) for t in _SEPARATORS.split(written) if t.strip()]
    typed = list(dict.fromkeys(typed))
    if len(typed) > MAX_ITEMS:
        raise InvalidInput(msg("at most %(n)s scope items at a time", n=MAX_ITEMS), field=field)
    return typed


def resolve(session: Session, values: Iterable[str | None], *, field: str) -> list[int]:
    """The ids of the items a form's typed text names, in the order typed.

    ``#12`` names item 12; ``#12 GB/T 4669-2008 质量`` (the label) too, when the text after
    the number is the item's method code and parameter, or its method code (a number mistyped
    is refused, not read as another item). Text without a number is the method code and
    parameter, or a method code of which the scope has one item, in any case.

    :raises InvalidInput: naming ``field`` and every text that names no item, or several.
    """
    typed = split(values, field)
    if not typed:
        return []
    numbered = {t: _NUMBERED.fullmatch(t) for t in typed}
    ids = {int(m.group(1)) for m in numbered.values() if m}
    items = {i.id: i for i in session.scalars(_BY_ID, {"ids": sorted(ids)})} if ids else {}
    plain = [_fold(t) for t, m in numbered.items() if not m]
    candidates: dict[str, list[ScopeItem]] = {}
    if plain:
        named = func.lower(ScopeItem.method_code + literal(" ") + ScopeItem.parameter)
        for item in session.scalars(
                select(ScopeItem).where(or_(named.in_(plain),
                                            func.lower(ScopeItem.method_code).in_(plain)))
                .order_by(ScopeItem.id)):
            for key in {_fold(_named(item)), _fold(item.method_code)}:
                candidates.setdefault(key, []).append(item)
    chosen: list[int] = []
    unknown: list[str] = []
    several: list[str] = []
    for t, m in numbered.items():
        if m:
            held = items.get(int(m.group(1)))
            rest = _fold(m.group(2) or "")
            if held is None or rest not in ("", _fold(_named(held)), _fold(held.method_code)):
                unknown.append(t)
            else:
                chosen.append(held.id)
            continue
        key = _fold(t)
        # The code and parameter exactly first: "GB/T 1 质量" is not every item of GB/T 1.
        exact = [i for i in candidates.get(key, []) if _fold(_named(i)) == key]
        matches = exact or candidates.get(key, [])
        if len(matches) == 1:
            chosen.append(matches[0].id)
        elif matches:
            several.append(f"{t[:80]!r} ({', '.join(f'#{i.id}' for i in matches[:10])})")
        else:
            unknown.append(t)
    if unknown:
        raise InvalidInput(msg("no scope item is %(items)s; pick one the list offers, or "
                               "type its number as #12",
                               items=", ".join(repr(t[:80]) for t in unknown[:10])),
                           field=field)
    if several:
        raise InvalidInput(msg("%(items)s names several scope items; type the one meant by "
                               "its number, as #12", items="; ".join(several[:10])),
                           field=field)
    return list(dict.fromkeys(chosen))


def by_ids(session: Session, ids: Iterable[object]) -> list[ScopeItem]:
    """The items of the ids a form posted (its ticked boxes), by method code; non-numbers
    are ignored here (the service names them)."""
    wanted = {i for i in map(validate.id_or_none, ids) if i is not None}
    if not wanted:
        return []
    return list(session.scalars(select(ScopeItem).where(ScopeItem.id.in_(sorted(wanted)))
                                .order_by(ScopeItem.method_code, ScopeItem.id)))


def options(chosen: Sequence[ScopeItem],
            offered: Sequence[ScopeItem]) -> list[tuple[str, str, bool]]:
    """A picker's boxes: ``(id, text, ticked)``, the chosen items ticked first, then the
    offered ones not chosen."""
    ids = {i.id for i in chosen}
    return [(str(i.id), text(i), True) for i in chosen] + \
        [(str(i.id), text(i), False) for i in offered if i.id not in ids]
