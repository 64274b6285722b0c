"""Server-side lists: paging, sorting, search and export for every list page and API list.

A list's state (page, page size, sort, filters, search) lives in the URL query, so a list can
be bookmarked, shared and reloaded. Pages are counted on the server (``total``) and never
silently cut off. The same :class:`Page` feeds the HTML page, the JSON API (``limit`` +
``page``, with the total) and the CSV/XLSX export of the whole filtered list.

Usage in a view::

    query = select(Sample).join(...).where(...filters...)
    page = paginate(db, query, request.args, sorts={"number": Sample.number, ...},
                    default="-registered")
    if (fmt := export_format(request.args)):
        return export(db, query_sorted(query, page.sort, SORTS), COLUMNS, fmt, "samples")
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeAlias
from zoneinfo import ZoneInfo

from flask import Response, request, stream_with_context, url_for
from sqlalchemy import Boolean, Select, func, literal, literal_column, or_, select, table
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute, Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from lims.errors import Choices, FieldName, InvalidInput, msg

# The id column a list's order ends with, so that pages never overlap or skip.
Tiebreak: TypeAlias = ColumnElement[Any] | QueryableAttribute[Any]

PER_PAGE = 50
MAX_PER_PAGE = 500
DEFERRED_FROM = 1_000  # offsets from which a page is fetched by its ids first
# Export of a whole filtered list: streamed in chunks; a bound keeps one click from pulling a
# province's archive through one web worker (the API pages beyond it).
MAX_EXPORT = 100_000
EXPORT_FORMATS = ("csv", "xlsx")


@dataclasses.dataclass(frozen=True)
class Column:
    """A column of a list's export: its header (translated at export time) and its value."""

    key: str
    header: Any  # str or a lazy translation
    value: Callable[[Any], object]


@dataclasses.dataclass(frozen=True)
class Page:
    items: list[Any]
    total: int
    page: int
    per_page: int
    sort: str  # the sort key, "-" prefixed when descending

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first_index(self) -> int:
        """1-based position of the first item shown (0 when empty)."""
        return 0 if not self.items else (self.page - 1) * self.per_page + 1

    @property
    def last_index(self) -> int:
        return self.first_index + len(self.items) - 1 if self.items else 0

    def api(self) -> dict[str, Any]:
        """The paging fields of an API list reply."""
        return {"total": self.total, "page": self.page, "limit": self.per_page,
                "pages": self.pages}


def whole_number(args: Mapping[str, str], name: str, default: int, *, low: int,
                 high: int) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(msg("%(name)s must be a whole number, not %(raw)r",
                               name=name, raw=raw[:20]),
                           field=name) from None
    if not low <= value <= high:
        raise InvalidInput(msg("%(name)s must be between %(low)s and %(high)s",
                               name=name, low=low, high=high), field=name)
    return value


def sort_key(args: Mapping[str, str], sorts: Mapping[str, Any], default: str, *,
             name: str = "sort") -> str:
    raw = (args.get(name) or default).strip()
    if raw.lstrip("-") not in sorts:
        raise InvalidInput(msg("%(name)s must be one of %(sorts)s (prefix - for "
                               "descending), not %(raw)r", name=name,
                               sorts=', '.join(sorted(sorts)), raw=raw[:40]), field=name)
    return raw


def sorted_query(query: Select[Any], key: str, sorts: Mapping[str, Any],
                 tiebreak: Tiebreak | None = None) -> Select[Any]:
    """Order by the sort key, then by ``tiebreak`` (the id) so pages never overlap or skip."""
    column = sorts[key.lstrip("-")]
    order = [column.desc() if key.startswith("-") else column.asc()]
    if tiebreak is not None:
        order.append(tiebreak.desc() if key.startswith("-") else tiebreak.asc())
    return query.order_by(None).order_by(*order)


def count(session: Session, query: Select[Any]) -> int:
    return session.scalar(
        select(func.count()).select_from(query.order_by(None).subquery())) or 0


