"""Keep later registrations off the numbers legacy records bring with them.

An imported sample keeps its number as recorded (``YP2024-000123``). When that number has the
shape the lab's format gives (``LIMS_SAMPLE_NUMBER_FORMAT``), the series' counter
(:mod:`lims.numbering`) is moved up to it, so that the next registration takes the number after
the highest imported one instead of colliding with it; numbers of another shape can never be
produced by the format and leave the counter alone.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lims.numbering import NumberSeries


def number_pattern(fmt: str) -> re.Pattern[str] | None:
    """A regular expression matching the numbers ``fmt`` produces, with groups ``year`` and
    ``seq``; None for a format with other fields (its numbers cannot be told apart)."""
    parts = []
    for literal, name, _spec, _conv in string.Formatter().parse(fmt):
        parts.append(re.escape(literal))
        if name is None:
            continue
        if name not in ("year", "seq"):
            return None
        parts.append(r"(?P<year>\d{4})" if name == "year" else r"(?P<seq>\d+)")
    try:
        return re.compile("".join(parts) + r"\Z")
    except re.error:  # a field given twice
        return None


def reserve_recorded(session: Session, kind: str, fmt: str, numbers: Iterable[str]) -> None:
    """Move the counters of ``kind``'s series up to the highest of ``numbers`` in each."""
    pattern = number_pattern(fmt)
    if pattern is None or "{seq" not in fmt:
        return
    highest: dict[str, int] = {}
    for number in numbers:
        found = pattern.match(number)
        if found is None:
            continue
        series = f"{kind}:{int(found['year'])}" if "{year" in fmt else kind
        highest[series] = max(highest.get(series, 0), int(found["seq"]))
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for series, seq in sorted(highest.items()):
        session.execute(insert(NumberSeries).values(series=series, last=0).on_conflict_do_nothing())
        session.execute(update(NumberSeries).where(NumberSeries.series == series,
                                                   NumberSeries.last < seq).values(last=seq))
