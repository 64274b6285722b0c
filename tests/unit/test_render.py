"""The report PDF: embedded fonts, bilingual content of ISO/IEC 17025 7.8.2.1, page n of N."""

from __future__ import annotations

import datetime as dt

import pytest

from lims.reports.content import MethodLine, ReportContent, ResultLine, Signature
from lims.reports.render import render_report
from tests.support.pdf import pdffonts, pdftotext

T = dt.datetime(2026, 11, 20, 2, 30, tzinfo=dt.UTC)


def content(n_results: int = 1) -> ReportContent:
    return ReportContent(
        number="BG2026-000123", lab_name="省质量技术监督检验研究院", lab_name_en="Provincial Lab",
        lab_address="1 Metrology Road", customer_name="杭州示例 Co.", customer_contact="刘经理",
        customer_address="文三路 100 号", request_number="WT2026-000001",
        sample_number="YP2026-000009", sample_description="涤棉坯布 <fabric> & co",
        condition_on_receipt="完好 intact", received_at=T, tested_from=T,
        tested_to=T + dt.timedelta(days=2), issued_at=T + dt.timedelta(days=3),
        methods=(MethodLine("GB/T 4669-2008", "纺织品 单位面积质量", "方法 5"),),
        results=tuple(ResultLine("GB/T 4669-2008", f"项目 {i} −1 µm ±", "99.50 … 100.50 ℃",
                                 "100.00", "°C", "pass" if i % 2 == 0 else "fail", "EQ-1 Balance", 1)
                      for i in range(n_results)),
        signatures=(Signature("编制 Prepared by", "王技术", T), Signature("审核 Reviewed by", "李审核", T),
                    Signature("批准 Approved by", "张批准", T)),
        decision_rule="simple acceptance", verify_url="https://lims.example/verify/BG2026-000123",
        timezone="Asia/Shanghai")


def test_single_page_report(tmp_path, font_dir):
    pdf = render_report(content(), font_dir=font_dir)
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    fonts = pdffonts(path).splitlines()[2:]
    assert fonts and all(" yes " in line for line in fonts), fonts  # every font embedded
    text = pdftotext(path)
    for needle in ("检验检测报告", "TEST REPORT", "BG2026-000123", "省质量技术监督检验研究院",
                   "1 Metrology Road", "杭州示例 Co.", "刘经理", "GB/T 4669-2008", "方法 5",
                   "涤棉坯布 <fabric> & co", "完好 intact", "2026-11-20", "2026-11-20 — 2026-11-22",
                   "2026-11-23", "100.00 °C", "合格 Pass",
                   "−1 µm ±", "℃", "relate only to the items tested", "不得部分复制",
                   "王技术", "李审核", "张批准", "2026-11-20T10:30+08:00", "第 1 页 共 1 页",
                   "Page 1 of 1", "End of report", "以下空白",
                   "https://lims.example/verify/BG2026-000123"):
        assert needle in text, needle


def test_long_report_numbers_every_page_and_ends_once(tmp_path, font_dir):
    pdf = render_report(content(80), font_dir=font_dir)
    path = tmp_path / "long.pdf"
    path.write_bytes(pdf)
    pages = pdftotext(path).split("\f")
    pages = [p for p in pages if p.strip()]
    total = len(pages)
    assert total >= 3
    for i, page in enumerate(pages, start=1):
        assert f"Page {i} of {total}" in page and f"第 {i} 页 共 {total} 页" in page
        assert "BG2026-000123" in page
    assert "End of report" in pages[-1]
    assert all("End of report" not in p for p in pages[:-1])
    assert "不合格 Fail" in "".join(pages)


def test_many_methods_with_long_titles_paginate(tmp_path, font_dir):
    """A sample with many methods once raised reportlab's LayoutError and could never be issued."""
    import dataclasses

    many = tuple(MethodLine(f"GB/T {10000 + i}-2020", "纺织品 " + "很长的标题 long title " * 12,
                            f"条款 {i}") for i in range(60))
    pdf = render_report(dataclasses.replace(content(200), methods=many), font_dir=font_dir)
    path = tmp_path / "long.pdf"
    path.write_bytes(pdf)
    text = pdftotext(path)
    assert "GB/T 10059-2020" in text and "See the list below (60)" in text
    assert "*** 报告结束 End of report ***" in text


