"""The audit trail for auditors (issue 11 §5): filters, pages, the changes, local time, the CSV
export and the chain check, through the pages and the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from lims.audit.models import AuditEvent
from lims.db import unit_of_work
from lims.samples import services as samples
from tests.support.world import csrf, login

TZ = ZoneInfo("Asia/Shanghai")


_TOKENS: dict[int, str] = {}


def _api(client: Any, session: Any, world: Any, **query: Any) -> Any:
    """GET the events as the auditor (one token per client: a token's creation is audited)."""
    token = _TOKENS.get(id(client))
    if token is None:
        token = _TOKENS[id(client)] = world.token(session, "auditor")
    resp = client.get("/api/v1/audit/events", query_string=query,
                      headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.json


def test_a_sample_number_in_any_case_finds_the_events_of_its_results_and_report(
        client: Any, session: Any, world: Any, settings: Any) -> None:
    number, report = world.reported_sample(session, settings)
    other = world.new_sample(session)
    found = _api(client, session, world, number=number.lower())
    kinds = {(e["entity_type"], e["action"]) for e in found["events"]}
    assert {("samples", "sample.register"), ("results", "result.record"),
            ("reports", "report.issue"), ("report_claims", "report.claim")} <= kinds
    assert found["total"] == len(found["events"]) and found["page"] == 1
    assert other not in {e["entity_id"] for e in found["events"]}
    # Every result event found is one of this sample's results, and all of them are found.
    results = [e for e in found["events"] if e["entity_type"] == "results"]
    assert len(results) == 2 and all(json.loads(e["after"])["test_id"] for e in results)
    # Narrowed to one kind of record, and a report number finds the report's own events.
    only = _api(client, session, world, number=number, entity="results")
    assert {e["action"] for e in only["events"]} == {"result.record"} and only["total"] == 2
    by_report = _api(client, session, world, number=report)
    assert {e["action"] for e in by_report["events"]} == {"report.claim", "report.issue"}


def test_filters_by_actor_name_action_and_lab_days(client: Any, session: Any, world: Any,
                                                   settings: Any) -> None:
    world.reported_sample(session, settings)
    by_name = _api(client, session, world, actor="Reviewer Test")  # part of the full name
    assert by_name["total"] >= 1 and {e["actor"] for e in by_name["events"]} == {"reviewer"}
    by_user = _api(client, session, world, actor="revie")  # part of the username
    assert by_user["total"] == by_name["total"]
    recorded = _api(client, session, world, action="result.record")
    assert recorded["total"] == 2 and {e["action"] for e in recorded["events"]} == {
        "result.record"}
    today = dt.datetime.now(TZ).date()
    newest = session.scalar(select(func.max(AuditEvent.seq)))
    assert _api(client, session, world, since=today.isoformat())["events"][0]["seq"] == newest
    assert _api(client, session, world, until=(today - dt.timedelta(days=1)).isoformat(),
                since=(today - dt.timedelta(days=1)).isoformat())["total"] == 0
    assert _api(client, session, world, since=(today + dt.timedelta(days=1)).isoformat()
                )["total"] == 0
    # The days are the lab's: the range starts at midnight in Asia/Shanghai (16:00 UTC).
    start = dt.datetime.combine(today, dt.time(), TZ).astimezone(dt.UTC)
    total = session.scalar(select(func.count()).select_from(AuditEvent)
                           .where(AuditEvent.at >= start))
    assert _api(client, session, world, since=today.isoformat())["total"] == total


def test_bad_filters_are_refused_naming_the_parameter(client: Any, session: Any,
                                                      world: Any) -> None:
    token = world.token(session, "auditor")
    for query, field in (({"since": "2026-13-01"}, "since"), ({"limit": "0"}, "limit"),
                         ({"since": "2026-02-02", "until": "2026-02-01"}, "until")):
        resp = client.get("/api/v1/audit/events", query_string=query,
                          headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 422 and resp.json["error"]["field"] == field, query
    login(client, "auditor")
    page = client.get("/audit/?since=yesterday")
    assert page.status_code == 422 and 'id="filter-error"' in page.get_data(as_text=True)
    assert "since" in page.get_data(as_text=True)


def test_pages_count_and_link_with_the_filters_kept(client: Any, session: Any, world: Any,
                                                    settings: Any) -> None:
    world.reported_sample(session, settings)
    first = _api(client, session, world, limit=3)
    head = session.scalar(select(func.max(AuditEvent.seq)))
    second = _api(client, session, world, limit=3, page=2)
    assert first["total"] == second["total"] == head  # unfiltered: the whole chain
    assert [e["seq"] for e in first["events"]] == [head, head - 1, head - 2]
    assert [e["seq"] for e in second["events"]] == [head - 3, head - 4, head - 5]
    filtered = _api(client, session, world, actor="tech", limit=2, page=2)
    everyone = session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.actor.in_(["tech"])))
    assert filtered["total"] == everyone and len(filtered["events"]) == 2

    login(client, "auditor")
    html = client.get("/audit/", query_string={"actor": "tech", "limit": 2}).get_data(
        as_text=True)
    pages = -(-everyone // 2)
    assert f"{everyone} events" in html and f"page 1 of {pages}" in html
    assert len(re.findall(r'<tr id="event-\d+"', html)) == 2
    older = re.search(r'<a rel="next" href="([^"]+)"', html)
    assert older is not None
    link = older.group(1).replace("&amp;", "&")
    assert "actor=tech" in link and "limit=2" in link and "page=2" in link
    assert f"page 2 of {pages}" in client.get(link).get_data(as_text=True)


def test_the_page_shows_local_time_and_what_changed(client: Any, session: Any, world: Any) -> None:
    number = world.new_sample(session)  # received: registered → received
    login(client, "auditor")
    html = client.get("/audit/", query_string={"number": number}).get_data(as_text=True)
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "sample.receive",
                                                    AuditEvent.entity_id == number))
    row = html.split(f'<tr id="event-{event.seq}">', 1)[1].split('<tr id="event-', 1)[0]
    local = event.at.astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S")
    utc = event.at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    assert local in row and utc not in row
    assert "Time (Asia/Shanghai)" in html
    # A readable table of field: old → new, not the raw JSON.
    assert ('<th scope="row" title="status">Status</th><td class="old-value">registered</td>'
            '<td aria-hidden="true">→</td><td class="new-value">received</td>') in row
    assert event.after not in row
    api = _api(client, session, world, number=number, action="sample.receive")
    assert {"field": "status", "old": "registered", "new": "received"} in api["events"][0][
        "changes"]


