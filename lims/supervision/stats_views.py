"""Pass-rate statistics (issue 13 §4): the page ``/statistics`` with its filters, tables and
charts, its XLSX export ``/statistics.xlsx`` and the API ``/api/v1/statistics/pass-rates``
(and ``…/trend``). Any logged-in user may read them: the figures are the centre's published
programme, not a customer's data.

Every number comes from :func:`lims.supervision.statistics.pass_rates`: the API returns its
``as_dict()`` unchanged, the page and the workbook show the same rows, so the white paper's
figures can be checked against any of them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, jsonify, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup

from lims.db import utcnow
from lims.errors import InvalidInput, msg
from lims.samples import categories
from lims.samples.particulars import INSPECTION_TYPES
from lims.supervision import statistics
from lims.supervision import stats_api_models as m
from lims.supervision.stats_charts import Bar, Line, rate_bars, trend_lines
from lims.supervision.stats_export import workbook
from lims.web.auth import current_user
from lims.web.context import get_session, settings
from lims.web.errors import localized
from lims.web.i18n import field_label
from lims.web.inputs import query_model
from lims.web.openapi import operation

bp = Blueprint("statistics", __name__)

FILTERS = ("year", "category", "region", "inspection_type", "size")
MAX_TREND_YEARS = 50


def _zone() -> str:
    return settings().timezone


def _this_year() -> int:
    return utcnow().astimezone(ZoneInfo(_zone())).year


def _locale() -> str:
    return str(get_locale() or "zh_CN")


# --- the API ---------------------------------------------------------------------------------


@bp.get("/api/v1/statistics/pass-rates")
@operation("Pass rates from final conclusions by family, category, region, enterprise size "
           "and inspection type, with the unqualified characteristics ranked (any role)",
           query=m.PassRatesQuery, response=m.PassRates)
def pass_rates_api() -> ResponseReturnValue:
    current_user()
    q = query_model(m.PassRatesQuery)
    rates = statistics.pass_rates(
        get_session(), year=q.year or _this_year(), timezone=_zone(), category=q.category,
        region=q.region, inspection_type=q.inspection_type, size=q.size)
    return jsonify(rates.as_dict())


@bp.get("/api/v1/statistics/pass-rates/trend")
@operation("Each target family's pass rate in each year of a span (any role)",
           query=m.TrendQuery, response=m.Trend)
def trend_api() -> ResponseReturnValue:
    current_user()
    q = query_model(m.TrendQuery)
    first, last = _span(q.from_, q.to)
    return jsonify(_trend(first, last, q.inspection_type))


@bp.get("/api/v1/statistics/supervision-activity")
@operation("The year's supervision activity and the centre's metrological capacity, as the "
           "white paper counts them (any role)", query=m.ActivityQuery, response=m.Activity)
def activity_api() -> ResponseReturnValue:
    from lims.supervision import whitepaper

    current_user()
    year = query_model(m.ActivityQuery).year or _this_year()
    db = get_session()
    return jsonify({"year": year,
                    "activity": whitepaper.activity(db, year=year, timezone=_zone()),
                    "capacity": whitepaper.capacity(db, year=year, timezone=_zone())})


def _span(first: int | None, last: int | None) -> tuple[int, int]:
    """The years asked for, by default those held (this year when none is).

    :raises InvalidInput: a span backwards or longer than :data:`MAX_TREND_YEARS`.
    """
    held = statistics.years_held(get_session(), _zone()) or [_this_year()]
    first = held[0] if first is None else first
    last = max(first, held[-1]) if last is None else last
    if last < first:
        raise InvalidInput(msg("must not be before from"), field="to")
    if last - first >= MAX_TREND_YEARS:
        raise InvalidInput(msg("must be at most %(n)s years after from",
                               n=MAX_TREND_YEARS - 1), field="to")
    return first, last


def _trend(first: int, last: int, inspection_type: str | None) -> dict[str, Any]:
    db = get_session()
    trend = statistics.family_trend(db, years=range(first, last + 1), timezone=_zone(),
                                    inspection_type=inspection_type)
    families = []
    for family in categories.tree(db):
        cat = family.category
        families.append({
            "key": cat.code, "name_zh": cat.name_zh, "name_en": cat.name_en,
            "target": None if cat.target_pass_rate is None else str(cat.target_pass_rate),
            "years": [{"year": y, **c.as_dict()} for y, c in trend.get(cat.code, [])]})
    return {"from": first, "to": last, "families": families}


# --- the page and its export -----------------------------------------------------------------


def _asked() -> dict[str, str]:
    return {k: request.args.get(k, "").strip() for k in FILTERS}


def _rates(asked: dict[str, str]) -> statistics.PassRates:
    return statistics.pass_rates(
        get_session(), year=asked["year"] or _this_year(), timezone=_zone(),
        category=asked["category"] or None, region=asked["region"] or None,
        inspection_type=asked["inspection_type"] or None, size=asked["size"] or None)


@bp.get("/statistics")
def page() -> ResponseReturnValue:
    current_user()
    asked = _asked()
    try:
        rates = _rates(asked)
    except InvalidInput as exc:
        error = f"{field_label(exc.field or '')}: {localized(exc.message)}"
        return _page(None, asked, error), 422
    return _page(rates, asked)


@bp.get("/statistics.xlsx")
def export() -> ResponseReturnValue:
    current_user()
    asked = _asked()
    rates = _rates(asked)
    stamp = dt.datetime.now(ZoneInfo(_zone())).strftime("%Y%m%d-%H%M")
    return Response(workbook(rates, _locale()), mimetype=(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), headers={
        "Content-Disposition": f'attachment; filename="pass-rates-{rates.year}-{stamp}.xlsx"'})


def _options() -> dict[str, Any]:
    """The filters' choices: the catalogue and the region tree (indented), the types, the
    sizes, the years held."""
    db, locale = get_session(), _locale()
    zh = locale.startswith("zh")
    cats = [(n.category.code, n.depth, n.category.name_zh if zh else n.category.name_en)
            for family in categories.tree(db) for n in family.walk()]
    region_options = [(r.code, depth, r.name_zh if zh else r.name_en)
                      for r, depth in statistics.region_choices(db)]
    types = [(k, zh_en[0] if zh else zh_en[1]) for k, zh_en in INSPECTION_TYPES.items()]
    sizes = [("large", _("Large")), ("medium", _("Medium")), ("small", _("Small")),
             ("micro", _("Micro"))]
    years = statistics.years_held(db, _zone()) or [_this_year()]
    return {"categories": cats, "regions": region_options, "types": types, "sizes": sizes,
            "years": sorted(set(years) | {_this_year()}, reverse=True)}


def _charts(rates: statistics.PassRates, locale: str) -> list[tuple[str, Markup]]:
    bars = [Bar(r.name(locale), r.counts.rate,
                None if r.target is None else float(r.target)) for r in rates.families]
    out = [(_("Pass rate by target family"), Markup(rate_bars(  # noqa: S704 - escaped SVG
        "chart-families", _("Pass rate by target family"),
        _("The pass rate of each target family in %(year)s under the filters, and its "
          "provincial target (dashed).", year=rates.year), bars,
        y_label=_("Pass rate (%)"), target_label=_("Target"),
        empty=_("No judged samples")))), ]
    trend = _trend_for_page(rates.year)
    if trend is not None:
        years, lines = trend
        out.append((_("Pass rate over the years held"), Markup(trend_lines(  # noqa: S704
            "chart-trend", _("Pass rate over the years held"),
            _("Each target family's pass rate per year, %(first)s to %(last)s, with its "
              "target (dashed).", first=years[0], last=years[-1]), years, lines,
            y_label=_("Pass rate (%)"), empty=_("No judged samples")))))
    return out


def _trend_for_page(year: int) -> tuple[list[int], list[Line]] | None:
    """The families over the years held up to the year shown (at most the last 20)."""
    db, locale = get_session(), _locale()
    held = [y for y in statistics.years_held(db, _zone()) if y <= year][-20:]
    if not held:
        return None
    trend = statistics.family_trend(db, years=held, timezone=_zone())
    lines = []
    for family in categories.tree(db):
        cat = family.category
        points = trend.get(cat.code, [])
        lines.append(Line(cat.name_zh if locale.startswith("zh") else cat.name_en,
                          [c.rate for _y, c in points],
                          None if cat.target_pass_rate is None
                          else float(cat.target_pass_rate)))
    return held, lines


def _page(rates: statistics.PassRates | None, asked: dict[str, str],
          error: str | None = None) -> str:
    locale = _locale()
    query: dict[str, Any] = {k: v for k, v in asked.items() if v}
    if rates is not None:
        query["year"] = str(rates.year)
    breakdowns = [] if rates is None else [
        ("categories", _("By product category"), rates.categories),
        ("regions", _("By region"), rates.regions),
        ("sizes", _("By enterprise size"), rates.sizes),
        ("inspection_types", _("By inspection type"), rates.inspection_types)]
    return render_template(
        "supervision/statistics.html", rates=rates, asked=asked, error=error,
        options=_options(), breakdowns=breakdowns, locale=locale, few=statistics.FEW,
        charts=_charts(rates, locale) if rates is not None else [],
        xlsx_url=url_for("statistics.export", **query))
