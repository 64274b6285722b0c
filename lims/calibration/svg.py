"""Inline SVG pictures for the calibration pages: a traceability chain and a control chart.

Pure: no Flask, no database. Each function takes the plain dicts the pages already have (a
chain's nodes as :func:`lims.calibration.chains.trace_result` returns them; intermediate checks
as rows) and returns one ``<svg>`` element as text. Every piece of text is escaped, so a
certificate number or provider name can hold ``<`` or ``&`` without breaking the page; the
output is well-formed XML, and carries a ``<title>`` and ``<desc>`` (named by ``aria-labelledby``)
for screen readers. Words come in the reader's language through ``tr`` (the page passes Flask-
Babel's ``gettext``; English without it): the module marks them with ``_`` for the catalog.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple
from xml.sax.saxutils import escape, quoteattr

from lims import units

Translate = Callable[..., str]


def _(message: str) -> str:
    """Marks a message for the catalog (``make translations``); ``tr`` translates it."""
    return message


def english(message: str, **values: object) -> str:
    """The ``tr`` of a caller without a catalog: the message as written, values filled in."""
    return message % values if values else message


ROOT_KINDS = ("nmi", "accredited")
FONT = "system-ui, 'Noto Sans CJK SC', 'Noto Sans SC', sans-serif"

# Box colours (fill, stroke) by state; the page's legend and the CSS use the same words.
COLOURS = {
    "root": ("#e3f4e8", "#1d7a36"),      # NMI or ILAC-MRA accredited: the chain ends well
    "link": ("#eaf1fa", "#0b5cad"),      # in-house: the chain continues through its standards
    "warning": ("#fff4d6", "#9a6700"),   # warnings, or a provider that is no root
    "invalid": ("#fbe7e6", "#b3261e"),   # no record in force on the day it was needed
}
STATE_LABELS = {"root": _("root (NMI / accredited)"), "link": _("in-house"),
                "warning": _("warning"), "invalid": _("not valid at use")}

# Chain layout (user units = px at 100 %).
_PAD, _BOX_W, _LINE, _GAP = 12, 380, 15, 46
_SIDE_X, _SIDE_W, _SIDE_H = 440, 170, 30
_FS = 12
_LEGEND_ROW = 18


def _text_width(text: str, size: float = _FS) -> float:
    """Rough rendered width: wide (CJK) characters take a full em, others about 0.58 em."""
    return sum(size if unicodedata.east_asian_width(ch) in "WF" else size * 0.58
               for ch in text)


def _fit(text: str, width: float, size: float = _FS) -> str:
    """Shorten ``text`` with an ellipsis so that it fits ``width``; the full text goes in a
    tooltip."""
    if _text_width(text, size) <= width:
        return text
    out = ""
    for ch in text:
        if _text_width(out + ch + "…", size) > width:
            break
        out += ch
    return out + "…"


def _ident(value: str) -> str:
    """An XML id from caller text (ids must be unique on the page: the caller chooses)."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "-", value) or "svg"
    return cleaned if cleaned[0].isalpha() else "s" + cleaned


def _t(value: object) -> str:
    return escape("" if value is None else str(value))


def _a(value: object) -> str:
    return quoteattr("" if value is None else str(value))


def _num(value: object) -> float | None:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return float(number) if number.is_finite() else None


def _svg_open(ident: str, width: float, height: float, title: str, desc: str,
              css_class: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class={_a(css_class)} role="img" '
        f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'aria-labelledby="{ident}-title {ident}-desc" font-family={_a(FONT)} '
        f'font-size="{_FS}">',
        f'<title id="{ident}-title">{_t(title)}</title>',
        f'<desc id="{ident}-desc">{_t(desc)}</desc>',
    ]


# --- the traceability chain ------------------------------------------------------------------

def node_state(node: Mapping[str, Any]) -> str:
    """``invalid``, ``warning``, ``root`` or ``link``: how a chain node is coloured."""
    if not node.get("certificate") or not node.get("valid_at_use"):
        return "invalid"
    if node.get("warnings"):
        return "warning"
    kind = node.get("provider_kind")
    if kind in ROOT_KINDS:
        return "root"
    return "link" if kind == "in-house" else "warning"


