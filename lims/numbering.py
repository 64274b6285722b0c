"""Gapless, never-reused numbers per series, safe under concurrent issue.

The counter row is inserted or incremented with one ``INSERT … ON CONFLICT DO UPDATE …
RETURNING`` inside the caller's write transaction: PostgreSQL serialises concurrent increments
on the row lock, SQLite on its write lock (taken up front by :func:`lims.db.unit_of_work`). A
rolled-back transaction rolls its increment back, so the series stays gapless.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import String, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from lims.db import Model
from lims.errors import InvalidInput, msg


class NumberSeries(Model):
    __tablename__ = "number_series"

    series: Mapped[str] = mapped_column(String(80), primary_key=True)
    last: Mapped[int]


def format_number(fmt: str, *, year: int, seq: int) -> str:
    """Apply a number format such as ``BG{year}-{seq:06d}``."""
    try:
        return fmt.format(year=year, seq=seq)
    except (KeyError, IndexError, ValueError) as exc:
        raise InvalidInput(msg("bad number format %(format)r: %(reason)s", format=fmt, reason=exc),
                           field="format") from exc


def next_number(session: Session, kind: str, fmt: str, *, today: dt.date) -> str:
    """Take the next number of a series; the series restarts each year when the format uses it."""
    series = f"{kind}:{today.year}" if "{year" in fmt else kind
    stmt = _TAKE[session.get_bind().dialect.name == "postgresql"]
    seq = session.execute(stmt, {"series": series}).scalar_one()
    return format_number(fmt, year=today.year, seq=seq)


def _take(insert: Any) -> Any:
    # One statement: the first number of a series inserts its row, the others take the row's
    # lock and increment it (PostgreSQL's INSERT … ON CONFLICT DO UPDATE is atomic).
    return (insert(NumberSeries).values(series=bindparam("series"), last=1)
            .on_conflict_do_update(index_elements=[NumberSeries.series],
                                   set_={"last": NumberSeries.last + 1})
            .returning(NumberSeries.last))


# Built once per dialect (False: SQLite, True: PostgreSQL): a statement memoises its cache key,
# so each number then costs only its execution (issue 14).
_TAKE = {False: _take(sqlite.insert), True: _take(postgresql.insert)}
