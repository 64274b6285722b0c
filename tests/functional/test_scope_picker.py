"""Scope items chosen by typing (issue 14): the users page's "Create a user" form and a user's
page offer the items the user holds and the latest granted and search the rest on the
server, so they are as big, and ask the database as often, at 60 scope items as at 560; the
users are listed 50 a page, searched by username or name. Without the page's script the scope
field takes items as typed, and an unknown one is refused by name with nothing written."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

from sqlalchemy import func, insert, select

from lims.accreditation.models import ScopeItem, SignatoryAuthority
from lims.auth.models import User, UserRole
from lims.auth.services import get_user
from lims.db import unit_of_work
from tests.functional.test_page_scale import _measure, _tokens
from tests.support.world import csrf, login

PASSWORD = "a-long-enough-passphrase"
GRANTED = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _items(session: Any, numbers: range) -> dict[str, int]:
    with unit_of_work(session):
        session.execute(insert(ScopeItem), [
            {"category": "test", "method_code": f"GB/T Z{i:04d}-2020",
             "parameter": f"Param {i:04d}", "object": "纺织品"} for i in numbers])
    return dict(session.execute(select(ScopeItem.method_code, ScopeItem.id)).all())


def _users(session: Any, numbers: range) -> None:
    with unit_of_work(session):
        session.execute(insert(User), [
            {"username": f"zuser{i:04d}", "full_name": f"Scale User {i:04d}",
             "password_hash": "x", "created_at": GRANTED} for i in numbers])
        ids = session.scalars(select(User.id).where(User.username.in_(
            [f"zuser{i:04d}" for i in numbers]))).all()
        session.execute(insert(UserRole), [{"user_id": i, "role": "technician"} for i in ids])


def _grant(session: Any, username: str, ids: list[int]) -> None:
    with unit_of_work(session):
        user = get_user(session, username)
        session.execute(insert(SignatoryAuthority), [
            {"user_id": user.id, "scope_item_id": i, "granted_at": GRANTED} for i in ids])


def _held(session: Any, username: str) -> set[int]:
    session.rollback()  # read what the app committed, not this snapshot
    user = session.scalar(select(User).where(User.username == username)
                          .execution_options(populate_existing=True))
    return set(user.scope_items) if user else set()


def _without_totals(page: str) -> str:
    """The page without the pager's counts (67 users, then 307: one digit more)."""
    return re.sub(r'<nav class="pager".*?</nav>', "", _tokens(page), flags=re.DOTALL)


def test_user_pages_do_not_grow_with_the_scope_or_the_users(app, client, session, world,
                                                             run_log):
    codes = _items(session, range(1, 61))
    _users(session, range(1, 61))
    _grant(session, "signatory", [codes["GB/T Z0040-2020"], codes["GB/T Z0041-2020"]])
    login(client, "admin")
    urls = ("/users", "/users/signatory")
    few = {url: _measure(app, client, url) for url in urls}
    _items(session, range(61, 561))
    _users(session, range(61, 301))
    many = {url: _measure(app, client, url) for url in urls}
    for url in urls:
        (small, small_sql), (big, big_sql) = few[url], many[url]
        assert big_sql == small_sql, (url, small_sql, big_sql)
        assert _without_totals(big) == _without_totals(small), url
        # The granted items ticked, then the first by code: 12 boxes, whatever the scope.
        assert len(re.findall(r'name="scope_items" value="\d+"', big)) == 12, url
        assert "GB/T Z0100-2020" not in big, url
        run_log(f"{url}: {len(small)} -> {len(big)} bytes, {big_sql} statements "
                f"at 60 -> 560 scope items, 68 -> 308 users")
    page = many["/users/signatory"][0]
    for code in ("GB/T Z0040-2020", "GB/T Z0041-2020"):
        assert f'value="{codes[code]}" checked> #{codes[code]} {code}' in page
    users = many["/users"][0]
    assert "1–50 of 308" in users and "zuser0042" in users and "zuser0043" not in users
    assert "zuser0300" in client.get("/users?page=7").get_data(as_text=True)


def test_the_users_list_is_searched_and_its_paging_checked(client, session, world):
    login(client, "admin")
    found = client.get("/users?q=TECH").get_data(as_text=True)
    assert ">tech</a>" in found and ">tech2</a>" in found and ">admin</a>" not in found
    assert ">reviewer</a>" in client.get("/users", query_string={"q": "reviewer"}).get_data(
        as_text=True)
    assert ">admin</a>" in client.get("/users?sort=-username&limit=1&page=8").get_data(
        as_text=True)
    for query, field in (("page=abc", "page"), ("page=0", "page"), ("limit=100000", "limit"),
                         ("sort=password_hash", "sort"), ("q=" + "x" * 101, "q"),
                         ("q=a%00b", "q")):
        resp = client.get(f"/users?{query}", headers={"Accept": "application/json"})
        assert resp.status_code == 422 and resp.json["error"]["field"] == field, query
        assert client.get(f"/users?{query}").status_code == 422, query


