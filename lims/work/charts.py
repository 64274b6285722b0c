"""Bar charts drawn on the server as inline SVG, for the dashboard.

Pure: no Flask, no database, no script. A :class:`Chart` holds the labels (already in the
reader's language) and the numbers; :func:`bar_chart` returns one ``<svg>`` element with a
``<title>`` and ``<desc>`` named by ``aria-labelledby``, axis labels, a legend when there is
more than one series, and a ``<title>`` tooltip on every bar. The page puts the same numbers
in a table beside it for readers who cannot see the picture (WCAG 1.1.1). Every text is escaped
(the style of :mod:`lims.calibration.svg`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from lims.calibration.svg import FONT, _a, _fit, _ident, _t, _text_width

# Blue, green, amber, red: distinguishable for the common colour deficiencies and with a
# contrast of at least 3:1 against white (WCAG 1.4.11, graphical objects).
PALETTE = ("#0b5cad", "#1d7a36", "#9a6700", "#b3261e")
_FS = 12
_TOP, _BOTTOM, _LEFT, _RIGHT = 34, 46, 58, 12
_PLOT_H = 180
_BAR_W, _BAR_GAP, _GROUP_GAP = 16, 2, 14
_MAX_LABEL_W = 110


@dataclasses.dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]  # one per category; None: no figure (not drawn)
    decimals: int | None = None     # of its figures in the table; None: the chart's


@dataclasses.dataclass(frozen=True)
class Chart:
    ident: str          # unique on the page: the ids of the title and description derive from it
    title: str
    desc: str
    x_label: str
    y_label: str
    categories: Sequence[str]
    series: Sequence[Series]
    empty: str = "—"    # said in the plot when there is nothing to draw
    y_max: float | None = None  # a fixed top (100 for percentages); else from the data
    decimals: int = 0   # of the figures in tooltips and tables; 0: counts, ticked in whole steps
    zero_is_figure: bool = False  # a mean of 0 days is a figure; a count of 0 is nothing
    # Columns of the data table that are not drawn (the counts behind a percentage).
    table_only: Sequence[Series] = ()
    # Only the first n series say whether there is anything to draw (0: all of them): a
    # target drawn beside no rate is no figure.
    counted: int = 0

    def figure(self, value: float | None, decimals: int | None = None) -> str:
        places = self.decimals if decimals is None else decimals
        return "—" if value is None else f"{value:.{places}f}"

    def columns(self) -> list[Series]:
        """The series of the data table: those drawn, then those only in the table."""
        return [*self.series, *self.table_only]

    def rows(self) -> list[tuple[str, list[str]]]:
        """The data table beside the chart: each category with its figure per series."""
        return [(c, [self.figure(s.values[i] if i < len(s.values) else None, s.decimals)
                     for s in self.columns()]) for i, c in enumerate(self.categories)]

    def is_empty(self) -> bool:
        """Nothing to draw: no figures, or only zero counts (a zero mean is a figure)."""
        return not any(v is not None and (v != 0 or self.zero_is_figure)
                       for s in self.series[:self.counted or None] for v in s.values)


def nice_step(value: float, *, integer: bool = False) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10ⁿ not below ``value``; with ``integer`` a whole
    number (counts of samples are not ticked in quarters)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for factor in (1, 2, 2.5, 5, 10):
        step = factor * power
        if step >= value and (not integer or step >= 1 and step == int(step)):
            return float(step)
    return float(max(10 * power, 1.0)) if integer else float(10 * power)


def axis(largest: float, *, integer: bool = False, ticks: int = 4) -> tuple[float, float]:
    """(top, step) of the value axis: at most ``ticks`` round steps above zero, the top not
    below the largest value."""
    step = nice_step(largest / ticks, integer=integer)
    top = step * max(1, math.ceil(largest / step - 1e-9))
    return top, step


def nice_max(value: float) -> float:
    """The top of an axis of four steps for ``value``."""
    return axis(value)[0]


def _tick(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def bar_height(value: float, top: float, plot_h: float = _PLOT_H) -> float:
    """Bars scale linearly from zero; a value above ``top`` is drawn at the top."""
    if top <= 0:
        return 0.0
    return max(0.0, min(value, top)) / top * plot_h


def bar_chart(chart: Chart) -> str:
    ident = _ident(chart.ident)
    n_series = max(1, len(chart.series))
    label_w = min(_MAX_LABEL_W, max([_text_width(c) for c in chart.categories] or [0]) + 4)
    group_w = max(n_series * (_BAR_W + _BAR_GAP) - _BAR_GAP, label_w)
    plot_w = max(240.0, len(chart.categories) * (group_w + _GROUP_GAP))
    width, height = _LEFT + plot_w + _RIGHT, _TOP + _PLOT_H + _BOTTOM
    values = [v for s in chart.series for v in s.values if v is not None]
    if chart.y_max is not None:
        top, step = chart.y_max, chart.y_max / 4
    else:
        top, step = axis(max(values, default=0), integer=chart.decimals == 0)
    x0, y0 = _LEFT, _TOP + _PLOT_H  # the origin
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'aria-labelledby="{ident}-title {ident}-desc" font-family={_a(FONT)} '
        f'font-size="{_FS}">',
        f'<title id="{ident}-title">{_t(chart.title)}</title>',
        f'<desc id="{ident}-desc">{_t(chart.desc)}</desc>',
    ]
    # Value axis: gridlines at quarters of the top, the label turned along it.
    for i in range(round(top / step) + 1):
        tick = step * i
        y = y0 - bar_height(tick, top)
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + plot_w:.1f}" y2="{y:.1f}" '
                   f'stroke="{"#555" if i == 0 else "#ddd"}" stroke-width="1"/>')
        out.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end" '
                   f'fill="#333">{_t(_tick(tick))}</text>')
    out.append(f'<line x1="{x0}" y1="{_TOP}" x2="{x0}" y2="{y0}" stroke="#555"/>')
    out.append(f'<text class="y-label" transform="translate(14 {_TOP + _PLOT_H / 2:.0f}) '
               f'rotate(-90)" text-anchor="middle" fill="#333">{_t(chart.y_label)}</text>')
    out.append(f'<text class="x-label" x="{x0 + plot_w / 2:.0f}" y="{height - 6}" '
               f'text-anchor="middle" fill="#333">{_t(chart.x_label)}</text>')
    # Legend above the plot when the colours need naming.
    if len(chart.series) > 1:
        x = float(x0)
        for k, s in enumerate(chart.series):
            colour = PALETTE[k % len(PALETTE)]
            out.append(f'<rect x="{x:.1f}" y="8" width="12" height="12" fill="{colour}"/>')
            out.append(f'<text x="{x + 16:.1f}" y="18" fill="#333">{_t(s.name)}</text>')
            x += 16 + _text_width(s.name) + 18
    if chart.is_empty():
        out.append(f'<text class="empty" x="{x0 + plot_w / 2:.0f}" y="{_TOP + _PLOT_H / 2:.0f}" '
                   f'text-anchor="middle" fill="#555">{_t(chart.empty)}</text>')
    bars_w = n_series * (_BAR_W + _BAR_GAP) - _BAR_GAP
    for i, category in enumerate(chart.categories):
        gx = x0 + _GROUP_GAP / 2 + i * (group_w + _GROUP_GAP)
        bx = gx + (group_w - bars_w) / 2
        for k, s in enumerate(chart.series):
            value = s.values[i] if i < len(s.values) else None
            if value is None or value <= 0:
                continue
            h = bar_height(value, top)
            tip = f"{category} · {s.name}: {chart.figure(value)}"
            out.append(f'<rect class="bar" x="{bx + k * (_BAR_W + _BAR_GAP):.1f}" '
                       f'y="{y0 - h:.1f}" width="{_BAR_W}" height="{h:.1f}" '
                       f'fill="{PALETTE[k % len(PALETTE)]}"><title>{_t(tip)}</title></rect>')
        shown = _fit(category, group_w + _GROUP_GAP - 2)
        out.append(f'<text x="{gx + group_w / 2:.1f}" y="{y0 + 16}" text-anchor="middle" '
                   f'fill="#333">{_t(shown)}'
                   + (f'<title>{_t(category)}</title>' if shown != category else '') + '</text>')
    out.append("</svg>")
    return "\n".join(out)
