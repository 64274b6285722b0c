"""`lims uncertainty` and `lims decide` as documented."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data" / "budgets"


def lims(*args):
    return subprocess.run([sys.executable, "-m", "lims.cli", *args], capture_output=True,
                          text=True, timeout=120)


def test_uncertainty_table_and_json():
    out = lims("uncertainty", str(DATA / "ea-4-02-s2-mass.json"))
    assert out.returncode == 0, out.stderr
    assert "m_X = 10 000.025 g ± 0.058 g (k = 2, p ≈ 95 %)" in out.stdout
    assert "dm_D" in out.stdout and "rectangular" in out.stdout
    data = json.loads(lims("uncertainty", str(DATA / "gum-h1-end-gauge.json"), "--json").stdout)
    assert data["measurand"] == "l" and data["unit"] == "nm"
    assert data["dof_effective"] > 16 and abs(data["k"] - 2.92) < 0.005
    assert data["reported"]["value"] == "50000838"


def test_monte_carlo_is_seedable():
    args = ("uncertainty", str(DATA / "gum-h1-end-gauge.json"), "--json", "--mc", "50000",
            "--seed", "5")
    first, second = json.loads(lims(*args).stdout), json.loads(lims(*args).stdout)
    assert first["monte_carlo"] == second["monte_carlo"]
    assert set(first["monte_carlo"]) >= {"trials", "value", "standard_uncertainty",
                                         "coverage_interval", "validation"}


def test_invalid_budget_exits_non_zero_naming_the_field(tmp_path):
    bad = json.loads((DATA / "ea-4-02-s2-mass.json").read_text())
    bad["inputs"][0]["uncertainty"]["unit"] = "mL"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    out = lims("uncertainty", str(path))
    assert out.returncode == 2
    assert "inputs[0].uncertainty.unit" in out.stderr and "'mL'" in out.stderr
    path.write_text("{not json")
    out = lims("uncertainty", str(path))
    assert out.returncode == 2 and "not valid JSON" in out.stderr
    out = lims("uncertainty", str(tmp_path / "missing.json"))
    assert out.returncode == 2 and "cannot read" in out.stderr
    assert "Traceback" not in out.stderr


def test_decide_with_options_and_file(tmp_path):
    out = lims("decide", "--value", "10.04", "--unit", "mm", "--U", "0.02", "--lower", "9.95",
               "--upper", "10.05", "--rule", "non-binary", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["verdict"] == "conditional pass" and data["verdict_zh"] == "有条件合格"
    spec = tmp_path / "d.json"
    spec.write_text(json.dumps({"value": "10.04", "unit": "mm", "expanded_uncertainty": "0.02",
                                "upper": "10.05", "rule": "guarded"}))
    out = lims("decide", str(spec))
    assert out.returncode == 0 and "不合格" in out.stdout and "Verdict: fail" in out.stdout
    bad = lims("decide", "--value", "x", "--unit", "mm", "--U", "1", "--upper", "2")
    assert bad.returncode == 2 and "value" in bad.stderr


def test_rounding_half_even_and_the_5_percent_guard(tmp_path):
    budget = {"measurand": {"symbol": "y", "unit": "mm"}, "model": "x",
              "coverage": {"k": 2},
              "inputs": [{"symbol": "x", "value": "10.0565", "unit": "mm",
                          "uncertainty": {"type": "B", "distribution": "standard",
                                          "standard": "0.07"}}]}
    path = tmp_path / "b.json"
    path.write_text(json.dumps(budget))
    # U = 0.14 mm: one digit to the nearest would be 0.1 mm, 29 % lower; EA-4/02 rounds up.
    out = lims("uncertainty", str(path), "--digits", "1", "--rounding", "half-even")
    assert out.returncode == 0, out.stderr
    assert "y = 10.1 mm ± 0.2 mm (k = 2, p ≈ 95 %)" in out.stdout
    budget["inputs"][0]["uncertainty"]["standard"] = "0.01425"  # U = 0.0285 mm
    path.write_text(json.dumps(budget))
    out = lims("uncertainty", str(path), "--rounding", "half-even", "--json")
    assert json.loads(out.stdout)["reported"]["text"] == "y = 10.056 mm ± 0.028 mm (k = 2, p ≈ 95 %)"


def test_decide_prints_converted_numbers_without_decimal_noise():
    out = lims("decide", "--value", "25.5", "--unit", "℃", "--U", "0.2", "--upper", "298.65",
               "--limit-unit", "K", "--rule", "guarded")
    assert out.returncode == 0, out.stderr
    assert "tolerance [−∞, 25.5] ℃, acceptance [−∞, 25.3] ℃" in out.stdout
    assert "技术要求 [−∞, 25.5] ℃" in out.stdout and "00000" not in out.stdout


def test_degenerate_gum_result_reports_the_monte_carlo_one():
    """JCGM 101 9.4 at x1 = x2 = 0: u = 0 by the GUF; the CLI runs Monte Carlo by itself."""
    path = str(DATA / "jcgm-101-9-4-comparison-loss.json")
    out = lims("uncertainty", path, "--json", "--seed", "1")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["method"] == "MCM" and data["gum"]["expanded_uncertainty"] == 0
    low, high = data["coverage_interval"]
    assert 0 <= low < 1e-7 and abs(high - 1.498e-4) < 3e-6
    assert data["expanded_uncertainty"] > 0 and data["reported"]["expanded_uncertainty"] == "0.00010"
    assert data["reported"]["coverage_interval"] == ["0.00000", "0.00015"]
    assert data["monte_carlo"]["adaptive"] and data["monte_carlo"]["seed"] == 1
    text = lims("uncertainty", path, "--seed", "1")
    assert "method: Monte Carlo (JCGM 101), because" in text.stdout
    assert "reported: dY = 0.000 05 ± 0.000 10 (p ≈ 95 %, Monte Carlo, JCGM 101; shortest " \
        "coverage interval [0.000 00, 0.000 15])" in text.stdout


def test_gum_result_json_gains_method_and_coverage_interval():
    out = lims("uncertainty", str(DATA / "ea-4-02-s2-mass.json"), "--json", "--mc", "adaptive",
               "--seed", "3")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["method"] == "GUF" and data["monte_carlo"]["validation"]["gum_validated"]
    low, high = data["coverage_interval"]
    assert abs(low - (data["value"] - data["expanded_uncertainty"])) < 1e-9
    assert abs(high - (data["value"] + data["expanded_uncertainty"])) < 1e-9
    assert data["reported"]["coverage_interval"] == ["9999.967", "10000.083"]
    bad = lims("uncertainty", str(DATA / "ea-4-02-s2-mass.json"), "--mc", "lots")
    assert bad.returncode == 2 and "adaptive" in bad.stderr


def test_gum_h2_simultaneous_readings_from_the_command_line():
    out = lims("uncertainty", str(DATA / "gum-h2-resistance.json"), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["method"] == "GUF" and data["dof_effective"] == 4
    assert abs(data["value"] - 127.732) < 0.0005 and abs(data["standard_uncertainty"] - 0.071) < 0.0005
    assert abs(data["expanded_uncertainty"] - 0.197) < 0.0005
    assert data["reported"]["text"] == "R = 127.73 Ω ± 0.20 Ω (k = 2.78, p ≈ 95 %)"
    assert sorted((c["a"], c["b"]) for c in data["correlations"] if c["estimated"]) == \
        [("I", "phi"), ("V", "I"), ("V", "phi")]


def test_relative_units_trapezoid_and_cmc_from_the_command_line(tmp_path):
    """A 10 V DMM calibration against a calibrator: the calibrator's U = 5 ppm (k = 2) is
    relative to its value, the DMM's resolution a trapezoid; the CMC is 20 µV + 2 ppm·|y|."""
    budget = {"measurand": {"symbol": "E", "unit": "µV", "description": "DMM error at 10 V"},
              "model": "V_X - V_S + dV",
              "coverage": {"k": 2},
              "cmc": {"a": "20", "unit": "µV", "b": "2", "b_unit": "ppm"},
              "inputs": [
                  {"symbol": "V_X", "value": "10.00003", "unit": "V",
                   "uncertainty": {"type": "B", "distribution": "trapezoidal",
                                   "half_width": "5", "beta": "0.5", "unit": "µV"}},
                  {"symbol": "V_S", "value": "10", "unit": "V",
                   "uncertainty": {"type": "B", "distribution": "normal", "expanded": "5",
                                   "k": 2, "unit": "ppm"}},
                  {"symbol": "dV", "value": "0", "unit": "µV",
                   "uncertainty": {"type": "B", "distribution": "rectangular",
                                   "half_width": "0.001", "unit": "%"}}]}
    path = tmp_path / "dmm.json"
    path.write_text(json.dumps(budget, ensure_ascii=False))
    out = lims("uncertainty", str(path), "--json")
    assert out.returncode == 2 and "inputs[2].uncertainty.unit" in out.stderr  # 0.001 % of 0
    budget["inputs"][2]["uncertainty"] = {"type": "B", "distribution": "rectangular",
                                          "half_width": "1", "unit": "µV"}
    path.write_text(json.dumps(budget, ensure_ascii=False))
    out = lims("uncertainty", str(path), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    rows = {r["symbol"]: r for r in data["budget"]}  # u(x_i) in the input's unit, V
    assert abs(rows["V_S"]["standard_uncertainty"] - 25e-6) < 1e-12
    assert abs(rows["V_X"]["standard_uncertainty"] - 5e-6 * (1.25 / 6) ** 0.5) < 1e-12
    assert rows["V_X"]["distribution"] == "trapezoidal"
    # E = 30 µV, U = 2·√(25² + 2.28² + 0.58²) µV = 50.2 µV; the CMC, 20 µV + 2 ppm of 30 µV,
    # is below it.
    assert abs(data["value"] - 30) < 1e-6
    assert data["reported"]["expanded_uncertainty"] == "50" and not data["reported"]["cmc_applied"]
    budget["cmc"] = {"a": "50", "unit": "µV", "b": "2", "b_unit": "%"}   # 50 µV + 0.6 µV
    path.write_text(json.dumps(budget, ensure_ascii=False))
    data = json.loads(lims("uncertainty", str(path), "--json").stdout)
    assert data["reported"]["expanded_uncertainty"] == "51" and data["reported"]["cmc_applied"]
