"""`lims read` and `lims simulate` as a technician runs them at the bench."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from drivers.simulators.mtsics import MTSICSBalanceModel
from drivers.simulators.pty import PtySimulator

LIMS = [sys.executable, "-m", "lims.cli"]


def _run(*args, timeout=60):
    return subprocess.run([*LIMS, *args], capture_output=True, text=True, timeout=timeout)


def test_read_json_lines(tmp_path):
    model = MTSICSBalanceModel(load="12.34")
    with PtySimulator(model, tmp_path / "bal") as sim:
        out = _run("read", "mt-sics", sim.port, "--count", "3", "--json")
    assert out.returncode == 0, out.stderr
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    assert len(lines) == 3
    first = lines[0]
    assert set(first) == {"driver", "value", "unit", "quantity", "stable", "status", "raw", "at"}
    assert (first["driver"], first["value"], first["unit"], first["quantity"], first["stable"],
            first["status"]) == ("mt-sics", "12.34", "g", "mass", True, "ok")
    assert first["raw"] == "S S      12.34 g" and first["at"].endswith("Z")


def test_read_reports_overload_as_a_reading(tmp_path):
    model = MTSICSBalanceModel()
    model.overload = True
    with PtySimulator(model, tmp_path / "bal") as sim:
        out = _run("read", "mt-sics", sim.port, "--json")
    assert out.returncode == 0
    reading = json.loads(out.stdout)
    assert reading["status"] == "overload" and reading["value"] is None


def test_read_fails_clearly_without_port_or_data(tmp_path):
    out = _run("read", "mt-sics", str(tmp_path / "nothing"))
    assert out.returncode != 0 and "does not exist" in out.stderr
    model = MTSICSBalanceModel()
    model.drop = 10
    with PtySimulator(model, tmp_path / "bal") as sim:
        out = _run("read", "mt-sics", sim.port, "--timeout", "0.5")
    assert out.returncode != 0 and "no valid reading" in out.stderr
    out = _run("read", "no-such-driver", "/dev/null")
    assert out.returncode == 2 and "unknown driver" in out.stderr


def test_simulate_serves_a_port_until_interrupted(tmp_path):
    link = tmp_path / "sim-balance"
    with subprocess.Popen([*LIMS, "simulate", "mt-sics", "--link", str(link), "--set", "load=7.00"],
                          stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout.readline().strip() == str(link)
            out = _run("read", "mt-sics", str(link), "--json")
            assert json.loads(out.stdout)["value"] == "7.00"
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=10)
    assert proc.returncode == 0
    assert not os.path.lexists(link)