def paginate(session: Session, query: Select[Any], args: Mapping[str, str], *,
             sorts: Mapping[str, Any], default: str, tiebreak: Tiebreak | None = None,
             per_page: int = PER_PAGE, scalars: bool = True,
             deferred_from: int | None = None, lean: Select[Any] | None = None,
             rows: Select[Any] | None = None, prefix: str = "") -> Page:
    """One page of ``query``: ``page`` (1-based) and ``limit`` (per page) from ``args``.

    ``prefix``: of the paging arguments' names, for a page with more than one list paged
    independently (``cal_page``, ``cal_limit``, ``cal_sort``).

    ``lean``: the same rows selected with fewer joins and no eager loading, used to count and
    to walk a page's ids; ``rows``: the unfiltered query that loads the rows of those ids
    (the filters need not be checked twice).

    :raises InvalidInput: a page or limit that is not a whole number in range, an unknown sort.
    """
    limit = whole_number(args, f"{prefix}limit", per_page, low=1, high=MAX_PER_PAGE)
    number = whole_number(args, f"{prefix}page", 1, low=1, high=10_000_000)
    key = sort_key(args, sorts, default, name=f"{prefix}sort")
    total = count(session, query if lean is None else lean)
    ordered = sorted_query(query, key, sorts, tiebreak)
    offset = (number - 1) * limit
    threshold = DEFERRED_FROM if deferred_from is None else deferred_from
    if scalars and tiebreak is not None and (offset >= threshold or lean is not None):
        # A deep page, or a list with a lean form: walk the offset over the ids alone (an
        # index scan, no joins), then load the page's rows by id ("deferred join"), so page
        # 3000 costs about what page 1 does.
        narrow = sorted_query(query if lean is None else lean, key, sorts, tiebreak)
        ids = list(session.scalars(narrow.with_only_columns(tiebreak)
                                   .limit(limit).offset(offset)))
        loader = ordered if rows is None else sorted_query(rows, key, sorts, tiebreak)
        items = list(session.scalars(loader.where(tiebreak.in_(ids))).unique().all()) \
            if ids else []
        return Page(items=items, total=total, page=number, per_page=limit, sort=key)
    ordered = ordered.limit(limit).offset(offset)
    result = session.scalars(ordered) if scalars else session.execute(ordered)
    items = list(result.unique().all() if scalars else result.all())
    return Page(items=items, total=total, page=number, per_page=limit, sort=key)


def like(term: str) -> str:
    """A LIKE pattern that finds ``term`` anywhere, with LIKE's wildcards taken literally."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class contains_text(ColumnElement[bool]):  # noqa: N801 - used like a SQL function
    """``column`` contains ``term``, ignoring case: ILIKE on PostgreSQL; on SQLite plain LIKE,
    which ignores ASCII case already, since ``lower(x) LIKE lower(y)`` costs a function call
    per row scanned (make bench). LIKE's wildcards in ``term`` are taken literally."""

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # no "= 1" added where booleans are integers (SQLite)
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement),
                           ("pattern", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: Any, term: str) -> None:
        self.column = column.__clause_element__() if hasattr(column, "__clause_element__") \
            else column
        self.pattern = literal(like(term))


@compiles(contains_text)
def _contains_text(element: contains_text, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.column.ilike(element.pattern, escape="\\"), **kw))


@compiles(contains_text, "sqlite")
def _contains_text_sqlite(element: contains_text, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.column.like(element.pattern, escape="\\"), **kw))


TRIGRAM = 3  # the shortest term a trigram index (pg_trgm, FTS5 trigram) finds by itself


def contains_any(model: Any, columns: Sequence[str], term: str) -> ColumnElement[bool]:
    """One of ``model``'s ``columns`` contains ``term``, ignoring case (as :class:`contains_text`),
    found by index: trigram GIN indexes on PostgreSQL, the ``<table>_search`` FTS5 trigram
    table on SQLite (migration 0020). A term shorter than a trigram is scanned for."""
    plain = or_(*(contains_text(getattr(model, c), term) for c in columns))
    if len(term) < TRIGRAM:
        return plain
    return indexed_text(plain, model.id, str(model.__tablename__), columns, term)


