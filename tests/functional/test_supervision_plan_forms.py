"""The plan form and the inspector form of the plans page (issue 13 §1): a quality manager
creates a plan with categories and quotas without the API; a refused row shows its error
beside its own input with everything kept; others see no form and get 403."""

from __future__ import annotations

from sqlalchemy import func, select

from lims.supervision.models import SamplingInspector, SpotCheckPlan
from tests.support.world import csrf, login


def test_plan_and_inspector_forms(client, session, world):
    login(client, "tech")
    assert 'id="new-plan-link"' not in client.get("/supervision/plans").get_data(as_text=True)
    assert client.get("/supervision/plans/new").status_code == 403
    token = csrf(client, "/supervision/plans")
    assert client.post("/supervision/plans/new", data={"csrf_token": token, "year": "2026"}
                       ).status_code == 403
    assert client.post("/supervision/inspectors", data={
        "csrf_token": token, "username": "tech", "qualification": "CY-1",
        "valid_until": "2199-12-31", "active": "1"}).status_code == 403
    client.post("/logout", data={"csrf_token": token})

    login(client, "qm")
    assert 'id="new-plan-link"' in client.get("/supervision/plans").get_data(as_text=True)
    page = client.get("/supervision/plans/new").get_data(as_text=True)
    assert page.count("data-category-row=") == 5 and page.count("data-quota-row=") == 10
    assert 'value="420100"' in page and 'value="GB/T 4669-2008"' in page
    form = {"csrf_token": csrf(client, "/supervision/plans/new"), "year": "2026",
            "title": "儿童服装抽查", "authority": "湖北省市场监督管理局", "budget_samples": "9",
            "exclusion_months": "", "sampling_method": "随机抽取",
            "c-1-code": "IND-CHILD-CLOTHING",
            "c-1-product_standard": "GB 31701-2015", "c-1-method_codes": "GB/T 4669-2008",
            "q-0-category": "IND-CHILD-CLOTHING", "q-0-region": "420100", "q-0-quota": "3",
            "q-2-category": "IND-CHILD-CLOTHING", "q-2-region": "420500",
            "q-2-quota": "0"}
    more = client.post("/supervision/plans/new?more=1", data=form).get_data(as_text=True)
    # Three quota rows posted (a browser posts all ten), ten blank ones more, nothing saved.
    assert more.count("data-quota-row=") == 13 and 'name="q-2-quota" value="0"' in more
    bad = client.post("/supervision/plans/new", data=form)
    page = bad.get_data(as_text=True)
    # The service named quotas[1].quota (the second row kept): the form's third row.
    assert bad.status_code == 422 and 'id="q-2-quota-error"' in page, page
    assert 'name="q-2-quota" value="0"' in page and "GB 31701-2015" in page
    assert session.scalar(select(func.count()).select_from(SpotCheckPlan)) == 0
    session.rollback()  # read what the app commits next, not this snapshot

    made = client.post("/supervision/plans/new", data={**form, "q-2-quota": "2"})
    assert made.status_code == 303 and made.location.endswith("/supervision/plans/CJ2026-001")
    page = client.get(made.location).get_data(as_text=True)
    assert "CJ2026-001 created" in page and "GB 31701-2015" in page and "随机抽取" in page
    assert page.count("0 of 3 drawn") == 1 and page.count("0 of 2 drawn") == 1
    assert session.scalar(select(SpotCheckPlan.exclusion_months)) == 12

    qualify = {"csrf_token": form["csrf_token"], "username": "tech2", "qualification": "CY-7",
               "valid_until": "", "active": "1"}
    bad = client.post("/supervision/inspectors", data=qualify)
    assert bad.status_code == 422 and 'id="valid_until-error"' in bad.get_data(as_text=True)
    assert 'value="CY-7"' in bad.get_data(as_text=True)
    resp = client.post("/supervision/inspectors", data={**qualify, "valid_until": "2199-12-31"})
    assert resp.status_code == 303
    assert "CY-7" in client.get(resp.location).get_data(as_text=True)
    session.rollback()
    found = session.scalar(select(SamplingInspector))
    assert found is not None and found.qualification == "CY-7" and found.active