def particulars(c: ReportContent, **changes) -> ReportContent:
    import dataclasses

    return dataclasses.replace(c, **{
        "inspection_type": "监督抽查 Supervision spot check", "product_standard": "GB 18401-2010",
        "trademark": "好布牌", "model": "150 cm × 50 m", "batch": "2026-10-01 / P2610",
        "quantity": "3 件", "manufacturer": "杭州第一纺织厂",
        "customer_data": "样品名称与生产日期由委托方提供",
        "conclusion": "经检验，所检项目不符合 GB 18401-2010 要求。不合格项目：项目 1。/ The items "
                      "tested do not conform to GB 18401-2010. Nonconforming items: 项目 1.",
        **changes})


def _pages(pdf: bytes, tmp_path) -> list[str]:
    path = tmp_path / "p.pdf"
    path.write_bytes(pdf)
    return [p for p in pdftotext(path).split("\f") if p.strip()]


def _flat(pdf: bytes, tmp_path) -> str:
    """The text in reading order (cell by cell, not side by side) without any whitespace, so
    that a phrase wrapped in a narrow cell is still found."""
    import subprocess

    from tests.conftest import require_binary

    path = tmp_path / "flat.pdf"
    path.write_bytes(pdf)
    out = subprocess.run([require_binary("pdftotext"), str(path), "-"], capture_output=True,
                         text=True, check=True).stdout
    return "".join(out.split())


def _body(page: str) -> list[str]:
    """A page's lines without its running header and footer."""
    return [line for line in page.splitlines() if line.strip()
            and "Report No.: BG2026-000123" not in line and " Page " not in line]


def test_particulars_conclusion_and_notes_are_printed(tmp_path, font_dir):
    pdf = render_report(particulars(content(3)), font_dir=font_dir)
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    fonts = pdffonts(path).splitlines()[2:]
    assert fonts and all(" yes " in line for line in fonts), fonts  # the seal's too
    text = _flat(pdf, tmp_path)
    for needle in ("检验类别", "监督抽查 Supervision spot check", "判定依据", "GB 18401-2010",
                   "好布牌", "150 cm × 50 m", "2026-10-01 / P2610", "3 件", "杭州第一纺织厂",
                   "检验结论 Conclusion", "不合格项目：项目 1", "Nonconforming items",
                   "检验检测专用章",  # the vector seal's words, drawn in an embedded font
                   "Data supplied by the customer: 样品名称与生产日期由委托方提供",
                   "not responsible for information supplied by the customer"):
        assert "".join(needle.split()) in text, needle


def test_conditions_deviations_method_and_uncertainty_columns(tmp_path, font_dir):
    import dataclasses

    methods = (MethodLine("GB/T 4669-2008", "单位面积质量", "", conditions="温度 Temperature "
                          "20.5 ℃; 相对湿度 Relative humidity 65 %RH",
                          deviation="试样尺寸 50 mm instead of 100 mm"),
               MethodLine("GB/T 3923.1-2013", "断裂强力", ""))
    results = (ResultLine("GB/T 4669-2008", "单位面积质量", "≥ 100 g/m²", "101.3", "g/m²", "pass",
                          "", 1, uncertainty="U = 0.8 g/m² (k = 2)"),
               ResultLine("GB/T 3923.1-2013", "断裂强力", "≥ 300 N", "280", "N", "fail", "", 1))
    pdf = render_report(particulars(content(), methods=methods, results=results),
                        font_dir=font_dir)
    text = _flat(pdf, tmp_path)
    for needle in ("检验方法", "测量不确定度", "U = 0.8 g/m² (k = 2)", "GB/T 3923.1-2013",
                   "环境条件", "GB/T 4669-2008: 温度 Temperature 20.5 ℃; 相对湿度 Relative "
                   "humidity 65 %RH", "偏离 Deviations", "试样尺寸 50 mm instead of 100 mm"):
        assert "".join(needle.split()) in text, needle
    # One method and no uncertainty: neither column.
    plain = "\n".join(_pages(render_report(content(), font_dir=font_dir), tmp_path))
    assert "测量不确定度" not in plain and "检验方法" not in plain
    single = dataclasses.replace(content(), results=results[:1], methods=methods[:1])
    assert "测量不确定度" in "\n".join(_pages(render_report(single, font_dir=font_dir), tmp_path))


