"""The refusals of the sample, work and list services reach the reader in their language
(issue 11 §1): a page shows the Chinese text of the catalog with the values as given, the JSON
API keeps the very English message it always sent, and the command line follows the
instance's language."""

from __future__ import annotations

from typing import Any

import pytest

from lims.catalogs import localized
from lims.errors import NotFound, SampleStateError
from lims.samples import services
from lims.samples.lifecycle import SampleStatus, check_transition
from tests.support.world import csrf, login

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


def _register(client: Any, world: Any, token: str) -> str:
    made = client.post("/samples", data={"customer_id": world.customer_id, "description": "z",
                                         "method_ids": world.method_id, "csrf_token": token})
    assert made.status_code == 303, made.get_data(as_text=True)
    return str(made.headers["Location"].rsplit("/", 1)[1])


def test_a_bad_list_parameter_is_refused_in_chinese(client: Any, world: Any) -> None:
    login(client, "tech")
    page = client.get("/samples?page=abc", headers=ZH)
    assert page.status_code == 422
    text = page.get_data(as_text=True)
    assert "page 必须是整数，而不是 &#39;abc&#39;" in text, text.split("<main", 1)[-1][:800]
    en = client.get("/samples?page=abc", headers={"Accept-Language": "en"})
    assert "page must be a whole number, not &#39;abc&#39;" in en.get_data(as_text=True)
    sort = client.get("/samples?sort=nope", headers=ZH).get_data(as_text=True)
    assert "sort 必须是" in sort and "（前加 - 表示降序），而不是 &#39;nope&#39;" in sort


def test_a_second_receipt_is_refused_in_chinese_naming_the_states(client: Any,
                                                                   world: Any) -> None:
    login(client, "tech")
    token = csrf(client)
    number = _register(client, world, token)
    detail = f"/samples/{number}"
    first = client.post(f"{detail}/receive", data={"csrf_token": token, "condition": "ok"},
                        headers=ZH, follow_redirects=True)
    assert "样品接收已记录" in first.get_data(as_text=True)
    again = client.post(f"{detail}/receive", data={"csrf_token": token, "condition": "ok"},
                        headers={**ZH, "Referer": f"http://localhost{detail}"},
                        follow_redirects=True)
    text = again.get_data(as_text=True)
    assert f"样品 {number} 处于 已接收 状态，不能转为 已接收" in text, \
        text.split("<main", 1)[-1][:800]
    assert "cannot become" not in text


def test_a_duplicate_result_is_refused_in_chinese(client: Any, world: Any) -> None:
    login(client, "tech")
    token = csrf(client)
    number = _register(client, world, token)
    detail = f"/samples/{number}"
    client.post(f"{detail}/receive", data={"csrf_token": token, "condition": "ok"})
    entry = {"csrf_token": token, "characteristic_id": world.mass_id, "value": "100.00",
             "unit": "g"}
    assert client.post(f"{detail}/results", data=entry).status_code == 303
    again = client.post(f"{detail}/results", data=entry,
                        headers={**ZH, "Referer": f"http://localhost{detail}"},
                        follow_redirects=True)
    text = again.get_data(as_text=True)
    assert f"在 {number} 上已有结果；请改为更正该结果" in text, text.split("<main", 1)[-1][:800]
    # The bench grid shows the refusal beside its row, in Chinese too.
    grid = client.post(f"{detail}/grid", headers=ZH, data={
        "csrf_token": token, f"value-{world.mass_id}": "100.01", f"unit-{world.mass_id}": "g"})
    assert grid.status_code == 422
    assert f"在 {number} 上已有结果；请改为更正该结果" in grid.get_data(as_text=True)
    api = client.post(f"/api/v1/samples/{number}/results", headers={**ZH, "X-CSRFToken": token},
                      json={k: v for k, v in entry.items() if k != "csrf_token"})
    assert api.status_code == 409
    assert api.get_json()["error"]["message"].endswith(
        f"already has a result on {number}; correct it instead")


def test_the_command_line_shows_a_sample_refusal_in_its_language(
        session: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(NotFound) as missing:
        services.get_sample(session, "NOPE-1")
    assert missing.value.message == "no sample 'NOPE-1'"
    monkeypatch.setenv("LIMS_DEFAULT_LOCALE", "zh_CN")
    assert localized(missing.value.message) == "没有样品 'NOPE-1'"
    with pytest.raises(SampleStateError) as late:
        check_transition(SampleStatus.REPORTED, SampleStatus.IN_TESTING, sample="YP2026-000001")
    assert localized(late.value.message) == (
        "样品 YP2026-000001 处于 已出报告 状态，不能转为 检测中（允许的下一状态：none (final "
        "state)）")
    monkeypatch.setenv("LIMS_DEFAULT_LOCALE", "en")
    assert localized(missing.value.message) == "no sample 'NOPE-1'"
