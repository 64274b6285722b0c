"""The OpenAPI document lists every /api/v1 route with its methods."""

from __future__ import annotations

import re


def test_openapi_documents_every_api_route(app, client, session, world):
    spec = client.get("/api/v1/openapi.json",
                      headers={"Authorization": f"Bearer {world.token(session, 'auditor')}"}).json
    assert spec["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, (path, method)
