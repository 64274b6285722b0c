"""Accounts an attacker cannot flood and an administrator can run (issue 8, finding 5).

Login throttling per account and per address (429 + Retry-After, no password hash), lockout
and unlock, server-side sessions (logout, idle timeout, lifetime, disabled users), and user
administration by page and by CLI.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import multiprocessing
import statistics
import threading
import time
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from lims import create_app
from lims.audit.models import AuditEvent
from lims.auth.models import ApiToken, LoginFailure, User, UserSession
from lims.db import unit_of_work, utcnow
from tests.support.world import PASSWORD, csrf, login

NEW_PASSWORD = "a brand new passphrase"


def attempt(client: Any, username: str, password: str, *, address: str | None = None,
            json: bool = False) -> Any:
    """One login post (with a CSRF token) from ``address``."""
    if address:
        client.environ_base["REMOTE_ADDR"] = address
    token = csrf(client, "/login")
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token},
                       headers={"Accept": "application/json"} if json else {})


def last_event(session: Any, action: str) -> AuditEvent:
    session.rollback()  # a fresh snapshot: the app committed in its own session
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                            .order_by(AuditEvent.seq.desc())).first()
    assert event is not None, action
    return event


def get_user(session: Any, name: str) -> User:
    session.rollback()
    return session.scalars(select(User).where(User.username == name)).one()


def age_failures(app: Any, session: Any, minutes: int = 16) -> None:
    """Move every recorded failure out of the throttling window (15 min by default), and
    make the app forget the refusals it remembers (for 2 s) from before."""
    with unit_of_work(session):
        for row in session.scalars(select(LoginFailure)):
            row.at -= dt.timedelta(minutes=minutes)
    app.extensions["lims_login_refusals"].forget()


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count password-hash checks done by logins."""
    import lims.auth.sessions as sessions

    calls: list[str] = []
    real = sessions.check_password_hash

    def counting(pwhash: str, password: str) -> bool:
        calls.append(pwhash)
        return real(pwhash, password)

    monkeypatch.setattr(sessions, "check_password_hash", counting)
    return calls


# --- throttling ------------------------------------------------------------------------------

def test_an_account_is_throttled_after_n_failures_without_hashing(app, client, session, world,
                                                                  hashes):
    for i in range(5):  # each from another address: the account's count is what stops them
        assert attempt(client, "tech", "wrong", address=f"192.0.2.{i + 1}").status_code == 401
    assert len(hashes) == 5

    page = attempt(client, "tech", PASSWORD, address="192.0.2.50")  # even the right password
    assert page.status_code == 429
    assert 800 < int(page.headers["Retry-After"]) <= 900
    assert "too many failed logins for this account" in page.get_data(as_text=True)
    api = attempt(client, "tech", "wrong", address="192.0.2.51", json=True)
    assert api.status_code == 429 and 800 < int(api.headers["Retry-After"]) <= 900
    assert api.json["error"]["code"] == "too_many_attempts"
    assert api.json["error"]["field"] == "username"
    assert len(hashes) == 5  # refused before any password check

    # Other accounts are not affected; once the failures leave the window, tech logs in and
    # the account's count starts again.
    assert attempt(client, "tech2", PASSWORD, address="192.0.2.1").status_code == 303
    age_failures(app, session)
    assert attempt(client, "tech", PASSWORD, address="192.0.2.1").status_code == 303
    assert get_user(session, "tech").failed_logins == 0
    assert not session.scalars(select(LoginFailure).where(LoginFailure.username == "tech")).all()


def test_an_address_is_throttled_after_n_failures_at_any_accounts(client, session, world,
                                                                  hashes):
    for i in range(20):
        assert attempt(client, f"ghost{i}", "wrong", address="198.51.100.9").status_code == 401
    refused = attempt(client, "tech", PASSWORD, address="198.51.100.9", json=True)
    assert refused.status_code == 429 and refused.json["error"]["field"] == "address"
    assert int(refused.headers["Retry-After"]) > 800
    assert len(hashes) == 20
    # The same account from another address is fine.
    assert attempt(client, "tech", PASSWORD, address="198.51.100.10").status_code == 303


def test_failed_and_throttled_logins_are_audited_once_each(client, session, world):
    for i in range(6):
        attempt(client, "tech", "wrong", address=f"192.0.2.{i + 1}")
    session.rollback()
    failed = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "auth.login_failed")).all()
    assert len(failed) == 5  # the sixth was throttled: no hash, no write


