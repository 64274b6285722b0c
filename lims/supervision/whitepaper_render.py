"""The white paper as a PDF: bilingual (Chinese first, English below), in the embedded Noto
Sans SC faces and the house style of reports (:mod:`lims.reports.render`), with its charts
drawn as vector graphics by ``reportlab.graphics`` (bar and line charts, no bitmaps), so
that they print sharp and their labels stay text.

Pure: it prints the :class:`~lims.supervision.whitepaper.Figures` it is given and reads
nothing else, so the numbers in the PDF are those of the figures JSON kept with it.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.graphics.widgets.markers import makeMarker
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from lims.reports.render import REGULAR, numbered_canvas, register_fonts, styles

if TYPE_CHECKING:
    from lims.supervision.whitepaper import Figures

WIDTH = 170 * mm
# The palette of the pages' charts (lims.work.charts): distinguishable for the common colour
# deficiencies, at least 3:1 against white (WCAG 1.4.11).
PALETTE = [colors.HexColor(c) for c in ("#0b5cad", "#1d7a36", "#9a6700", "#b3261e")]
GRID = TableStyle([("FONT", (0, 0), (-1, -1), REGULAR, 8),
                   ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                   ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                   ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                   ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                   ("ALIGN", (1, 1), (-1, -1), "RIGHT")])
TASKS = {"drawn": ("待抽样", "drawn, not yet sampled"), "sampled": ("已抽样", "sampled"),
         "refused": ("拒检", "refused"), "cancelled": ("取消", "cancelled")}
OBJECTIONS = {"received": ("待处理", "under consideration"),
              "accepted": ("受理并复检", "accepted, re-inspected"),
              "rejected": ("不予受理", "rejected"), "withdrawn": ("撤回", "withdrawn")}


def pct(value: float | None) -> str:
    """A rate as the API rounds it (two decimals), "—" without one."""
    return "—" if value is None else f"{value:.2f} %"


def interval(row: dict[str, Any]) -> str:
    i = row.get("interval")
    return "—" if i is None else f"{i[0]:.2f} – {i[1]:.2f} %"


def few(row: dict[str, Any]) -> bool:
    from lims.supervision.statistics import FEW

    judged = row["qualified"] + row["unqualified"]
    return bool(0 < judged < FEW)


def verdict(row: dict[str, Any]) -> tuple[str, str]:
    if row["target"] is None:
        return "—", ""
    if row["pass_rate"] is None:
        return "无判定", "no verdict"
    return ("未达标", "not met") if row["below_target"] else ("达标", "met")


class _Doc:
    """The story under construction, with the house paragraph styles."""

    def __init__(self) -> None:
        self.st = styles()
        self.en = ParagraphStyle("en", parent=self.st["base"], textColor=colors.HexColor("#444444"),
                                 fontSize=8.5, leading=11)
        self.h1 = ParagraphStyle("h1", parent=self.st["head"], fontSize=12, leading=16,
                                 spaceBefore=10)
        # Headers wrap between words, never inside an English one.
        self.header = ParagraphStyle("header", parent=self.st["label"], fontSize=6.5,
                                     leading=8.5, wordWrap=None)
        self.story: list[Flowable] = []

    def add(self, item: Flowable) -> None:
        self.story.append(item)

    def head(self, zh: str, en: str) -> None:
        self.add(CondPageBreak(50 * mm))
        self.add(Paragraph(f"{escape(zh)}　{escape(en)}", self.h1))

    def text(self, zh: str, en: str) -> None:
        """A sentence in Chinese and, below it, in English."""
        self.add(Paragraph(escape(zh), self.st["base"]))
        self.add(Paragraph(escape(en), self.en))
        self.add(Spacer(1, 1.5 * mm))

    def table(self, header: list[tuple[str, str]], rows: list[list[str]],
              widths: Sequence[float], text_cols: int = 1) -> None:
        """A grid whose first ``text_cols`` columns are text (wrapped, left) and the rest
        figures (right)."""
        cell = self.st["cell"]
        head = [Paragraph(f"{escape(zh)}<br/>{escape(en)}", self.header) for zh, en in header]
        body = [[Paragraph(escape(v), cell) if i < text_cols else v for i, v in enumerate(r)]
                for r in rows]
        self.add(Table([head, *body], colWidths=[w * mm for w in widths], repeatRows=1,
                       style=GRID))
        self.add(Spacer(1, 3 * mm))


def _name(row: dict[str, Any]) -> str:
    indent = "\u00a0" * 4 * int(row.get("depth", 0))  # no-break spaces: kept at line start
    return f"{indent}{row['name_zh']} {row['name_en']}"


def _count_row(row: dict[str, Any]) -> list[str]:
    return [_name(row), str(row["sampled"]), str(row["tested"]), str(row["qualified"]),
            str(row["unqualified"]), str(row["pending"]), pct(row["pass_rate"]),
            interval(row) if few(row) else ""]


COUNT_HEADER = [("名称", "Name"), ("抽样", "Sampled"), ("已检", "Tested"), ("合格", "Qualified"),
                ("不合格", "Unqualified"), ("待定", "Pending"), ("合格率", "Pass rate"),
                ("95 % 区间*", "95 % interval*")]
COUNT_WIDTHS = [52, 14, 14, 15, 17, 14, 19, 25]


def _at(widget: Any, x: float, y: float, width: float | None = None,
        height: float | None = None) -> None:
    """Place a chart or legend (points; reportlab's stubs want ints, it takes floats)."""
    widget.x, widget.y = x, y
    if width is not None:
        widget.width, widget.height = width, height


def _label(s: String) -> String:
    s.fontName = REGULAR
    s.fontSize = 7
    return s


def family_chart(families: list[dict[str, Any]]) -> Drawing:
    """Each family's pass rate beside its target (vertical bars, percent)."""
    drawing = Drawing(WIDTH, 62 * mm)
    chart = VerticalBarChart()
    _at(chart, 14 * mm, 12 * mm, WIDTH - 60 * mm, 44 * mm)
    chart.data = [[f["pass_rate"] or 0 for f in families],
                  [float(f["target"]) if f["target"] else 0 for f in families]]
    chart.categoryAxis.categoryNames = [f["name_zh"] for f in families]
    chart.categoryAxis.labels.fontName = REGULAR
    chart.categoryAxis.labels.fontSize = 7
    chart.valueAxis.valueMin, chart.valueAxis.valueMax, chart.valueAxis.valueStep = 0, 100, 20
    chart.valueAxis.labels.fontName = REGULAR
    chart.valueAxis.labels.fontSize = 7
    chart.bars[0].fillColor, chart.bars[1].fillColor = PALETTE[0], PALETTE[2]
    chart.barLabelFormat = "%.2f"
    chart.barLabels.fontName = REGULAR
    chart.barLabels.fontSize = 6
    chart.barLabels.nudge = 5
    drawing.add(chart)
    legend = Legend()
    _at(legend, WIDTH - 42 * mm, 50 * mm)
    legend.fontName, legend.fontSize = REGULAR, 7
    legend.colorNamePairs = [(PALETTE[0], "合格率 Pass rate (%)"), (PALETTE[2], "目标 Target (%)")]
    drawing.add(legend)
    return drawing


def rate_bars(rows: list[dict[str, Any]], title: str) -> Drawing:
    """Pass rates of ``rows`` as horizontal bars (percent), with the title above."""
    rows = [r for r in rows if r["pass_rate"] is not None][:16]
    height = max(30, 8 * len(rows) + 18) * mm * 0.8
    drawing = Drawing(WIDTH, height)
    drawing.add(_label(String(0, height - 4 * mm, title)))
    chart = HorizontalBarChart()
    _at(chart, 58 * mm, 8 * mm, WIDTH - 72 * mm, height - 16 * mm)
    # reportlab draws the first category at the bottom: reversed, the list reads top down.
    chart.data = [[r["pass_rate"] for r in reversed(rows)]]
    chart.categoryAxis.categoryNames = [f"{r['name_zh']} {r['name_en']}"[:28]
                                        for r in reversed(rows)]
    chart.categoryAxis.labels.fontName = REGULAR
    chart.categoryAxis.labels.fontSize = 6.5
    chart.valueAxis.valueMin, chart.valueAxis.valueMax, chart.valueAxis.valueStep = 0, 100, 20
    chart.valueAxis.labels.fontName = REGULAR
    chart.valueAxis.labels.fontSize = 7
    chart.bars[0].fillColor = PALETTE[0]
    chart.barLabelFormat = "%.2f"
    chart.barLabels.fontName = REGULAR
    chart.barLabels.fontSize = 6
    chart.barLabels.nudge = 9
    drawing.add(chart)
    return drawing


def trend_chart(trend: dict[str, list[dict[str, Any]]], names: dict[str, str]) -> Drawing:
    """Each family's pass rate over the years held (a line per family; a year without a
    judged sample is left out of its line)."""
    drawing = Drawing(WIDTH, 62 * mm)
    chart = HorizontalLineChart()
    _at(chart, 14 * mm, 12 * mm, WIDTH - 70 * mm, 44 * mm)
    # Only families with a rate in some year get a line (reportlab cannot draw an empty one).
    codes = [c for c in trend if any(p["pass_rate"] is not None for p in trend[c])]
    years = [p["year"] for p in trend[codes[0]]] if codes else []
    chart.data = [[p["pass_rate"] for p in trend[c]] for c in codes]
    rates = [v for series in chart.data for v in series if v is not None]
    # A line needs two points: with a single year (or gaps), each rate is a marker only.
    chart.joinedLines = all(None not in series for series in chart.data) and len(years) > 1
    low = min(rates) if rates else 0.0
    chart.valueAxis.valueMin = max(0, 5 * math.floor((low - 2) / 5))
    chart.valueAxis.valueMax = 100
    chart.valueAxis.labels.fontName = REGULAR
    chart.valueAxis.labels.fontSize = 7
    chart.categoryAxis.categoryNames = [str(y) for y in years]
    chart.categoryAxis.labels.fontName = REGULAR
    chart.categoryAxis.labels.fontSize = 7
    for i in range(len(codes)):
        colour = PALETTE[i % len(PALETTE)]
        chart.lines[i].symbol = makeMarker("FilledCircle", size=3,  # type: ignore[no-untyped-call]
                                           fillColor=colour)
        chart.lines[i].strokeColor = PALETTE[i % len(PALETTE)]
        chart.lines[i].strokeWidth = 1.2
    drawing.add(chart)
    legend = Legend()
    _at(legend, WIDTH - 52 * mm, 50 * mm)
    legend.fontName, legend.fontSize = REGULAR, 7
    legend.colorNamePairs = [(PALETTE[i % len(PALETTE)], names.get(c, c)[:30])
                             for i, c in enumerate(codes)]
    drawing.add(legend)
    return drawing


def summary(fig: Figures) -> list[tuple[str, str]]:
    """The executive summary: sentences made from the figures, each in Chinese and English."""
    y, total = fig.year, fig.rates["total"]
    if fig.empty:
        return [(f"{y} 年度本中心无监督抽查样品，本白皮书无合格率可报告。",
                 f"The centre took no supervision spot-check sample in {y}: this paper "
                 "has no pass rate to report.")]
    out = [(f"{y} 年度本中心承检监督抽查样品 {total['sampled']} 批次，已出具结论 {total['tested']} "
            f"批次，其中合格 {total['qualified']} 批次、不合格 {total['unqualified']} 批次，"
            f"总体合格率 {pct(total['pass_rate'])}。",
            f"In {y} the centre tested {total['sampled']} supervision spot-check samples; "
            f"{total['tested']} have a final conclusion: {total['qualified']} qualified, "
            f"{total['unqualified']} unqualified, an overall pass rate of "
            f"{pct(total['pass_rate'])}.")]
    for f in fig.rates["families"]:
        zh, en = verdict(f)
        if f["pass_rate"] is None:
            out.append((f"{f['name_zh']}：本年度无已判定样品（目标 ≥ {f['target']} %）。",
                        f"{f['name_en']}: no judged sample this year (target ≥ {f['target']} %)."))
            continue
        extra_zh = f"（样品较少，95 % 置信区间 {interval(f)}）" if few(f) else ""
        extra_en = f" (few samples: 95 % interval {interval(f)})" if few(f) else ""
        out.append((f"{f['name_zh']}合格率 {pct(f['pass_rate'])}{extra_zh}，目标 ≥ "
                    f"{f['target']} %，{zh}。",
                    f"{f['name_en']}: pass rate {pct(f['pass_rate'])}{extra_en} against a "
                    f"target of ≥ {f['target']} %: {en}."))
    if total["pending"]:
        out.append((f"另有 {total['pending']} 批次尚无最终结论，未计入合格率。",
                    f"A further {total['pending']} samples have no final conclusion yet and "
                    "are not in the rates."))
    items = fig.rates["unqualified_items"]
    if items:
        top = items[0]
        out.append((f"最常见的不合格项目为“{top['name']}”（{top['samples']} 批次）。",
                    f"The most frequent unqualified characteristic was “{top['name']}” "
                    f"({top['samples']} samples)."))
    a = fig.activity
    out.append((f"全年执行抽查计划 {len(a['plans'])} 项，抽取任务 {a['tasks_drawn']} 个，发出检验结果"
                f"通知书 {a['notices_issued']} 份，收到异议 {a['objections_received']} 件，复检 "
                f"{a['reinspections']} 批次，其中 {a['reinspections_overturned']} 批次改变了原检验结论。",
                f"Plans of the year: {len(a['plans'])}; tasks drawn: {a['tasks_drawn']}; "
                f"result notices issued: {a['notices_issued']}; objections received: "
                f"{a['objections_received']}; samples re-inspected: {a['reinspections']}, "
                f"of which {a['reinspections_overturned']} overturned the verdict."))
    return out


def render(fig: Figures, *, font_dir: Path) -> bytes:
    """The unsigned PDF of the white paper."""
    register_fonts(font_dir)
    d = _Doc()
    st = d.st
    y, rates = fig.year, fig.rates
    d.add(Spacer(1, 8 * mm))
    d.add(Paragraph(escape(f"{y} 年度产品质量状况白皮书"), st["title"]))
    d.add(Paragraph(escape(f"Annual Quality White Paper {y}"), st["subtitle"]))
    d.add(Spacer(1, 2 * mm))
    d.add(Paragraph(escape(f"{fig.lab_name} · {fig.lab_name_en}"), st["subtitle"]))
    d.add(Paragraph(escape(f"监督抽查 Supervision spot checks · 签发日期 Issued {fig.issued_on}"),
                    st["subtitle"]))
    d.add(Spacer(1, 6 * mm))

    d.head("一、摘要", "1. Executive summary")
    for zh, en in summary(fig):
        d.text(zh, en)

    d.head("二、目标产品类别合格率", "2. Pass rates of the target families")
    fams = rates["families"]
    d.table([("产品类别", "Family"), ("目标", "Target"), ("抽样", "Sampled"), ("已检", "Tested"),
             ("合格", "Qualified"), ("不合格", "Unqualified"), ("待定", "Pending"),
             ("合格率", "Pass rate"), ("95 % 区间*", "95 % interval*"), ("结论", "Verdict")],
            [[_name(f), f"≥ {f['target']} %" if f["target"] else "—", str(f["sampled"]),
              str(f["tested"]), str(f["qualified"]), str(f["unqualified"]), str(f["pending"]),
              pct(f["pass_rate"]), interval(f) if few(f) else "", " ".join(verdict(f))]
             for f in [*fams, {**rates["total"], "key": "", "name_zh": "合计", "name_en": "Total",
                               "target": None, "below_target": False}]],
            [34, 14, 13, 12, 14, 15, 13, 17, 22, 16])
    d.add(Paragraph(escape("* 判定样品少于 30 批次时给出 Wilson 95 % 置信区间。"
                           " * Shown where fewer than 30 samples were judged: the Wilson score "
                           "95 % interval."), st["small"]))
    if not fig.empty:
        d.add(family_chart(fams))

    d.head("三、历年趋势", "3. Trend over the years held")
    names = {f["key"]: f"{f['name_zh']} {f['name_en']}" for f in fams}
    years = sorted({p["year"] for series in fig.trend.values() for p in series})
    d.table([("产品类别", "Family"), *((str(v), "") for v in years)],
            [[names.get(code, code), *(pct(p["pass_rate"]) for p in series)]
             for code, series in fig.trend.items()],
            [50] + [min(24, 120 // max(1, len(years)))] * len(years))
    if any(p["pass_rate"] is not None for s in fig.trend.values() for p in s):
        d.add(trend_chart(fig.trend, names))

    d.head("四、按产品类别", "4. By product category")
    if rates["categories"]:
        d.table(COUNT_HEADER, [_count_row(r) for r in rates["categories"]], COUNT_WIDTHS)
        top = [r for r in rates["categories"] if r["depth"] <= 1]
        if any(r["pass_rate"] is not None for r in top):
            d.add(rate_bars(top, "按产品类别的合格率（%） Pass rate by category (%)"))
    else:
        d.text("本年度无样品。", "No sample this year.")

    d.head("五、按地区", "5. By region")
    if rates["regions"]:
        d.table(COUNT_HEADER, [_count_row(r) for r in rates["regions"]], COUNT_WIDTHS)
        top = [r for r in rates["regions"] if r["depth"] <= 1]
        if any(r["pass_rate"] is not None for r in top):
            d.add(rate_bars(top, "按地区的合格率（%） Pass rate by region (%)"))
    else:
        d.text("本年度无样品。", "No sample this year.")

    d.head("六、主要不合格项目", "6. Most frequent unqualified characteristics")
    items = rates["unqualified_items"]
    if items:
        d.table([("序号", "Rank"), ("检验项目", "Characteristic"), ("不合格批次", "Samples")],
                [[str(i), it["name"], str(it["samples"])] for i, it in enumerate(items, 1)],
                [18, 110, 42], text_cols=2)
    else:
        d.text("本年度无不合格项目。", "No unqualified characteristic this year.")

    d.head("七、监督抽查工作", "7. Supervision activity")
    a = fig.activity
    if a["plans"]:
        d.table([("计划编号", "Plan"), ("名称", "Title"), ("下达机关", "Authority"),
                 ("预算样品", "Budget (samples)"), ("状态", "Status")],
                [[p["number"], p["title"], p["authority"], str(p["budget_samples"]), p["status"]]
                 for p in a["plans"]], [30, 55, 45, 22, 18], text_cols=3)
    pairs = [(("抽查计划", "Plans"), len(a["plans"])),
             (("预算样品（批次）", "Budgeted samples"), a["budget_samples"]),
             (("抽取任务", "Tasks drawn"), a["tasks_drawn"]),
             *(((f"　其中{TASKS[k][0]}", f"  of which {TASKS[k][1]}"), n)
               for k, n in a["tasks"].items() if k in TASKS),
             (("抽样单", "Sampling records"), a["sampling_records"]),
             (("检验结果通知书", "Result notices issued"), a["notices_issued"]),
             (("　其中已送达", "  of which delivered"), a["notices_delivered"]),
             (("收到异议", "Objections received"), a["objections_received"]),
             *(((f"　其中{OBJECTIONS[k][0]}", f"  of which {OBJECTIONS[k][1]}"), n)
               for k, n in a["objections"].items() if k in OBJECTIONS),
             (("复检", "Re-inspections"), a["reinspections"]),
             (("　改变原结论", "  overturned the verdict"), a["reinspections_overturned"]),
             (("　维持原结论", "  upheld the verdict"), a["reinspections_upheld"]),
             (("　尚无结论", "  pending"), a["reinspections_pending"])]
    d.table([("项目", "Item"), ("数量", "Count")],
            [[f"{zh} {en}", str(n)] for (zh, en), n in pairs], [130, 40])

    d.head("八、计量能力", "8. Metrological capacity")
    c = fig.capacity
    d.table([("项目", "Item"), ("数量", "Count")], [[f"{zh} {en}", str(n)] for (zh, en), n in (
        (("维护的计量标准器（参考标准）", "Reference standards maintained"), c["reference_standards"]),
        (("维护的工作标准", "Working standards maintained"), c["working_standards"]),
        (("其中本年度已校准/检定", "Standards calibrated in the year"), c["standards_calibrated"]),
        (("出具校准证书（客户器具）", "Calibrations performed (customers' instruments)"),
         c["calibrations_performed"]),
        (("出具检定证书（客户器具）", "Verifications performed (customers' instruments)"),
         c["verifications_performed"]),
        (("本机构设备校准证书", "Calibration certificates of the lab's equipment"),
         c["own_calibrations_recorded"]),
        (("期间核查", "Intermediate checks performed"), c["intermediate_checks"]))],
        [130, 40])

    d.head("九、说明", "9. Notes")
    query = f"GET /api/v1/statistics/pass-rates?year={y}&inspection_type={fig.programme}"
    d.text("合格率按最终结论计算：复检结论为最终结论并替代原结论；合格率 = 合格 ÷（合格 + 不合格）；"
           "仅出具数据的样品计入已检但不判定；其余为待定。",
           "Pass rates count final conclusions: a re-inspection's conclusion is final and "
           "replaces the original's; pass rate = qualified ÷ (qualified + unqualified); "
           "samples reported with data only are tested but not judged; the rest are pending.")
    trend = (f"GET /api/v1/statistics/pass-rates/trend?to={y}"
             f"&inspection_type={fig.programme}")
    counts = f"GET /api/v1/statistics/supervision-activity?year={y}"
    d.text(f"本白皮书的数字均可由统计接口复现：合格率 {query}；历年趋势 {trend}；"
           f"监督抽查工作与计量能力 {counts}。样品按抽样日期计入年度（送样按登记日期）。",
           f"Every figure in this paper can be reproduced from the statistics API: the pass "
           f"rates {query}; the trend {trend}; the supervision activity and metrological "
           f"capacity {counts}. A sample counts in the year it was taken (a delivered one, "
           f"registered).")
    d.add(Spacer(1, 8 * mm))
    d.add(KeepTogether([
        Paragraph(escape(fig.lab_name), st["base"]),
        Paragraph(escape(fig.lab_name_en), st["base"]),
        Paragraph(escape(f"签发日期 Date of issue: {fig.issued_on}"), st["base"]),
        Paragraph(escape("本白皮书载有本机构的数字签名（PAdES），信任本机构证书的 PDF 阅读器均可验证。"
                         " This paper carries the laboratory's digital signature (PAdES); any "
                         "PDF reader that trusts the laboratory's certificate can verify it."),
                  st["small"])]))

    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm,
                            topMargin=20 * mm, bottomMargin=18 * mm,
                            title=f"{y} 年度产品质量状况白皮书 Annual Quality White Paper {y}",
                            author=fig.lab_name_en, creator="LIMS", initialFontName=REGULAR,
                            initialFontSize=9)
    doc.build(d.story, canvasmaker=numbered_canvas(f"白皮书 White paper {y}", fig.lab_name))
    return buf.getvalue()
