"""A hostile user and a careless operator on the issue 11 pages: redirects that leave the
site, spreadsheet formulas in exports, and requests that cost the server far more than they
should are refused (issue 11; ISO/IEC 17025 7.11.2)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from tests.support.world import csrf, login


@pytest.mark.parametrize("target", ["/\\evil.example", "/\\/evil.example", "/\t/evil.example",
                                    "/\n/evil.example", "//evil.example",
                                    "https://evil.example/"])
def test_the_language_switch_never_redirects_off_the_site(client: Any, world: Any,
                                                          target: str) -> None:
    login(client, "tech")
    resp = client.post("/locale", data={"locale": "en", "next": target,
                                        "csrf_token": csrf(client)})
    assert resp.status_code == 303
    location = resp.headers["Location"]
    assert "evil" not in location, location


def test_the_language_switch_still_returns_to_the_page_it_was_on(client: Any,
                                                                 world: Any) -> None:
    login(client, "tech")
    resp = client.post("/locale", data={"locale": "en", "next": "/samples?q=a%20b&page=2",
                                        "csrf_token": csrf(client)})
    assert resp.headers["Location"].endswith("/samples?q=a%20b&page=2")


def test_the_audit_export_quotes_a_reason_a_spreadsheet_would_run(client: Any,
                                                                  world: Any) -> None:
    login(client, "tech")
    page = client.get(f"/customers/{world.customer_id}").get_data(as_text=True)
    version = page.split('name="version" value="', 1)[1].split('"', 1)[0]
    resp = client.post(f"/customers/{world.customer_id}", data={
        "name": "ACME Textiles", "contact": "Ms Li", "address": "", "phone": "",
        "credit_code": "", "reason": "=HYPERLINK(\"http://evil.example\",\"x\")",
        "version": version, "csrf_token": csrf(client, f"/customers/{world.customer_id}")})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:400]
    login(client, "auditor")
    body = client.get("/audit/?format=csv").get_data(as_text=True)
    assert "'=HYPERLINK(" in body
    assert ",=HYPERLINK(" not in body and '"=HYPERLINK(' not in body


def test_labels_for_thousands_of_numbers_are_refused_before_any_lookup(
        app: Any, client: Any, world: Any) -> None:
    login(client, "tech")
    statements: list[str] = []

    def counted(*args: Any) -> None:
        statements.append(args[2])

    engine = app.extensions["lims"].engine
    numbers = ",".join(f"WT2026-{i:06d}" for i in range(10_000))
    event.listen(engine, "before_cursor_execute", counted)
    try:
        resp = client.get(f"/labels.pdf?numbers={numbers}")
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    assert resp.status_code == 422
    assert "500" in resp.get_data(as_text=True)  # "at most 500 labels"
    # The login check and the page's own queries, not one lookup per number.
    assert len(statements) < 30, len(statements)


def test_a_bogus_label_size_is_refused_before_any_lookup(client: Any, world: Any) -> None:
    login(client, "tech")
    resp = client.get("/labels.pdf?numbers=NOPE&size=bogus")
    assert resp.status_code == 422  # the size, not "no sample NOPE"
    assert "size" in resp.get_data(as_text=True)


@pytest.mark.parametrize("cid", ["²", "99999999999999999999", "٣"])
def test_a_forged_grid_field_is_no_crash_and_writes_nothing(client: Any, session: Any,
                                                            world: Any, cid: str) -> None:
    from sqlalchemy import func, select

    from lims.samples.models import Result

    number = world.new_sample(session)
    login(client, "tech")
    before = session.scalar(select(func.count()).select_from(Result))
    resp = client.post(f"/samples/{number}/grid", data={
        "csrf_token": csrf(client, f"/samples/{number}"), "save": "all",
        f"value-{world.mass_id}": "100.01", f"unit-{world.mass_id}": "g",
        f"value-{cid}": "1", f"unit-{cid}": "g"})
    assert resp.status_code < 500, resp.get_data(as_text=True)[-600:]
    session.rollback()
    # The forged row is not a row of the grid: the real one is recorded, and only it.
    assert session.scalar(select(func.count()).select_from(Result)) == before + 1


def test_every_form_post_without_a_csrf_token_is_refused(app: Any, client: Any,
                                                         world: Any) -> None:
    """Every POST/PATCH/DELETE route, the issue 11 ones included, refuses a cookie session's
    request without the token (OWASP CSRF), before it reads anything of the request."""
    login(client, "admin")
    checked, wrong = 0, []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) & {"POST", "PATCH", "PUT", "DELETE"}):
            url = rule.rule
            for arg in rule.arguments:
                converter = rule._converters[arg]  # noqa: SLF001 - which kind of argument
                value = "1" if type(converter).__name__ in ("IntegerConverter",) else "X1"
                url = url.replace(f"<{arg}>", value)
                for prefix in ("int:", "path:", "string:", "text:"):
                    url = url.replace(f"<{prefix}{arg}>", value)
            resp = client.open(url, method=method, data={"reason": "x", "locale": "en"})
            checked += 1
            if resp.status_code != 400:
                wrong.append(f"{method} {url} {resp.status_code}")
    assert checked > 50
    assert not wrong, "\n".join(wrong)


def test_an_auditor_changes_nothing_through_the_new_forms(client: Any, session: Any,
                                                         world: Any) -> None:
    """ISO/IEC 17025 8.4 / issue 11: the auditor reads everything and changes nothing; the
    server refuses each new form's POST (the buttons being hidden is not the control)."""
    from sqlalchemy import func, select

    from lims.audit.models import AuditEvent
    from lims.samples.models import Sample

    number = world.new_sample(session)
    req = session.scalar(select(Sample).where(Sample.number == number)).request.number
    session.rollback()
    login(client, "auditor")
    token = csrf(client)
    before = session.scalar(select(func.count()).select_from(AuditEvent))
    posts = {
        "/requests": {"customer_id": str(world.customer_id), "s-0-description": "x",
                      "s-0-method_ids": str(world.method_id)},
        f"/requests/{req}/receive": {"samples": number, "condition": "intact"},
        "/customers/new": {"name": "Evil Corp", "confirm": "1"},
        "/customers/new?dup": {"name": "ACME Textiles"},  # a duplicate: the confirm form
        f"/customers/{world.customer_id}": {"name": "Renamed", "reason": "x", "confirm": "1"},
        f"/customers/{world.customer_id}?dup": {"name": "ACME Textile", "reason": "x"},
        f"/customers/{world.customer_id}/retire": {"reason": "x"},
        f"/methods/{world.method_id}": {"title": "x", "reason": "x"},
        f"/methods/{world.method_id}/retire": {"reason": "x"},
        f"/queue/{number}/take": {},
        "/instruments/EQ-1/edit": {"name": "x", "reason": "x"},
        "/instruments/EQ-1/retire": {"reason": "x"},
        f"/samples/{number}/grid": {f"value-{world.mass_id}": "100.0",
                                    f"unit-{world.mass_id}": "g"},
        f"/samples/{number}/return": {"reason": "x"},
        f"/samples/{number}/return-to-review": {"reason": "x"},
    }
    wrong = []
    for url, data in posts.items():
        resp = client.post(url, data={**data, "csrf_token": token})
        if resp.status_code != 403:
            wrong.append(f"{url} {resp.status_code}")
    assert not wrong, "\n".join(wrong)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == before