FLOOD_THREADS = 32
FLOOD_RATE = 10.0  # attempts per second per thread: 320/s, 35 cores' worth of password hashing


def _flood(settings: Any, go: Any, ready: Any, stop: Any, out: Any) -> None:
    """In another process (another web worker): FLOOD_THREADS real threads, each posting a
    wrong password for one account FLOOD_RATE times a second while ``go`` is set."""
    import random

    import lims.auth.sessions as sessions

    hashed = collections.Counter[str]()
    lock = threading.Lock()
    real = sessions.check_password_hash

    def counting(pwhash: str, password: str) -> bool:
        with lock:
            hashed["n"] += 1
        return real(pwhash, password)

    sessions.check_password_hash = counting  # type: ignore[assignment]
    app = create_app(settings)
    statuses = collections.Counter[int]()

    def worker() -> None:
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = "203.0.113.66"
        token = csrf(client, "/login")
        interval = 1 / FLOOD_RATE
        due = time.monotonic() + random.uniform(0, interval)  # noqa: S311 - spread, not secrecy
        while not stop.is_set():
            if not go.wait(0.05):
                continue
            time.sleep(max(0.0, due - time.monotonic()))
            due = max(due + interval, time.monotonic())
            resp = client.post("/login", data={"username": "tech", "password": "not it",
                                               "csrf_token": token})
            with lock:
                statuses[resp.status_code] += 1
                if statuses[429] >= FLOOD_THREADS:
                    ready.set()  # past the first burst: every thread is being throttled

    pool = [threading.Thread(target=worker) for _ in range(FLOOD_THREADS)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    app.extensions["lims"].engine.dispose()
    out.put({"statuses": dict(statuses), "hashes": hashed["n"]})


@pytest.mark.slow
def test_a_flood_of_wrong_passwords_does_not_slow_other_users(client, session, world,
                                                              settings):
    """32 threads sending wrong passwords for one account, 320 a second, in another worker
    process: after the first burst every attempt is refused with 429 without hashing the
    password (unthrottled, each would cost ~0.1 s of CPU: 35 cores' worth). What is asserted
    is that work per attempt; the slowdown of an authenticated read is printed, not asserted
    (a timed assertion flakes on a shared machine; measured here 0.99–1.19×).

    The flood is paced: a flood sent as fast as the server answers takes all the CPU it is
    given whatever an attempt costs, and bounding that is the reverse proxy's job. It is
    switched on and off in turns, so that load from outside the test falls on both medians
    alike.
    """
    login(client, "auditor")

    def reads(n: int) -> list[float]:
        times = []
        for _ in range(n):
            start = time.perf_counter()
            assert client.get("/api/v1/samples").status_code == 200
            times.append(time.perf_counter() - start)
        return times

    reads(10)
    ctx = multiprocessing.get_context("spawn")
    go, ready, stop, out = ctx.Event(), ctx.Event(), ctx.Event(), ctx.Queue()
    flood = ctx.Process(target=_flood, args=(settings, go, ready, stop, out))
    flood.start()
    alone: list[float] = []
    during: list[float] = []
    try:
        go.set()
        assert ready.wait(120), "the flood was never throttled"
        for _ in range(8):
            go.clear()
            time.sleep(0.1)
            alone += reads(20)
            go.set()
            time.sleep(0.1)
            during += reads(20)
    finally:
        stop.set()
        result = out.get(timeout=120)
        flood.join(60)
    statuses, hashed = result["statuses"], result["hashes"]
    total = sum(statuses.values())
    base, flooded = statistics.median(alone), statistics.median(during)
    print(f"\nauthenticated read, median of {len(alone)}: {base * 1e3:.2f} ms alone, "
          f"{flooded * 1e3:.2f} ms during the flood ({flooded / base:.2f}×); flood: "
          f"{FLOOD_THREADS}×{FLOOD_RATE:.0f}/s, {total} attempts {statuses}, {hashed} "
          f"password hashes")
    assert statuses.get(429, 0) > 0.9 * total
    # Only the first burst, before any failure was recorded, reached the hash.
    assert hashed <= FLOOD_THREADS + 5


# --- lockout ---------------------------------------------------------------------------------

def test_lockout_after_repeated_failures_and_audited_unlock(app, client, session, world):
    for _ in range(2):  # 5 per window (the throttle), 10 in a row lock the account
        for i in range(5):
            assert attempt(client, "tech2", "wrong", address=f"192.0.2.{i + 1}").status_code == 401
        age_failures(app, session)
    user = get_user(session, "tech2")
    assert user.locked and user.failed_logins == 10
    lock = last_event(session, "user.lock")
    assert lock.actor == "system" and lock.entity_id == str(user.id)

    # The right password is refused (and says why); a wrong one is an ordinary failure.
    page = attempt(client, "tech2", PASSWORD)
    assert page.status_code == 403 and "locked" in page.get_data(as_text=True)
    assert attempt(client, "tech2", PASSWORD, json=True).status_code == 403
    assert "locked" not in attempt(client, "tech2", "wrong").get_data(as_text=True)

    admin = app.test_client()
    login(admin, "admin")
    listing = admin.get("/users").get_data(as_text=True)
    assert "locked" in listing
    resp = admin.post("/users/tech2/unlock", data={"csrf_token": csrf(admin, "/users/tech2")})
    assert resp.status_code == 303
    unlock = last_event(session, "user.unlock")
    assert unlock.actor == "admin" and '"failed_logins":11' in unlock.before
    assert not get_user(session, "tech2").locked
    assert attempt(client, "tech2", PASSWORD).status_code == 303  # no wait: failures forgotten


# --- sessions --------------------------------------------------------------------------------

def test_logout_revokes_the_session_cookie(app, client, session, world):
    login(client, "tech")
    cookie = client.get_cookie("session").value
    assert client.post("/logout", data={"csrf_token": csrf(client)}).status_code == 303
    assert last_event(session, "auth.logout").actor == "tech"
    replay = app.test_client()
    replay.set_cookie("session", cookie)
    assert replay.get("/").status_code == 401
    assert replay.get("/api/v1/samples").json["error"]["code"] == "unauthenticated"


def _set_session(session: Any, **values: Any) -> None:
    with unit_of_work(session):
        session.execute(update(UserSession).values(**values))


def test_idle_sessions_expire_and_active_ones_are_kept(client, session, world):
    login(client, "tech")
    now = utcnow()
    _set_session(session, last_seen_at=now - dt.timedelta(minutes=29))
    assert client.get("/").status_code == 200
    session.rollback()
    seen = session.scalars(select(UserSession.last_seen_at)).one()
    assert seen > now - dt.timedelta(minutes=1)  # the request counted as activity
    _set_session(session, last_seen_at=now - dt.timedelta(minutes=31))
    resp = client.get("/")
    assert resp.status_code == 401 and "session has ended" in resp.get_data(as_text=True)
    _set_session(session, last_seen_at=now)  # the cookie was dropped, too
    assert client.get("/").status_code == 401


def test_sessions_end_after_their_absolute_lifetime(client, session, world):
    login(client, "tech")
    _set_session(session, created_at=utcnow() - dt.timedelta(hours=12, minutes=1))
    assert client.get("/").status_code == 401


def test_a_disabled_users_session_and_token_stop_at_once(app, client, session, world):
    token = world.token(session, "tech")
    bearer = {"Authorization": f"Bearer {token}"}
    login(client, "tech")
    admin = app.test_client()
    login(admin, "admin")
    resp = admin.post("/users/tech/disable", data={"csrf_token": csrf(admin, "/users/tech"),
                                                   "reason": "left the lab"})
    assert resp.status_code == 303
    assert client.get("/").status_code == 401
    assert client.get("/api/v1/samples", headers=bearer).status_code == 401
    event = last_event(session, "user.disable")
    assert event.actor == "admin" and event.reason == "left the lab"
    assert '"sessions_revoked":1' in event.after
    assert attempt(app.test_client(), "tech", PASSWORD).status_code == 401

    admin.post("/users/tech/enable", data={"csrf_token": csrf(admin, "/users/tech")})
    assert last_event(session, "user.enable").actor == "admin"
    assert client.get("/api/v1/samples", headers=bearer).status_code == 200  # token is back
    assert client.get("/").status_code == 401  # the ended session is not


def test_the_session_cookie_is_secure_when_the_public_url_is_https(settings, world):
    for public_url, secure in (("https://lims.example.test", True),
                               ("http://127.0.0.1:5000", False)):
        app = create_app(dataclasses.replace(settings, public_url=public_url))
        try:
            client = app.test_client()
            resp = client.post("/login", data={"username": "tech", "password": PASSWORD,
                                               "csrf_token": csrf(client, "/login")})
            assert resp.status_code == 303
            assert ("; Secure" in resp.headers["Set-Cookie"]) is secure
            assert "HttpOnly" in resp.headers["Set-Cookie"]
        finally:
            app.extensions["lims"].engine.dispose()


# --- administration pages --------------------------------------------------------------------

def test_admin_pages_change_users_with_csrf_and_audit(app, client, session, world):
    login(client, "admin")
    page = client.get("/users").get_data(as_text=True)
    assert all(name in page for name in ("tech", "reviewer", "signatory2", "auditor"))
    token = csrf(client, "/users")

    resp = client.post("/users", data={"csrf_token": token, "username": "newbie",
                                       "full_name": "New Bie", "password": PASSWORD,
                                       "roles": ["technician"]})
    assert resp.status_code == 303 and resp.headers["Location"] == "/users/newbie"
    assert last_event(session, "user.create").actor == "admin"
    assert "New Bie" in client.get("/users/newbie").get_data(as_text=True)

    resp = client.post("/users/newbie/roles", data={"csrf_token": token,
                                                    "roles": ["reviewer", "signatory"],
                                                    "scopes": "textiles, electrical"})
    assert resp.status_code == 303
    event = last_event(session, "user.roles")
    assert event.actor == "admin" and '"roles":["technician"]' in event.before
    user = get_user(session, "newbie")
    assert {r.value for r in user.roles} == {"reviewer", "signatory"}
    assert user.scopes == {"textiles", "electrical"}
    assert client.post("/users/newbie/roles", data={"csrf_token": token, "roles": ["wizard"]},
                       headers={"Accept": "application/json"}).json["error"]["field"] == "roles"

    newbie = app.test_client()
    login_as = {"username": "newbie", "password": PASSWORD}
    assert newbie.post("/login", data={**login_as, "csrf_token": csrf(newbie, "/login")}
                       ).status_code == 303
    weak = client.post("/users/newbie/password", data={"csrf_token": token,
                                                       "password": "1234567890"},
                       headers={"Accept": "application/json"})
    assert weak.status_code == 422 and weak.json["error"]["field"] == "password"
    resp = client.post("/users/newbie/password", data={"csrf_token": token,
                                                       "password": NEW_PASSWORD})
    assert resp.status_code == 303
    event = last_event(session, "user.password_reset")
    assert event.actor == "admin" and NEW_PASSWORD not in (event.after or "")
    assert newbie.get("/").status_code == 401  # a reset ends the user's sessions
    assert attempt(newbie, "newbie", PASSWORD).status_code == 401
    assert attempt(newbie, "newbie", NEW_PASSWORD).status_code == 303

    api = world.token(session, "newbie")
    token_id = session.scalars(select(ApiToken.id).where(ApiToken.name == "test")
                               .order_by(ApiToken.id.desc())).first()
    assert f"/users/newbie/tokens/{token_id}/revoke" in client.get("/users/newbie").get_data(
        as_text=True)
    resp = client.post(f"/users/newbie/tokens/{token_id}/revoke", data={"csrf_token": token})
    assert resp.status_code == 303
    assert last_event(session, "token.revoke").actor == "admin"
    assert client.get("/api/v1/samples",
                      headers={"Authorization": f"Bearer {api}"}).status_code == 401

    resp = client.post("/users/newbie/sign-out", data={"csrf_token": token})
    assert resp.status_code == 303
    assert newbie.get("/").status_code == 401
    assert '"sessions_revoked":1' in last_event(session, "user.sign_out").after

    # No CSRF token, no change; the last administrator cannot be disabled or demoted.
    refused = client.post("/users/newbie/disable", headers={"Accept": "application/json"})
    assert refused.status_code == 400 and refused.json["error"]["code"] == "csrf"
    assert get_user(session, "newbie").active
    for path, data in (("/users/admin/disable", {}), ("/users/admin/roles", {"roles": ["qm"]}),
                       ("/users/admin/roles", {"roles": ["auditor"]})):
        resp = client.post(path, data={"csrf_token": token, **data},
                           headers={"Accept": "application/json"})
        assert resp.status_code in (409, 422), (path, resp.status_code)
    assert get_user(session, "admin").active
    assert client.get("/users/nobody").status_code == 404


ADMIN_ROUTES = [("GET", "/users"), ("GET", "/users/tech"), ("POST", "/users"),
                ("POST", "/users/tech/disable"), ("POST", "/users/tech/enable"),
                ("POST", "/users/tech/password"), ("POST", "/users/tech/roles"),
                ("POST", "/users/tech/unlock"), ("POST", "/users/tech/sign-out"),
                ("POST", "/users/tech/tokens/1/revoke")]


@pytest.mark.parametrize("name", ["tech", "qm", "auditor"])
def test_only_administrators_may_manage_users(app, client, session, world, name):
    def covered(rule: str) -> bool:
        return any(rule.replace("<username>", "tech").replace("<int:token_id>", "1") == p
                   for _, p in ADMIN_ROUTES)
    assert all(covered(r.rule) for r in app.url_map.iter_rules() if r.rule.startswith("/users"))
    login(client, name)
    token = csrf(client)
    for method, path in ADMIN_ROUTES:
        resp = client.open(path, method=method, headers={"Accept": "application/json"},
                           data={"csrf_token": token, "username": "x", "password": NEW_PASSWORD,
                                 "roles": ["admin"]} if method == "POST" else None)
        assert resp.status_code == 403, (name, method, path, resp.status_code)
    assert {r.value for r in get_user(session, "tech").roles} == {"technician"}


# --- CLI -------------------------------------------------------------------------------------

def test_every_user_command(session, world, database_url, tmp_path):
    from lims.cli import main

    env = {"LIMS_DATABASE_URL": database_url, "LIMS_INSTANCE_PATH": str(tmp_path / "inst"),
           "LIMS_SECRET_KEY": "test-secret", "LIMS_CLI_USER": "admin"}

    def lims(*args: str, input: str | None = None, **extra: str) -> Any:
        return CliRunner().invoke(main, ["user", *args], env={**env, **extra}, input=input)

    listed = lims("list", "--json")
    assert listed.exit_code == 0, listed.output
    import json
    assert {"username": "tech", "full_name": "Tech Tester", "roles": ["technician"],
            "scopes": [], "scope_items": [], "active": True, "locked": False,
            "failed_logins": 0} in json.loads(listed.output)
    assert "signatory2" in lims("list").output

    token = world.token(session, "tech")
    out = lims("disable", "tech", "--reason", "on leave")
    assert out.exit_code == 0 and "disabled tech" in out.output
    event = last_event(session, "user.disable")
    assert event.actor == "admin" and event.reason == "on leave"
    assert lims("enable", "tech").exit_code == 0
    assert last_event(session, "user.enable").actor == "admin"

    out = lims("reset-password", "tech", input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert out.exit_code == 0, out.output
    assert last_event(session, "user.password_reset").actor == "admin"
    weak = lims("reset-password", "tech", input="qwertyuiop\nqwertyuiop\n")
    assert weak.exit_code == 1 and "password" in weak.output

    out = lims("roles", "signatory2", "--role", "signatory", "--scope", "electrical",
               "--scope", "mechanical")
    assert out.exit_code == 0, out.output
    assert get_user(session, "signatory2").scopes == {"electrical", "mechanical"}
    assert last_event(session, "user.roles").actor == "admin"
    bad = lims("roles", "tech", "--role", "wizard")
    assert bad.exit_code == 1 and "roles" in bad.output

    with unit_of_work(session):
        session.execute(update(User).where(User.username == "tech2")
                        .values(locked_at=utcnow(), failed_logins=10))
    assert lims("unlock", "tech2").exit_code == 0
    assert not get_user(session, "tech2").locked
    assert last_event(session, "user.unlock").actor == "admin"

    out = lims("sign-out", "tech")
    assert out.exit_code == 0 and "ended 0 session(s)" in out.output

    tokens = json.loads(lims("tokens", "tech", "--json").output)
    assert [t["name"] for t in tokens] == ["test"] and tokens[0]["revoked_at"] is None
    assert "test" in lims("tokens", "tech").output
    out = lims("revoke-token", str(tokens[0]["id"]))
    assert out.exit_code == 0, out.output
    assert last_event(session, "token.revoke").actor == "admin"
    from lims.auth.services import user_for_token
    session.rollback()
    assert user_for_token(session, token) is None

    # Only an administrator acts; the last one cannot be disabled; unknown names are named.
    denied = lims("disable", "tech2", LIMS_CLI_USER="tech")
    assert denied.exit_code == 1 and "user.manage" in denied.output
    last = lims("disable", "admin")
    assert last.exit_code == 1 and "no active administrator" in last.output
    missing = lims("unlock", "nobody")
    assert missing.exit_code == 1 and "nobody" in missing.output
