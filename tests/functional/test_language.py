"""Chinese first, English second (issue 11 §1): how a request's language is chosen, and the
pages, refusals and error pages in it."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from sqlalchemy import select

from lims import create_app
from lims.auth.models import User
from tests.support.world import login


@pytest.fixture
def zh_app(settings: Any) -> Any:
    """The app as shipped: Chinese unless the browser or the user asks for English."""
    app = create_app(dataclasses.replace(settings, default_locale="zh_CN"))
    yield app
    app.extensions["lims"].engine.dispose()


def test_chinese_is_the_default_and_english_follows_accept_language(zh_app: Any, world: Any) -> None:
    client = zh_app.test_client()
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="zh-Hans">' in page and "<h1>登录</h1>" in page and "用户名" in page
    assert "Log in" not in page.replace("English", "")
    en = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert '<html lang="en">' in en and "<h1>Log in</h1>" in en and "登录" not in en
    zh = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert "<h1>登录</h1>" in zh.get_data(as_text=True)


def test_lang_parameter_is_remembered_for_the_session(zh_app: Any, world: Any) -> None:
    client = zh_app.test_client()
    assert "<h1>Log in</h1>" in client.get("/login?lang=en").get_data(as_text=True)
    assert "<h1>Log in</h1>" in client.get("/login").get_data(as_text=True)
    login(client, "tech")  # the choice survives the new session of the login
    assert ">Samples</a>" in client.get("/").get_data(as_text=True)


def test_a_users_choice_is_saved_on_the_account(zh_app: Any, world: Any, session: Any) -> None:
    client = zh_app.test_client()
    login(client, "tech")
    assert ">样品</a>" in client.get("/").get_data(as_text=True)
    token = client.get("/").get_data(as_text=True).split(
        'name="csrf_token" value="', 1)[1].split('"', 1)[0]
    resp = client.post("/locale", data={"locale": "en", "next": "/", "csrf_token": token})
    assert resp.status_code == 303 and resp.headers["Location"] == "/"
    assert session.scalar(select(User.locale).where(User.username == "tech")) == "en"
    # Another browser (a bench tablet asking for Chinese) follows the account's choice.
    other = zh_app.test_client()
    login(other, "tech")
    page = other.get("/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert ">Samples</a>" in page and ">样品</a>" not in page


def test_an_unknown_locale_is_refused_by_name(zh_app: Any, world: Any) -> None:
    client = zh_app.test_client()
    token = client.get("/login").get_data(as_text=True).split(
        'name="csrf_token" value="', 1)[1].split('"', 1)[0]
    resp = client.post("/locale", data={"locale": "fr", "csrf_token": token},
                       headers={"Referer": "http://localhost/login"})
    assert resp.status_code in (303, 422)
    page = client.get("/login").get_data(as_text=True) if resp.status_code == 303 \
        else resp.get_data(as_text=True)
    assert "locale" in page


def test_error_pages_and_refusals_are_in_the_readers_language(zh_app: Any, world: Any) -> None:
    client = zh_app.test_client()
    login(client, "tech")
    missing = client.get("/samples/YP1999-999999")
    assert missing.status_code == 404
    assert client.get("/no/such/page").status_code == 404
    page = client.get("/no/such/page").get_data(as_text=True)
    assert "未找到" in page and "没有该页面或记录" in page
    en = client.get("/no/such/page", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Not found" in en and "There is no such page or record" in en
    # The API keeps its English codes and messages whatever the browser's language.
    api = client.get("/api/v1/samples/YP1999-999999", headers={"Accept-Language": "zh-CN"})
    assert api.status_code == 404 and api.get_json()["error"]["code"]


def test_a_wrong_password_is_refused_in_chinese(zh_app: Any, world: Any) -> None:
    client = zh_app.test_client()
    token = client.get("/login").get_data(as_text=True).split(
        'name="csrf_token" value="', 1)[1].split('"', 1)[0]
    resp = client.post("/login", data={"username": "tech", "password": "nope",
                                       "csrf_token": token})
    assert resp.status_code == 401 and "用户名或密码错误" in resp.get_data(as_text=True)


def test_a_too_large_upload_to_verify_is_refused_in_chinese(zh_app: Any, world: Any) -> None:
    client = zh_app.test_client()
    body = b"x" * (zh_app.config["MAX_CONTENT_LENGTH"] + 10)
    resp = client.post("/verify/BG2026-000001", data=body,
                       content_type="application/octet-stream")
    assert resp.status_code == 413
    assert "超出本系统允许的上限" in resp.get_data(as_text=True)


def test_scan_finds_a_sample_in_any_case(client: Any, world: Any) -> None:
    login(client, "tech")
    page = client.get("/samples").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    made = client.post("/samples", data={"customer_id": world.customer_id,
                                         "description": "scan me", "method_ids": world.method_id,
                                         "csrf_token": token})
    assert made.status_code == 303, made.get_data(as_text=True).split("<main", 1)[1][:600]
    number = made.headers["Location"].rsplit("/", 1)[1]
    for typed in (number, number.lower(), f"  {number.lower()}\r\n"):
        resp = client.get("/scan", query_string={"q": typed})
        assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/samples/{number}")
    assert client.get(f"/samples/{number.lower()}").status_code == 200
    unknown = client.get("/scan", query_string={"q": "NOPE-1"}, follow_redirects=True)
    assert "Nothing is numbered NOPE-1" in unknown.get_data(as_text=True)


def test_a_unit_mismatch_is_refused_in_chinese_naming_both_units(zh_app: Any, world: Any) -> None:
    client = zh_app.test_client()
    login(client, "tech")
    page = client.get("/").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    made = client.post("/samples", data={"customer_id": world.customer_id, "description": "m",
                                         "method_ids": world.method_id, "csrf_token": token})
    number = made.headers["Location"].rsplit("/", 1)[1]
    detail = f"/samples/{number}"
    client.post(f"{detail}/receive", data={"csrf_token": token, "condition": "ok"})
    refused = client.post(f"{detail}/results", data={
        "csrf_token": token, "characteristic_id": world.mass_id, "value": "100.00",
        "unit": "mm"}, headers={"Referer": f"http://localhost{detail}"}, follow_redirects=True)
    text = refused.get_data(as_text=True)
    # Both units named, in Chinese, and the field as the reader knows it.
    assert "不是" in text and "&#39;mm&#39;" in text and "单位" in text, text.split("<main", 1)[1][:800]
    en = client.post(f"{detail}/results", data={
        "csrf_token": token, "characteristic_id": world.mass_id, "value": "x1",
        "unit": "g"}, headers={"Referer": f"http://localhost{detail}", "Accept-Language": "en"},
        follow_redirects=True)
    assert "&#39;x1&#39; is not a number" in en.get_data(as_text=True)
    api = client.post(f"/api/v1/samples/{number}/results", json={
        "characteristic_id": world.mass_id, "value": "100.00", "unit": "mm"},
        headers={"Accept-Language": "zh-CN", "X-CSRFToken": token})
    assert api.status_code == 422 and "is not a unit of" in api.get_json()["error"]["message"]


def test_the_command_line_speaks_the_instances_language(world: Any, database_url: str,
                                                         tmp_path: Any) -> None:
    from click.testing import CliRunner

    from lims.cli import main

    env = {"LIMS_DATABASE_URL": database_url, "LIMS_INSTANCE_PATH": str(tmp_path / "inst"),
           "LIMS_SECRET_KEY": "test-secret", "LIMS_CLI_USER": "admin"}
    zh = CliRunner().invoke(main, ["user", "unlock", "tech"],
                            env={**env, "LIMS_DEFAULT_LOCALE": "zh_CN"})
    assert zh.exit_code == 0 and "已解锁 tech" in zh.output, zh.output
    missing = CliRunner().invoke(main, ["user", "token", "nobody"],
                                 env={**env, "LIMS_DEFAULT_LOCALE": "zh_CN"})
    assert missing.exit_code == 1 and "错误：没有用户 'nobody'" in missing.output
    en = CliRunner().invoke(main, ["user", "token", "nobody"],
                            env={**env, "LIMS_DEFAULT_LOCALE": "en"})
    assert "error: no user 'nobody'" in en.output
    # A service's refusal is translated too, with its field named.
    weak = CliRunner().invoke(main, ["user", "create", "newbie", "--role", "technician"],
                              env={**env, "LIMS_DEFAULT_LOCALE": "zh_CN"}, input="x\nx\n")
    assert weak.exit_code == 1 and "错误：password: 密码至少需要" in weak.output, weak.output
