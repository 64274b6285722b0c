"""The CLI the README documents: init, demo, report list/export, pki export-ca, users."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
    assert len(reports) == 1 and reports[0]["status"] == "issued"
    number = reports[0]["number"]
    out = lims(env, "report", "export", number, str(tmp_path / "r.pdf"))
    assert out.returncode == 0, out.stderr
    assert lims(env, "pki", "export-ca", str(tmp_path / "ca.pem")).returncode == 0
    check = validate_pdf((tmp_path / "r.pdf").read_bytes(), (tmp_path / "ca.pem").read_bytes())
    assert check is not None and check.ok
    missing = lims(env, "report", "export", "NOPE", str(tmp_path / "x.pdf"))
    assert missing.returncode == 1 and "no report" in missing.stderr

    verified = lims(env, "audit", "verify")
    assert verified.returncode == 0 and "intact" in verified.stdout

    made = lims(env, "user", "create", "newbie", "--role", "technician", input="pw-12345678\npw-12345678\n")
    assert made.returncode == 0, made.stderr
    bad = lims(env, "user", "create", "x", "--role", "wizard", input="pw-12345678\npw-12345678\n")
    assert bad.returncode == 1 and "roles" in bad.stderr
    token = lims(env, "user", "token", "newbie").stdout.strip()
    assert token.startswith("lims_")


def test_demo_logins_are_not_in_the_repository():
    root = Path(__file__).resolve().parents[2]
    demo = (root / "lims" / "demo.py").read_text()
    assert "token_urlsafe" in demo  # passwords are random per instance
