"""Pages: the user's work queues at ``/`` (where login lands) and the dashboard."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup

from lims.db import unit_of_work, utcnow
from lims.web.auth import current_user
from lims.web.context import get_session, settings
from lims.work import assignment, queues, stats
from lims.work.charts import Chart, Series, bar_chart

bp = Blueprint("work", __name__)


def _today() -> dt.date:
    return utcnow().astimezone(ZoneInfo(settings().timezone)).date()


@bp.get("/")
def queue() -> Any:
    user = current_user()
    return render_template(
        "work/queue.html", queues=queues.queues_for(
            get_session(), user, now=utcnow(), today=_today(),
            warning_days=settings().calibration_warning_days))


@bp.post("/queue/<number>/take")
def take(number: str) -> Any:
    with unit_of_work(get_session()) as db:
        taken = assignment.take_sample(db, actor=current_user(), number=number).number
    flash(_("Sample %(number)s is assigned to you.", number=taken), "ok")
    return _back(taken)


@bp.post("/queue/<number>/give-back")
def give_back(number: str) -> Any:
    with unit_of_work(get_session()) as db:
        given = assignment.give_back(db, actor=current_user(), number=number).number
    flash(_("Sample %(number)s is back in the shared queue.", number=given), "ok")
    return _back(given)


def _back(number: str) -> Any:
    """Back where the button was: the sample's page (``back=sample``) or the queue. A fixed
    choice, not a URL from the form, so the redirect cannot be sent elsewhere."""
    if request.form.get("back") == "sample":
        return redirect(url_for("samples.detail", number=number), code=303)
    return redirect(url_for("work.queue"), code=303)


def _md(day: dt.date) -> str:
    return day.strftime("%m-%d")


def charts(board: stats.Dashboard) -> list[Chart]:
    """The dashboard's charts, labelled in the reader's language."""
    weeks = [_md(w.start) for w in board.weeks]
    week_axis = _("Week starting")
    out = [
        Chart("chart-flow", _("Samples in and out per week"),
              _("Samples registered and samples reported in each of the last %(n)s weeks.",
                n=len(weeks)),
              week_axis, _("Samples"), weeks,
              [Series(_("Registered"), [w.registered for w in board.weeks]),
               Series(_("Reported"), [w.reported for w in board.weeks])],
              empty=_("No samples in this period")),
        Chart("chart-turnaround", _("Turnaround time per week"),
              _("Mean days from registration to the first report, by the week of the report."),
              week_axis, _("Days"), weeks,
              [Series(_("Mean days to report"), [w.turnaround_days for w in board.weeks])],
              empty=_("No reports in this period"), decimals=1, zero_is_figure=True),
    ]
    out.append(Chart(
        "chart-on-time", _("Reported on time per week"),
        _("Share of the reported samples with a due date that were reported by it."),
        week_axis, _("On time (%)"), weeks,
        [Series(_("On time"), [None if w.on_time is None or not w.with_due
                               else 100.0 * w.on_time / w.with_due for w in board.weeks])],
        empty=_("No reports in this period"), y_max=100.0, decimals=0))
    out += [
        pass_rate_chart(board.pass_rates, len(weeks)),
        Chart("chart-calibration", _("Calibration due in the next 30 days"),
              _("Equipment in service overdue now, and due in each week of the next 30 days."),
              _("Week from"), _("Instruments"),
              [_("Overdue")] + [_md(d.start) for d in board.due],
              [Series(_("Instruments"), [board.overdue] + [d.count for d in board.due])],
              empty=_("Nothing due")),
    ]
    return out


def pass_rate_chart(rates: list[stats.CategoryRate], weeks: int) -> Chart:
    """Pass rate (合格率) per product category against the family's target, with the counts
    behind each rate in the data table (issue 11 §3; the province's targets, issue 13)."""
    locale = str(get_locale() or "en")

    def label(r: stats.CategoryRate) -> str:
        if r.code is None:
            return str(_("Uncategorised"))
        return ("› " * r.depth) + r.name(locale)

    return Chart(
        "chart-pass", _("Pass rate per product category"),
        _("Share of the samples reported in the last %(n)s weeks without a failing result, "
          "per product category (a family counts its subcategories), against the family's "
          "target.", n=weeks),
        _("Product category"), _("Pass rate (%)"), [label(r) for r in rates],
        [Series(_("Passed (%)"), [r.percent for r in rates]),
         Series(_("Target (%)"), [None if r.target is None else float(r.target)
                                  for r in rates])],
        empty=_("No reported samples in this period"), y_max=100.0, decimals=1, counted=1,
        table_only=[Series(_("Tested"), [r.tested for r in rates], decimals=0),
                    Series(_("Qualified"), [r.qualified for r in rates], decimals=0),
                    Series(_("Unqualified"), [r.unqualified for r in rates], decimals=0)])


@bp.get("/dashboard")
def dashboard() -> Any:
    current_user()  # every role reads the lab's figures (permission "read")
    board = stats.dashboard(get_session(), today=_today(), timezone=settings().timezone)
    drawn = [(c, Markup(bar_chart(c))) for c in charts(board)]  # noqa: S704 - escaped inside
    return render_template("work/dashboard.html", charts=drawn, board=board)
