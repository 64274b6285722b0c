"""Amend and withdraw through the JSON API, the CLI and the public verification page: every
refusal is a 4xx naming the field or the state (never a 500), every step is audited."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from lims.reports.sign import validate_pdf
from tests.integration.test_nonconforming import events_after, last_seq
from tests.support.world import PASSWORD


def _api(client: Any, token: str) -> Any:
    def call(method: str, path: str, body: Any = None, status: int | None = None) -> Any:
        resp = client.open(path, method=method, json=body,
                           headers={"Authorization": f"Bearer {token}"})
        if status is not None:
            assert resp.status_code == status, resp.get_data(as_text=True)
        return resp
    return call


def test_amend_and_withdraw_through_the_api(client, session, world, settings, pki_dir):
    sample, old = world.reported_sample(session, settings)
    tech = _api(client, world.token(session, "tech"))
    reviewer = _api(client, world.token(session, "reviewer"))
    signatory = _api(client, world.token(session, "signatory"))
    qm = _api(client, world.token(session, "qm"))

    shown = tech("GET", f"/api/v1/reports/{old}", None, 200).json
    assert (shown["kind"], shown["status"], shown["supersedes"], shown["superseded_by"],
            shown["amending"], shown["withdrawn_at"], shown["withdrawal_reason"]) == (
        "test_report", "issued", None, None, False, None, None)

    # Refused: wrong role, bad bodies, unknown report; nothing written.
    seq = last_seq(session)
    assert tech("POST", f"/api/v1/reports/{old}/amend", {"reason": "x"}, 403)
    for body, field in (({}, "reason"), ({"reason": ""}, "reason"), ({"reason": 5}, "reason"),
                        ({"reason": "x", "password": "p"}, "password")):
        resp = signatory("POST", f"/api/v1/reports/{old}/amend", body, 422).json
        assert resp["error"]["field"] == field, resp
    for body, field in (({"reason": "x", "category": "lost"}, "category"),
                        ({"reason": "", "category": "error"}, "reason")):
        resp = qm("POST", f"/api/v1/reports/{old}/withdraw", body, 422).json
        assert resp["error"]["field"] == field, resp
    assert qm("POST", "/api/v1/reports/NOPE-1/withdraw", {"reason": "x", "category": "error"},
              404)
    assert signatory("POST", f"/api/v1/reports/{old}/amend", "not an object", 400)
    assert events_after(session, seq) == []

    # Amend: the sample goes back to testing; a second amendment is a 409.
    amended = signatory("POST", f"/api/v1/reports/{old}/amend",
                        {"reason": "length misread: 12.0 mm is 12.5 mm"}, 200).json
    assert (amended["status"], amended["amending"]) == ("issued", True)
    assert tech("GET", f"/api/v1/samples/{sample}").json["status"] == "in testing"
    again = qm("POST", f"/api/v1/reports/{old}/amend", {"reason": "y"}, 409).json
    assert again["error"]["code"] == "report_state"
    assert [e.action for e in events_after(session, seq)] == ["report.amend", "sample.reopen"]

    # Correct, review, approve and issue again through the API.
    data = tech("GET", f"/api/v1/samples/{sample}").json
    length = next(r for t in data["tests"] for r in t["results"]
                  if r["characteristic_id"] == world.length_id and r["is_current"])
    tech("POST", f"/api/v1/results/{length['id']}/corrections",
         {"value": "12.5", "unit": "mm", "reason": "misread"}, 201)
    tech("POST", f"/api/v1/samples/{sample}/complete", None, 200)
    reviewer("POST", f"/api/v1/samples/{sample}/review", None, 200)
    signatory("POST", f"/api/v1/samples/{sample}/approve", {"password": PASSWORD}, 200)
    new = signatory("POST", f"/api/v1/samples/{sample}/report", {"password": PASSWORD},
                    201).json
    assert (new["supersedes"], new["amendment"], new["status"]) == (
        old, "length misread: 12.0 mm is 12.5 mm", "issued")
    listed = {r["number"]: r for r in tech("GET", "/api/v1/reports", None, 200).json["reports"]}
    assert (listed[old]["status"], listed[old]["superseded_by"], listed[old]["amending"]) == (
        "superseded", new["number"], False)
    ca = (pki_dir / "ca.pem").read_bytes()
    for number in (old, new["number"]):
        pdf = tech("GET", f"/api/v1/reports/{number}/pdf", None, 200).data
        check = validate_pdf(pdf, ca)
        assert check is not None and check.ok

    # Superseded: neither amended nor withdrawn (409); the replacement is withdrawn.
    assert qm("POST", f"/api/v1/reports/{old}/withdraw",
              {"reason": "x", "category": "error"}, 409).json["error"]["code"] == "report_state"
    assert signatory("POST", f"/api/v1/reports/{old}/amend", {"reason": "x"}, 409)
    gone = qm("POST", f"/api/v1/reports/{new['number']}/withdraw",
              {"reason": "customer cancelled the order", "category": "customer request"},
              200).json
    assert (gone["status"], gone["withdrawal_category"], gone["withdrawal_reason"]) == (
        "withdrawn", "customer request", "customer cancelled the order")
    assert gone["withdrawn_at"] is not None
    assert qm("POST", f"/api/v1/reports/{new['number']}/withdraw",
              {"reason": "x", "category": "error"}, 409)

    # The public page: superseded by N; withdrawn on a date with the category, not the reason.
    page = client.get(f"/verify/{old}").get_data(as_text=True)
    assert "superseded by" in page and new["number"] in page
    page = client.get(f"/verify/{new['number']}").get_data(as_text=True)
    assert "withdrawn on" in page and "customer request" in page
    assert "cancelled" not in page


def test_withdraw_takes_just_a_reason(client, session, world, settings):
    """The contract is ``{"reason"}``: the category defaults to ``recall`` for a report a
    nonconforming-work case recalled, else ``other``."""
    from lims.calibration import nonconforming as nc
    from lims.db import unit_of_work
    from tests.integration.test_nonconforming import build_chain, open_from_standard

    _sample, plain = world.reported_sample(session, settings)
    session.rollback()
    qm = _api(client, world.token(session, "qm"))
    gone = qm("POST", f"/api/v1/reports/{plain}/withdraw", {"reason": "issued in error"},
              200).json
    assert (gone["status"], gone["withdrawal_category"]) == ("withdrawn", "other")

    chain = build_chain(session, world, settings)
    case = open_from_standard(session, world, chain)
    with unit_of_work(session):
        nc.evaluate(session, actor=world.user(session, "qm"), case_number=case,
                    report_number=chain.acme, evaluation="recall", reason="error over margin")
    recalled = qm("POST", f"/api/v1/reports/{chain.acme}/withdraw",
                  {"reason": "standard out of tolerance"}, 200).json
    assert recalled["withdrawal_category"] == "recall"


def lims(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lims.cli", *args], env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def cli_env(settings: Any) -> dict[str, str]:
    return {**os.environ, "LIMS_INSTANCE_PATH": str(settings.instance_path),
            "LIMS_DATABASE_URL": settings.database_url, "LIMS_FONT_DIR": str(settings.font_dir),
            "LIMS_SIGNING_PKCS12": settings.signing_pkcs12,
            "LIMS_SIGNING_PASSPHRASE": settings.signing_passphrase,
            "LIMS_SECRET_KEY": "test-secret"}


def test_amend_and_withdraw_through_the_cli(session, world, settings, cli_env):
    _sample, first = world.reported_sample(session, settings)
    _sample2, second = world.reported_sample(session, settings)
    session.rollback()

    listed = lims(cli_env, "report", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {r["number"]: r for r in json.loads(listed.stdout)}
    assert {r["kind"] for r in rows.values()} == {"test_report"}
    assert {r["status"] for r in rows.values()} == {"issued"}
    assert set(rows[first]) >= {"number", "kind", "status", "issued_at", "sha256", "supersedes",
                                "superseded_by", "withdrawn_at", "withdrawal_category"}

    # Refusals exit 1 naming the field or the state; nothing changes.
    out = lims(cli_env, "report", "amend", first, "--reason", "x", "--user", "tech")
    assert out.returncode == 1 and "report.amend" in out.stderr
    out = lims(cli_env, "report", "amend", first, "--reason", " ", "--user", "signatory")
    assert out.returncode == 1 and "reason" in out.stderr
    out = lims(cli_env, "report", "withdraw", first, "--reason", "x", "--category", "lost",
               "--user", "qm")
    assert out.returncode == 2 and "category" in out.stderr
    out = lims(cli_env, "report", "amend", "NOPE", "--reason", "x", "--user", "qm")
    assert out.returncode == 1 and "no report" in out.stderr

    out = lims(cli_env, "report", "amend", first, "--reason", "typo in the length",
               "--user", "signatory")
    assert out.returncode == 0, out.stderr
    out = lims(cli_env, "report", "amend", first, "--reason", "again", "--user", "qm")
    assert out.returncode == 1 and "already being amended" in out.stderr
    out = lims(cli_env, "report", "withdraw", second, "--reason", "EQ-1 out of tolerance",
               "--category", "recall", "--user", "qm")
    assert out.returncode == 0, out.stderr

    rows = {r["number"]: r for r in json.loads(
        lims(cli_env, "report", "list", "--json").stdout)}
    assert (rows[first]["status"], rows[first]["amending"]) == ("issued", True)
    assert (rows[second]["status"], rows[second]["withdrawal_category"]) == ("withdrawn",
                                                                            "recall")
    withdrawn = lims(cli_env, "report", "list", "--json", "--status", "withdrawn")
    assert [r["number"] for r in json.loads(withdrawn.stdout)] == [second]
    text = lims(cli_env, "report", "list").stdout
    # The text is for a person: the kind's label, not its stored name (--json keeps that).
    assert f"{second}  Test report" in text and "withdrawn (recall)" in text
    verified = lims(cli_env, "audit", "verify")
    assert verified.returncode == 0 and "intact" in verified.stdout, verified.stdout


def test_pages_confirm_first_and_offer_withdrawal_of_a_recalled_report(app, client, session,
                                                                       world, settings):
    from lims.calibration import nonconforming as nc
    from lims.db import unit_of_work
    from tests.integration.test_nonconforming import build_chain, open_from_standard
    from tests.support.world import csrf, login

    chain = build_chain(session, world, settings)
    case = open_from_standard(session, world, chain)
    with unit_of_work(session):
        nc.evaluate(session, actor=world.user(session, "qm"), case_number=case,
                    report_number=chain.acme, evaluation="recall", reason="error over margin")
    public = app.test_client()
    assert "Under review, recalled" in public.get(f"/verify/{chain.acme}").get_data(
        as_text=True)

    login(client, "qm")
    page = client.get(f"/reports/{chain.acme}").get_data(as_text=True)
    assert 'id="recall"' in page and case in page
    assert '<option value="recall" selected>' in page  # the recall is offered as the category
    token = csrf(client, f"/reports/{chain.acme}")
    path = f"/reports/{chain.acme}/withdraw"
    # Without a CSRF token: refused, nothing written.
    seq = last_seq(session)
    assert client.post(path, data={"reason": "x", "category": "recall",
                                   "confirm": "yes"}).status_code == 400
    # Bad input goes back to the form with the field named (no 500, nothing written).
    bad = client.post(path, data={"csrf_token": token, "reason": "", "category": "recall"},
                      headers={"Referer": f"http://localhost/reports/{chain.acme}"})
    assert bad.status_code == 303
    shown = client.get(f"/reports/{chain.acme}").get_data(as_text=True)
    assert "(reason)" in shown
    # The first post only asks to confirm.
    asked = client.post(path, data={"csrf_token": token, "reason": "recalled by " + case,
                                    "category": "recall"})
    assert asked.status_code == 200 and "confirm-form" in asked.get_data(as_text=True)
    assert events_after(session, seq) == []
    done = client.post(path, data={"csrf_token": token, "reason": "recalled by " + case,
                                   "category": "recall", "confirm": "yes"})
    assert done.status_code == 303
    events = events_after(session, seq)
    assert [e.action for e in events] == ["report.withdraw"]
    assert json.loads(events[0].after)["recall_case"] == case
    html = public.get(f"/verify/{chain.acme}").get_data(as_text=True)
    assert "withdrawn on" in html and "(recall)" in html
    assert "Under review" not in html  # withdrawn: the recall is done
    # Confirming again is a 409 shown on the page it came from, not a 500.
    again = client.post(path, data={"csrf_token": token, "reason": "x", "category": "recall",
                                    "confirm": "yes"},
                        headers={"Referer": f"http://localhost/reports/{chain.acme}"})
    assert again.status_code == 303
    assert "only an issued report" in client.get(f"/reports/{chain.acme}").get_data(
        as_text=True)
    # A reviewer sees neither form; posting anyway is refused.
    client.post("/logout", data={"csrf_token": csrf(client)})
    login(client, "reviewer")
    page = client.get(f"/reports/{chain.beta}").get_data(as_text=True)
    assert "amend-form" not in page and "withdraw-form" not in page
    denied = client.post(f"/reports/{chain.beta}/amend",
                         data={"csrf_token": csrf(client, f"/reports/{chain.beta}"),
                               "reason": "x"})
    assert denied.status_code == 403


def test_export_dcc_errors_are_messages_not_tracebacks(session, world, settings, cli_env,
                                                       tmp_path):
    """A careless operator: a test report (no DCC), an unknown number, a directory that does
    not exist; each is one line on stderr and exit 1."""
    from tests.support.calibration import approved_job, procedure, standard

    standard(session, world)
    number = approved_job(session, world, procedure(session, world))
    with_dcc = issue_report_for(session, world, settings, number)
    _sample, test_report = world.reported_sample(session, settings)
    session.rollback()
    out = lims(cli_env, "report", "export-dcc", with_dcc, str(tmp_path / "c.xml"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "c.xml").read_bytes().startswith(b"<?xml")
    for args, said in (((test_report, str(tmp_path / "t.xml")), "no Digital Calibration"),
                       (("NOPE-1", str(tmp_path / "n.xml")), "no report"),
                       ((with_dcc, str(tmp_path / "no" / "such" / "dir.xml")), "cannot write")):
        out = lims(cli_env, "report", "export-dcc", *args)
        assert out.returncode == 1 and said in out.stderr, out.stderr
        assert "Traceback" not in out.stderr
    out = lims(cli_env, "report", "export", test_report, str(tmp_path / "no" / "r.pdf"))
    assert out.returncode == 1 and "cannot write" in out.stderr, out.stderr


def issue_report_for(session: Any, world: Any, settings: Any, number: str) -> str:
    from lims.db import unit_of_work
    from lims.reports.services import issue_report

    with unit_of_work(session):
        return issue_report(session, actor=world.user(session, "signatory"),
                            sample_number=number, settings=settings,
                            password=PASSWORD).number