def test_csv_export_is_utf8_with_bom_and_keeps_chinese(client: Any, session: Any,
                                                       world: Any) -> None:
    with unit_of_work(session):
        samples.create_customer(session, actor=world.user(session, "tech"),
                                name="湖北某某有限公司")
    login(client, "auditor")
    resp = client.get("/audit/", query_string={"action": "customer.create", "format": "csv",
                                               "page": 3})
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    body = resp.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:4] == ["No.", "Time (Asia/Shanghai)", "Actor", "Action"]
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"  # one charset
    mine = [r for r in rows[1:] if "湖北某某有限公司" in r[6]]
    assert len(mine) == 1 and mine[0][3] == "customer.create"  # the page is not applied
    assert all(r[3] == "customer.create" for r in rows[1:])
    assert "name: — → 湖北某某有限公司" in mine[0][6]


def test_the_chain_check_is_queued_on_request_and_is_shown(app: Any, client: Any, session: Any,
                                                           world: Any) -> None:
    from lims.scheduler import run_job

    login(client, "auditor")
    before = session.scalar(select(func.count()).select_from(AuditEvent))
    html = client.get("/audit/").get_data(as_text=True)
    assert "has not been checked yet" in html and f"{before} events recorded" in html
    session.rollback()
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == before  # no walk
    resp = client.post("/audit/verify", data={"csrf_token": csrf(client, "/audit/")})
    assert resp.status_code == 303
    html = client.get("/audit/").get_data(as_text=True)
    assert "Verification queued" in html and 'id="chain-queued"' in html
    assert "has not been checked yet" in html  # queued, not walked in the request
    assert run_job("audit-verify-queued", app)["ran"] is True  # the scheduler's next minute
    html = client.get("/audit/").get_data(as_text=True)
    verdict = html.split('id="verdict"', 1)[1].split("</p>", 1)[0]
    assert "Intact:" in verdict and f"{before + 1} events verified" in verdict  # + the request
    assert "by auditor" in verdict and 'id="chain-queued"' not in html
    session.rollback()
    check = session.scalar(select(AuditEvent).where(AuditEvent.action == "audit.verify"))
    assert check.actor == "auditor" and json.loads(check.after)["ok"] is True


def test_only_readers_of_the_audit_trail_see_it(client: Any, world: Any) -> None:
    login(client, "tech")
    assert client.get("/audit/").status_code == 403
    assert client.get("/audit/?format=csv").status_code == 403
    assert client.post("/audit/verify", data={"csrf_token": csrf(client)}).status_code == 403


def test_the_page_and_export_are_in_chinese_when_asked(client: Any, world: Any) -> None:
    login(client, "auditor")
    zh = {"Accept-Language": "zh-CN,zh;q=0.9"}
    html = client.get("/audit/", headers=zh).get_data(as_text=True)
    for text in ("审计追踪", "哈希链校验", "操作人", "变更内容", "导出 CSV", "时间（Asia/Shanghai）"):
        assert text in html, text
    assert "Audit trail" not in html
    body = client.get("/audit/?format=csv", headers=zh).get_data()
    assert body.decode("utf-8-sig").startswith("序号,时间（Asia/Shanghai）,操作人,操作")
