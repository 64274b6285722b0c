"""The statistics page's charts, drawn on the server as inline SVG: the target families' pass
rates as bars with their provincial targets marked, and their rates over the years held as
lines.

Pure: no Flask, no database, no script (as :mod:`lims.work.charts`). Labels arrive in the
reader's language; every text is escaped; each chart has a ``<title>`` and ``<desc>`` named by
``aria-labelledby`` and the page puts the same numbers in a table (WCAG 1.1.1). A bar below
its target is drawn red as well as flagged in words, never by colour alone (WCAG 1.4.1).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from lims.calibration.svg import FONT, _a, _fit, _ident, _t, _text_width
from lims.work.charts import PALETTE

_FS = 12
_TOP, _BOTTOM, _LEFT, _RIGHT = 34, 46, 50, 16
_PLOT_H = 200
_BELOW = "#b3261e"
_TARGET = "#333"


@dataclasses.dataclass(frozen=True)
class Bar:
    label: str
    rate: float | None          # percent; None: nothing judged (not drawn)
    target: float | None = None  # percent, marked across the bar


@dataclasses.dataclass(frozen=True)
class Line:
    name: str
    rates: Sequence[float | None]  # one per year
    target: float | None = None


def _open(ident: str, width: float, height: float, title: str, desc: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'aria-labelledby="{ident}-title {ident}-desc" font-family={_a(FONT)} '
        f'font-size="{_FS}">',
        f'<title id="{ident}-title">{_t(title)}</title>',
        f'<desc id="{ident}-desc">{_t(desc)}</desc>',
    ]


def _axis(out: list[str], low: float, width: float, y_label: str) -> None:
    """Gridlines and ticks of a percentage axis from ``low`` to 100."""
    x0, y0 = _LEFT, _TOP + _PLOT_H
    step = 10.0 if 100 - low > 20 else 5.0 if 100 - low > 10 else 2.0
    tick = low
    while tick <= 100 + 1e-9:
        y = _y(tick, low)
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{width - _RIGHT:.1f}" y2="{y:.1f}" '
                   f'stroke="{"#555" if tick == low else "#ddd"}" stroke-width="1"/>')
        out.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end" '
                   f'fill="#333">{tick:g}</text>')
        tick += step
    out.append(f'<line x1="{x0}" y1="{_TOP}" x2="{x0}" y2="{y0}" stroke="#555"/>')
    out.append(f'<text transform="translate(14 {_TOP + _PLOT_H / 2:.0f}) rotate(-90)" '
               f'text-anchor="middle" fill="#333">{_t(y_label)}</text>')


def _y(value: float, low: float) -> float:
    share = (min(100.0, max(low, value)) - low) / (100.0 - low)
    return _TOP + _PLOT_H - share * _PLOT_H


def rate_bars(ident: str, title: str, desc: str, bars: Sequence[Bar], *, y_label: str,
              target_label: str, empty: str) -> str:
    """Bars of pass rates from 0 % (a bar's length is its rate), each target a dashed mark."""
    ident = _ident(ident)
    label_w = min(140.0, max([_text_width(b.label) for b in bars] or [0]) + 8)
    slot = max(60.0, label_w)
    width = _LEFT + max(240.0, len(bars) * slot) + _RIGHT
    height = _TOP + _PLOT_H + _BOTTOM
    out = _open(ident, width, height, title, desc)
    _axis(out, 0.0, width, y_label)
    out.append(f'<line x1="{_LEFT}" y1="16" x2="{_LEFT + 22}" y2="16" stroke="{_TARGET}" '
               f'stroke-width="2" stroke-dasharray="4 2"/>')
    out.append(f'<text x="{_LEFT + 28}" y="20" fill="#333">{_t(target_label)}</text>')
    if not any(b.rate is not None for b in bars):
        out.append(f'<text class="empty" x="{_LEFT + (width - _LEFT) / 2:.0f}" '
                   f'y="{_TOP + _PLOT_H / 2:.0f}" text-anchor="middle" '
                   f'fill="#555">{_t(empty)}</text>')
    y0 = _TOP + _PLOT_H
    for i, b in enumerate(bars):
        gx = _LEFT + i * slot
        bx, bw = gx + slot / 2 - 14, 28.0
        below = b.rate is not None and b.target is not None and b.rate < b.target
        if b.rate is not None and b.rate > 0:
            y = _y(b.rate, 0.0)
            tip = f"{b.label}: {b.rate:.2f} %"
            out.append(f'<rect class="bar{" below" if below else ""}" x="{bx:.1f}" '
                       f'y="{y:.1f}" width="{bw:.0f}" height="{y0 - y:.1f}" '
                       f'fill="{_BELOW if below else PALETTE[0]}"><title>{_t(tip)}</title>'
                       f'</rect>')
            out.append(f'<text x="{gx + slot / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" '
                       f'fill="#333">{b.rate:.1f}</text>')
        if b.target is not None:
            ty = _y(b.target, 0.0)
            out.append(f'<line class="target" x1="{bx - 6:.1f}" y1="{ty:.1f}" '
                       f'x2="{bx + bw + 6:.1f}" y2="{ty:.1f}" stroke="{_TARGET}" '
                       f'stroke-width="2" stroke-dasharray="4 2"><title>'
                       f'{_t(f"{target_label}: {b.target:g} %")}</title></line>')
        shown = _fit(b.label, slot - 4)
        out.append(f'<text x="{gx + slot / 2:.1f}" y="{y0 + 16}" text-anchor="middle" '
                   f'fill="#333">{_t(shown)}'
                   + (f'<title>{_t(b.label)}</title>' if shown != b.label else "") + "</text>")
    out.append("</svg>")
    return "\n".join(out)


def trend_lines(ident: str, title: str, desc: str, years: Sequence[int],
                lines: Sequence[Line], *, y_label: str, empty: str) -> str:
    """A line per family over the years (a gap where a year judged nothing), its target a
    dashed line of the same colour; the axis starts below the lowest figure, not at 0, since
    rates of 90-100 % would otherwise be one flat line (the ticks say where it starts)."""
    ident = _ident(ident)
    figures = [v for ln in lines for v in (*ln.rates, ln.target) if v is not None]
    low = max(0.0, math.floor((min(figures, default=90.0) - 1) / 10) * 10)
    slot = 56.0
    width = _LEFT + max(240.0, len(years) * slot) + _RIGHT
    height = _TOP + _PLOT_H + _BOTTOM
    out = _open(ident, width, height, title, desc)
    _axis(out, low, width, y_label)
    x = float(_LEFT)
    for k, ln in enumerate(lines):  # the legend
        colour = PALETTE[k % len(PALETTE)]
        out.append(f'<rect x="{x:.1f}" y="8" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{x + 16:.1f}" y="18" fill="#333">{_t(ln.name)}</text>')
        x += 16 + _text_width(ln.name) + 18
    if not any(v is not None for ln in lines for v in ln.rates):
        out.append(f'<text class="empty" x="{_LEFT + (width - _LEFT) / 2:.0f}" '
                   f'y="{_TOP + _PLOT_H / 2:.0f}" text-anchor="middle" '
                   f'fill="#555">{_t(empty)}</text>')

    def px(i: int) -> float:
        return _LEFT + i * slot + slot / 2

    for k, ln in enumerate(lines):
        colour = PALETTE[k % len(PALETTE)]
        if ln.target is not None:
            ty = _y(ln.target, low)
            out.append(f'<line class="target" x1="{_LEFT}" y1="{ty:.1f}" '
                       f'x2="{width - _RIGHT:.1f}" y2="{ty:.1f}" stroke="{colour}" '
                       f'stroke-width="1" stroke-dasharray="5 3"/>')
        run: list[str] = []
        for i, v in enumerate([*ln.rates, None]):
            if v is None:
                if len(run) > 1:
                    out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                               f'points="{" ".join(run)}"/>')
                run = []
                continue
            run.append(f"{px(i):.1f},{_y(v, low):.1f}")
            out.append(f'<circle cx="{px(i):.1f}" cy="{_y(v, low):.1f}" r="3" '
                       f'fill="{colour}"><title>{_t(f"{ln.name} {years[i]}: {v:.2f} %")}'
                       f'</title></circle>')
    for i, year in enumerate(years):
        out.append(f'<text x="{px(i):.1f}" y="{_TOP + _PLOT_H + 16}" text-anchor="middle" '
                   f'fill="#333">{year}</text>')
    out.append("</svg>")
    return "\n".join(out)
