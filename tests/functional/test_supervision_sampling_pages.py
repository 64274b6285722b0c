"""The sampling pages: the form for a task, the record with its seal flag and attachments, the
notice list and the working-day calendar (issue 13)."""

from __future__ import annotations

import io

from tests.support.supervision import SAMPLING, drawn_task
from tests.support.world import csrf, login

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


def test_sampling_pages(client, session, world):
    task = drawn_task(session)
    login(client, "tech")
    form = client.get(f"/supervision/tasks/{task}/sampling")
    assert form.status_code == 200 and "sampling-form" in form.get_data(as_text=True)
    token = csrf(client, f"/supervision/tasks/{task}/sampling")
    data = {**SAMPLING, "sampled_on": "2026-09-01", "representative_confirmed": "1",
            "csrf_token": token}
    resp = client.post(f"/supervision/tasks/{task}/sampling", data=data)
    assert resp.status_code == 303
    page_url = resp.headers["Location"]
    number = page_url.rsplit("/", 1)[1]
    assert number.startswith("CY")
    client.post(f"/supervision/sampling/{number}/seal-check",
                data={"intact": "no", "note": "封条破损", "csrf_token": token})
    client.post(f"/supervision/sampling/{number}/attachments", content_type="multipart/form-data",
                data={"file": (io.BytesIO(PNG), "seal.png", "image/png"), "csrf_token": token})
    page = client.get(page_url).get_data(as_text=True)
    assert 'id="seal-flag"' in page and "封条破损" in page and "seal.png" in page
    assert "FB-0001" in page and 'id="sample-link"' in page
    link = page.split('href="/supervision/attachments/', 1)[1].split('"', 1)[0]
    att = client.get(f"/supervision/attachments/{link}")
    assert att.data == PNG
    sample = page.split('id="sample-link" href="/samples/', 1)[1].split('"', 1)[0]
    sample_page = client.get(f"/samples/{sample}").get_data(as_text=True)
    assert 'id="seal-flag"' in sample_page and f"/supervision/sampling/{number}" in sample_page
    assert client.get("/supervision/notices").status_code == 200
    assert client.get("/supervision/backups").status_code == 200

    client.post("/logout", data={"csrf_token": token})
    login(client, "admin")
    token = csrf(client, "/supervision/calendar")
    client.post("/supervision/calendar", data={"day": "2027-02-05", "working": "off",
                                               "note": "春节", "csrf_token": token})
    cal = client.get("/supervision/calendar?year=2027").get_data(as_text=True)
    assert "2027-02-05" in cal and "春节" in cal


def test_a_year_or_id_out_of_range_is_refused_naming_it(client, session, world):
    """A calendar year the date arithmetic cannot hold, and ids beyond PostgreSQL's INTEGER,
    are 422s naming the field, not 500s."""
    login(client, "admin")
    for path, field in (("/supervision/calendar?year=99999", "year"),
                        ("/supervision/calendar?year=-1", "year"),
                        ("/supervision/calendar?year=99999999999999999999", "year"),
                        ("/supervision/attachments/99999999999", "attachment"),
                        ("/whitepapers/99999999999.pdf", "paper"),
                        ("/whitepapers/99999999999/figures.json", "paper")):
        resp = client.get(path, headers={"Accept": "application/json"})
        assert resp.status_code == 422, (path, resp.status_code)
        assert resp.json["error"]["field"] == field, path
    assert "2027" in client.get("/supervision/calendar?year=2027").get_data(as_text=True)
