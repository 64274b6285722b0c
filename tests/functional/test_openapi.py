"""The OpenAPI document lists every /api/v1 route with its methods, the models the views parse,
and the shapes the views answer."""

from __future__ import annotations

import inspect
import re

from lims.web.openapi import api_operations
from tests.support.world import PASSWORD


def _spec(client, session, world):
    return client.get("/api/v1/openapi.json",
                      headers={"Authorization": f"Bearer {world.token(session, 'auditor')}"}).json


def test_openapi_documents_every_api_route(app, client, session, world):
    spec = _spec(client, session, world)
    assert spec["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, (path, method)


def test_every_model_a_view_parses_is_the_one_it_documents(app, client, session, world):
    """Read each API view's source for ``json_model(X)`` and ``query_model(X)``: X must be the
    documented body (or query), and its schema must be in the document."""
    spec = _spec(client, session, world)
    schemas = spec["components"]["schemas"]
    bodies = 0
    for rule, method, endpoint, op in api_operations(app):
        source = inspect.getsource(app.view_functions[endpoint])
        parsed = re.findall(r"json_model\((?:\w+\.)?(\w+)\)", source)
        queried = re.findall(r"query_model\((?:\w+\.)?(\w+)\)", source)
        assert parsed == ([op.body.__name__] if op.body else []), (endpoint, parsed)
        assert queried == ([op.query.__name__] if op.query else []), (endpoint, queried)
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)
        entry = spec["paths"][path][method.lower()]
        if op.body:
            bodies += 1
            ref = entry["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            assert ref.rsplit("/", 1)[1] in schemas, ref
        if op.query:
            names = {p["name"] for p in entry["parameters"] if p["in"] == "query"}
            assert names == {f.alias or name for name, f in op.query.model_fields.items()}
    assert bodies >= 20


def test_errors_are_documented_with_the_shared_error_body(client, session, world):
    spec = _spec(client, session, world)
    for path, ops in spec["paths"].items():
        for method, entry in ops.items():
            codes = set(entry["responses"])
            assert "401" in codes, (path, method)
            assert method != "post" or {"400", "413"} <= codes, (path, method)
            assert "{" not in path or "404" in codes, (path, method)
            assert "requestBody" not in entry or "422" in codes, (path, method)
            assert not any(code.startswith("5") for code in codes)
    shared = spec["components"]["responses"]["E422"]["content"]["application/json"]["schema"]
    assert shared == {"$ref": "#/components/schemas/ErrorBody"}


def test_responses_have_the_documented_shape(client, session, world, settings):
    """Each main object as the API answers it validates against its response model (which
    refuses unknown keys); schemathesis checks the same against the live server."""
    from lims.calibration import api_models as cal
    from lims.db import unit_of_work
    from lims.instruments import api_models as ins
    from lims.reports import api_models as rep
    from lims.reports.services import issue_report
    from lims.samples import api_models as sam

    number = world.approved_sample(session)
    with unit_of_work(session):
        report = issue_report(session, actor=world.user(session, "signatory"),
                              sample_number=number, settings=settings,
                              password=PASSWORD).number
    qm = {"Authorization": f"Bearer {world.token(session, 'qm')}"}

    def get(path, model):
        resp = client.get(path, headers=qm)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return model.model_validate(resp.json)

    assert get("/api/v1/customers", sam.Customers).customers
    assert get("/api/v1/methods", sam.Methods).methods
    assert get("/api/v1/samples", sam.Samples).samples
    assert get(f"/api/v1/samples/{number}", sam.Sample).tests[0].results
    assert get("/api/v1/instruments", ins.Instruments).instruments
    get("/api/v1/instruments/EQ-1", ins.Instrument)
    records = get("/api/v1/instruments/EQ-1/calibrations", cal.CalibrationRecords).calibrations
    get(f"/api/v1/calibrations/{records[0].id}", cal.CalibrationRecord)
    get("/api/v1/instruments/EQ-1/checks", cal.Checks)
    get("/api/v1/instruments/EQ-1/impact?from=2020-01-01", cal.Impact)
    assert get(f"/api/v1/reports/{report}", rep.Report).sample == number
    assert get("/api/v1/reports", rep.Reports).reports
    assert get(f"/api/v1/reports/{report}/traceability", cal.Trace).results
    get("/api/v1/nonconformities", cal.Cases)
