"""The report PDF: embedded fonts, bilingual content of ISO/IEC 17025 7.8.2.1, page n of N."""

from __future__ import annotations

import datetime as dt

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
