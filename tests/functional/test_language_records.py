"""Refusals of the scope, audit and report services, and the `lims scope|audit|report`
commands, in the reader's language (issue 11 §1); the API keeps its English messages."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from tests.support.world import csrf, login

METHOD = "GB/T 4669-2008"


def test_a_bad_audit_filter_is_refused_in_the_readers_language(client: Any, session: Any,
                                                               world: Any) -> None:
    login(client, "auditor")
    zh = client.get("/audit/?since=yesterday", headers={"Accept-Language": "zh-CN"})
    page = zh.get_data(as_text=True)
    assert zh.status_code == 422 and "起始日期: 须为日期，YYYY-MM-DD" in page, page
    assert "must be a date" not in page
    en = client.get("/audit/?since=2026-02-02&until=2026-02-01",
                    headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "to date: ends before since" in en
    api = client.get("/api/v1/audit/events",
                     query_string={"since": "2026-02-02", "until": "2026-02-01"},
                     headers={"Authorization": f"Bearer {world.token(session, 'auditor')}",
                              "Accept-Language": "zh-CN"})
    assert api.status_code == 422
    assert api.get_json()["error"]["message"] == "ends before since"


def test_a_scope_refusal_reaches_the_page_in_chinese(client: Any, world: Any) -> None:
    login(client, "qm")
    token = csrf(client, "/scope/")
    # No CMA certificate is recorded yet: the item is refused, back on the form, in Chinese.
    resp = client.post("/scope/items", data={"method_code": METHOD, "schemes": "CMA",
                                             "csrf_token": token},
                       headers={"Referer": "http://localhost/scope/", "Accept-Language": "zh-CN"},
                       follow_redirects=True)
    page = resp.get_data(as_text=True)
    assert "尚未登记 CMA 证书；请先登记（lims scope accreditation）" in page, page
    assert "certificate is recorded" not in page
    en = client.post("/scope/items", data={"method_code": METHOD, "schemes": "CMA",
                                           "minimum": "5", "csrf_token": token},
                     headers={"Referer": "http://localhost/scope/", "Accept-Language": "en"},
                     follow_redirects=True).get_data(as_text=True)
    assert "no CMA certificate is recorded; record it first" in en


def test_the_record_commands_speak_the_instances_language(world: Any, database_url: str,
                                                          tmp_path: Any) -> None:
    from click.testing import CliRunner

    from lims.cli import main

    env = {"LIMS_DATABASE_URL": database_url, "LIMS_INSTANCE_PATH": str(tmp_path / "inst"),
           "LIMS_SECRET_KEY": "test-secret", "LIMS_CLI_USER": "qm"}
    zh = {**env, "LIMS_DEFAULT_LOCALE": "zh_CN"}
    refused = CliRunner().invoke(main, ["scope", "add", "--method", METHOD, "--scheme", "CMA"],
                                 env=zh)
    assert refused.exit_code == 1, refused.output
    assert "错误：schemes: 尚未登记 CMA 证书；请先登记" in refused.output, refused.output
    missing = CliRunner().invoke(main, ["report", "export", "NOPE-1", str(tmp_path / "x.pdf")],
                                 env=zh)
    assert missing.exit_code == 1 and "错误：没有报告 'NOPE-1'" in missing.output, missing.output
    en = CliRunner().invoke(main, ["report", "export", "NOPE-1", str(tmp_path / "x.pdf")],
                            env={**env, "LIMS_DEFAULT_LOCALE": "en"})
    assert "error: no report 'NOPE-1'" in en.output
    # The chain verdict, a message the audit service builds, is read in Chinese too.
    verified = CliRunner().invoke(main, ["audit", "verify"], env=zh)
    assert verified.exit_code == 0 and verified.output.startswith("正常：审计链完整（"), \
        verified.output
    assert "个事件）" in verified.output


def test_help_follows_the_instances_language(database_url: str, tmp_path: Any) -> None:
    # --help texts are set when the command is imported: a fresh process shows the language.
    env = {**os.environ, "LIMS_DATABASE_URL": database_url,
           "LIMS_INSTANCE_PATH": str(tmp_path / "inst"), "LIMS_DEFAULT_LOCALE": "zh_CN"}

    def helped(*args: str, locale: str = "zh_CN") -> str:
        done = subprocess.run([sys.executable, "-m", "lims.cli", *args, "--help"],
                              env={**env, "LIMS_DEFAULT_LOCALE": locale}, capture_output=True,
                              text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "测量范围下限" in helped("scope", "add")
    assert "审计追踪" in helped("audit")
    assert "撤回已签发的报告" in helped("report")
    assert "Withdraw issued report" in helped("report", locale="en")