def fts_phrase(columns: Sequence[str], term: str) -> str:
    """An FTS5 query for ``term`` as a phrase (with the trigram tokenizer: a substring) in
    ``columns``; the quotes make every character literal (SQLite, "FTS5 Strings")."""
    quoted = '"' + term.replace('"', '""') + '"'
    return "{" + " ".join(columns) + "} : " + quoted


class indexed_text(ColumnElement[bool]):  # noqa: N801 - used like a SQL function
    """See :func:`contains_any`: ``plain`` (ILIKE, which pg_trgm indexes serve) everywhere but
    on SQLite, where the ids come from the table's FTS5 trigram index."""

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # no "= 1" added where booleans are integers (SQLite)
    _traverse_internals = [("plain", InternalTraversal.dp_clauseelement),
                           ("fts", InternalTraversal.dp_clauseelement)]

    def __init__(self, plain: ColumnElement[bool], id_column: Any, table_name: str,
                 columns: Sequence[str], term: str) -> None:
        self.plain = plain
        name = f"{table_name}_search"
        self.fts = id_column.in_(
            select(literal_column("rowid")).select_from(table(name))
            .where(literal_column(name).op("MATCH")(fts_phrase(columns, term))))


@compiles(indexed_text)
def _indexed_text(element: indexed_text, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.plain, **kw))


@compiles(indexed_text, "sqlite")
def _indexed_text_sqlite(element: indexed_text, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.fts, **kw))


class unindexed(ColumnElement[Any]):  # noqa: N801 - used like a SQL function
    """``column``, but not a way in for SQLite's planner (a unary ``+``: SQLite, "The Query
    Planner", disqualifying WHERE terms): with a search, the few ids the trigram index finds
    are the way in, not the status index walked over every sample of that status."""

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: Any) -> None:
        self.column = column.__clause_element__() if hasattr(column, "__clause_element__") \
            else column
        self.type = self.column.type


@compiles(unindexed)
def _unindexed(element: unindexed, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.column, **kw))


@compiles(unindexed, "sqlite")
def _unindexed_sqlite(element: unindexed, compiler: Any, **kw: Any) -> str:
    return "+" + str(compiler.process(element.column, **kw))


def text_arg(args: Mapping[str, str], name: str, *, max_len: int = 100) -> str:
    """A free-text query argument, stripped. Control characters are refused: no number, name
    or search has one, and PostgreSQL cannot compare text holding a NUL (a driver error, a
    500, instead of the user's mistake named)."""
    term = (args.get(name) or "").strip()
    if any(ord(c) < 32 or ord(c) == 0x7F for c in term):
        raise InvalidInput(msg("%(name)s must not contain control characters", name=name),
                           field=name)
    if len(term) > max_len:
        raise InvalidInput(msg("%(name)s must be at most %(max_len)s characters",
                               name=name, max_len=max_len), field=name)
    return term


def search_term(args: Mapping[str, str], name: str = "q") -> str:
    term = text_arg(args, name, max_len=10_000)
    if len(term) > 100:
        raise InvalidInput(msg("search text must be at most 100 characters"), field=name)
    return term


def record_id(args: Mapping[str, str], name: str) -> int | None:
    """An optional filter naming a record by its id (``customer=12``)."""
    if not (args.get(name) or "").strip():
        return None
    return whole_number(args, name, 0, low=1, high=2**31 - 1)


def choice(args: Mapping[str, str], name: str, allowed: Iterable[str]) -> str | None:
    """An optional filter that takes one of ``allowed`` values (``status=received``)."""
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    options = list(allowed)
    if raw not in options:
        raise InvalidInput(msg("%(name)s must be one of %(options)s, not %(raw)r",
                               name=FieldName(name), options=Choices(options), raw=raw[:40]),
                           field=name)
    return raw


