"""The CLI the README documents: init, demo, report list/export, pki export-ca, users."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

from lims.calibration.dcc import parse_dcc
from lims.reports.sign import validate_pdf


def lims(env, *args, input=None):
    return subprocess.run([sys.executable, "-m", "lims.cli", *args], env=env, input=input,
                          capture_output=True, text=True, timeout=300)


def test_init_demo_report_and_pki(database_url, tmp_path, font_dir):
    inst = tmp_path / "inst"
    env = {**os.environ, "LIMS_INSTANCE_PATH": str(inst), "LIMS_DATABASE_URL": database_url,
           "LIMS_FONT_DIR": str(font_dir), "LIMS_PUBLIC_URL": "https://lims.example.test"}
    for _ in range(2):  # idempotent
        out = lims(env, "init")
        assert out.returncode == 0, out.stderr
    assert (inst / "secret_key").stat().st_mode & 0o077 == 0
    assert (inst / "pki" / "signer.p12").exists()

    first = lims(env, "demo")
    assert first.returncode == 0, first.stderr
    assert "signatory" in first.stdout and "technician" in first.stdout
    second = lims(env, "demo")
    assert second.returncode == 0 and second.stdout == first.stdout  # same logins, no new data

    listed = lims(env, "report", "list", "--json")
    reports = json.loads(listed.stdout)
    # The demo issues a test report, amends it (the original superseded), and issues a
    # calibration certificate and a verification certificate of customers' balances.
    by_kind = sorted((r["kind"], r["status"]) for r in reports)
    assert by_kind == [("calibration_certificate", "issued"), ("test_report", "issued"),
                       ("test_report", "superseded"), ("verification_certificate", "issued")]
    old = next(r for r in reports if r["status"] == "superseded")
    new = next(r for r in reports if r["kind"] == "test_report" and r["status"] == "issued")
    assert (old["superseded_by"], new["supersedes"]) == (new["number"], old["number"])
    assert "mistranscribed" in new["amendment"]
    number = new["number"]
    for kind, serial in (("calibration_certificate", "C318074562"),
                         ("verification_certificate", "0037512468")):
        cert = next(r for r in reports if r["kind"] == kind)
        out = lims(env, "report", "export-dcc", cert["number"], str(tmp_path / f"{kind}.xml"))
        assert out.returncode == 0, out.stderr
        dcc = parse_dcc((tmp_path / f"{kind}.xml").read_bytes(), provider_kind="in-house")
        assert dcc.number == cert["number"] and dcc.item.serial_number == serial
        assert dcc.results and all(r.unit for r in dcc.results)
    # Every point of the certificates is in the demo's scope: both carry CMA and CNAS; the
    # calibrated balance was adjusted at one point (as found and as left), the verified one
    # passes at every point.
    engine = create_engine(database_url)
    with engine.connect() as conn:
        stored = {n: json.loads(c) for n, c in conn.execute(
            text("SELECT number, content FROM reports"))}
        # The demo's fabric samples are in a product category: the dashboard's pass rate
        # per category has a figure on a fresh instance.
        categorised = conn.execute(text(
            "SELECT count(*) FROM samples s JOIN product_categories c ON c.id = s.category_id"
            " WHERE c.code = 'IND-TEXTILE'")).scalar()
    engine.dispose()
    assert categorised == 2
    assert all(c["marks"] == ["CMA", "CNAS"] for c in stored.values())
    calibrated = next(c for c in stored.values() if c["kind"] == "calibration_certificate")
    assert [p["state"] for p in calibrated["points"]].count("as found") == 1
    verified = next(c for c in stored.values() if c["kind"] == "verification_certificate")
    assert {p["conformity"] for p in verified["points"]} == {"pass"}
    no_dcc = lims(env, "report", "export-dcc", number, str(tmp_path / "x.xml"))
    assert no_dcc.returncode == 1 and "no Digital Calibration Certificate" in no_dcc.stderr
    out = lims(env, "report", "export", number, str(tmp_path / "r.pdf"))
    assert out.returncode == 0, out.stderr
    assert lims(env, "pki", "export-ca", str(tmp_path / "ca.pem")).returncode == 0
    check = validate_pdf((tmp_path / "r.pdf").read_bytes(), (tmp_path / "ca.pem").read_bytes())
    assert check is not None and check.ok
    missing = lims(env, "report", "export", "NOPE", str(tmp_path / "x.pdf"))
    assert missing.returncode == 1 and "no report" in missing.stderr

    # The demo's chain: the report's mass traces to the NMI; the E2 set's impact reaches it.
    traced = lims(env, "trace", number, "--json")
    assert traced.returncode == 0, traced.stderr
    mass = json.loads(traced.stdout)["results"][0]
    assert mass["complete"] is True and mass["instrument"] == "EQ-BAL-001"
    assert [n["asset"] for n in mass["chain"]] == ["EQ-BAL-001", "STD-E2-001", "STD-E1-001"]
    assert mass["chain"][-1]["provider_kind"] == "nmi"
    assert "中国计量科学研究院" in mass["chain"][-1]["provider"]
    assert set(mass["chain"][0]) >= {"asset", "role", "certificate", "provider", "provider_kind",
                                     "calibrated_on", "valid_until", "valid_at_use", "quantity",
                                     "unit", "expanded_uncertainty", "k", "warnings"}
    found = lims(env, "impact", "STD-E2-001", "--from", "2000-01-01", "--json")
    assert found.returncode == 0, found.stderr
    impact = json.loads(found.stdout)
    # Both the superseded report and its replacement relied on the E2 set (7.8.8: both stay).
    assert impact["instruments"] == ["EQ-BAL-001"]
    assert impact["reports"] == sorted([old["number"], number])
    assert impact["results"] == 1 and impact["customers"][0].startswith("杭州示例纺织")
    assert set(impact) == {"asset", "from", "to", "calibrations", "instruments", "results",
                           "reports", "customers"}
    assert "STD-E1-001" in lims(env, "trace", number).stdout
    # The certificates' weights, calibrated by an accredited provider, reach both of them.
    certs = json.loads(lims(env, "impact", "STD-E2-002", "--from", "2000-01-01", "--json").stdout)
    assert certs["reports"] == sorted(r["number"] for r in reports if r["kind"] != "test_report")
    assert lims(env, "impact", "NOPE", "--from", "2026-01-01").returncode == 1
    assert lims(env, "impact", "STD-E2-001", "--from", "26/01/2026").returncode == 1

    verified = lims(env, "audit", "verify")
    assert verified.returncode == 0 and "intact" in verified.stdout

    made = lims(env, "user", "create", "newbie", "--role", "technician", input="pw-12345678\npw-12345678\n")
    assert made.returncode == 0, made.stderr
    bad = lims(env, "user", "create", "x", "--role", "wizard", input="pw-12345678\npw-12345678\n")
    assert bad.returncode == 1 and "roles" in bad.stderr
    token = lims(env, "user", "token", "newbie").stdout.strip()
    assert token.startswith("lims_")


def test_calibration_import_json_keeps_digits_and_refuses_whole(database_url, tmp_path,
                                                                font_dir):
    data = Path(__file__).resolve().parents[1] / "data" / "certificates"
    env = {**os.environ, "LIMS_INSTANCE_PATH": str(tmp_path / "inst"),
           "LIMS_DATABASE_URL": database_url, "LIMS_FONT_DIR": str(font_dir)}
    assert lims(env, "init").returncode == 0
    made = lims(env, "user", "create", "admin", "--role", "admin",
                input="pw-12345678\npw-12345678\n")
    assert made.returncode == 0, made.stderr
    out = lims(env, "calibration", "import", str(data / "dcc-nim-mass-e1.xml"), "--json")
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert body["certificate"] == {"number": "ZLJL2024-00173",
                                   "provider": "National Institute of Metrology, China",
                                   "provider_kind": "nmi", "calibrated_on": "2024-03-06",
                                   "valid_until": "2025-03-05"}
    assert body["instrument"].startswith("STD-")
    first = body["results"][0]
    assert first == {"quantity": "Conventional mass", "nominal": "1", "value": "1.0000010",
                     "unit": "gram", "expanded_uncertainty": "0.0000020", "k": "2",
                     "coverage_probability": "0.95"}
    assert [r["value"] for r in body["results"][1:4]] == ["0.0010", "-0.0040", "0.012"]
    from lims.units import ureg

    assert all(ureg.parse_units(r["unit"]) is not None for r in body["results"])
    again = lims(env, "calibration", "import", str(data / "dcc-nim-mass-e1.xml"))
    assert again.returncode == 1 and "already recorded" in again.stderr
    bad = tmp_path / "bad.xml"
    bad.write_bytes((data / "dcc-dakks-dmm.xml").read_bytes().replace(b"\\volt", b"\\furlong"))
    refused = lims(env, "calibration", "import", str(bad), "--instrument", body["instrument"])
    assert refused.returncode == 1 and "furlong" in refused.stderr
    wrong = lims(env, "calibration", "import", str(data / "dcc-dakks-dmm.xml"), "--instrument",
                 body["instrument"])
    assert wrong.returncode == 1 and "none of its quantities" in wrong.stderr
    listed = lims(env, "calibration", "import", str(tmp_path / "missing.xml"))
    assert listed.returncode == 2


def test_demo_logins_are_not_in_the_repository():
    root = Path(__file__).resolve().parents[2]
    demo = (root / "lims" / "demo.py").read_text()
    assert "token_urlsafe" in demo  # passwords are random per instance
