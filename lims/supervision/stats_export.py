"""The statistics page's tables as an XLSX workbook: one sheet per breakdown, numbers as
numbers (a rate is a number of percent with two decimals, as the API gives it), names in the
reader's language. Called in a request (the headers are translated)."""

from __future__ import annotations

import io
from collections.abc import Iterable

from flask_babel import gettext as _

from lims.supervision.statistics import Item, PassRates, Row
from lims.web.listing import no_formula


def _headers(with_target: bool) -> list[str]:
    out = [_("Code"), _("Name"), _("Level"), _("Sampled"), _("Tested"), _("Qualified"),
           _("Unqualified"), _("Data only"), _("Pending"), _("Pass rate (%)"),
           _("Wilson interval, low (%)"), _("Wilson interval, high (%)")]
    if with_target:
        out += [_("Target (%)"), _("Below target")]
    return out


def _row(row: Row, locale: str, with_target: bool) -> list[object]:
    c = row.counts.as_dict()
    interval = c["interval"] or [None, None]
    out: list[object] = [row.key, row.name(locale), row.depth, c["sampled"], c["tested"],
                         c["qualified"], c["unqualified"], c["data_only"], c["pending"],
                         c["pass_rate"], interval[0], interval[1]]
    if with_target:
        out += [None if row.target is None else float(row.target),
                _("yes") if row.below_target else _("no")]
    return out


def workbook(rates: PassRates, locale: str) -> bytes:
    """The workbook of ``rates``: total and families, categories, regions, sizes, inspection
    types, unqualified characteristics."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)

    def sheet(title: str, headers: list[str], rows: Iterable[list[object]]) -> None:
        ws = book.create_sheet(title=title[:31])
        ws.append(headers)
        for r in rows:
            # Names come from the catalogue and the register: never a formula (CSV injection).
            ws.append([no_formula(v) for v in r])

    total = Row("", _("All samples"), _("All samples"), rates.total)
    sheet(_("Families"), _headers(True),
          [_row(total, locale, True), *(_row(r, locale, True) for r in rates.families)])
    sheet(_("Categories"), _headers(True), (_row(r, locale, True) for r in rates.categories))
    sheet(_("Regions"), _headers(False), (_row(r, locale, False) for r in rates.regions))
    sheet(_("Enterprise sizes"), _headers(False),
          (_row(r, locale, False) for r in rates.sizes))
    sheet(_("Inspection types"), _headers(False),
          (_row(r, locale, False) for r in rates.inspection_types))
    sheet(_("Unqualified items"), [_("Rank"), _("Characteristic"), _("Unqualified samples")],
          _items(rates.unqualified_items))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _items(items: list[Item]) -> Iterable[list[object]]:
    for rank, item in enumerate(items, 1):
        yield [rank, item.name, item.samples]
