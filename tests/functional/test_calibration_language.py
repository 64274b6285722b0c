"""Calibration refusals and commands in the reader's language (issue 11 §1): the services mark
their messages with msg(), pages and the ``lims`` command show them in Chinese, and the JSON API
keeps the English text."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from typing import Any

from tests.support.world import csrf, login

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en"}


def _typed(token: str, points: str) -> dict[str, str]:
    return {"csrf_token": token, "number": "T-9", "provider_name": "NIM", "provider_kind": "nmi",
            "calibrated_on": "2026-01-05", "points": points}


def test_a_refused_typed_calibration_reads_in_chinese(client: Any, session: Any, world: Any) -> None:
    login(client, "qm")
    token = csrf(client, "/instruments/EQ-1")
    referer = {"Referer": "http://localhost/instruments/EQ-1"}
    bad = "mass | 100 g | 100.0002 | g | 0.0003"  # five cells, not six
    zh = client.post("/instruments/EQ-1/calibrations", data=_typed(token, bad),
                     headers={**ZH, **referer}, follow_redirects=True).get_data(as_text=True)
    assert "第 1 行：请按 量 | 标称值 | 值 | 单位 | U | k 填写（应为 6 格，实际 5 格）" in zh, \
        zh.split("<main", 1)[1][:800]
    assert "write quantity" not in zh
    en = client.post("/instruments/EQ-1/calibrations", data=_typed(token, bad),
                     headers={**EN, **referer}, follow_redirects=True).get_data(as_text=True)
    assert "line 1: write quantity | nominal | value | unit | U | k (6 cells, 5 given)" in en


def test_a_refused_certificate_file_reads_in_chinese_on_the_page_and_english_in_the_api(
        client: Any, session: Any, world: Any) -> None:
    login(client, "qm")
    token = csrf(client, "/instruments/EQ-1")
    page = client.post("/instruments/EQ-1/calibrations/import",
                       data={"csrf_token": token, "file": (io.BytesIO(b"<x/>"), "x.xml")},
                       headers={**ZH, "Referer": "http://localhost/instruments/EQ-1"},
                       follow_redirects=True).get_data(as_text=True)
    assert "不是 PTB DCC：根元素为 &#39;x&#39;" in page, page.split("<main", 1)[1][:800]
    api = client.post("/api/v1/calibrations/import?instrument=EQ-1", data=b"<x/>",
                      content_type="application/xml",
                      headers={**ZH, "Authorization": f"Bearer {world.token(session, 'qm')}"})
    assert api.status_code == 422
    assert api.get_json()["error"]["message"] == "not a PTB DCC: the root element is 'x'"


def test_the_calibration_commands_speak_the_instances_language(world: Any, database_url: str,
                                                               tmp_path: Any) -> None:
    from click.testing import CliRunner

    from lims.cli import main

    env = {"LIMS_DATABASE_URL": database_url, "LIMS_INSTANCE_PATH": str(tmp_path / "inst"),
           "LIMS_SECRET_KEY": "test-secret", "LIMS_CLI_USER": "qm"}
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b"<x/>")
    zh = CliRunner().invoke(main, ["calibration", "import", str(bad), "--instrument", "EQ-1"],
                            env={**env, "LIMS_DEFAULT_LOCALE": "zh_CN"})
    assert zh.exit_code == 1 and "错误：file: 不是 PTB DCC：根元素为 'x'" in zh.output, zh.output
    en = CliRunner().invoke(main, ["calibration", "import", str(bad), "--instrument", "EQ-1"],
                            env={**env, "LIMS_DEFAULT_LOCALE": "en"})
    assert "error: file: not a PTB DCC: the root element is 'x'" in en.output, en.output
    missing = CliRunner().invoke(main, ["calibration", "import", str(tmp_path / "none.xml")],
                                 env={**env, "LIMS_DEFAULT_LOCALE": "zh_CN"})
    assert missing.exit_code == 2 and "错误：无法读取 " in missing.output, missing.output
    odd = tmp_path / "odd.json"
    odd.write_text('{"value": "10.02", "colour": "red"}')
    keys = CliRunner().invoke(main, ["decide", str(odd)], env={**env, "LIMS_DEFAULT_LOCALE": "zh_CN"})
    assert keys.exit_code == 2 and "中有未知的键：colour" in keys.output, keys.output


def test_the_calibration_help_follows_the_instances_language() -> None:
    # --help texts are read when the command module is imported: a fresh process per locale.
    def helps(locale: str, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "lims.cli", *args, "--help"],
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, "LIMS_DEFAULT_LOCALE": locale})
        assert done.returncode == 0, done.stderr
        return done.stdout

    zh = helps("zh_CN", "calibration", "import")
    assert "将收到的校准证书（PTB DCC XML 或 LIMS JSON）登记为校准记录。" in zh
    assert "被校准的计量器具" in zh and "以 JSON 格式输出结果。" in zh
    assert "Record an incoming certificate" not in zh
    assert "评定 FILE 中的测量不确定度预算" in helps("zh_CN", "uncertainty")
    en = helps("en", "calibration", "import")
    assert "Record an incoming certificate (PTB DCC XML or LIMS JSON)" in en and "校准" not in en
