"""Columns, headers and the row-by-row validation every import shares.

Each kind of record declares its columns with the headers a lab writes (English and Chinese);
the file's header row is matched to them once, and every cell's error is kept with its row
number and the header as written in the file, so that the whole list can be shown at once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, cast

from sqlalchemy import Table

from lims.db import Model
from lims.errors import LimsError, msg
from lims.imports.read import Table as Sheet
from lims.validate import date, text

T = TypeVar("T")


@dataclasses.dataclass
class RowPlan:
    """What a validated file will write: one record a row (customers, instruments)."""

    rows: list[dict[str, Any]]

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def steps(self) -> int:  # for the progress bar: the rows, then their audit events
        return 2 * len(self.rows)


@dataclasses.dataclass(frozen=True)
class Column:
    key: str
    headers: tuple[str, ...]  # the English header first, then the Chinese ones
    required: bool = False
    doc: str = ""


def _norm(header: str) -> str:
    return re.sub(r"[\s_*（）()：:]+", "", header).lower()


@dataclasses.dataclass(frozen=True)
class Problem:
    row: int
    column: str  # the header as written ("" for the file)
    message: str

    def __str__(self) -> str:
        from lims.catalogs import localized, tr

        if self.column:
            return tr("row %(row)s, %(column)s: %(message)s", row=self.row, column=self.column,
                      message=localized(self.message))
        return tr("row %(row)s: %(message)s", row=self.row, message=localized(self.message))


class Rows:
    """The file's rows, with errors collected rather than raised."""

    def __init__(self, table: Sheet, columns: tuple[Column, ...]) -> None:
        self.problems: list[Problem] = []
        self.count = len(table.rows)
        self._rows = table.rows
        by_header = {_norm(h): c for c in columns for h in (c.key, *c.headers)}
        self.index: dict[str, int] = {}
        self.header: dict[str, str] = {c.key: c.headers[0] for c in columns}
        for i, written in enumerate(table.headers):
            if not written:
                continue
            column = by_header.get(_norm(written))
            if column is None:
                self.problems.append(Problem(1, written, msg(
                    "unknown column; the columns are %(columns)s",
                    columns=", ".join(c.headers[0] for c in columns))))
            elif column.key in self.index:
                self.problems.append(Problem(1, written, msg("the column is given twice")))
            else:
                self.index[column.key] = i
                self.header[column.key] = written
        for column in columns:
            if column.required and column.key not in self.index:
                self.problems.append(Problem(1, column.headers[0], msg(
                    "a required column is missing (%(headers)s)", headers=" / ".join(column.headers))))

    def __iter__(self) -> Iterator[Row]:
        for number, cells in self._rows:
            yield Row(self, number, cells)

    def error(self, row: int, key: str, message: str) -> None:
        self.problems.append(Problem(row, self.header.get(key, key), message))


class Row:
    def __init__(self, rows: Rows, number: int, cells: list[str]) -> None:
        self.rows, self.number, self.cells, self.ok = rows, number, cells, True

    def raw(self, key: str) -> str:
        i = self.rows.index.get(key)
        return self.cells[i].strip() if i is not None and i < len(self.cells) else ""

    def error(self, key: str, message: str) -> None:
        self.ok = False
        self.rows.error(self.number, key, message)

    def check(self, key: str, parse: Callable[[str], T]) -> T | None:
        """``parse(raw value)``, or None with the error recorded against this cell."""
        try:
            return parse(self.raw(key))
        except LimsError as exc:
            self.error(key, exc.message)
            return None

    def text(self, key: str, *, required: bool = False, max_len: int = 120) -> str:
        value = self.check(key, lambda v: text(v, key, required=required, max_len=max_len))
        return value or ""

    def date(self, key: str, *, required: bool = False) -> dt.date | None:
        return self.check(key, lambda v: legacy_date(v, key, required=required))


_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T].*)?$")


def legacy_date(value: str, field: str, *, required: bool = False) -> dt.date | None:
    """A date as legacy sheets write it: ``2024-03-05``, ``2024/3/5``, ``2024.3.5``,
    ``2024年3月5日`` (a time after it is dropped).

    :raises InvalidInput: not a date, or outside the years the application accepts.
    """
    found = _DATE.match(value.strip())
    if found:
        value = f"{found[1]}-{found[2]:0>2}-{found[3]:0>2}"
    return date(value, field, required=required)


def chunks(items: list[T], size: int) -> Iterator[list[T]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def choice(value: str, choices: dict[str, str], field: str, default: str) -> str:
    """A stored value from its English or Chinese name (case and spaces ignored)."""
    from lims.errors import Choices, InvalidInput

    if not value:
        return default
    found = choices.get(_norm(value))
    if found is None:
        raise InvalidInput(msg("must be one of %(choices)s",
                               choices=Choices(sorted(set(choices.values())))), field=field)
    return found


def names(pairs: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """``{stored: (names…)}`` as a lookup from each normalised name (and the stored value)."""
    return {_norm(n): stored for stored, written in pairs.items() for n in (stored, *written)}


def table_of(model: type[Model]) -> Table:
    """A mapped class's table, for Core ``executemany`` (no ORM unit of work per row)."""
    return cast(Table, model.__table__)
