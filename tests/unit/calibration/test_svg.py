"""The chain and control-chart pictures: well-formed, accessible, escaped, coloured by state."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from lims.calibration.svg import COLOURS, chain_svg, control_chart_svg, node_state

NS = {"s": "http://www.w3.org/2000/svg"}


def node(asset: str, **kw: Any) -> dict[str, Any]:
    base = {"asset": asset, "role": "test equipment", "certificate": f"C-{asset}",
            "provider": "Our lab", "provider_kind": "in-house", "calibrated_on": "2026-01-10",
            "valid_until": "2027-01-09", "valid_at_use": True, "expanded_uncertainty": "0.5",
            "unit": "mg", "k": "2", "warnings": [], "other_standards": [], "record_id": 1,
            "status": "valid", "needed_on": "2026-03-01", "quantity": "mass"}
    return base | kw


CHAIN = [node("EQ-1", other_standards=["TH-9"]),
         node("MS-1", role="reference standard", provider="NIM", provider_kind="nmi",
              expanded_uncertainty="0.05")]


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def texts(root: ET.Element) -> str:
    return " ".join("".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text"))


def test_chain_is_well_formed_and_accessible():
    root = parse(chain_svg(CHAIN, complete=True, ident="chain-7"))
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "chain-7-title chain-7-desc"
    assert root.find("s:title", NS).get("id") == "chain-7-title"
    desc = root.find("s:desc", NS).text
    assert "EQ-1" in desc and "MS-1" in desc and "Complete" in desc


def test_chain_draws_a_box_per_node_root_on_top_and_arrows_upward():
    root = parse(chain_svg(CHAIN))
    groups = {g.get("data-asset"): g for g in root.iter("{http://www.w3.org/2000/svg}g")
              if "chain-node" in (g.get("class") or "")}
    assert set(groups) == {"EQ-1", "MS-1"}
    y = {a: float(g.find("s:rect", NS).get("y")) for a, g in groups.items()}
    assert y["MS-1"] < y["EQ-1"]  # the root is drawn above what it calibrated
    arrows = [ln for ln in root.iter("{http://www.w3.org/2000/svg}line")
              if ln.get("marker-end")]
    assert any(float(ln.get("y2")) < float(ln.get("y1")) for ln in arrows)
    assert "calibrated against" in texts(root)
    assert "C-EQ-1" in texts(root) and "NIM" in texts(root)


def test_other_standards_get_side_boxes():
    root = parse(chain_svg(CHAIN))
    others = [g.get("data-asset") for g in root.iter("{http://www.w3.org/2000/svg}g")
              if g.get("class") == "chain-other"]
    assert others == ["TH-9"]


@pytest.mark.parametrize(("kw", "state"), [
    ({"provider_kind": "nmi"}, "root"),
    ({"provider_kind": "accredited"}, "root"),
    ({"provider_kind": "in-house"}, "link"),
    ({"provider_kind": "other"}, "warning"),
    ({"provider_kind": "nmi", "warnings": ["test uncertainty ratio 2.0:1 is below 4:1"]},
     "warning"),
    ({"valid_at_use": False}, "invalid"),
    ({"certificate": None, "valid_at_use": False}, "invalid"),
])
def test_node_colours(kw, state):
    n = node("X", **kw)
    assert node_state(n) == state
    root = parse(chain_svg([n]))
    rect = next(g for g in root.iter("{http://www.w3.org/2000/svg}g")
                if "chain-node" in (g.get("class") or "")).find("s:rect", NS)
    assert (rect.get("fill"), rect.get("stroke")) == COLOURS[state]


def test_text_is_escaped():
    evil = node("<EQ&1>", certificate='C"<script>alert(1)</script>', provider="A & B <Ltd>",
                warnings=["</text><bad/>"], other_standards=["O&<"])
    svg = chain_svg([evil], complete=False, reason="<why & how>", ident='x" onload="y')
    root = parse(svg)
    assert "<script>" not in svg and "<bad/>" not in svg
    assert "A & B <Ltd>" in texts(root)
    assert 'onload="y"' not in svg


def test_incomplete_and_empty_chains():
    root = parse(chain_svg([node("EQ-1", provider_kind="other")], complete=False,
                           reason="Acme is neither an NMI nor accredited"))
    assert "chain broken" in texts(root)
    root = parse(chain_svg([], complete=False, reason="typed without an instrument"))
    assert "typed without an instrument" in texts(root)
    assert "no chain" in root.find("s:desc", NS).text


def test_long_text_is_shortened_but_kept_in_the_tooltip():
    long = "A very long provider name " * 10
    root = parse(chain_svg([node("EQ-1", provider=long)]))
    assert long.strip() not in texts(root) and "…" in texts(root)
    group = next(g for g in root.iter("{http://www.w3.org/2000/svg}g")
                 if "chain-node" in (g.get("class") or ""))
    assert long.strip() in group.find("s:title", NS).text


def checks(*devs: str, limit: str = "0.5") -> list[dict[str, Any]]:
    start = dt.datetime(2026, 1, 1, 9, tzinfo=dt.UTC)
    return [{"checked_at": start + dt.timedelta(days=7 * i), "deviation": d, "limit": limit,
             "result": "pass" if abs(float(d)) <= float(limit) else "fail", "mean": "100.0",
             "nominal": "100"} for i, d in enumerate(devs)]


def test_control_chart_marks_points_outside_in_red():
    root = parse(control_chart_svg(checks("0.1", "-0.2", "0.9", "-0.6"), unit="mg"))
    circles = list(root.iter("{http://www.w3.org/2000/svg}circle"))
    assert [c.get("class") for c in circles] == ["in", "in", "out", "out"]
    assert {c.get("fill") for c in circles if c.get("class") == "out"} == {"#b3261e"}
    assert "2 outside" in root.find("s:desc", NS).text
    assert root.get("role") == "img" and root.find("s:title", NS) is not None


def test_control_chart_limit_lines_and_time_axis():
    root = parse(control_chart_svg(checks("0.1", "0.2", "0.3")))
    limits = [p for p in root.iter("{http://www.w3.org/2000/svg}polyline")
              if p.get("class") == "limit"]
    assert len(limits) == 2  # +limit and −limit
    ys = [{float(pt.split(",")[1]) for pt in p.get("points").split()} for p in limits]
    assert all(len(y) == 1 for y in ys)  # one limit throughout: flat lines
    cx = [float(c.get("cx")) for c in root.iter("{http://www.w3.org/2000/svg}circle")]
    assert cx == sorted(cx)
    assert "2026-01-01" in texts(root) and "2026-01-15" in texts(root)
    assert "+0.5" in texts(root) and "−0.5" in texts(root)


def test_control_chart_points_above_zero_are_drawn_higher():
    root = parse(control_chart_svg(checks("0.4", "-0.4")))
    up, down = (float(c.get("cy")) for c in root.iter("{http://www.w3.org/2000/svg}circle"))
    assert up < down


def test_control_chart_sorts_by_time_and_accepts_text_dates():
    rows = [{"checked_at": "2026-02-01T10:00:00+08:00", "deviation": "0.3", "limit": "0.2"},
            {"checked_at": "2026-01-01T10:00:00+08:00", "deviation": "0.1", "limit": "0.2"}]
    root = parse(control_chart_svg(rows))
    first, second = root.iter("{http://www.w3.org/2000/svg}circle")
    assert float(first.get("cx")) < float(second.get("cx"))
    assert (first.get("class"), second.get("class")) == ("in", "out")


def test_control_chart_empty_and_escaped():
    root = parse(control_chart_svg([], unit="<g>"))
    assert "no checks" in texts(root)
    root = parse(control_chart_svg(checks("0.1"), unit="<&>", title="a < b"))
    assert root.find("s:title", NS).text == "a < b"
    assert "<&>" in texts(root)


def _chinese(message: str, **values: Any) -> str:
    from pathlib import Path

    from babel.support import Translations

    catalog = Translations.load(str(Path(__file__).resolve().parents[3] / "lims" / "translations"),
                                ["zh_CN"])
    text = catalog.gettext(message)
    return text % values if values else text


def test_the_drawings_speak_the_readers_language():
    """Every word drawn goes through ``tr`` (the page passes gettext): with the zh catalog
    the chain and the chart read in Chinese, with no English word of the module left."""
    chain = texts(parse(chain_svg(CHAIN, complete=False, reason=None, tr=_chinese)))
    assert "校准溯源于" in chain and "使用时有效" in chain and "也使用：TH-9" in chain
    assert "断链：不完整" in chain and "证书 C-EQ-1" in chain
    for english in ("calibrated against", "valid at use", "also used", "chain broken",
                    "Certificate", "root", "warning"):
        assert english not in chain, english
    rows = [{"checked_at": "2026-02-01T10:00:00+08:00", "deviation": "0.3", "limit": "0.2"}]
    chart = texts(parse(control_chart_svg(rows, unit="℃", tr=_chinese)))
    assert "偏差（平均值 − 标称值） / ℃" in chart and "1 次核查 · 1 次超限" in chart
    assert "no checks" not in texts(parse(control_chart_svg([], tr=_chinese)))
