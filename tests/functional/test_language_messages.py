"""The remaining English in Chinese messages (issue 11 §1, acceptance review): permission
refusals name the permission in words, "one of" refusals label their choices, error pages name
fields as the reader knows them, the command line labels kinds, statuses and roles; the
English text (API, ``LIMS_DEFAULT_LOCALE=en``) stays as it was."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from lims.catalogs import label
from lims.cli import main
from lims.errors import Choices, InvalidInput, msg
from tests.support.world import csrf, login

ZH = {"Accept-Language": "zh-CN"}
EN = {"Accept-Language": "en"}


def _main(html: str) -> str:
    return html.split("<main", 1)[1]


def test_a_permission_refusal_names_the_permission_in_words(client: Any, session: Any,
                                                            world: Any) -> None:
    login(client, "tech")
    for path, words in (("/users", "管理用户"), ("/audit/", "查阅审计追踪"),
                        ("/agents/", "管理采集代理")):
        page = client.get(path, headers=ZH)
        assert page.status_code == 403
        text = _main(page.get_data(as_text=True))
        assert f"您的角色不允许{words}" in text, text[:600]
        assert "user.manage" not in text and "audit.read" not in text
    english = client.get("/users", headers=EN).get_data(as_text=True)
    assert "your roles do not allow &#39;user.manage&#39;" in english
    api = client.post("/api/v1/instruments", json={"asset_number": "EQ-9", "name": "x"},
                      headers={"Authorization": f"Bearer {world.token(session, 'tech')}", **ZH})
    assert api.status_code == 403
    assert api.get_json()["error"]["message"] == "your roles do not allow 'instrument.manage'"


def test_one_of_refusals_label_their_choices(client: Any, session: Any, world: Any) -> None:
    login(client, "qm")
    samples = _main(client.get("/samples?status=bogus", headers=ZH).get_data(as_text=True))
    assert "状态 必须是 已登记、" in samples, samples[:600]
    assert "registered" not in samples and "字段: <code>状态</code>" in samples
    flags = _main(client.get("/instruments/?flag=bogus", headers=ZH).get_data(as_text=True))
    assert "即将到期" in flags and "due soon" not in flags, flags[:600]
    english = client.get("/samples?status=bogus", headers=EN).get_data(as_text=True)
    assert "status must be one of registered, received, " in english
    form = {"asset_number": "EQ-9", "name": "Balance", "serial_number": "SN9",
            "role": "bogus", "csrf_token": csrf(client, "/instruments/")}
    refused = client.post("/instruments/", data=form, follow_redirects=True,
                          headers={**ZH, "Referer": "http://localhost/instruments/"})
    text = _main(refused.get_data(as_text=True))
    assert "必须是 检测设备、工作标准、参考标准 之一" in text, text[:600]
    assert ">test equipment<" not in text and "test equipment, " not in text


def test_choices_keep_the_english_text() -> None:
    refusal = msg("must be one of %(allowed)s", allowed=Choices(["test equipment", "nmi"]))
    assert str(refusal) == "must be one of test equipment, nmi"
    assert str(InvalidInput(refusal, field="role")) == "must be one of test equipment, nmi"


def test_error_pages_name_fields_in_words(client: Any, session: Any, world: Any) -> None:
    login(client, "qm")
    token = csrf(client, "/methods")
    refused = client.post("/methods", follow_redirects=True, headers={
        **ZH, "Referer": "http://localhost/methods"}, data={
        "csrf_token": token, "code": "GB 9-2026", "title": "t", "field": "",
        "name": ["温升"], "kind": [""], "unit": ["K"], "lower_limit": [""],
        "upper_limit": ["80"], "lod": [""], "loq": [""], "expected": [""]})
    text = _main(refused.get_data(as_text=True))
    assert "为必填项 (检测领域)" in text, text[:600]
    dates = _main(client.get("/samples?from=tomorrow", headers=ZH).get_data(as_text=True))
    assert "字段: <code>起始日期</code>" in dates, dates[:600]
    audit = client.get("/audit/?since=soon", headers=ZH).get_data(as_text=True)
    banner = audit.split('id="filter-error">', 1)[1].split("</div>", 1)[0]
    assert "起始日期：" in banner or "起始日期:" in banner, banner


def test_the_verification_page_trims_the_number(client: Any, session: Any, world: Any,
                                                settings: Any) -> None:
    _sample, number = world.reported_sample(session, settings)
    public = client.application.test_client()
    page = public.get(f"/verify/%20{number}%20")
    assert page.status_code == 200
    assert f'<td id="report-number">{number}</td>' in page.get_data(as_text=True)
    assert public.get("/verify/%20").status_code == 404


def test_the_report_export_says_authenticity_check(client: Any, session: Any, world: Any,
                                                   settings: Any) -> None:
    world.reported_sample(session, settings)
    login(client, "qm")
    zh = client.get("/reports?format=csv", headers=ZH).get_data(as_text=True)
    header = zh.splitlines()[0]
    assert "核验" in header and "检定" not in header, header
    en = client.get("/reports?format=csv", headers=EN).get_data(as_text=True)
    assert en.splitlines()[0].rstrip().endswith("Verification")


def _env(database_url: str, tmp_path: Path, locale: str) -> dict[str, str]:
    return {"LIMS_DATABASE_URL": database_url, "LIMS_INSTANCE_PATH": str(tmp_path / "inst"),
            "LIMS_SECRET_KEY": "test-secret", "LIMS_CLI_USER": "admin",
            "LIMS_DEFAULT_LOCALE": locale}


def test_the_command_line_names_permissions_kinds_statuses_and_roles(
        world: Any, session: Any, settings: Any, database_url: str, tmp_path: Path) -> None:
    _sample, number = world.reported_sample(session, settings)
    zh, en = _env(database_url, tmp_path, "zh_CN"), _env(database_url, tmp_path, "en")
    refused = CliRunner().invoke(main, ["report", "withdraw", number, "--reason", "x",
                                        "--category", "error", "--user", "tech"], env=zh)
    assert refused.exit_code == 1 and "您的角色不允许撤回已签发的报告" in refused.output, \
        refused.output
    english = CliRunner().invoke(main, ["report", "withdraw", number, "--reason", "x",
                                        "--category", "error", "--user", "tech"], env=en)
    assert "your roles do not allow 'report.withdraw'" in english.output, english.output
    listed = CliRunner().invoke(main, ["report", "list"], env=zh)
    assert listed.exit_code == 0, listed.output
    line = next(s for s in listed.output.splitlines() if s.startswith(number))
    assert "检验检测报告" in line and "已签发" in line, line
    assert "test_report" not in line and "+00:00" not in line and "T" not in line.split()[3]
    machine = json.loads(CliRunner().invoke(main, ["report", "list", "--json"], env=zh).output)
    assert machine[0]["kind"] == "test_report" and machine[0]["status"] == "issued"
    assert machine[0]["issued_at"].endswith("+00:00")
    users = CliRunner().invoke(main, ["user", "list"], env=zh)
    assert "质量负责人" in users.output and "quality_manager" not in users.output, users.output
    assert "quality manager" in CliRunner().invoke(main, ["user", "list"], env=en).output


def test_cli_labels_follow_the_language(monkeypatch: Any) -> None:
    monkeypatch.setenv("LIMS_DEFAULT_LOCALE", "zh_CN")
    assert (label("test equipment"), label("nmi"), label("in-house")) == (
        "检测设备", "国家计量院", "本实验室")
    assert label("no-such-value") == "no-such-value"
    monkeypatch.setenv("LIMS_DEFAULT_LOCALE", "en")
    assert label("nmi") == "national metrology institute"


def test_agent_help_is_in_chinese(tmp_path: Path) -> None:
    """--help is made when the command is imported: a fresh process."""
    env = {**os.environ, "LIMS_DEFAULT_LOCALE": "zh_CN",
           "LIMS_INSTANCE_PATH": str(tmp_path / "inst")}
    done = subprocess.run([sys.executable, "-m", "lims.cli", "agent", "--help"], env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    assert "工位采集代理" in done.stdout and "立即吊销采集代理" in done.stdout, done.stdout
    assert "Revoke agent" not in done.stdout and "List agents" not in done.stdout
