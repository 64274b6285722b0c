"""The certificate PDFs (JJF 1071 layout, ISO/IEC 17025 7.8.2.1 and 7.8.4.1): embedded fonts,
every required element present, page n of N on each page, the QR code with the signatures."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from lims.errors import ReportError
from lims.reports.certificate_content import (
    CALIBRATION_CERTIFICATE,
    VERIFICATION_CERTIFICATE,
    VERIFICATION_NOTICE,
    CertificateContent,
)
from lims.reports.certificate_render import render_certificate
from lims.reports.dcc_export import build_dcc
from tests.support.certificates import adjusted, sample_certificate
from tests.support.pdf import pdffonts, pdftotext


def render(tmp_path: Path, font_dir: Path, content: CertificateContent,
           dcc: bytes | None = None) -> list[str]:
    """The text of each page (pdftotext -layout), after checking every font is embedded."""
    path = tmp_path / f"{content.number}.pdf"
    path.write_bytes(render_certificate(content, font_dir=font_dir, dcc=dcc))
    fonts = pdffonts(path).splitlines()[2:]
    assert fonts and all(" yes " in line for line in fonts), fonts
    assert not any("Helvetica" in line for line in fonts), fonts
    pages = [p for p in pdftotext(path).split("\f") if p.strip()]
    total = len(pages)
    for i, page in enumerate(pages, start=1):
        assert f"第 {i} 页 共 {total} 页" in page and f"Page {i} of {total}" in page, page
        assert content.number in page
    end = [i for i, p in enumerate(pages) if "***" in p and "End of" in p]
    assert end == [total - 1], end  # the end marker once, on the last page
    return pages


def flat(pages: list[str]) -> str:
    return " ".join(" ".join(pages).split())


COMMON = (
    "省计量科学研究院", "Provincial Institute of Metrology", "杭州示例精密仪器有限公司",
    "文三路 100 号", "电子天平 Electronic balance", "梅特勒-托利多 Mettler-Toledo", "ME204E",
    "B812345678", "YQ2026-000017", "WT2026-000031", "2026-11-17", "2026-11-19", "2026-11-21",
    "本院力学实验室 Mass laboratory", "ZLJL2026-00173", "2027-03-04", "WD2026-1102",
    "traceable to the national measurement standards",
    "20.3 ℃", "45 %RH", "(101 ± 2) kPa", "王技术", "李核验", "张批准", "校准员 Calibrated by",
    "核验员 Checked by", "批准人 Approved by", "2026-11-20T14:30+08:00",
    "https://lims.example/verify/", "coverage probability of approximately 0.95",
    "不得部分复制", "以下空白",
)


def test_calibration_certificate(tmp_path, font_dir):
    content = sample_certificate(CALIBRATION_CERTIFICATE, n_points=3)
    text = flat(render(tmp_path, font_dir, content))
    for needle in (*COMMON, "校准证书", "CALIBRATION CERTIFICATE", "JZ2026-000042",
                   "JJF 1847-2020", "校准结果 Calibration results", "10.0000", "9.9996",
                   "-0.0004", "0.0012", "本证书校准结果仅对所校准的器具有效",
                   "The results relate only to the item calibrated", "End of certificate"):
        assert needle in text, needle
    for absent in ("复校", "Recalibration", "代替", "replaces", "调整前", "校准证书 *",
                   "accredited scope", "CMA", "Statement of conformity", "Conclusion", "DCC"):
        assert absent not in text, absent


def test_verification_certificate_shows_regulation_conclusion_validity_and_mpe(tmp_path,
                                                                               font_dir):
    content = sample_certificate(VERIFICATION_CERTIFICATE, n_points=4)
    text = flat(render(tmp_path, font_dir, content))
    for needle in (*COMMON, "检定证书", "VERIFICATION CERTIFICATE", "JJG 1036-2022",
                   "检定结论 Conclusion", "合格 Pass", "有效期至 Valid until 2027-11-18",
                   "±0.010", "MPE", "符合 JJG 1036-2022 Ⅰ级要求",
                   "判定规则 Decision rule", "relate only to the item verified",
                   "End of certificate"):
        assert needle in text, needle
    assert "不合格" not in text


def test_notice_lists_the_failing_points(tmp_path, font_dir):
    content = sample_certificate(VERIFICATION_NOTICE, n_points=5)
    text = flat(render(tmp_path, font_dir, content))
    for needle in ("检定结果通知书", "NOTICE OF VERIFICATION RESULT", "通知书编号 Notice No.",
                   "不合格 Fail", "Points that do not conform", "End of notice"):
        assert needle in text, needle
    failing = text[text.index("Points that do not conform"):text.index("All results")]
    assert "0.0150" in failing and "±0.010" in failing and "20" in failing
    assert "0.0004" not in failing  # the passing points are not listed as failing
    assert "2027-11-18" not in text and "Valid until 20" not in text  # a notice has no validity


def test_as_found_and_as_left_both_printed(tmp_path, font_dir):
    text = flat(render(tmp_path, font_dir, adjusted(sample_certificate(n_points=2))))
    assert text.index("调整前 As found") < text.index("调整后 As left")
    assert "0.0120" in text and "0.0013" in text


def test_optional_statements_when_set(tmp_path, font_dir):
    content = sample_certificate(
        supersedes="JZ2026-000041", amendment="更正型号 Model corrected",
        recalibration="建议 12 个月内复校 Recalibrate within 12 months (customer's request)",
        conformity_statement="符合 Conforms", decision_rule="简单接受 Simple acceptance",
        remarks=("砝码已清洁 Weights cleaned",), marks=("CMA", "CNAS"), outside_scope=True)
    dcc = build_dcc(content, software_version="1")
    digest = hashlib.sha256(dcc).hexdigest()
    pages = render(tmp_path, font_dir, content, dcc=dcc)
    text = flat(pages)
    for needle in ("本证书代替 JZ2026-000041", "This certificate replaces JZ2026-000041",
                   "更正型号 Model corrected", "Recalibrate within 12 months",
                   "Statement of conformity", "符合 Conforms", "简单接受 Simple acceptance",
                   "Weights cleaned", "校准证书 *", "校准结果 Calibration results *",
                   "* 不在认可/资质认定范围内 not within the accredited scope", "DCC, XML",
                   digest):
        assert needle in text, needle
    assert "CMA" in pages[0] and "CNAS" in pages[0]


@pytest.mark.parametrize("extra_lines", [0, 8, 14, 18, 22, 26])
def test_the_qr_code_stays_with_the_signatures(tmp_path, font_dir, extra_lines):
    """Whatever pushes the signature block down the cover, the verify text (beside the QR
    code) is on the page of the signatures: never a page with only the QR code."""
    base = sample_certificate()
    address = " ".join(f"地址第 {i} 行 address line {i}" for i in range(extra_lines))
    content = dataclasses.replace(
        base, customer=dataclasses.replace(base.customer, address=address),
        item=dataclasses.replace(base.item, condition_on_receipt="完好 intact " * 12 * extra_lines))
    pages = render(tmp_path, font_dir, content)
    (url_page,) = [i for i, p in enumerate(pages) if "lims.example/verify" in p]
    assert "张批准" in pages[url_page] and "签名 Signatures" in pages[url_page]


def test_twenty_points_and_long_tables_paginate(tmp_path, font_dir):
    content = adjusted(sample_certificate(VERIFICATION_NOTICE, n_points=40))
    pages = render(tmp_path, font_dir, content)
    assert len(pages) >= 3
    text = flat(pages)
    assert "400.0000" in text and "400.0146" not in text


def test_a_test_report_kind_is_not_a_certificate(font_dir):
    with pytest.raises(ReportError, match="not a certificate"):
        render_certificate(dataclasses.replace(sample_certificate(), kind="test_report"),
                           font_dir=font_dir)
