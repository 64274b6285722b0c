"""The dashboard's SVG bar charts: scale, empty data, escaping, accessibility."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from lims.work.charts import Chart, Series, axis, bar_chart, bar_height

NS = {"svg": "http://www.w3.org/2000/svg"}


def chart(values, *, categories=None, y_max=None, series_name="Registered", **kw):
    categories = categories or [f"c{i}" for i in range(len(values))]
    return Chart("chart-x", "Samples in", "per week", "Week", "Samples", categories,
                 [Series(series_name, values)], empty="No data", y_max=y_max, **kw)


def bars(svg: str) -> list[float]:
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    return [float(r.get("height")) for r in root.iterfind(".//svg:rect[@class='bar']", NS)]


@pytest.mark.parametrize(("largest", "integer", "top", "step"), [
    (0, True, 1, 1), (1, True, 1, 1), (3, True, 3, 1), (9, True, 10, 5), (20, True, 20, 5),
    (160, True, 200, 50), (0.3, False, 0.3, 0.1), (0.9, False, 1, 0.25), (7, False, 8, 2),
    (2.2, False, 3, 1)])
def test_the_axis_has_at_most_four_round_steps_up_to_the_largest_value(largest, integer, top,
                                                                        step):
    assert axis(largest, integer=integer) == pytest.approx((top, step))
    assert axis(largest, integer=integer)[0] >= largest


def test_counts_are_ticked_in_whole_numbers():
    svg = bar_chart(chart([1, 0]))
    ticks = re.findall(r'text-anchor="end" fill="#333">([^<]+)</text>', svg)
    assert ticks == ["0", "1"]
    ticks = re.findall(r'text-anchor="end" fill="#333">([^<]+)</text>',
                       bar_chart(chart([0.9], decimals=2)))
    assert ticks == ["0", "0.25", "0.5", "0.75", "1"]


def test_a_mean_of_zero_is_a_figure_and_a_count_of_zero_is_not():
    assert chart([0, None]).is_empty()
    assert not chart([0, None], zero_is_figure=True).is_empty()
    assert ">No data</text>" not in bar_chart(chart([0.0], decimals=1, zero_is_figure=True))


def test_bars_scale_linearly_from_zero():
    heights = bars(bar_chart(chart([10, 5, 20])))
    assert heights == [90.0, 45.0, 180.0]  # the top is 20: the plot is 180 high
    assert bar_height(5, 20) * 2 == bar_height(10, 20)
    assert bar_height(150, 100) == bar_height(100, 100)  # clipped at a fixed top
    assert bars(bar_chart(chart([50, 100], y_max=100.0))) == [90.0, 180.0]


def test_empty_data_draws_axes_and_says_so():
    for empty in (chart([]), chart([0, 0, None])):
        svg = bar_chart(empty)
        ET.fromstring(svg)  # noqa: S314 - well-formed, our own output
        assert bars(svg) == [] and ">No data</text>" in svg
    assert "No data" not in bar_chart(chart([1]))


def test_the_chart_is_accessible_and_escaped():
    svg = bar_chart(chart([3], categories=["<b>&"], series_name="A & B"))
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "chart-x-title chart-x-desc"
    assert root.find("svg:title", NS).text == "Samples in"
    assert root.find("svg:desc", NS).text == "per week"
    assert "&lt;b&gt;&amp;" in svg and "<b>" not in svg
    assert [t.text for t in root.iterfind(".//svg:rect/svg:title", NS)] == ["<b>& · A & B: 3"]


def test_several_series_get_a_legend_and_the_data_table_rows():
    c = Chart("flow", "In and out", "d", "Week", "Samples", ["11-02", "11-09"],
              [Series("Registered", [4, 2]), Series("Reported", [1, None])], decimals=0)
    svg = bar_chart(c)
    assert ">Registered</text>" in svg and ">Reported</text>" in svg
    assert len(bars(svg)) == 3  # no figure: no bar
    assert c.rows() == [("11-02", ["4", "1"]), ("11-09", ["2", "—"])]
    assert len(set(re.findall(r'fill="(#[0-9a-f]{6})"><title>', svg))) == 2