def test_a_technician_cannot_edit_or_retire_a_method(client: Any, session: Any,
                                                    world: Any) -> None:
    login(client, "tech")
    token = csrf(client)
    for url in (f"/methods/{world.method_id}", f"/methods/{world.method_id}/retire"):
        resp = client.post(url, data={"title": "x", "reason": "x", "csrf_token": token})
        assert resp.status_code == 403, url
    resp = client.patch(f"/api/v1/methods/{world.method_id}", json={"title": "x", "reason": "x"},
                        headers={"Authorization": f"Bearer {world.token(session, 'tech')}"})
    assert resp.status_code == 403


PAYLOAD = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


def test_user_text_is_escaped_on_every_new_page(client: Any, session: Any,
                                                world: Any) -> None:
    from lims.db import unit_of_work
    from lims.samples import services as samples

    with unit_of_work(session):
        evil = samples.create_customer(session, actor=world.user(session, "tech"),
                                       name="Evil " + PAYLOAD, contact=PAYLOAD).id
    number = world.new_sample(session, customer_id=evil)
    login(client, "tech")
    token = csrf(client, f"/samples/{number}")
    # A rejected grid row echoes what was typed, and the service's message about it.
    client.post(f"/samples/{number}/grid", data={
        "csrf_token": token, f"value-{world.mass_id}": PAYLOAD, f"unit-{world.mass_id}": PAYLOAD})
    urls = ["/", "/dashboard", "/samples", f"/samples?q={PAYLOAD}", "/requests",
            f"/requests?q={PAYLOAD}", "/customers", f"/customers/{evil}",
            f"/samples/{number}", f"/samples/{number}?fragment=grid", "/audit/",
            f"/scan?q={PAYLOAD}"]
    login(client, "qm")
    for url in urls:
        resp = client.get(url, follow_redirects=True)
        body = resp.get_data(as_text=True)
        assert resp.status_code < 500, url
        assert "<script>alert" not in body and "<img src=x" not in body, url
    # Not vacuous: the text is on the pages, escaped.
    for url in ("/customers", f"/customers/{evil}", f"/samples/{number}"):
        assert "&lt;script&gt;alert(1)" in client.get(url).get_data(as_text=True), url


def test_an_export_larger_than_its_bound_is_refused_not_cut(app: Any, session: Any,
                                                           world: Any) -> None:
    """A careless operator exports a list past the bound: told so, not handed a file that
    silently stops at the bound and passes for the whole list."""
    from sqlalchemy import select

    from lims.errors import InvalidInput
    from lims.samples.models import Sample
    from lims.web import listing

    for _ in range(3):
        world.new_sample(session)
    columns = [listing.Column("number", "Number", lambda s: s.number)]
    query = select(Sample).order_by(Sample.id)
    with app.test_request_context("/samples?format=csv"):
        with pytest.raises(InvalidInput) as refused:
            listing.export(session, query, columns, "csv", "samples", max_rows=2)
        assert refused.value.field == "format" and "3 rows" in refused.value.message
        resp = listing.export(session, query, columns, "csv", "samples", max_rows=3)
        assert len("".join(resp.response).lstrip("\ufeff").splitlines()) == 4


@pytest.mark.parametrize(("name", "offered"), [("tech", False), ("qm", True), ("auditor", True)])
def test_the_nav_offers_the_audit_trail_only_to_whom_may_read_it(client: Any, world: Any,
                                                                name: str, offered: bool) -> None:
    login(client, name)
    page = client.get("/samples").get_data(as_text=True)
    assert ('href="/audit/"' in page) is offered
    assert client.get("/audit/").status_code == (200 if offered else 403)