def _node_lines(node: Mapping[str, Any], tr: Translate = english) -> list[str]:
    role = node.get("role") or ""
    lines = [f"{node.get('asset', '?')}" + (f" · {tr(role)}" if role else "")]
    if node.get("certificate"):
        status = node.get("status")
        lines.append(tr(_("Certificate %(number)s"), number=node["certificate"])
                     + (f" ({tr(status)})" if status else ""))
        kind = node.get("provider_kind")
        lines.append(f"{node.get('provider') or '?'}" + (f" [{tr(kind)}]" if kind else ""))
        lines.append(f"{node.get('calibrated_on') or '—'} → {node.get('valid_until') or '—'}"
                     + ("  ✓ " + tr(_("valid at use")) if node.get("valid_at_use")
                        else "  ✗ " + tr(_("not valid at use"))))
    else:
        lines.append(tr(_("no calibration in force")))
        if node.get("needed_on"):
            lines.append(tr(_("needed on %(date)s"), date=node["needed_on"]))
    if node.get("expanded_uncertainty"):
        unit = units.display(node.get("unit"))
        k = node.get("k")
        lines.append(f"U = {node['expanded_uncertainty']} {unit}".rstrip()
                     + (f" (k = {k})" if k else ""))
    warnings = list(node.get("warnings") or [])
    if warnings:
        more = f" (+{len(warnings) - 1})" if len(warnings) > 1 else ""
        lines.append(f"⚠ {warnings[0]}{more}")
    return lines


def _node_tooltip(node: Mapping[str, Any]) -> str:
    keys = ("asset", "role", "certificate", "status", "provider", "provider_kind",
            "calibrated_on", "valid_until", "needed_on", "valid_at_use", "quantity",
            "expanded_uncertainty", "unit", "k")
    parts = [f"{k}: {node.get(k)}" for k in keys if node.get(k) not in (None, "")]
    parts += [f"warning: {w}" for w in node.get("warnings") or []]
    return "\n".join(parts)