def test_scope_search_needs_user_management_and_is_bounded(client, session, world):
    codes = _items(session, range(1, 40))
    assert client.get("/scope/search?q=Z").status_code == 401
    for name in ("tech", "qm"):  # qm manages the scope, not who may sign for it
        login(client, name)
        assert client.get("/scope/search?q=Z").status_code == 403, name
        client.post("/logout", data={"csrf_token": csrf(client)})
    login(client, "admin")
    found = client.get("/scope/search", query_string={"q": "param 000"}).get_json()["scope_items"]
    assert [i["id"] for i in found] == [codes[f"GB/T Z{i:04d}-2020"] for i in range(1, 10)]
    first = found[0]
    assert first["value"] == f"#{first['id']} GB/T Z0001-2020 Param 0001"
    # By method code in any case, by code and parameter, and by number (the label typed).
    one = codes["GB/T Z0012-2020"]
    for q in ("gb/t z0012-2020", "Z0012-2020 Param 0012", f"#{one}",
              f"#{one} GB/T Z0012-2020 Param 0012"):
        assert client.get("/scope/search", query_string={"q": q}).get_json()[
            "scope_items"][0]["id"] == one, q
    assert len(client.get("/scope/search?q=GB").get_json()["scope_items"]) == 20
    assert len(client.get("/scope/search?q=").get_json()["scope_items"]) == 20
    assert client.get("/scope/search?q=nothing-like-it").get_json()["scope_items"] == []
    assert client.get("/scope/search", query_string={"q": "x" * 101}).status_code == 422


def _create(client: Any, **fields: Any) -> Any:
    return client.post("/users", data={
        "csrf_token": csrf(client, "/users"), "username": "newsig", "full_name": "New Sig",
        "password": PASSWORD, "roles": ["signatory"], **fields})


def test_users_are_granted_typed_items_and_ticked_ids(client, session, world):
    codes = _items(session, range(1, 8))
    c = {n: codes[f"GB/T Z{n:04d}-2020"] for n in range(1, 8)}
    login(client, "admin")
    typed = (f"#{c[1]} GB/T Z0001-2020 Param 0001; #{c[2]}；gb/t z0003-2020 param 0003\n"
             "GB/T Z0004-2020")
    resp = _create(client, scope_items=[str(c[5])], scope_items_typed=typed)
    assert resp.status_code == 303, resp.get_data(as_text=True)
    assert _held(session, "newsig") == {c[1], c[2], c[3], c[4], c[5]}
    page = client.get("/users/newsig").get_data(as_text=True)
    assert f'name="scope_items" value="{c[5]}" checked' in page

    # The user's page: a box unticked drops the item, one typed adds it; ids alone still work.
    token = csrf(client, "/users/newsig")
    resp = client.post("/users/newsig/roles", data={
        "csrf_token": token, "roles": "signatory", "scope_items": [str(c[1]), str(c[2])],
        "scope_items_typed": "GB/T Z0006-2020 Param 0006"})
    assert resp.status_code == 303, resp.get_data(as_text=True)
    assert _held(session, "newsig") == {c[1], c[2], c[6]}
    resp = client.post("/users/newsig/roles", data={
        "csrf_token": token, "roles": "signatory", "scope_items": str(c[7])})
    assert resp.status_code == 303 and _held(session, "newsig") == {c[7]}


def test_an_unknown_typed_item_is_refused_by_name_and_nothing_is_written(client, session,
                                                                          world):
    codes = _items(session, range(1, 4))
    one = codes["GB/T Z0001-2020"]
    with unit_of_work(session):  # a second item of GB/T Z0002-2020: its code alone is ambiguous
        session.execute(insert(ScopeItem), [{"category": "test", "method_code": "GB/T Z0002-2020",
                                             "parameter": "Other"}])
    login(client, "admin")
    count = session.scalar(select(func.count()).select_from(User))
    for typed, named in (("#999999", "'#999999'"), ("NOPE-1 Mass", "'NOPE-1 Mass'"),
                         (f"#{one} GB/T Z0009-2020 Param 0009", "GB/T Z0009-2020"),
                         ("GB/T Z0002-2020", "names several scope items"),
                         ("GB/T Z0001-2020\x00", "control character")):
        resp = _create(client, full_name="Kept Name", scope_items=[str(one)],
                       scope_items_typed=f"GB/T Z0003-2020; {typed}")
        page = resp.get_data(as_text=True)
        text = html.unescape(page)
        assert resp.status_code == 422 and named in text, (typed, text[-3000:])
        assert 'id="scope_items-error"' in page and 'aria-invalid="true"' in page
        # What was typed, ticked and filled in is kept; the password is not.
        assert f'name="scope_items" value="{one}" checked' in page
        assert f'value="GB/T Z0003-2020; {typed}"' in text or "\x00" in typed
        assert 'value="Kept Name"' in page and PASSWORD not in page
        assert 'name="roles" value="signatory" checked' in page
    session.rollback()
    assert session.scalar(select(func.count()).select_from(User)) == count
    api = client.post("/users", headers={"Accept": "application/json"}, data={
        "csrf_token": csrf(client, "/users"), "username": "newsig", "password": PASSWORD,
        "roles": ["signatory"], "scope_items_typed": "#999999"})
    assert api.status_code == 422 and api.json["error"]["field"] == "scope_items_typed"

    _grant(session, "signatory", [one])
    token = csrf(client, "/users/signatory")
    resp = client.post("/users/signatory/roles", data={
        "csrf_token": token, "roles": "signatory", "scopes": "textiles, paper",
        "scope_items_typed": "NOPE-2"})
    page = html.unescape(resp.get_data(as_text=True))
    assert resp.status_code == 422 and "'NOPE-2'" in page and 'value="NOPE-2"' in page
    assert 'value="textiles, paper"' in page  # the fields as typed, not as saved
    assert _held(session, "signatory") == {one}
    assert get_user(session, "signatory").scopes == {"textiles"}
    # An id that names no item is refused as before (the service names it).
    resp = client.post("/users/signatory/roles", data={
        "csrf_token": token, "roles": "signatory", "scope_items": "999999"})
    assert resp.status_code == 422 and "#999999" in resp.get_data(as_text=True)
    assert _held(session, "signatory") == {one}
