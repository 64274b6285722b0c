"""Which items of a document are inside the accredited scope, and which marks it may carry.

Pure: imports neither Flask nor a Session. The rules (RB/T 214 4.5.20 and the CMA mark rules
of 《检验检测机构资质认定管理办法》; CNAS-R01 on the use of the CNAS and ILAC-MRA marks):

- an item is inside a scheme's scope when a scope item of that scheme lists its method (the
  code with its year: an accreditation covers an edition) and its parameter (or all the
  method's parameters), its value lies inside the item's range (bounds included, compared
  after conversion within the range's quantity kind), and the scheme's certificate is valid
  on the document's date;
- the document carries the CMA mark when every item is inside the CMA scope, the CNAS mark
  (with ILAC-MRA) when every item is inside the CNAS scope; a document without items, or with
  an item outside, carries no mark of that scheme;
- an item inside no scheme's scope is printed with "*" and :data:`FOOTNOTE`.

A value that gives no number (未检出, a qualitative result) is judged by its method and
parameter alone: the method's validated range holds its limit of detection. A censored value
("<0.01") is judged by its bound.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Sequence
from decimal import Decimal

from lims import kinds
from lims.errors import InvalidInput
from lims.kinds import values
from lims.kinds.registry import convert

CMA, CNAS = "CMA", "CNAS"
SCHEMES = (CMA, CNAS)
OUTSIDE = "*"
FOOTNOTE = "* 不在资质认定/认可范围内 / not within the accredited scope"


@dataclasses.dataclass(frozen=True)
class Accreditation:
    scheme: str               # CMA or CNAS
    certificate_number: str   # e.g. "231234567890", "CNAS L1234"
    valid_from: dt.date
    valid_until: dt.date      # this day is still valid

    def valid_on(self, day: dt.date) -> bool:
        return self.valid_from <= day <= self.valid_until


@dataclasses.dataclass(frozen=True)
class Entry:
    """A scope item as the rules see it; ``parameter`` "" is every parameter of the method;
    ``minimum``/``maximum`` None is an open end, both None no range."""

    id: int
    method: str
    parameter: str
    schemes: frozenset[str]
    kind: str | None = None
    minimum: str | None = None
    maximum: str | None = None
    unit: str = ""


@dataclasses.dataclass(frozen=True)
class Item:
    """An item of a document: the method code, the characteristic or calibrated quantity,
    the value and unit as printed, and the characteristic's quantity kind when known."""

    method: str
    parameter: str
    value: str = ""
    unit: str = ""
    kind: str | None = None


@dataclasses.dataclass(frozen=True)
class Verdict:
    item: Item
    schemes: frozenset[str]   # the valid schemes whose scope holds the item
    entries: tuple[int, ...]  # the scope items that list its method and parameter
    reason: str               # why it is outside ("" when inside)

    @property
    def in_scope(self) -> bool:
        return bool(self.schemes)


@dataclasses.dataclass(frozen=True)
class Decision:
    verdicts: tuple[Verdict, ...]
    marks: tuple[str, ...]           # "CMA", "CNAS", in that order
    numbers: dict[str, str]          # the certificate number of each mark printed

    @property
    def footnote(self) -> str:
        return FOOTNOTE if any(not v.in_scope for v in self.verdicts) else ""


_DASHES = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-",
                         "\u2014": "-", "\u2212": "-"})


def method_key(code: str) -> str:
    """The matching key of a method code: full-width forms folded (ＧＢ／Ｔ → GB/T), dashes
    unified, white space collapsed, upper case. The year stays: "GB/T 26497-2011" is not
    "GB/T 26497-2022"."""
    text = unicodedata.normalize("NFKC", code or "").translate(_DASHES).upper()
    return " ".join(re.sub(r"\s*([/\-.:])\s*", r"\1", text).split())


def parameter_key(name: str) -> str:
    """The matching key of a parameter name: full-width folded, case and spaces ignored."""
    return " ".join(unicodedata.normalize("NFKC", name or "").casefold().split())


def _number(item: Item, kind: kinds.Kind) -> Decimal | None:
    """The number to compare with a range: the value, a censored value's bound; None for a
    value without one (未检出, qualitative). :raises InvalidInput: not a value of the kind."""
    head = item.value.split("(")[0].strip()  # "未检出 (< 0.01 mg/kg)" as reports print it
    if head.lower() in values.NOT_DETECTED_WORDS:
        return None
    parsed = values.parse(item.value, kind, field="value")
    return parsed.number


def in_range(entry: Entry, item: Item) -> str:
    """Why ``item``'s value is outside ``entry``'s range; "" when inside (bounds included)."""
    if entry.minimum is None and entry.maximum is None:
        return ""
    try:
        kind = kinds.get(entry.kind) if entry.kind else kinds.infer(entry.unit)
        if item.kind is not None and item.kind != kind.id:
            return f"a {item.kind} is not a {kind.id}"
        if not item.value.strip():
            return "no value to compare with the range"
        number = _number(item, kind)
        if number is None:
            return ""
        given = kinds.resolve(kind, item.unit, expected=entry.unit)
        limit = kinds.resolve(kind, entry.unit)
        number = convert(number, given, limit)
    except InvalidInput as exc:  # unit of another kind, scales never converted, not a number
        return exc.message
    low = None if entry.minimum is None else values.number(entry.minimum)
    high = None if entry.maximum is None else values.number(entry.maximum)
    if (low is not None and number < low) or (high is not None and number > high):
        shown = f"{entry.minimum or '−∞'} … {entry.maximum or '∞'} {entry.unit}".strip()
        return f"{item.value} {item.unit} is outside the range {shown}".replace("  ", " ")
    return ""


def judge(item: Item, entries: Iterable[Entry], valid: frozenset[str]) -> Verdict:
    """Which of the ``valid`` schemes' scope holds ``item``."""
    method, parameter = method_key(item.method), parameter_key(item.parameter)
    listed = [e for e in entries if method_key(e.method) == method]
    if not listed:
        return Verdict(item, frozenset(), (), f"method {item.method!r} is not in the scope")
    listed = [e for e in listed if not e.parameter or parameter_key(e.parameter) == parameter]
    if not listed:
        return Verdict(item, frozenset(), (),
                       f"{item.parameter!r} is not in the scope of {item.method}")
    schemes: set[str] = set()
    reasons = []
    for entry in listed:
        why = in_range(entry, item)
        if why:
            reasons.append(why)
        else:
            schemes |= entry.schemes & valid
    reason = "" if schemes else (
        "; ".join(dict.fromkeys(reasons)) or "its accreditation is not valid on the date")
    return Verdict(item, frozenset(schemes), tuple(e.id for e in listed), reason)


def decide(items: Sequence[Item], entries: Sequence[Entry],
           accreditations: Sequence[Accreditation], *, on: dt.date) -> Decision:
    """Judge every item and choose the marks (module docstring)."""
    valid = {a.scheme: a for a in accreditations if a.valid_on(on)}
    verdicts = tuple(judge(item, entries, frozenset(valid)) for item in items)
    marks = tuple(s for s in SCHEMES
                  if s in valid and verdicts and all(s in v.schemes for v in verdicts))
    return Decision(verdicts, marks, {s: valid[s].certificate_number for s in marks})
