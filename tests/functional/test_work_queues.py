"""Each role lands on its work queue, with the right rows and counts; the dashboard's figures."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import event, select

from lims.audit.models import AuditEvent
from lims.calibration import nonconforming as nc
from lims.calibration.services import record_check
from lims.db import unit_of_work, utcnow
from lims.instruments.models import Instrument
from lims.samples import services as samples
from lims.work.assignment import take_sample
from tests.support.world import PASSWORD, TZ, csrf, login


def sections(page: str) -> dict[str, str]:
    """The queue sections of the page by id (``to-test``, ``to-review`` …)."""
    return {m.group(1): m.group(2) for m in re.finditer(
        r'<section class="queue" id="queue-([a-z-]+)"(.*?)</section>', page, re.S)}


def count(section: str) -> int:
    return int(re.search(r'data-count="(\d+)"', section).group(1))  # type: ignore[union-attr]


def rows(section: str, attr: str = "data-sample") -> list[str]:
    return re.findall(rf'{attr}="([^"]+)"', section)


def lab_with_queues(session: Any, world: Any, settings: Any) -> dict[str, str]:
    """Samples in every state of the queues, a failed check and an open case."""
    tech, reviewer = world.user(session, "tech"), world.user(session, "reviewer")
    out = {"new": world.new_sample(session, receive=False), "mine": world.new_sample(session)}
    with unit_of_work(session):
        take_sample(session, actor=tech, number=out["mine"])
    for key in ("complete", "reviewed"):
        number = world.new_sample(session)
        with unit_of_work(session):
            for ch, value, unit in ((world.mass_id, "100.00", "g"),
                                    (world.length_id, "12.0", "mm")):
                samples.record_result(session, actor=tech, number=number, characteristic_id=ch,
                                      value=value, unit=unit, timezone=TZ)
            samples.complete_testing(session, actor=tech, number=number)
            if key == "reviewed":
                samples.review_sample(session, actor=reviewer, number=number)
        out[key] = number
    out["reported"], out["report"] = world.reported_sample(session, settings)
    qm = world.user(session, "qm")
    with unit_of_work(session):
        record_check(session, actor=qm, instrument=session.get(Instrument, world.balance_id),
                     timezone=TZ, data={"nominal": "100", "unit": "g", "limit": "0.001",
                                        "readings": ["100.5", "100.5"]})
        out["case"] = nc.open_case(session, actor=qm, asset="EQ-1",
                                   start=(utcnow().date() - dt.timedelta(days=3)).isoformat(),
                                   end=None, description="balance drift", timezone=TZ).number
    return out


def _page(client: Any, name: str, **headers: str) -> str:
    login(client, name)
    resp = client.get("/", headers=headers)
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def test_login_lands_on_the_queue(client, world):
    resp = client.post("/login", data={"username": "tech", "password": PASSWORD,
                                       "csrf_token": csrf(client, "/login")})
    assert resp.status_code == 303 and resp.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert "<h1>My work</h1>" in page and 'id="queue-assigned"' in page
    # The sample list moved to /samples, where the register form is.
    assert 'id="register-form"' in client.get("/samples").get_data(as_text=True)


def test_each_role_sees_its_queues_and_not_the_others(client, app, session, world, settings):
    lab = lab_with_queues(session, world, settings)

    tech = sections(_page(client, "tech"))
    assert set(tech) == {"assigned", "unassigned"}
    assert rows(tech["assigned"]) == [lab["mine"]] and count(tech["assigned"]) == 1
    # Not yet taken on: the new one, and those past testing are in no technician's queue.
    assert rows(tech["unassigned"]) == [lab["new"]] and count(tech["unassigned"]) == 1
    assert 'href="/samples?assignee=tech"' in tech["assigned"]

    other = sections(_page(app.test_client(), "tech2"))
    assert count(other["assigned"]) == 0 and "Nothing waiting." in other["assigned"]
    assert rows(other["unassigned"]) == [lab["new"]]

    review = sections(_page(app.test_client(), "reviewer"))
    assert set(review) == {"to-review"}
    assert rows(review["to-review"]) == [lab["complete"]] and count(review["to-review"]) == 1
    assert 'href="/samples?status=results+complete"' in review["to-review"]

    sign = sections(_page(app.test_client(), "signatory"))  # authorised for textiles
    assert set(sign) == {"to-approve"} and rows(sign["to-approve"]) == [lab["reviewed"]]
    outside = sections(_page(app.test_client(), "signatory2"))  # electrical only
    assert count(outside["to-approve"]) == 0 and rows(outside["to-approve"]) == []

    qm = sections(_page(app.test_client(), "qm"))
    assert set(qm) == {"calibration-due", "failed-checks", "open-cases"}
    assert rows(qm["calibration-due"], "data-asset") == ["EQ-2"]  # EQ-1 is due in 100 days
    # Due two days ago by the UTC date; the lab's day may already be the next one.
    assert re.search(r"overdue by [23] days", qm["calibration-due"])
    assert rows(qm["failed-checks"], "data-asset") == ["EQ-1"]
    assert rows(qm["open-cases"], "data-case") == [lab["case"]] and count(qm["open-cases"]) == 1

    audit = sections(_page(app.test_client(), "auditor"))
    assert set(audit) == {"recent-reports"}
    assert rows(audit["recent-reports"], "data-report") == [lab["report"]]

    assert sections(_page(app.test_client(), "admin")) == {}


def test_counts_go_beyond_the_rows_shown(client, session, world):
    numbers = [world.new_sample(session, receive=False) for _ in range(12)]
    queue = sections(_page(client, "tech"))["unassigned"]
    assert count(queue) == 12 and rows(queue) == numbers[:10]  # oldest first, top ten


def test_the_queue_page_in_chinese(client, session, world):
    world.new_sample(session, receive=False)
    page = _page(client, "tech", **{"Accept-Language": "zh-CN"})
    assert "<h1>我的工作</h1>" in page and "尚未分配" in page and "查看全部" in page
    assert "Not assigned yet" not in page


def _table(page: str, ident: str) -> list[list[str]]:
    block = page.split(f'id="{ident}"', 1)[1].split("</section>", 1)[0]
    body = block.split("<details>", 1)[1]
    return [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)][1:]


def test_the_dashboard_draws_the_labs_figures(client, session, world, settings):
    world.reported_sample(session, settings)
    world.reported_sample(session, settings, value="101.00")  # above 100.50: fails
    world.new_sample(session)
    login(client, "auditor")
    page = client.get("/dashboard").get_data(as_text=True)
    for ident in ("chart-flow", "chart-turnaround", "chart-on-time", "chart-pass",
                  "chart-calibration"):
        assert f'aria-labelledby="{ident}-title {ident}-desc"' in page, ident
    flow = _table(page, "chart-flow")
    assert len(flow) == 12 and flow[-1][1:] == ["3", "2"]  # this week: 3 in, 2 out
    assert all(row[1:] == ["0", "0"] for row in flow[:-1])
    # Per product category: the families with their targets, the samples without one apart.
    assert _table(page, "chart-pass") == [
        ["Food", "—", "98.5", "0", "0", "0"],
        ["Drugs, medical devices and cosmetics", "—", "98.0", "0", "0", "0"],
        ["Manufactured products", "—", "95.0", "0", "0", "0"],
        ["Uncategorised", "50.0", "—", "2", "1", "1"]]
    turnaround = _table(page, "chart-turnaround")
    assert turnaround[-1][1] == "0.0" and turnaround[0][1] == "—"
    calibration = _table(page, "chart-calibration")
    assert calibration[0] == ["Overdue", "1"]  # EQ-2
    assert sum(int(r[1]) for r in calibration[1:]) == 0  # EQ-1 is due in 100 days
    zh = client.get("/dashboard", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "每周收样与出报告" in zh and "数据表" in zh


def test_the_dashboard_with_no_data(client, world):
    login(client, "tech")
    page = client.get("/dashboard").get_data(as_text=True)
    assert page.count('class="empty"') >= 3 and "No samples in this period" in page


def test_a_technician_takes_a_sample_and_gives_it_back(client, app, session, world):
    number = world.new_sample(session, receive=False)
    login(client, "tech")
    resp = client.post(f"/queue/{number.lower()}/take", data={"csrf_token": csrf(client)})
    assert resp.status_code == 303 and resp.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert f"Sample {number} is assigned to you." in page
    assert rows(sections(page)["assigned"]) == [number]
    # Another technician cannot take it, and is told who has it.
    other = app.test_client()
    login(other, "tech2")
    refused = other.post(f"/queue/{number}/take", data={"csrf_token": csrf(other)},
                         headers={"Accept": "application/json"})
    assert refused.status_code == 409 and "already assigned to tech" in refused.json["error"][
        "message"]
    # Nor can a reviewer take work.
    reviewer = app.test_client()
    login(reviewer, "reviewer")
    assert reviewer.post(f"/queue/{number}/take", data={"csrf_token": csrf(reviewer)},
                         headers={"Accept": "application/json"}).status_code == 403
    resp = client.post(f"/queue/{number}/give-back", data={"csrf_token": csrf(client)})
    assert resp.status_code == 303
    assert rows(sections(client.get("/").get_data(as_text=True))["unassigned"]) == [number]
    events = session.execute(select(AuditEvent.action, AuditEvent.entity_id)
                             .where(AuditEvent.action.like("sample.%assign"))
                             .order_by(AuditEvent.id)).all()
    assert [tuple(e) for e in events] == [("sample.assign", number), ("sample.unassign", number)]


def test_a_sample_past_testing_cannot_be_taken(client, session, world, settings):
    number, _ = world.reported_sample(session, settings)
    login(client, "tech")
    resp = client.post(f"/queue/{number}/take", data={"csrf_token": csrf(client)},
                       headers={"Accept": "application/json"})
    assert resp.status_code == 409 and "testing is over" in resp.json["error"]["message"]


class _Statements:
    """Counts the statements the app's engine runs while active."""

    def __init__(self, app: Any) -> None:
        self.engine, self.n = app.extensions["lims"].engine, 0

    def _count(self, *args: Any) -> None:
        self.n += 1

    def __enter__(self) -> _Statements:
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)


def test_the_pages_ask_the_database_the_same_number_of_times_for_more_samples(
        app, client, session, world, settings):
    """The figures are aggregated in the database: more samples, not more queries."""
    login(client, "auditor")
    world.reported_sample(session, settings)
    with _Statements(app) as few:
        assert client.get("/dashboard").status_code == 200
    for _ in range(4):
        world.reported_sample(session, settings)
        world.new_sample(session)
    with _Statements(app) as many:
        assert client.get("/dashboard").status_code == 200
    assert many.n == few.n
    login(client, "tech")
    world.new_sample(session, receive=False)
    with _Statements(app) as queue:
        assert client.get("/").status_code == 200
    for _ in range(3):
        world.new_sample(session, receive=False)
    with _Statements(app) as more:
        assert client.get("/").status_code == 200
    assert more.n == queue.n
