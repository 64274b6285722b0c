"""The audit trail's changes as a reader reads them (issue 11 §1, §5): translated field and
action names and values, the lab's time, people by name, nested objects as key: value, one
mark for empty; the stored events unchanged and the CSV machine-faithful. SQLite and
PostgreSQL (the ``client`` fixture)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from lims.audit.models import AuditEvent
from tests.support.world import login

TZ = ZoneInfo("Asia/Shanghai")  # the lab's zone in the tests' settings (Settings.timezone)
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


def _approval(client: Any, session: Any, world: Any, headers: dict[str, str]) -> tuple[
        AuditEvent, str]:
    number = world.approved_sample(session)
    login(client, "auditor")
    resp = client.get("/audit/", query_string={"number": number, "entity": "samples"},
                      headers=headers)
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "sample.approve",
                                                    AuditEvent.entity_id == number))
    row = html.split(f'<tr id="event-{event.seq}">', 1)[1].split('<tr id="event-', 1)[0]
    return event, row


def _cell(row: str, field: str) -> str:
    """The old → new cells of one changed field (found by its raw name in the title)."""
    found = re.search(rf'<th scope="row" title="{field}">(.*?)</tr>', row, re.S)
    assert found is not None, field
    return found.group(1)


def test_a_chinese_page_shows_labels_values_local_time_and_names(
        client: Any, session: Any, world: Any) -> None:
    event, row = _approval(client, session, world, ZH)
    stored = (event.before, event.after, event.hash)
    after = json.loads(event.after)
    # The action by name, its code kept for auditors.
    assert "样品批准" in row and "<code" in row and "sample.approve" in row
    # The field's label, the status values translated.
    status = _cell(row, "status")
    assert status.startswith("状态</th>")
    assert '<td class="old-value">已审核</td>' in status
    assert '<td class="new-value">已批准</td>' in status
    # The approver by name (one query for the page), not the id; empty shown as "—".
    approver = _cell(row, "approved_by_id")
    assert approver.startswith("批准人</th>")
    assert '<td class="old-value">—</td>' in approver
    assert "Signatory Tester" in approver and f">{after['approved_by_id']}<" not in approver
    assert "null" not in row
    # The time of approval in the lab's zone (+8 h), not the stored UTC ISO string.
    when = dt.datetime.fromisoformat(after["approved_at"])
    approved = _cell(row, "approved_at")
    assert when.astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S") in approved
    assert after["approved_at"] not in row and "+00:00" not in row
    # The nested signature as key: value pairs, no JSON braces.
    signature = _cell(row, "signature")
    assert "<dt>含义</dt><dd>批准 Approved</dd>" in signature
    assert "{" not in signature and "&#34;" not in signature and "&quot;" not in signature
    # Display only: the stored, hash-chained event is as recorded.
    session.expire_all()
    again = session.get(AuditEvent, event.id)
    assert (again.before, again.after, again.hash) == stored


def test_an_english_page_reads_the_same(client: Any, session: Any, world: Any) -> None:
    _event, row = _approval(client, session, world, {"Accept-Language": "en"})
    assert "Sample approved" in row and "sample.approve" in row
    status = _cell(row, "status")
    assert status.startswith("Status</th>") and ">reviewed<" in status and ">approved<" in status
    approver = _cell(row, "approved_by_id")
    assert approver.startswith("Approved by</th>") and "Signatory Tester" in approver
    assert "<dt>Meaning</dt>" in _cell(row, "signature")


def test_a_user_no_longer_known_is_shown_by_number(client: Any, session: Any,
                                                   world: Any) -> None:
    from lims.audit.display import Reader

    class Event:  # an event of a user since removed (ids are never reused)
        seq = 1
        before = json.dumps({"reviewed_by_id": None, "status": "results complete"})
        after = json.dumps({"reviewed_by_id": 987654, "status": "reviewed"})

    with client.application.test_request_context(headers={"Accept-Language": "zh-CN"}):
        shown = {c.field: c for c in Reader(session, [Event()], "Asia/Shanghai")  # type: ignore[list-item]
                 .changes(Event())}  # type: ignore[arg-type]
    assert shown["reviewed_by_id"].new == "#987654" and shown["reviewed_by_id"].old == "—"
    assert (shown["status"].old, shown["status"].new) == ("结果已完成", "已审核")


def test_the_csv_keeps_raw_values_with_an_unambiguous_time_and_one_charset(
        client: Any, session: Any, world: Any) -> None:
    event, _row = _approval(client, session, world, ZH)
    resp = client.get("/audit/", query_string={"action": "sample.approve", "format": "csv"},
                      headers=ZH)
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(resp.get_data().decode("utf-8-sig"))))
    mine = next(r for r in rows[1:] if r[0] == str(event.seq))
    # The lab's time with its offset: the same instant as stored, readable in the lab.
    assert mine[1] == event.at.astimezone(TZ).isoformat() and mine[1].endswith("+08:00")
    assert dt.datetime.fromisoformat(mine[1]) == event.at
    # Evidence: raw action, field names and values.
    assert mine[3] == "sample.approve"
    assert "status: results complete → approved" not in mine[6]
    assert "status: reviewed → approved" in mine[6]
    assert f"approved_by_id: null → {json.loads(event.after)['approved_by_id']}" in mine[6]
