"""Refusals of the auth and instrument services and of the top-level modules reach the reader
in their language (issue 11 §1): on pages by ``Accept-Language``, on the command line by
``LIMS_DEFAULT_LOCALE``; the JSON API keeps the English text."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from lims.cli import main
from tests.support.world import csrf, login

ZH = {"Accept-Language": "zh-CN"}
EN = {"Accept-Language": "en"}
BALANCE = {"asset_number": "EQ-7", "name": "Balance", "serial_number": "SN7",
           "driver": "mt-sics", "port": "/dev/serial/by-id/usb-balance"}


def _refused(client: Any, path: str, data: dict[str, Any], back: str,
             headers: dict[str, str]) -> str:
    """POST a form from ``back`` and return the page the refusal is shown on."""
    resp = client.post(path, data={**data, "csrf_token": csrf(client, back)},
                       headers={**headers, "Referer": f"http://localhost{back}"},
                       follow_redirects=True)
    return str(resp.get_data(as_text=True))


def test_an_instrument_refusal_on_the_page_is_in_chinese(client: Any, session: Any,
                                                         world: Any) -> None:
    login(client, "qm")
    assert client.post("/instruments/", data={**BALANCE, "csrf_token": csrf(
        client, "/instruments/")}).status_code == 303
    zh = _refused(client, "/instruments/", BALANCE, "/instruments/", ZH)
    assert "设备编号 &#39;EQ-7&#39; 已存在" in zh, zh.split("<main", 1)[1][:800]
    assert "asset number &#39;EQ-7&#39; exists" not in zh
    en = _refused(client, "/instruments/", BALANCE, "/instruments/", EN)
    assert "asset number &#39;EQ-7&#39; exists" in en
    # A state refusal: the balance is in service already.
    again = _refused(client, "/instruments/EQ-7/status", {"in_service": "1", "reason": "fixed"},
                     "/instruments/EQ-7", ZH)
    assert "EQ-7 已在用" in again
    # A bad port, named as the reader knows it.
    port = _refused(client, "/instruments/", {**BALANCE, "asset_number": "EQ-8",
                                              "port": "ttyUSB0"}, "/instruments/", ZH)
    assert "请填写串口设备路径" in port


def test_the_api_keeps_the_english_refusal(client: Any, session: Any, world: Any) -> None:
    headers = {"Authorization": f"Bearer {world.token(session, 'qm')}", **ZH}
    assert client.post("/api/v1/instruments", json=BALANCE, headers=headers).status_code == 201
    again = client.post("/api/v1/instruments", json=BALANCE, headers=headers)
    assert again.status_code == 409
    assert again.get_json()["error"]["message"] == "asset number 'EQ-7' exists"
    stale = client.post("/api/v1/instruments", json={**BALANCE, "asset_number": "EQ-8",
                                                     "baudrate": "9601"}, headers=headers)
    assert stale.get_json()["error"]["message"] == (
        "baud rate '9601' is not one of 300, 600, 1200, 2400, 4800, 9600, 19200, 38400, "
        "57600, 115200")


def test_a_user_administration_refusal_on_the_page_is_in_chinese(client: Any, session: Any,
                                                                 world: Any) -> None:
    login(client, "admin")
    data = {"username": "tech", "full_name": "Tech", "password": "a-long-enough-passphrase",
            "roles": ["technician"]}
    zh = _refused(client, "/users", data, "/users", ZH)
    assert "用户 &#39;tech&#39; 已存在" in zh, zh.split("<main", 1)[1][:800]
    en = _refused(client, "/users", data, "/users", EN)
    assert "user &#39;tech&#39; exists" in en
    last = _refused(client, "/users/admin/disable", {}, "/users/admin", ZH)
    assert "此操作将导致没有在用的管理员" in last


def _env(database_url: str, tmp_path: Path, locale: str) -> dict[str, str]:
    return {"LIMS_DATABASE_URL": database_url, "LIMS_INSTANCE_PATH": str(tmp_path / "inst"),
            "LIMS_SECRET_KEY": "test-secret", "LIMS_CLI_USER": "admin",
            "LIMS_DEFAULT_LOCALE": locale}


def test_command_refusals_are_in_the_instances_language(world: Any, database_url: str,
                                                        tmp_path: Path) -> None:
    zh, en = _env(database_url, tmp_path, "zh_CN"), _env(database_url, tmp_path, "en")
    taken = CliRunner().invoke(main, ["user", "create", "tech", "--role", "technician"],
                               env=zh, input="a-long-enough-passphrase\n" * 2)
    assert taken.exit_code == 1 and "错误：username: 用户 'tech' 已存在" in taken.output, \
        taken.output
    english = CliRunner().invoke(main, ["user", "create", "tech", "--role", "technician"],
                                 env=en, input="a-long-enough-passphrase\n" * 2)
    assert "error: username: user 'tech' exists" in english.output
    admin = CliRunner().invoke(main, ["user", "disable", "admin"], env=zh)
    assert admin.exit_code == 1 and "此操作将导致没有在用的管理员" in admin.output
    listing = CliRunner().invoke(main, ["user", "disable", "tech"], env=zh)
    assert listing.exit_code == 0 and "已停用 tech" in listing.output
    users = CliRunner().invoke(main, ["user", "list"], env=zh)
    assert any(line.startswith("tech ") and line.endswith("已停用")
               for line in users.output.splitlines()), users.output


def test_instrument_and_backup_commands_speak_chinese(world: Any, database_url: str,
                                                      tmp_path: Path) -> None:
    zh = _env(database_url, tmp_path, "zh_CN")
    sim = CliRunner().invoke(main, ["simulate", "telepathy"], env=zh)
    assert sim.exit_code == 2 and "错误：没有 'telepathy' 的模拟器；已有：" in sim.output
    sets = CliRunner().invoke(main, ["read", "mt-sics", "/dev/null", "--set", "novalue"],
                              env=zh)
    assert sets.exit_code == 2 and "--set 'novalue'：请写成 KEY=VALUE" in sets.output
    gone = CliRunner().invoke(main, ["read", "mt-sics", str(tmp_path / "no-such-port"),
                                     "--timeout", "0.2"], env=zh)
    assert gone.exit_code == 1 and "不存在" in gone.output, gone.output
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep").write_text("x")
    backup = CliRunner().invoke(main, ["backup", str(full)], env=zh)
    assert backup.exit_code == 1 and f"错误：{full} 已存在且不为空；请选择一个新文件夹" in \
        backup.output, backup.output
    restore = CliRunner().invoke(main, ["restore", str(full)], env=zh)
    assert restore.exit_code == 1 and "不是 LIMS 备份" in restore.output, restore.output
    en = CliRunner().invoke(main, ["restore", str(full)],
                            env=_env(database_url, tmp_path, "en"))
    assert f"error: {full} is not a LIMS backup (no readable manifest.json)" in en.output


def test_help_texts_follow_the_instances_language(tmp_path: Path) -> None:
    """--help is made when the command is imported: a fresh process per language."""
    def helped(locale: str, *args: str) -> str:
        env = {**os.environ, "LIMS_DEFAULT_LOCALE": locale,
               "LIMS_INSTANCE_PATH": str(tmp_path / "inst")}
        done = subprocess.run([sys.executable, "-m", "lims.cli", *args, "--help"], env=env,
                              capture_output=True, text=True, timeout=120, check=True)
        return done.stdout

    top = helped("zh_CN")
    assert "面向计量与检验检测实验室的 LIMS" in top and "用 gunicorn" in top, top
    user = helped("zh_CN", "user", "create")
    assert "创建用户 USERNAME 并赋予角色" in user and "用户的角色（多个角色请重复此选项）" in user
    read = helped("zh_CN", "read")
    assert "检查仪器能否通信" in read and "覆盖驱动的默认波特率" in read
    english = helped("en", "user", "create")
    assert "A role of the user (repeat for several)." in english and "用户" not in english
