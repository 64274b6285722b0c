"""Schemathesis against the live app, on SQLite and on PostgreSQL (issue 8, "No 500s").

A real server (``lims serve``: gunicorn, as in production) on a fresh instance with the demo
data and a user holding every role, fuzzed through ``/api/v1/openapi.json`` with every
schemathesis check: no response may be a 5xx, and every response must be one the document
declares (status code, content type, headers, body schema). The run must make at least
:data:`MIN_REQUESTS` requests, counted from the server's own access log.

Nothing is excluded: the API has no logout or token revocation, so no request can take away
the token the run uses.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import free_port, wait_until_serving

MIN_REQUESTS = 10_000
# Examples per operation and phase; with the coverage and stateful phases this makes about
# 11,000 requests against the API's operations (the count is asserted, not assumed). Each
# example more adds about 70 requests and 2.5 s per database to the CI run.
MAX_EXAMPLES = int(os.environ.get("LIMS_FUZZ_EXAMPLES", "85"))
# A fixed seed makes a failure in CI reproducible; set LIMS_FUZZ_SEED to explore other inputs.
SEED = os.environ.get("LIMS_FUZZ_SEED", "20261108")
CONFIG = Path(__file__).with_name("schemathesis.toml")
BIN = Path(sys.executable).parent
PASSWORD = "fuzz-Passw0rd-for-the-run"
ACCESS = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3}) ')

pytestmark = pytest.mark.slow


def _lims(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([str(BIN / "lims"), *args], env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


@pytest.fixture
def live_server(server_database_url: str, tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """``lims init`` + ``lims demo`` + a token of a user with every role, then ``lims serve``.

    Yields the base URL, the token and the server's access log.
    """
    env = {**os.environ, "LIMS_INSTANCE_PATH": str(tmp_path / "instance"),
           "LIMS_DATABASE_URL": server_database_url,
           "LIMS_PUBLIC_URL": "https://lims.example.test",
           # A live readings stream on a real instrument ends after 1 s instead of 5 minutes.
           "LIMS_LIVE_STREAM_SECONDS": "1"}
    _lims(env, "init")
    _lims(env, "demo")
    # Every role, so that the run reaches every service rather than stopping at 403; the
    # services still refuse what separation of duties forbids.
    _lims(env, "user", "create", "fuzz", "--role", "technician", "--role", "reviewer",
          "--role", "signatory", "--role", "quality_manager", "--role", "admin",
          "--scope", "textiles", "--password", PASSWORD)
    token = _lims(env, "user", "token", "fuzz").strip()
    port = free_port()
    log = tmp_path / "access.log"
    with log.open("w") as out:
        server = subprocess.Popen([str(BIN / "lims"), "serve", "--host", "127.0.0.1", "--port",
                                   str(port), "--workers", "2"], env=env, stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(port, server)
        yield base, token, log
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _known_records(base: str, token: str) -> str:
    """Dictionaries of the demo's own numbers and ids, in schemathesis' config form: half of
    the path and body values that name a record then name one that exists, so the run gets
    past "not found" into the services (the other half stay generated)."""
    def get(path: str) -> Any:
        req = urllib.request.Request(f"{base}/api/v1/{path}",  # noqa: S310 - our own server
                                     headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310
            return json.load(resp)

    samples, methods = get("samples")["samples"], get("methods")["methods"]
    known = {
        "numbers": [x["number"] for x in samples + get("reports")["reports"]],
        "assets": [x["asset_number"] for x in get("instruments")["instruments"]],
        "instrument_ids": [x["id"] for x in get("instruments")["instruments"]],
        "characteristic_ids": [c["id"] for m in methods for c in m["characteristics"]],
        "method_ids": [m["id"] for m in methods],
        "customer_ids": [c["id"] for c in get("customers")["customers"]],
    }
    bindings = {"path.number": "numbers", "path.asset": "assets", "body.asset": "assets",
                "body.instrument_id": "instrument_ids", "body.check_standard": "assets",
                "body.characteristic_id": "characteristic_ids", "body.customer_id":
                "customer_ids", "body.method_ids[*]": "method_ids"}
    lines = [f"[dictionaries.{name}]\nvalues = {json.dumps(values, ensure_ascii=False)}\n"
             for name, values in known.items() if values]
    lines.append("[parameters]")
    lines += [f'"{key}" = {{ dictionary = "{name}", probability = 0.5 }}'
              for key, name in bindings.items() if known[name]]
    return "\n".join(lines) + "\n"


def test_schemathesis_finds_no_5xx_and_no_response_outside_the_document(
        live_server: tuple[str, str, Path], tmp_path: Path, run_log: Any) -> None:
    base, token, log = live_server
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG.read_text() + "\n" + _known_records(base, token))
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run",
         f"{base}/api/v1/openapi.json", "--header", f"Authorization: Bearer {token}",
         "--checks", "all", "--max-examples", str(MAX_EXAMPLES), "--seed", SEED,
         # One worker: CPython 3.11.7's AST validation is not thread-safe (gh-106905), and
         # hypothesis parses source while describing strategies, which fails at random in a
         # second thread. The server has its own two processes.
         "--workers", "1", "--max-failures", "50", "--no-color"],
        capture_output=True, text=True, timeout=1800, check=False, cwd=tmp_path)
    elapsed = time.monotonic() - started
    requests = [m for m in map(ACCESS.search, log.read_text().splitlines()) if m]
    fuzzed = [m for m in requests if m["path"] != "/api/v1/openapi.json" or m["method"] != "GET"]
    statuses = Counter(m["status"] for m in requests)
    run_log(f"schemathesis made {len(fuzzed)} requests in {elapsed:.0f} s; statuses "
            f"{dict(sorted(statuses.items()))}")
    failed = f"{run.stdout[-20000:]}\n{run.stderr[-5000:]}"
    assert run.returncode == 0, failed
    assert not [m for m in requests if m["status"].startswith("5")], failed
    assert len(fuzzed) >= MIN_REQUESTS, f"only {len(fuzzed)} requests"
