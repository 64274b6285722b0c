"""The calibration, nonconforming-work, scope and user pages in Chinese (issue 11 §1): headings,
labels, statuses and flashes come from the catalog, no English UI word is left on them, units
are shown as people write them (℃, not degC) and every input is labelled (§6)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from lims.db import utcnow
from tests.integration.test_calibration_work import standard
from tests.support.world import csrf, login

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
TODAY = utcnow().date().isoformat()


def _api(client: Any, token: str) -> Any:
    def call(method: str, path: str, json: Any = None, status: int | None = None) -> Any:
        resp = client.open(path, method=method, json=json,
                           headers={"Authorization": f"Bearer {token}"})
        if status is not None:
            assert resp.status_code == status, resp.get_data(as_text=True)
        return resp
    return call


def zh_page(client: Any, path: str) -> str:
    resp = client.get(path, headers=ZH)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    page: str = resp.get_data(as_text=True)
    assert '<html lang="zh-Hans">' in page
    return page


def main_text(page: str) -> str:
    """The text a reader sees in <main> (tags dropped), to look for English UI words."""
    main = page.split('<main id="main"', 1)[1].split("</main>", 1)[0]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main))


def assert_no_english(page: str, *words: str) -> None:
    text = main_text(page)
    leaked = [w for w in words if re.search(rf"\b{re.escape(w)}\b", text)]
    assert leaked == [], f"English UI words on a Chinese page: {leaked}"


class _Inputs(HTMLParser):
    """Every visible input, select and textarea, and whether a label names it: wrapped in a
    <label>, or pointed at by a <label for>."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.fields: list[tuple[str, str | None, bool]] = []
        self.label_for: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "label":
            self.depth += 1
            if a.get("for"):
                self.label_for.add(str(a["for"]))
        elif tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            self.fields.append((str(a.get("name")), a.get("id"),
                                self.depth > 0 or bool(a.get("aria-label"))))

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.depth -= 1


def unlabelled(page: str) -> list[str]:
    parser = _Inputs()
    parser.feed(page.split('<main id="main"', 1)[1])
    return [name for name, ident, wrapped in parser.fields
            if not wrapped and ident not in parser.label_for]


def _thermometer(client: Any, session: Any, world: Any) -> None:
    qm = _api(client, world.token(session, "qm"))
    qm("POST", "/api/v1/instruments", {
        "asset_number": "TH-1", "name": "Thermometer", "role": "working standard",
        "quantities": [{"quantity": "temperature", "unit": "degC", "range_min": "-10",
                        "range_max": "50"}]}, 201)
    qm("POST", "/api/v1/instruments/TH-1/calibrations", {
        "number": "T-21", "provider": {"name": "Prov", "kind": "accredited",
                                       "accreditation": "CNAS L1"},
        "calibrated_on": TODAY, "valid_until": "2099-12-31",
        "results": [{"quantity": "temperature", "nominal": "21.0", "value": "21.02",
                     "unit": "°C", "expanded_uncertainty": "0.05", "k": "2"}]}, 201)


def test_the_instrument_page_in_chinese_shows_celsius_as_written(client, session, world):
    _thermometer(client, session, world)
    login(client, "qm")
    page = zh_page(client, "/instruments/TH-1")
    for heading in ("登记信息", "测量参数", "现行校准", "校准历史", "期间核查"):
        assert f"<h2>{heading}</h2>" in page
    assert ">工作标准</td>" in page and ">获认可机构（ILAC MRA）</span>" in page
    assert "<legend>记录期间核查</legend>" in page and "标称值 <input" in page
    assert "21.02 ℃" in page and "-10 – 50 ℃" in page
    assert "degC" not in page and "°C" not in page and "degree_Celsius" not in page
    assert_no_english(page, "Register entry", "Calibration history", "Intermediate checks",
                      "Nominal", "Readings", "Valid until", "Record check", "as left",
                      "working standard", "accredited")
    assert unlabelled(page) == []

    # A check recorded from the form: the flash and the verdict are Chinese too.
    token = csrf(client, "/instruments/TH-1")
    resp = client.post("/instruments/TH-1/checks", headers=ZH, data={
        "csrf_token": token, "nominal": "21.0", "unit": "℃", "readings": "21.01 21.02",
        "limit": "0.1"})
    assert resp.status_code == 303
    page = zh_page(client, "/instruments/TH-1")
    assert "期间核查已记录：合格" in page
    assert '<td>21.0 ℃</td>' in page and '<span class="pass">合格</span>' in page
    assert "<figcaption>控制图：21.0 ℃</figcaption>" in page  # the chart too: its words, ℃
    assert "偏差（平均值 − 标称值） / ℃" in page and "1 次核查 · 0 次超限" in page
    english = client.get("/instruments/TH-1", headers={"Accept-Language": "en"})
    assert "<h2>Intermediate checks</h2>" in english.get_data(as_text=True)
    assert "21.0 ℃" in english.get_data(as_text=True)  # ℃ in either language


def test_the_impact_page_in_chinese(client, session, world):
    login(client, "qm")
    page = zh_page(client, f"/instruments/EQ-1/impact?from={TODAY}")
    assert "影响分析：" in page and "<h2>使用该仪器的校准</h2>" in page
    assert ">分析</button>" in page
    assert_no_english(page, "Impact analysis", "Summary", "Calibrations that used it",
                      "Customers to inform", "None")
    assert unlabelled(page) == []


