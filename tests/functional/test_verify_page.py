"""The public verification page (issue 11 §5): a form to type or scan a number, any case,
the key contents of the document with the customer masked, and a too-large upload answered
on the page in the reader's language."""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import pytest
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.test import stream_encode_multipart

from lims import create_app
from lims.reports.documents import load_content
from lims.reports.models import Report
from tests.support.world import csrf


@pytest.fixture
def zh_app(settings: Any) -> Any:
    app = create_app(dataclasses.replace(settings, default_locale="zh_CN"))
    yield app
    app.extensions["lims"].engine.dispose()


def test_the_form_takes_a_number_and_the_page_any_case(client: Any, session: Any, world: Any,
                                                      settings: Any) -> None:
    _sample, number = world.reported_sample(session, settings)
    public = client.application.test_client()
    form = public.get("/verify")
    assert form.status_code == 200
    html = form.get_data(as_text=True)
    assert 'id="verify-form"' in html and '<label for="verify-number">' in html
    assert 'id="not-found"' not in html
    typed = public.get("/verify", query_string={"number": f"  {number.lower()}\r\n"})
    assert typed.status_code == 303
    assert typed.headers["Location"].endswith(f"/verify/{number.lower()}")
    page = public.get(f"/verify/{number.lower()}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    report = session.scalar(select(Report).where(Report.number == number))
    content = load_content(report.content)
    assert f'<td id="report-number">{number}</td>' in html
    assert report.sha256 in html
    assert '<td id="customer">AC*********es</td>' in html  # ACME Textiles, in part
    assert '<td id="item">test fabric</td>' in html
    assert content.conclusion and f'<td id="conclusion">{content.conclusion}</td>' in html
    assert f'<td id="issue-date">{content.issued_at.astimezone(_tz()).date()}</td>' in html
    # Nothing else confidential: no full customer name, results, address or contact.
    assert "ACME" not in html and "100.00" not in html and "12.0 mm" not in html
    assert content.customer_address not in html or not content.customer_address
    missing = public.get("/verify/nope-1")
    assert missing.status_code == 404
    assert 'id="not-found"' in missing.get_data(as_text=True)
    assert 'id="verify-form"' in missing.get_data(as_text=True)


def _tz() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Shanghai")


def test_a_too_large_copy_is_refused_on_the_page_in_chinese(zh_app: Any, session: Any,
                                                          world: Any, settings: Any) -> None:
    _sample, number = world.reported_sample(session, settings)
    client = zh_app.test_client()
    token = csrf(client, f"/verify/{number}")
    big = b"%PDF-" + b"x" * zh_app.config["MAX_CONTENT_LENGTH"]
    # Encoded in memory: the test client would spool it to a file the refused request leaves
    # unread and open.
    stream, _length, boundary = stream_encode_multipart(
        {"csrf_token": token, "file": FileStorage(io.BytesIO(big), "big.pdf")},
        use_tempfile=False)
    resp = client.post(f"/verify/{number}", data=stream.getvalue(),
                       content_type=f"multipart/form-data; boundary={boundary}")
    assert resp.status_code == 413, resp.get_data(as_text=True).split("<main", 1)[1][:1500]
    html = resp.get_data(as_text=True)
    assert "超出本系统允许的上限" in html and 'id="check-result"' in html
    assert "报告核验" in html and f'<td id="report-number">{number}</td>' in html
    assert 'id="verify-file"' in html  # the form again, to choose a smaller file


def test_the_page_is_in_chinese_with_its_labels(zh_app: Any, session: Any, world: Any,
                                                settings: Any) -> None:
    _sample, number = world.reported_sample(session, settings)
    html = zh_app.test_client().get(f"/verify/{number}").get_data(as_text=True)
    for text in ("报告核验", "委托单位", "样品", "检验结论", "签发日期", "核对文件"):
        assert text in html, text
    assert "Report verification" not in html


def test_the_public_page_names_the_lab_in_the_readers_language(client: Any, session: Any,
                                                              world: Any, settings: Any) -> None:
    _sample, number = world.reported_sample(session, settings)
    public = client.application.test_client()
    zh = public.get(f"/verify/{number}", headers={"Accept-Language": "zh-CN"})
    assert settings.lab_name in zh.get_data(as_text=True)
    assert settings.lab_name_en not in zh.get_data(as_text=True)
    en = public.get(f"/verify/{number}", headers={"Accept-Language": "en"})
    assert settings.lab_name_en in en.get_data(as_text=True)
