"""Read a legacy table: an .xlsx workbook's first sheet or a .csv file.

Chinese labs' spreadsheets are exported as UTF-8 (often with a byte-order mark, as Excel writes
it) or as GB18030 (GBK's superset, what Excel writes on a Chinese Windows): a BOM decides, else
UTF-8 is tried and GB18030 is the fallback; ``encoding`` overrides both. Values come back as
stripped text; a date cell of a workbook becomes ``YYYY-MM-DD``.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import datetime as dt
import io
import zipfile
from pathlib import Path

from lims.errors import InvalidInput, msg

MAX_BYTES = 200 * 1024 * 1024  # far above 100,000 rows; refuses a wrong file before reading it


@dataclasses.dataclass
class Table:
    """The header as written and the data rows, each with its row number in the file (the
    header is row 1), blank rows left out."""

    headers: list[str]
    rows: list[tuple[int, list[str]]]
    encoding: str  # "xlsx" for a workbook


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a number typed into a cell: 123 not 123.0
    return str(value).strip()


def read_table(path: str | Path, *, encoding: str | None = None) -> Table:
    """Read ``path`` (by its content: a workbook is a zip file).

    :raises InvalidInput: (field ``file``) unreadable, empty, not a CSV or XLSX file, an
        undecodable CSV, no header row.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InvalidInput(msg("cannot read %(path)s: %(reason)s", path=str(path),
                               reason=exc.strerror or str(exc)), field="file") from None
    if not data.strip():
        raise InvalidInput(msg("the file is empty"), field="file")
    if len(data) > MAX_BYTES:
        raise InvalidInput(msg("the file is larger than %(limit)s MB", limit=MAX_BYTES // 2**20),
                           field="file")
    if data[:4] == b"PK\x03\x04":
        headers, rows = _read_xlsx(data)
        used = "xlsx"
    else:
        text, used = _decode(data, encoding)
        headers, rows = _read_csv(text)
    if not any(headers):
        raise InvalidInput(msg("the first row must name the columns"), field="file")
    return Table(headers=headers, rows=rows, encoding=used)


def _decode(data: bytes, encoding: str | None) -> tuple[str, str]:
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise InvalidInput(msg("unknown encoding %(encoding)r", encoding=encoding),
                               field="encoding") from None
        candidates = [encoding]
    elif data.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    else:
        candidates = ["utf-8", "gb18030"]
    for name in candidates:
        try:
            text = data.decode(name)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:  # a binary file decodes as GB18030 more often than one would think
            break
        return text.removeprefix("\ufeff"), name
    raise InvalidInput(msg("not a CSV file in %(encodings)s (or an XLSX workbook); give its "
                           "encoding with --encoding", encodings=" / ".join(candidates)),
                       field="file")


def _read_csv(text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    # The delimiter the header row uses most (Excel writes "," or, in some locales, ";"; a
    # tab-separated export is common too): guessing from the data would trip on addresses.
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)
    rows: list[tuple[int, list[str]]] = []
    headers: list[str] | None = None
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        for number, values in enumerate(reader, 1):
            cells = [v.strip() for v in values]
            if headers is None:
                headers = cells
            elif any(cells):
                rows.append((number, cells))
    except csv.Error as exc:
        raise InvalidInput(msg("not a readable CSV file: %(reason)s", reason=str(exc)),
                           field="file") from None
    return headers or [], rows


def _read_xlsx(data: bytes) -> tuple[list[str], list[tuple[int, list[str]]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
        raise InvalidInput(msg("not a readable XLSX workbook: %(reason)s", reason=str(exc)),
                           field="file") from None
    try:
        sheet = book.worksheets[0]
        headers: list[str] | None = None
        rows: list[tuple[int, list[str]]] = []
        for number, values in enumerate(sheet.iter_rows(values_only=True),
                                          getattr(sheet, "min_row", 1) or 1):
            cells = [_cell(v) for v in values]
            if headers is None:
                headers = cells
            elif any(cells):
                rows.append((number, cells))
    finally:
        book.close()
    while headers and not headers[-1]:
        headers.pop()
    return headers or [], rows