@pytest.mark.parametrize("n_results", [9, 13, 17, 50, 57])
def test_no_page_holds_only_the_qr_code(tmp_path, font_dir, n_results):
    """These result counts left the QR code (and the end marker) alone on the last page
    before the signatures, notes and code were kept together."""
    for c in (content(n_results), particulars(content(n_results))):
        pages = _pages(render_report(c, font_dir=font_dir), tmp_path)
        for page in pages:
            body = _body(page)
            assert body, page
            if "verify/BG2026-000123" in page:
                assert "Signatures" in page and "relate only to the items tested" in page
                assert any("项目" in line for line in body) or len(pages) == 1 or any(
                    "Decision rule" in line for line in body)


def test_every_page_has_content_for_any_result_count(tmp_path, font_dir):
    for n in range(1, 70, 3):
        for page in _pages(render_report(particulars(content(n)), font_dir=font_dir), tmp_path):
            assert "Signatures" in page or any("项目" in line for line in _body(page)), (n, page)


def test_seal_image_and_edge_slices(tmp_path, font_dir):
    """A configured PNG seal (with transparency) is stamped; with seal_edge every page of a
    multi-page report carries a slice of it at the right edge (骑缝章)."""
    import subprocess

    from PIL import Image, ImageDraw

    from tests.conftest import require_binary

    png = tmp_path / "seal.png"
    img = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    ImageDraw.Draw(img).ellipse((5, 5, 195, 195), outline=(220, 0, 0, 255), width=12)
    img.save(png)

    def images(pdf: bytes) -> tuple[int, list[list[str]]]:
        path = tmp_path / "sealed.pdf"
        path.write_bytes(pdf)
        listing = subprocess.run([require_binary("pdfimages"), "-list", str(path)],
                                 capture_output=True, text=True, check=True).stdout
        rows = [line.split() for line in listing.splitlines()[2:]]
        return len(_pages(pdf, tmp_path)), rows

    total, rows = images(render_report(particulars(content(60), seal_image=str(png),
                                                   seal_edge=True), font_dir=font_dir))
    stamped = [int(r[0]) for r in rows if r[2] == "image"]
    assert total >= 3
    # A slice on every page, and the stamp over the conclusion on the first.
    assert sorted(stamped) == sorted([*range(1, total + 1), 1])
    assert any(r[2] == "smask" for r in rows)  # the PNG's transparency is kept
    total, rows = images(render_report(particulars(content(60), seal_image=str(png)),
                                       font_dir=font_dir))
    assert [int(r[0]) for r in rows if r[2] == "image"] == [1]  # no LIMS_SEAL_EDGE: no slices


def test_old_snapshot_without_particulars_renders(tmp_path, font_dir):
    """A snapshot claimed before the particulars existed is read and rendered as it was."""
    import json

    data = json.loads(content(2).to_json())
    for key in ("inspection_type", "product_standard", "trademark", "model", "batch",
                "quantity", "manufacturer", "customer_data", "conclusion", "seal_image",
                "seal_edge"):
        del data[key]
    for m in data["methods"]:
        del m["conditions"], m["deviation"]
    old = ReportContent.from_json(json.dumps(data))
    assert old.conclusion == "" and old.methods[0].conditions == ""
    text = "\n".join(_pages(render_report(old, font_dir=font_dir), tmp_path))
    assert "检验结论" not in text and "2026-11-23" in text and "End of report" in text
