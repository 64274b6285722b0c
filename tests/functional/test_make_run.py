"""``make run`` reads the simulated bench through one capture agent (issue 12 §2).

The Makefile's own ``run`` target, on a fresh instance and a free port: ``lims init``, ``lims
demo --agent-server``, three ``lims simulate`` processes on ptys, ``lims agent`` and ``lims
serve``. Readings of all three demo instruments must then arrive on the server from the agent
``demo-bench`` (so the instrument pages show them live and Capture takes them from the stream,
the instruments having an agent). Running the set-up again keeps the agent and its token.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select

from lims.config import Settings
from lims.demo_agent import write_bench_agent
from lims.readings.models import Agent
from lims.runtime import Runtime, open_runtime
from tests.support.processes import free_port, stop_group

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="ptys are POSIX only")
ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.prefix)
BENCH = ("EQ-BAL-001", "EQ-DMM-001", "EQ-HYG-001")


def _readings(base: str, token: str, asset: str) -> list[dict[str, object]]:
    req = urllib.request.Request(  # noqa: S310 - our own server
        f"{base}/api/v1/instruments/{asset}/readings?limit=50",
                                 headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - our own server
            return list(json.load(resp)["readings"])
    except OSError:
        return []  # not serving yet


def test_make_run_reads_the_demo_bench_through_one_agent(tmp_path: Path) -> None:
    instance, port = tmp_path / "instance", free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIMS_")}  # the defaults
    log = tmp_path / "make-run.log"
    with log.open("wb") as out:
        # -o: the virtualenv this test runs in counts as installed; make must not rebuild it.
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "-C", str(ROOT), "-o", str(VENV / ".installed"),
             "run", f"VENV={VENV}", f"INSTANCE={instance}", f"PORT={port}"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base, token_file = f"http://127.0.0.1:{port}", instance / "agent.token"
    try:
        token = ""
        deadline = time.monotonic() + 180  # init + demo + start-up on a loaded machine
        while not token:
            assert proc.poll() is None, log.read_text(errors="replace")[-5000:]
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-5000:]
            if (instance / "agent.toml").exists():
                done = _lims(env, instance, "user", "token", "tech")
                token = done.stdout.strip().splitlines()[-1] if done.returncode == 0 else ""
            if not token:
                time.sleep(0.5)
        seen: dict[str, list[dict[str, object]]] = {}
        while set(seen) != set(BENCH):
            assert proc.poll() is None, log.read_text(errors="replace")[-5000:]
            assert time.monotonic() < deadline + 60, (
                seen, (instance / "agent.log").read_text(errors="replace")[-5000:])
            for asset in BENCH:
                if asset not in seen and (rows := _readings(base, token, asset)):
                    seen[asset] = rows
            time.sleep(0.5)
        for asset, rows in seen.items():
            assert {r["agent"] for r in rows} == {"demo-bench"}, asset
            assert any(r["status"] == "ok" and r["value"] for r in rows), (asset, rows)
        assert any(r["stable"] for r in seen["EQ-BAL-001"])  # what Capture takes
        assert token_file.stat().st_mode & 0o077 == 0  # the agent's secret is the user's only
        assert token_file.read_text().strip() not in log.read_text(errors="replace")
    finally:
        stop_group(proc)
    # `make run` again: the same agent and token, the config for the new port.
    token_before = token_file.read_text().strip()
    again = _lims(env, instance, "demo", "--agent-server", "http://127.0.0.1:1")
    assert again.returncode == 0, again.stderr
    assert token_before not in again.stdout + again.stderr
    assert token_file.read_text().strip() == token_before
    assert 'server = "http://127.0.0.1:1"' in (instance / "agent.toml").read_text()
    rt = open_runtime(Settings.from_env({**env, "LIMS_INSTANCE_PATH": str(instance)}))
    try:
        assert _agents(rt) == [("demo-bench", False)]
        # A lost token cannot be shown again: the old agent is revoked, a new one registered.
        token_file.unlink()
        write_bench_agent(rt, server="http://127.0.0.1:1")
        assert _agents(rt) == [("demo-bench", True), ("demo-bench-2", False)]
        assert token_file.read_text().strip() not in ("", token_before)
    finally:
        rt.dispose()


def _lims(env: dict[str, str], instance: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(VENV / "bin" / "lims"), *args],
                          env={**env, "LIMS_INSTANCE_PATH": str(instance)}, capture_output=True,
                          text=True, timeout=120, check=False)


def _agents(rt: Runtime) -> list[tuple[str, bool]]:
    with rt.session() as session:
        return [(a.name, a.revoked_at is not None) for a in session.scalars(
            select(Agent).order_by(Agent.name))]
