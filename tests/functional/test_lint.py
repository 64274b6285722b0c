"""ruff and mypy pass on the whole code base: `make test` (and so CI) runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _tool(*args: str) -> subprocess.CompletedProcess[str]:
    # Run from the repository root so that pyproject.toml's [tool.ruff] and [tool.mypy] apply.
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def test_ruff_finds_nothing():
    out = _tool("ruff", "check", "--no-cache", "lims", "drivers", "tests", "bench", "migrations")
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.slow
def test_mypy_finds_nothing_in_lims_and_drivers():
    out = _tool("mypy")  # files, strictness and third-party exceptions: [tool.mypy]
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Success: no issues found" in out.stdout