def chain_svg(chain: Sequence[Mapping[str, Any]], *, complete: bool | None = None,
              reason: str | None = None, ident: str = "chain", title: str | None = None,
              tr: Translate = english) -> str:
    """Draw one traceability chain, bottom (the instrument used) to top (the root).

    :param chain: the ``chain`` nodes of :func:`lims.calibration.chains.trace_result`, the
        instrument that measured first.
    :param complete: when given, a closing mark is drawn above the top node: the national
        standard for a complete chain, the break (with ``reason``) for an incomplete one.
    :param ident: an id prefix unique on the page (for the title and the arrow marker).
    :param tr: translates a message of this module (``gettext``), with ``%(name)s`` values; a
        role, status or provider kind is passed to it as stored, to be shown by its label.
    """
    ident = _ident(ident)
    title = title or tr(_("Traceability chain"))
    nodes = list(chain)
    n = len(nodes)
    # Side boxes: the other standards of node i's calibration stand beside node i + 1.
    sides: dict[int, list[tuple[int, str]]] = {}
    for i, node in enumerate(nodes):
        for other in node.get("other_standards") or []:
            row = min(i + 1, n - 1)
            sides.setdefault(row, []).append((i, str(other)))
    heights = [max(len(_node_lines(node, tr)) * _LINE + 14,
                   len(sides.get(i, [])) * (_SIDE_H + 6) - 6) for i, node in enumerate(nodes)]
    cap = 34 if complete is not None or n == 0 else 0
    width = _SIDE_X + _SIDE_W + _PAD if sides else _PAD * 2 + _BOX_W
    # y of each node, top row = the last node (the root end of the chain).
    ys: dict[int, float] = {}
    y = _PAD + (cap + _GAP if cap and n else cap)
    for i in reversed(range(n)):
        ys[i] = y
        y += heights[i] + _GAP
    height: float = (y - _GAP + _PAD) if n else cap + 2 * _PAD
    legend_rows = 1 + max(row for _x, row, _s in _legend_items(width, tr)) if n else 0
    height += legend_rows * _LEGEND_ROW + (8 if n else 0)

    states = [node_state(node) for node in nodes]
    uncalibrated = tr(_("no calibration"))
    desc = (" ← ".join(f"{nd.get('asset')} ({nd.get('certificate') or uncalibrated}, "
                       f"{nd.get('provider') or '—'})" for nd in nodes)
            or tr(_("no chain: the result names no instrument")))
    if complete is not None:
        desc += ". " + (tr(_("Complete.")) if complete else tr(
            _("Incomplete: %(reason)s"), reason=reason or tr(_("see the table"))))
    out = _svg_open(ident, width, height, title, desc, "chain-svg")
    out.append(f'<defs><marker id="{ident}-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
               'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
               '<path d="M0,0 L10,5 L0,10 z" fill="#3d4f63"/></marker></defs>')
    cx = _PAD + _BOX_W / 2

    none = tr(_("no chain: %(reason)s"), reason=reason or tr(_("no instrument")))
    against = tr(_("calibrated against"))
    if n == 0:
        out.append(f'<rect x="{_PAD}" y="{_PAD}" width="{_BOX_W}" height="{cap}" rx="5" '
                   f'fill="{COLOURS["invalid"][0]}" stroke="{COLOURS["invalid"][1]}" '
                   'stroke-dasharray="5 3"/>')
        out.append(f'<text x="{_PAD + 10}" y="{_PAD + 21}">'
                   f'{_t(_fit(none, _BOX_W - 20))}'
                   '</text>')
    elif complete is not None:
        top = ys[n - 1]
        state = "root" if complete else "invalid"
        fill, stroke = COLOURS[state]
        label = (tr(_("national standard → SI")) if complete
                 else tr(_("chain broken: %(reason)s"), reason=reason or tr(_("incomplete"))))
        out.append(f'<g class="chain-cap {state}"><title>{_t(label)}</title>'
                   f'<rect x="{_PAD}" y="{_PAD}" width="{_BOX_W}" height="{cap}" rx="17" '
                   f'fill="{fill}" stroke="{stroke}"'
                   + ('' if complete else ' stroke-dasharray="5 3"') + '/>'
                   f'<text x="{cx}" y="{_PAD + 21}" text-anchor="middle" fill="{stroke}">'
                   f'{_t(_fit(label, _BOX_W - 24))}</text></g>')
        if complete:
            out.append(_arrow(cx, top, _PAD + cap, ident))
        else:
            out.append(f'<line x1="{cx}" y1="{top}" x2="{cx}" y2="{_PAD + cap}" '
                       f'stroke="{COLOURS["invalid"][1]}" stroke-dasharray="4 4"/>')

    for i, node in enumerate(nodes):
        y0 = ys[i]
        fill, stroke = COLOURS[states[i]]
        out.append(f'<g class="chain-node {states[i]}" data-asset={_a(node.get("asset"))}>'
                   f'<title>{_t(_node_tooltip(node))}</title>'
                   f'<rect x="{_PAD}" y="{y0}" width="{_BOX_W}" height="{heights[i]}" rx="5" '
                   f'fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>')
        for j, line in enumerate(_node_lines(node, tr)):
            weight = ' font-weight="bold"' if j == 0 else ""
            colour = f' fill="{COLOURS["warning"][1]}"' if line.startswith("⚠") else ""
            out.append(f'<text x="{_PAD + 10}" y="{y0 + 17 + j * _LINE}"{weight}{colour}>'
                       f'{_t(_fit(line, _BOX_W - 20))}</text>')
        out.append("</g>")
        if i + 1 < n:  # calibrated against the node above
            out.append(_arrow(cx, y0, ys[i + 1] + heights[i + 1], ident))
            out.append(f'<text x="{cx + 8}" y="{y0 - _GAP / 2 + 4}" fill="#3d4f63" '
                       f'font-size="11">{_t(against)}</text>')

    for row, items in sides.items():
        for k, (below, asset) in enumerate(items):
            sy = ys[row] + k * (_SIDE_H + 6)
            tip = tr(_("also used in the calibration of %(asset)s: %(other)s"),
                     asset=nodes[below].get("asset"), other=asset)
            also = tr(_("also used: %(asset)s"), asset=asset)
            out.append(f'<g class="chain-other" data-asset={_a(asset)}>'
                       f'<title>{_t(tip)}</title>'
                       f'<rect x="{_SIDE_X}" y="{sy}" width="{_SIDE_W}" height="{_SIDE_H}" '
                       'rx="4" fill="#f4f6f8" stroke="#8a99a8" stroke-dasharray="4 3"/>'
                       f'<text x="{_SIDE_X + 8}" y="{sy + 19}">'
                       f'{_t(_fit(also, _SIDE_W - 14))}'
                       '</text></g>')
            start_y = ys[below] + (0 if row != below else heights[below] / 2)
            out.append(f'<path d="M{_PAD + _BOX_W},{start_y + 4} L{_SIDE_X},{sy + _SIDE_H / 2}" '
                       f'fill="none" stroke="#8a99a8" stroke-dasharray="4 3" '
                       f'marker-end="url(#{ident}-arrow)"/>')

    if n:
        out.append(_legend(height - legend_rows * _LEGEND_ROW - 4, width, tr))
    out.append("</svg>")
    return "\n".join(out)