def test_the_calibration_job_pages_in_chinese(client, session, world):
    from tests.functional.test_calibration_work_api import PROCEDURE

    standard(session, world, "STD-W1")
    qm = _api(client, world.token(session, "qm"))
    tech = _api(client, world.token(session, "tech"))
    proc = qm("POST", "/api/v1/procedures", PROCEDURE, 201).json
    job = tech("POST", "/api/v1/calibration-jobs", {
        "procedure_id": proc["id"], "customer_id": world.customer_id, "condition": "完好",
        "resolution": "0.0001",
        "item": {"name": "电子天平", "manufacturer": "Mettler", "model": "XPR205",
                 "serial_number": "C1"},
        "conditions": [{"name": "温度", "value": "20.1", "unit": "degC"}]}, 201).json
    login(client, "tech")
    page = zh_page(client, "/calibration-jobs")
    assert "<h1>客户计量器具的校准与检定</h1>" in page and "<legend>收检</legend>" in page
    assert "温度 (℃)" in page and ">检定</td>" in page and ">已接收</td>" in page
    assert_no_english(page, "Receive an instrument", "Customer", "Procedure", "Item name",
                      "verification", "received")
    assert unlabelled(page) == []

    page = zh_page(client, f"/calibration-jobs/{job['sample']}")
    assert "<h1>检定 " in page and "<h2>校准点</h2>" in page and "未测" in page
    assert "温度 20.1 ℃" in page and "<legend>录入读数</legend>" in page
    assert "签发时出具：" in page and "<strong>检定证书</strong>" in page
    assert_no_english(page, "Points", "not measured", "Enter readings", "Verification",
                      "Issuing gives", "Decision rule", "simple acceptance")
    assert unlabelled(page) == []

    token = csrf(client, f"/calibration-jobs/{job['sample']}")
    resp = client.post(f"/calibration-jobs/{job['sample']}/readings", headers=ZH, data={
        "csrf_token": token, "point_id": str(job["points"][0]["id"]), "state": "as left",
        "values": "100.0003 100.0003", "unit": "g"})
    assert resp.status_code == 303
    page = zh_page(client, f"/calibration-jobs/{job['sample']}")
    assert "已记录校准点 1 (100 g) 的读数（调整后）" in page
    assert 'conformity">合格</span>' in page


def test_nonconforming_work_pages_in_chinese(client, session, world):
    qm = _api(client, world.token(session, "qm"))
    case = qm("POST", "/api/v1/nonconformities", {
        "asset": "EQ-1", "from": TODAY, "description": "发现失准"}, 201).json
    login(client, "qm")
    page = zh_page(client, "/nonconformities")
    assert "<h1>不符合工作</h1>" in page and "<h2>开启案例</h2>" in page
    assert ">未关闭</span>" in page
    assert_no_english(page, "Nonconforming work", "Open a case", "Description", "open")
    assert unlabelled(page) == []
    page = zh_page(client, f"/nonconformities/{case['number']}")
    assert f"不符合工作 {case['number']}" in page and "受影响报告（0）" in page
    assert "所有报告评价后方可关闭" not in page and ">关闭案例</button>" in page
    assert_no_english(page, "Affected reports", "Letters to customers", "Close the case")
    token = csrf(client, f"/nonconformities/{case['number']}")
    resp = client.post(f"/nonconformities/{case['number']}/close", headers=ZH,
                       data={"csrf_token": token})
    assert resp.status_code == 303
    page = zh_page(client, f"/nonconformities/{case['number']}")
    assert f"案例 {case['number']} 已关闭" in page and ">已关闭</span>" in page


def test_scope_and_user_pages_in_chinese(client, session, world):
    login(client, "qm")
    page = zh_page(client, "/scope/")
    assert "<h1>资质认定/认可范围</h1>" in page and "<h2>新增范围项</h2>" in page
    assert "未记录资质证书" in page
    assert_no_english(page, "Accredited scope", "New scope item", "Category", "Method",
                      "No certificate recorded")
    assert unlabelled(page) == []

    login(client, "admin")
    page = zh_page(client, "/users")
    assert "<h1>用户</h1>" in page and "<legend>新建用户</legend>" in page
    assert "质量负责人" in page and "授权签字人" in page and ">在用<" in page
    assert_no_english(page, "Create a user", "Username", "Password", "quality_manager",
                      "active")
    assert unlabelled(page) == []
    page = zh_page(client, "/users/tech")
    assert "<legend>重置密码</legend>" in page and " 检测员</label>" in page
    assert_no_english(page, "Reset password", "New password", "End all sessions", "technician")
    assert unlabelled(page) == []
    token = csrf(client, "/users/tech")
    assert client.post("/users/tech/unlock", headers=ZH,
                       data={"csrf_token": token}).status_code == 303
    assert "tech 已解锁" in zh_page(client, "/users/tech")
    page = zh_page(client, "/tokens")
    assert "<h1>API 令牌</h1>" in page and ">创建令牌</button>" in page
    assert_no_english(page, "Create token", "Name", "Revoked")
    assert unlabelled(page) == []
