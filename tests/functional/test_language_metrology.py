"""Refusals of the kinds registry and the metrology services in the reader's language (issue 11
§1): the method form and the command line in Chinese; the JSON API and logs stay English."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import select

from lims.cli import main
from lims.samples.models import TestMethod
from tests.support.world import csrf, login

BUDGETS = Path(__file__).resolve().parents[1] / "data" / "budgets"
ZH = {"Accept-Language": "zh-CN"}
METHODS = {"Referer": "http://localhost/methods"}


def _method(token: str, code: str, **row: str) -> dict[str, Any]:
    blank = {"kind": "", "unit": "", "lower_limit": "", "upper_limit": "", "lod": "", "loq": "",
             "expected": ""}
    return {"csrf_token": token, "code": code, "title": "t", "field": "textiles",
            "name": ["样品特性"], **{key: [value] for key, value in {**blank, **row}.items()}}


def test_the_method_form_refuses_a_unit_of_no_kind_in_chinese(client: Any, session: Any,
                                                               world: Any) -> None:
    login(client, "qm")
    token = csrf(client, "/methods")
    resp = client.post("/methods", headers={**METHODS, **ZH},
                       data=_method(token, "ZH 1-2026", unit="K", upper_limit="80"))
    assert resp.status_code == 303
    page = client.get("/methods", headers=ZH).get_data(as_text=True)
    # The kinds registry's refusal, translated, with both kinds it could be named in Chinese.
    assert "单位 &#39;K&#39; 不能确定所测的量：请给出量的种类（温度或温差）" in page, \
        page.split("<main", 1)[1][:800]
    assert "temperature_difference" not in page.split("<main", 1)[1].split("<form", 1)[0]
    assert "does not say what it measures" not in page
    session.rollback()
    assert session.scalar(select(TestMethod).where(TestMethod.code == "ZH 1-2026")) is None


def test_a_limit_outside_the_kinds_domain_is_refused_in_chinese(client: Any, session: Any,
                                                                 world: Any) -> None:
    login(client, "qm")
    token = csrf(client, "/methods")
    client.post("/methods", headers={**METHODS, **ZH},
                data=_method(token, "ZH 2-2026", unit="mg/kg", upper_limit="75", lod="0"))
    page = client.get("/methods", headers=ZH).get_data(as_text=True)
    assert "检出限必须大于零" in page, page.split("<main", 1)[1][:800]
    # The same refusal in English for a reader who asks for it.
    client.post("/methods", headers={**METHODS, "Accept-Language": "en"},
                data=_method(token, "ZH 2-2026", unit="mg/kg", upper_limit="75", lod="0"))
    page = client.get("/methods", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "a limit of detection is above zero" in page
    session.rollback()
    assert session.scalar(select(TestMethod).where(TestMethod.code == "ZH 2-2026")) is None


def test_the_api_keeps_english_refusals_for_a_chinese_reader(client: Any, world: Any) -> None:
    login(client, "qm")
    resp = client.post("/api/v1/methods", json={
        "code": "ZH 3-2026", "title": "t", "field": "textiles",
        "characteristics": [{"name": "温升", "unit": "K", "upper_limit": "80"}]},
        headers={**ZH, "X-CSRFToken": csrf(client, "/methods")})
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["field"] == "characteristics[0].kind"
    assert error["message"] == ("unit 'K' does not say what it measures: give the kind "
                                "(temperature or temperature_difference)")


def test_lims_decide_refuses_in_the_instances_language() -> None:
    args = ["decide", "--value", "10", "--unit", "mm", "--U", "0.02", "--lower", "10.05",
            "--upper", "9.95"]
    zh = CliRunner().invoke(main, args, env={"LIMS_DEFAULT_LOCALE": "zh_CN"})
    assert zh.exit_code == 2 and "lower: 下限高于上限" in zh.output, zh.output
    en = CliRunner().invoke(main, args, env={"LIMS_DEFAULT_LOCALE": "en"})
    assert en.exit_code == 2 and "lower: the lower limit is above the upper limit" in en.output
    guard = CliRunner().invoke(main, [
        "decide", "--value", "10", "--unit", "mm", "--U", "0.04", "--lower", "9.95", "--upper",
        "10.05", "--rule", "guarded", "--r", "2"], env={"LIMS_DEFAULT_LOCALE": "zh_CN"})
    assert guard.exit_code == 2, guard.output
    assert "r: 保护带 w = 0.08 mm 使限值之间没有接受区间" in guard.output, guard.output


def test_lims_uncertainty_names_both_units_in_chinese(tmp_path: Path) -> None:
    bad = json.loads((BUDGETS / "ea-4-02-s2-mass.json").read_text(encoding="utf-8"))
    bad["inputs"][0]["uncertainty"]["unit"] = "mL"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad), encoding="utf-8")
    symbol, unit = bad["inputs"][0]["symbol"], bad["inputs"][0]["unit"]
    zh = CliRunner().invoke(main, ["uncertainty", str(path)], env={"LIMS_DEFAULT_LOCALE": "zh_CN"})
    assert zh.exit_code == 2
    assert (f"inputs[0].uncertainty.unit: {symbol} 的不确定度单位 'mL' 与其单位 {unit!r} 不相容"
            in zh.output), zh.output
    en = CliRunner().invoke(main, ["uncertainty", str(path)], env={"LIMS_DEFAULT_LOCALE": "en"})
    assert (f"the uncertainty unit 'mL' of {symbol} is not compatible with its unit {unit!r}"
            in en.output), en.output