def _arrow(x: float, from_y: float, to_y: float, ident: str) -> str:
    return (f'<line x1="{x}" y1="{from_y}" x2="{x}" y2="{to_y + 1}" stroke="#3d4f63" '
            f'stroke-width="1.5" marker-end="url(#{ident}-arrow)"/>')


def _legend_items(width: float, tr: Translate = english) -> list[tuple[float, float, str]]:
    """Where each legend entry goes (x, row, state), wrapping to fit ``width``."""
    items, x, row = [], float(_PAD), 0.0
    for state, label in STATE_LABELS.items():
        w = 16 + _text_width(tr(label), 11) + 14
        if x > _PAD and x + w > width - _PAD:
            x, row = float(_PAD), row + 1
        items.append((x, row, state))
        x += w
    return items


def _legend(y: float, width: float, tr: Translate = english) -> str:
    parts = ['<g class="legend" font-size="11">']
    for x, row, state in _legend_items(width, tr):
        fill, stroke = COLOURS[state]
        yy = y + row * _LEGEND_ROW
        parts.append(f'<rect x="{x:.0f}" y="{yy}" width="12" height="12" fill="{fill}" '
                     f'stroke="{stroke}"/><text x="{x + 16:.0f}" y="{yy + 10}">'
                     f'{_t(tr(STATE_LABELS[state]))}</text>')
    parts.append("</g>")
    return "".join(parts)


# --- the control chart of intermediate checks ------------------------------------------------

def _when(value: object) -> tuple[float | None, str]:
    """A check's moment as a sortable number and a date label."""
    if isinstance(value, dt.datetime):
        return value.timestamp(), value.strftime("%Y-%m-%d")
    if isinstance(value, dt.date):
        return float(value.toordinal() * 86400), value.isoformat()
    text = "" if value is None else str(value)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None, text[:10]
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp(), text[:10]


class _Point(NamedTuple):
    """One plotted check: its deviation and limit as numbers, when, and the row it came from."""

    dev: float
    lim: float | None
    when: float | None
    label: str
    out: bool
    src: Mapping[str, Any]