def day(args: Mapping[str, str], name: str, timezone: str, *,
        end: bool = False) -> dt.datetime | None:
    """A date filter (YYYY-MM-DD) as the UTC instant its day starts in the lab's zone, or the
    instant the day ends with ``end`` (the "to" date includes the whole day)."""
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        date = dt.date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(msg("%(name)s must be a date YYYY-MM-DD, not %(raw)r",
                               name=name, raw=raw[:20]),
                           field=name) from None
    if not 1900 <= date.year <= 2999:
        raise InvalidInput(msg("%(name)s must be a date between 1900 and 2999", name=name),
                           field=name)
    if end:
        date += dt.timedelta(days=1)
    start = dt.datetime.combine(date, dt.time(), tzinfo=ZoneInfo(timezone))
    return start.astimezone(dt.UTC)


# -- URLs that keep the list's state ---------------------------------------------------------

def url_with(**changes: Any) -> str:
    """The current page's URL with some query arguments changed (None removes one); a change
    of filter or sort goes back to page 1. A page of one list (``cal_page``) keeps the page
    of the other lists of the page."""
    args: dict[str, Any] = request.args.to_dict(flat=False)
    if any(k != "page" and not k.endswith("_page") for k in changes):
        args.pop("page", None)
    for key, value in changes.items():
        if value is None or value == "":
            args.pop(key, None)
        else:
            args[key] = [str(value)]
    endpoint = request.endpoint or "samples.index"
    return url_for(endpoint, **(request.view_args or {}), **args)


def sort_url(key: str, current: str) -> str:
    """The link of a sortable column header: ascending first, then toggling."""
    return url_with(sort=f"-{key}" if current == key else key)


# -- export --------------------------------------------------------------------------------

def export_format(args: Mapping[str, str]) -> str | None:
    fmt = (args.get("format") or "").strip().lower()
    if not fmt or fmt == "html":
        return None
    if fmt not in EXPORT_FORMATS:
        raise InvalidInput(msg("format must be one of %(choices)s",
                               choices=', '.join(EXPORT_FORMATS)), field="format")
    return fmt


def _rows(session: Session, query: Select[Any], columns: Sequence[Column],
          scalars: bool, max_rows: int) -> Iterator[list[object]]:
    result = session.execute(query.limit(max_rows).execution_options(yield_per=1000))
    for row in result:
        item = row[0] if scalars else row
        yield [_cell(c.value(item)) for c in columns]


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, (int, float, str)):
        return value
    return str(value)


def export(session: Session, query: Select[Any], columns: Sequence[Column], fmt: str,
           name: str, *, scalars: bool = True, max_rows: int = MAX_EXPORT) -> Response:
    """The whole filtered, sorted list as CSV (UTF-8 with BOM, so Excel reads Chinese) or XLSX.

    :raises InvalidInput: (field ``format``) the list holds more than ``max_rows`` rows: a
        file silently cut at the bound would pass for the whole list.
    """
    total = count(session, query)
    if total > max_rows:
        raise InvalidInput(msg("the list holds %(total)s rows, more than the %(max_rows)s one export "
                               "takes: narrow it with the filters, or page through the API",
                               total=total, max_rows=max_rows),
                           field="format")
    headers = [str(c.header) for c in columns]
    rows = _rows(session, query, columns, scalars, max_rows)
    if fmt == "csv":
        return Response(stream_with_context(_csv(headers, rows)), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    return Response(_xlsx(headers, rows, name), headers={
        "Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _csv(headers: list[str], rows: Iterable[list[object]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(headers)
    for i, row in enumerate(rows, 1):
        writer.writerow([no_formula(v) for v in row])
        if i % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def no_formula(value: object) -> object:
    # A cell a spreadsheet would run as a formula (CSV injection): quoted as text. Tab and
    # carriage return lead too (OWASP, CSV injection).
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") \
            and not _is_number(value):
        return "'" + value
    return value


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _xlsx(headers: list[str], rows: Iterable[list[object]], title: str) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31] or "list")
    sheet.append(headers)
    for row in rows:
        # Values are written as typed cells; openpyxl never evaluates a string as a formula
        # unless it starts with "=", which no_formula quotes.
        sheet.append([no_formula(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
