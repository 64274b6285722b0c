"""pint's definitions cache, half-written by another process, does not stop the LIMS starting
(two test workers on a fresh machine once read each other's half-written pickle)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROBE = ("from decimal import Decimal; from lims.units import ureg; "
         "print(ureg.Quantity(Decimal('1.50'), 'mm').to('m').magnitude)")


def _run(cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    return subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def test_a_truncated_cache_file_is_read_around(tmp_path: Path) -> None:
    first = _run(tmp_path)
    assert first.returncode == 0, first.stderr
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written, "pint wrote no cache: the test would prove nothing"
    for path in written:
        path.write_bytes(b"")  # as a reader sees a file another process has just opened
    again = _run(tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == first.stdout.strip() == "0.00150"