def control_chart_svg(checks: Sequence[Mapping[str, Any]], *, unit: str = "",
                      ident: str = "control-chart",
                      title: str | None = None, width: int = 640, height: int = 230,
                      tr: Translate = english) -> str:
    """Plot the deviation (mean − nominal) of each check over time against its ±limit.

    :param checks: rows with ``checked_at`` (datetime, date or ISO text), ``deviation`` and
        ``limit`` (decimal text); ``result``, ``nominal`` and ``mean`` show in the tooltips.
        A point whose |deviation| exceeds its limit, or whose result is ``fail``, is red.
    """
    ident = _ident(ident)
    title = title or tr(_("Intermediate-check control chart"))
    rows: list[_Point] = []
    for c in checks:
        dev, lim = _num(c.get("deviation")), _num(c.get("limit"))
        when, label = _when(c.get("checked_at"))
        if dev is None:
            continue
        lim = abs(lim) if lim is not None else None
        out_of = (lim is not None and abs(dev) > lim) or c.get("result") == "fail"
        rows.append(_Point(dev=dev, lim=lim, when=when, label=label, out=out_of, src=c))
    rows.sort(key=lambda r: (r.when is None, r.when or 0.0))
    fails = sum(r.out for r in rows)
    desc = (tr(_("%(n)s checks, %(fails)s outside the limit"), n=len(rows), fails=fails)
            + (tr(_("; deviation in %(unit)s"), unit=unit) if unit else "") if rows
            else tr(_("no intermediate checks")))
    out = _svg_open(ident, width, height, title, desc, "control-chart")
    axis = tr(_("Deviation (mean − nominal)")) + (f" / {unit}" if unit else "")
    empty = tr(_("no checks"))
    summary = tr(_("%(n)s checks · %(fails)s outside ±limit"), n=len(rows), fails=fails)
    left, right, top, bottom = 64, 14, 26, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    out.append(f'<text x="{left}" y="16" font-weight="bold">'
               f'{_t(axis)}'
               '</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fff" '
               'stroke="#d5dde6"/>')
    if not rows:
        out.append(f'<text x="{left + plot_w / 2}" y="{top + plot_h / 2}" text-anchor="middle" '
                   f'fill="#5b6b7c">{_t(empty)}</text></svg>')
        return "\n".join(out)

    span = max([abs(r.dev) for r in rows] + [r.lim or 0.0 for r in rows]) * 1.2 or 1.0

    def py(v: float) -> float:
        return top + plot_h / 2 - v / span * (plot_h / 2)

    times = [r.when for r in rows if r.when is not None]
    t0, t1 = (min(times), max(times)) if times else (0.0, 0.0)
    by_time = len(times) == len(rows) and t1 > t0
    pad_x = 14

    def px(i: int) -> float:
        when = rows[i].when
        if by_time and when is not None:
            return left + pad_x + (when - t0) / (t1 - t0) * (plot_w - 2 * pad_x)
        if len(rows) == 1:
            return left + plot_w / 2
        return left + pad_x + i / (len(rows) - 1) * (plot_w - 2 * pad_x)

    xs = [px(i) for i in range(len(rows))]
    # The zero line and the ±limit lines, stepped where a check's limit changes.
    out.append(f'<line x1="{left}" y1="{py(0):.1f}" x2="{left + plot_w}" y2="{py(0):.1f}" '
               'stroke="#8a99a8"/>')
    for sign in (1, -1):
        pts: list[str] = []
        last: float | None = None
        for i, r in enumerate(rows):
            if r.lim is None:
                continue
            x_start = left if not pts else (xs[i - 1] + xs[i]) / 2
            if last is not None and last != r.lim:
                pts.append(f"{x_start:.1f},{py(sign * last):.1f}")
            pts.append(f"{x_start:.1f},{py(sign * r.lim):.1f}")
            last = r.lim
        if last is not None:
            pts.append(f"{left + plot_w:.1f},{py(sign * last):.1f}")
            out.append(f'<polyline class="limit" points="{" ".join(pts)}" fill="none" '
                       'stroke="#b3261e" stroke-dasharray="6 4"/>')
    limits = sorted({r.lim for r in rows if r.lim is not None})
    ticks = [0.0] + [v for lim in limits[-1:] for v in (lim, -lim)]
    for v in ticks:
        label = "0" if v == 0 else f"{'+' if v > 0 else '−'}{_fmt(abs(v))}"
        out.append(f'<text x="{left - 6}" y="{py(v) + 4:.1f}" text-anchor="end" '
                   f'font-size="11" fill="#5b6b7c">{_t(label)}</text>')
    line = " ".join(f"{x:.1f},{py(r.dev):.1f}" for x, r in zip(xs, rows, strict=True))
    out.append(f'<polyline class="trend" points="{line}" fill="none" stroke="#0b5cad"/>')
    for x, r in zip(xs, rows, strict=True):
        c = r.src
        colour = "#b3261e" if r.out else "#1d7a36"
        tip = (f"{r.label}: " + tr(_("deviation %(value)s"), value=c.get("deviation"))
               + (f" {unit}" if unit else "")
               + (", " + tr(_("limit ±%(limit)s"), limit=c.get("limit"))
                  if c.get("limit") is not None else "")
               + (", " + tr(_("mean %(mean)s of nominal %(nominal)s"), mean=c.get("mean"),
                            nominal=c.get("nominal")) if c.get("mean") is not None else "")
               + " — " + (tr(_("OUTSIDE the limit")) if r.out else tr(_("within the limit"))))
        out.append(f'<circle class="{"out" if r.out else "in"}" cx="{x:.1f}" '
                   f'cy="{py(r.dev):.1f}" r="{5 if r.out else 4}" fill="{colour}" '
                   f'stroke="#fff"><title>{_t(tip)}</title></circle>')
    labels = [(xs[0], rows[0].label, "start")]
    if len(rows) > 1 and rows[-1].label != rows[0].label:
        labels.append((xs[-1], rows[-1].label, "end"))
    for x, label, anchor in labels:
        out.append(f'<text x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="{anchor}" '
                   f'font-size="11" fill="#5b6b7c">{_t(label)}</text>')
    out.append(f'<text x="{left + plot_w}" y="{height - 6}" text-anchor="end" font-size="11" '
               f'fill="#5b6b7c">'
               f'{_t(summary)}'
               '</text>')
    out.append("</svg>")
    return "\n".join(out)


def _fmt(value: float) -> str:
    return format(Decimal(repr(value)).normalize(), "f")
