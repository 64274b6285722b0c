"""Independent checks of signed PDFs with poppler's pdfsig and an NSS trust store."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import require_binary


def nss_db(tmp: Path, ca_pem: bytes) -> str:
    certutil = require_binary("certutil")
    db = tmp / "nss"
    db.mkdir(exist_ok=True)
    (tmp / "ca.pem").write_bytes(ca_pem)
    subprocess.run([certutil, "-N", "-d", f"sql:{db}", "--empty-password"], check=True,
                   capture_output=True)
    subprocess.run([certutil, "-A", "-n", "LIMS CA", "-t", "CT,C,C", "-i", str(tmp / "ca.pem"),
                    "-d", f"sql:{db}"], check=True, capture_output=True)
    return f"sql:{db}"


def pdfsig(pdf: Path, nssdir: str) -> str:
    exe = require_binary("pdfsig")
    # pdfsig exits 0 even on a digest mismatch: callers must read the output.
    out = subprocess.run([exe, "-nssdir", nssdir, str(pdf)], capture_output=True, text=True)
    return out.stdout + out.stderr


def pdftotext(pdf: Path) -> str:
    exe = require_binary("pdftotext")
    return subprocess.run([exe, "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout


def pdffonts(pdf: Path) -> str:
    exe = require_binary("pdffonts")
    return subprocess.run([exe, str(pdf)], capture_output=True, text=True, check=True).stdout
