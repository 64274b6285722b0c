"""Hostile and careless input on the issue 11 pages (issue 11; ISO/IEC 17025 7.11.2: the
system answers bad input with a clear refusal, never a crash): every GET page and API list,
with malformed, huge, negative or odd query strings and headers, answers below 500."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.world import login

HOSTILE_QUERIES = [
    "page=-1", "page=0", "page=99999999999999999999", "page=abc", "page=1e3", "page=%00",
    "limit=-5", "limit=0", "limit=100000000", "limit=x", "limit=1.5",
    "sort=nonsense", "sort=--number", "sort=", "sort=%00", "sort=" + "x" * 5000,
    "from=2026-13-45", "to=not-a-date", "from=0001-01-01", "to=9999-12-31", "from=%00",
    "from=2026-01-01&to=2025-01-01",
    "q=%25", "q=_", "q=%00", "q=\\", "q=" + "a" * 10000, "q=%27%22%3C",
    "format=exe", "format=CSV", "format=%00", "format=xlsx&page=-1",
    "lang=xx", "lang=%00", "lang=" + "z" * 3000,
    "size=bogus", "size=-1", "rows=100000000", "rows=-3", "rows=abc",
    "version=abc", "version=-1", "version=99999999999999999999",
    "customer=abc", "customer=-1", "customer=99999999999999999999", "status=bogus",
    "method=abc", "instrument=%00", "user=%00", "action=%00", "entity=%00", "assignee=%00",
    "assignee=" + "u" * 5000, "quantity=%00", "q=%01%1f",
    "numbers=" + ",".join(["X"] * 10_000),
    "numbers=%00", "numbers=,,,,", "fragment=grid", "fragment=%00",
    "next=//evil.example", "next=https://evil.example",
    "page=2&page=3&limit=1&limit=2", "page=10000000&limit=500", "limit=500&format=csv",
]

# Paths with ids; {sample} and {report} are filled in from the test world.
PATHS = [
    "/", "/dashboard", "/samples", "/requests", "/requests/new", "/customers",
    "/customers/new", "/customers/{customer}", "/customers/abc", "/customers/999999999999",
    "/methods", "/methods/{method}", "/methods/abc", "/methods/-1", "/instruments", "/instruments/EQ-1",
    "/samples/{sample}", "/samples/{sample}/grid", "/samples/{sample}?fragment=grid",
    "/samples/{sample}/label.pdf", "/labels.pdf", "/scan", "/audit/", "/verify",
    "/samples/{sample}/report/preview.pdf", "/samples/{sample}/report/confirm",
    "/samples/NOPE/grid", "/samples/%00/label.pdf",
    "/api/v1/samples", "/api/v1/reports", "/api/v1/instruments", "/api/v1/customers",
    "/api/v1/audit/events", "/api/v1/requests/NOPE", "/api/v1/methods",
    "/supervision/plans", "/supervision/notices", "/supervision/backups",
    "/supervision/calendar", "/supervision/inspectors/users", "/users", "/users/tech",
    "/scope/search",
]


@pytest.fixture
def filled(session: Any, world: Any) -> dict[str, str]:
    return {"sample": world.new_sample(session), "customer": str(world.customer_id),
            "method": str(world.method_id)}


@pytest.mark.parametrize("role", ["admin", "auditor"])
def test_no_hostile_query_string_makes_a_page_fail(client: Any, filled: dict[str, str],
                                                     role: str) -> None:
    login(client, role)
    failures = []
    for path in PATHS:
        url = path.format(**filled)
        sep = "&" if "?" in url else "?"
        for query in HOSTILE_QUERIES:
            resp = client.get(f"{url}{sep}{query}", headers={"Accept-Language": "zz;q=abc,,;"})
            if resp.status_code >= 500:
                failures.append((f"{url}{sep}{query[:60]}", resp.status_code))
    assert not failures, "\n".join(f"{u} {c}" for u, c in failures)


def test_garbage_accept_language_and_cookies_do_not_break_pages(
        client: Any, filled: dict[str, str]) -> None:
    login(client, "tech")
    for header in ("", "*", ";;;", "zh-CN;q=x", "x" * 5000, "\x00", "zh_CN, en;q=0.5",
                   "en-US;q=2"):
        for path in ("/", "/samples", "/requests/new", "/dashboard"):
            resp = client.get(path, headers={"Accept-Language": header})
            assert resp.status_code < 500, (path, header[:20], resp.status_code)


BAD_VERSIONS: list[Any] = ["abc", -1, 2**70, 1e100, None, [], {}, True, "", "1" * 5000]


@pytest.mark.parametrize("version", BAD_VERSIONS)
def test_no_bad_version_or_reason_makes_a_patch_fail(client: Any, session: Any, world: Any,
                                                     version: Any) -> None:
    """Optimistic locking's ``version`` and the ``reason`` from a careless or hostile client:
    refused with the field named, never a 500 and never a write."""
    from sqlalchemy import func, select

    from lims.audit.models import AuditEvent

    headers = {"Authorization": f"Bearer {world.token(session, 'qm')}"}
    before = session.scalar(select(func.count()).select_from(AuditEvent))
    for url, body in ((f"/api/v1/customers/{world.customer_id}", {"name": "Other"}),
                      (f"/api/v1/methods/{world.method_id}", {"title": "Other"}),
                      ("/api/v1/instruments/EQ-1", {"name": "Other"})):
        for reason in ("", "x" * 100_000, "\x00", 5):
            resp = client.patch(url, json={**body, "version": version, "reason": reason},
                                headers=headers)
            assert 400 <= resp.status_code < 500, (url, version, reason, resp.status_code)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == before
