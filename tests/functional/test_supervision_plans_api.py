"""The plans API and pages (issue 13 §1): a quality manager registers enterprises and
inspectors, creates a plan, draws a quota; an auditor replays the draw; errors name the field."""

from __future__ import annotations

from typing import Any

from tests.integration.test_supervision_plans import credit_code
from tests.support.world import csrf, login


def test_plan_flow_through_the_api_and_the_pages(client, session, world):
    qm = {"Authorization": f"Bearer {world.token(session, 'qm')}"}
    tech = {"Authorization": f"Bearer {world.token(session, 'tech')}"}

    def post(path: str, body: dict[str, Any], headers: dict[str, str] = qm) -> Any:
        return client.post(f"/api/v1{path}", json=body, headers=headers)

    bad = post("/enterprises", {"name": "X", "credit_code": "91420100MA0000001X",
                                "region": "420111", "category": "IND", "size": "small"})
    assert bad.status_code == 422 and bad.json["error"]["field"] == "credit_code"
    assert post("/enterprises", {"name": "X", "credit_code": credit_code(9), "region": "420111",
                                 "category": "IND", "size": "huge"}).json["error"]["field"] \
        == "size"
    assert post("/enterprises", {"name": "X", "credit_code": credit_code(9), "region": "420111",
                                 "category": "IND", "size": "small"}, tech).status_code == 403
    for n in range(1, 4):
        made = post("/enterprises", {"name": f"童装厂 {n}", "credit_code": credit_code(n),
                                     "region": "420111", "category": "IND-CHILD-CLOTHING",
                                     "size": "small"})
        assert made.status_code == 201, made.json
    listed = client.get("/api/v1/enterprises?q=童装&region=420100", headers=tech).json
    assert listed["total"] == 3 and listed["enterprises"][0]["region"] == "420111"
    assert client.get("/api/v1/enterprises?q=%00", headers=tech).json["error"]["field"] == "q"
    spare = post("/enterprises", {"name": "Closed", "credit_code": credit_code(8),
                                  "region": "420111", "category": "IND-CHILD-CLOTHING",
                                  "size": "micro"}).json["id"]
    assert post(f"/enterprises/{spare}/retire", {"reason": "closed"}).json["retired_at"]
    assert post(f"/enterprises/{spare}/retire", {"reason": "again"}).status_code == 409
    for name in ("tech", "tech2"):
        assert post("/supervision/inspectors", {"username": name, "qualification": "CY-1",
                                                "valid_until": "2199-12-31"}).status_code == 200
    assert len(client.get("/api/v1/supervision/inspectors", headers=tech).json["inspectors"]) == 2

    plan = {"year": 2026, "title": "儿童服装产品质量监督抽查", "authority": "湖北省市场监督管理局",
            "budget_samples": 2, "categories": [{"code": "IND-CHILD-CLOTHING",
                                                 "product_standard": "GB 31701-2015",
                                                 "method_codes": ["GB/T 4669-2008"]}],
            "quotas": [{"category": "IND-CHILD-CLOTHING", "region": "420100", "quota": 3}]}
    over = post("/supervision/plans", plan)
    assert over.status_code == 422 and over.json["error"]["field"] == "quotas"
    made = post("/supervision/plans", {**plan, "budget_samples": 5})
    assert made.status_code == 201, made.json
    number = made.json["number"]
    assert number == "CJ2026-001" and made.json["exclusion_months"] == 12
    assert client.get("/api/v1/supervision/plans/CJ1999-999", headers=tech).status_code == 404

    drawn = post(f"/supervision/plans/{number}/draws",
                 {"category": "IND-CHILD-CLOTHING", "region": "420100", "seed": "s1"})
    assert drawn.status_code == 201, drawn.json
    assert len(drawn.json["tasks"]) == 3 and drawn.json["seed"] == "s1"
    assert all(sorted(t["inspectors"]) == ["tech", "tech2"] for t in drawn.json["tasks"])
    again = post(f"/supervision/plans/{number}/draws",
                 {"category": "IND-CHILD-CLOTHING", "region": "420100"})
    assert again.status_code == 409 and again.json["error"]["field"] == "quota"
    replay = client.get(f"/api/v1/supervision/draws/{drawn.json['id']}/replay",
                        headers={"Authorization": f"Bearer {world.token(session, 'auditor')}"})
    assert replay.json["matches"] is True and replay.json["recorded"] == replay.json["expected"]
    assert client.get(f"/api/v1/supervision/plans/{number}",
                      headers=tech).json["quotas"][0]["drawn"] == 3
    closed = client.post(f"/api/v1/supervision/plans/{number}/close", headers=qm)
    assert closed.status_code == 200 and closed.json["status"] == "closed"

    # The pages, as the quality manager sees them.
    login(client, "qm")
    page = client.get(f"/supervision/plans/{number}").get_data(as_text=True)
    assert "GB 31701-2015" in page and "3 of 3 drawn" in page and page.count("data-task=") == 3
    page = client.get(f"/supervision/draws/{drawn.json['id']}").get_data(as_text=True)
    assert "reproduced ✓" in page and "<code>s1</code>" in page
    assert number in client.get("/supervision/plans").get_data(as_text=True)
    token = csrf(client, "/enterprises/new")
    resp = client.post("/enterprises/new", data={
        "csrf_token": token, "name": "新企业", "credit_code": credit_code(7), "region": "420502",
        "category": "IND-TOY", "size": "micro", "address": ""})
    assert resp.status_code == 303
    assert "新企业" in client.get("/enterprises?region=420500").get_data(as_text=True)
