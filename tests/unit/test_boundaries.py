"""The architecture's boundaries: pure packages stay pure, runtimes need no Flask app."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _imported_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    return set(out.split())


@pytest.mark.parametrize("module", ["lims.metrology.uncertainty", "lims.metrology.decision",
                                    "lims.units", "lims.reports.content"])
def test_pure_modules_import_neither_flask_nor_a_session(module):
    loaded = _imported_after(f"import {module}")
    assert "flask" not in loaded and "sqlalchemy.orm" not in loaded, module


def test_drivers_import_nothing_of_ours():
    loaded = _imported_after("import drivers, drivers.simulators")
    assert not {m for m in loaded if m == "lims" or m.startswith("lims.")}
    assert "flask" not in loaded and "sqlalchemy" not in loaded


def test_the_capture_agent_imports_drivers_and_the_stdlib_only():
    # It runs on bench PCs (issue 12 §1): no Flask, no database driver, none of the server.
    loaded = _imported_after("import lims.agent.main, lims.agent.run")
    ours = {m for m in loaded if m == "lims" or m.startswith("lims.")}
    assert ours - {"lims"} <= {m for m in ours if m.startswith("lims.agent")} | {"lims.catalogs"}
    assert not {m for m in loaded if m.split(".")[0] in {"flask", "sqlalchemy", "psycopg",
                                                         "werkzeug", "jinja2"}}


def test_the_cli_and_scheduler_need_no_flask(tmp_path):
    loaded = _imported_after("import lims.cli, lims.scheduler, lims.runtime")
    assert "flask" not in loaded


def test_a_runtime_opens_sessions_without_an_app(tmp_path):
    from sqlalchemy import text

    from lims.config import Settings
    from lims.runtime import open_runtime

    rt = open_runtime(Settings(instance_path=tmp_path, secret_key="x"))
    try:
        with rt.transaction() as session:
            assert session.execute(text("SELECT 1")).scalar() == 1
    finally:
        rt.dispose()


def test_every_domain_contributes_through_the_registry():
    from lims.domains import domains, jobs

    names = [d.name for d in domains()]
    assert names == ["web", "auth", "samples", "instruments", "calibration", "reports",
                     "accreditation", "audit", "work", "readings", "supervision"]
    assert set(jobs()) == {"flag-calibration-due", "verify-audit-chain", "audit-verify-queued",
                           "audit-checkpoint",
                           "report-recovery"}
