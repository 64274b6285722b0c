"""Registration against a bare Flask + SQLAlchemy Core floor, and statements per write request.

The floor is a bare Flask app with one route on the same database (the same engine settings:
WAL, BEGIN IMMEDIATE for writes on SQLite) doing the same writes with the same commits: the
bearer token checked (token, user and roles in one read), then one write transaction that
checks the request, takes the next number of the series, inserts the sample and its test,
and appends the audit event with its SHA-256 chained to the head's (head locked, event
inserted, head moved). The app registers through ``POST /api/v1/samples`` (the services,
validation, the whole reply). Both run interleaved in the same run, through Flask's test
client, so that both see the same machine. Target (issue 14): ratio <= 1.5 (median of the
per-round ratios; the spread is their 10th-90th percentiles), on SQLite and PostgreSQL.
A sample's first result is timed the same way against a floor route that reads the sample and
its test, checks the unit with pint and the limits, and writes the result, the status and
their two audit events (target <= 1.5).

Also printed: the statements each write request runs (registration, a result, an agent's
capture upload, a report issue), counted with a ``before_cursor_execute`` listener; the
issue's target is <= 12 for registration. Never asserted in tests: machines are shared
(tests/functional/test_statements.py asserts the statement counts, which are deterministic).
"""

from __future__ import annotations

import base64
import decimal
import hashlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pint  # noqa: E402
from flask import Flask, jsonify, request  # noqa: E402
from sqlalchemy import Engine, event, text  # noqa: E402

from lims import create_app  # noqa: E402
from lims.config import Settings  # noqa: E402
from lims.db import make_engine, unit_of_work, utcnow  # noqa: E402
from lims.migrate import upgrade  # noqa: E402
from lims.reports.fonts import default_font_dir, ensure_fonts  # noqa: E402
from lims.reports.pki import create_dev_pki  # noqa: E402
from tests.support.postgres import Cluster, find_bindir  # noqa: E402
from tests.support.world import PASSWORD, build_world  # noqa: E402

RUNS = 60
RESULT_RUNS = 40
HEAD = text("SELECT seq, hash FROM audit_head WHERE id = 1")
HEAD_LOCKED = text("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE")
SAMPLE = text("SELECT id, status FROM samples WHERE number = :n")
SAMPLE_LOCKED = text("SELECT id, status FROM samples WHERE number = :n FOR UPDATE")
TOKEN = text("SELECT u.id, u.username, r.role FROM api_tokens t JOIN users u ON u.id = t.user_id "
             "JOIN user_roles r ON r.user_id = u.id WHERE t.token_hash = :h AND "
             "t.revoked_at IS NULL AND u.active")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@contextmanager
def counted(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def floor_app(url: str) -> tuple[Flask, Engine]:
    """The bare route: Flask, SQLAlchemy Core (text SQL), hashlib and json."""
    engine = make_engine(url)
    postgres = url.startswith("postgresql")
    app = Flask("floor")

    def technician() -> tuple[int, str] | None:
        """The bearer token's user, when a technician: token, user and roles in one read."""
        token = request.headers.get("Authorization", "").partition(" ")[2]
        with engine.connect() as conn:
            roles = conn.execute(TOKEN, {"h": hashlib.sha256(token.encode()).hexdigest()}).all()
            conn.rollback()
        if not any(r.role == "technician" for r in roles):
            return None
        return roles[0].id, roles[0].username

    @app.post("/api/v1/samples")
    def register() -> Any:
        data = request.get_json()
        if (who := technician()) is None:
            return jsonify(error="forbidden"), 403
        user_id, username = who
        now = utcnow()
        with engine.connect().execution_options(lims_write=True) as conn, conn.begin():
            req = conn.execute(text("SELECT id FROM test_requests WHERE id = :id"),
                               {"id": data["request_id"]}).scalar_one()
            seq = conn.execute(text(
                "INSERT INTO number_series (series, last) VALUES (:s, 1) ON CONFLICT (series) "
                "DO UPDATE SET last = number_series.last + 1 RETURNING last"),
                {"s": f"floor:{now.year}"}).scalar_one()
            number = f"FL{now.year}-{seq:06d}"
            stamp = now if postgres else now.replace(tzinfo=None)
            sample_id = conn.execute(text(
                "INSERT INTO samples (number, request_id, description, status, registered_at, "
                "registered_by_id, acquisition, priority, sampled_on, trademark, model, batch, "
                "quantity, manufacturer) VALUES (:n, :r, :d, 'registered', :at, :u, "
                "'delivered', 'normal', :on, '', '', '', '', '') RETURNING id"),
                {"n": number, "r": req, "d": data["description"], "at": stamp, "u": user_id,
                 "on": now.date()}).scalar_one()
            conn.execute(text("INSERT INTO sample_tests (sample_id, method_id) VALUES (:s, :m)"),
                         [{"s": sample_id, "m": m} for m in data["method_ids"]])
            head = conn.execute(HEAD_LOCKED if postgres else HEAD).one()
            after = json.dumps({"number": number, "request_id": req,
                                "method_ids": data["method_ids"]}, sort_keys=True,
                               separators=(",", ":"), ensure_ascii=False)
            body = {"seq": head.seq + 1, "at": now.isoformat(), "actor_id": user_id,
                    "actor": username, "action": "sample.register", "entity_type": "samples",
                    "entity_id": number, "before": None, "after": after, "reason": None,
                    "prev_hash": head.hash}
            digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"),
                                               ensure_ascii=False).encode()).hexdigest()
            conn.execute(text("UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1"),
                         {"s": head.seq + 1, "h": digest})
            conn.execute(text(
                "INSERT INTO audit_events (seq, at, actor_id, actor, action, entity_type, "
                "entity_id, after, prev_hash, hash) VALUES (:seq, :at, :actor_id, :actor, "
                ":action, :entity_type, :entity_id, :after, :prev_hash, :hash)"),
                {**body, "at": stamp, "hash": digest})
        return jsonify(number=number), 201

    ureg = pint.UnitRegistry()

    @app.post("/api/v1/samples/<number>/results")
    def record_result(number: str) -> Any:
        data = request.get_json()
        if (who := technician()) is None:
            return jsonify(error="forbidden"), 403
        user_id, username = who
        now = utcnow()
        stamp = now if postgres else now.replace(tzinfo=None)
        with engine.connect().execution_options(lims_write=True) as conn, conn.begin():
            sample = conn.execute(SAMPLE_LOCKED if postgres else SAMPLE, {"n": number}).one()
            if sample.status not in ("received", "in_testing"):
                return jsonify(error="status"), 409
            test = conn.execute(text(
                "SELECT t.id, c.unit, c.lower_limit, c.upper_limit FROM sample_tests t JOIN "
                "characteristics c ON c.method_id = t.method_id WHERE t.sample_id = :s AND "
                "c.id = :c"), {"s": sample.id, "c": data["characteristic_id"]}).one()
            if conn.execute(text("SELECT 1 FROM results WHERE test_id = :t AND "
                                 "characteristic_id = :c AND is_current"),
                            {"t": test.id, "c": data["characteristic_id"]}).first():
                return jsonify(error="recorded"), 409
            # The same checks: the digits as a decimal, the unit by pint within the
            # characteristic's dimension, the limits compared in the characteristic's unit.
            value = decimal.Decimal(data["value"])
            unit = ureg.Unit(data["unit"])
            converted = ureg.Quantity(value, unit).to(test.unit).magnitude
            low, high = test.lower_limit, test.upper_limit
            conforms = (low is None or converted >= decimal.Decimal(low)) and (
                high is None or converted <= decimal.Decimal(high))
            result_id = conn.execute(text(
                "INSERT INTO results (test_id, characteristic_id, version, is_current, value, "
                "unit, unit_text, conformity, source, measured_at, recorded_at, recorded_by_id) "
                "VALUES (:t, :c, 1, :cur, :v, :u, :ut, :conf, 'manual', :at, :at, :by) "
                "RETURNING id"),
                {"t": test.id, "c": data["characteristic_id"], "cur": True, "v": data["value"],
                 "u": str(unit), "ut": data["unit"], "conf": "pass" if conforms else "fail",
                 "at": stamp, "by": user_id}).scalar_one()
            head = conn.execute(HEAD_LOCKED if postgres else HEAD).one()
            seq, prev = head.seq, head.hash
            changes = [("result.record", "results", str(result_id),
                        {"value": data["value"], "unit": data["unit"]})]
            if sample.status == "received":
                conn.execute(text("UPDATE samples SET status = 'in_testing' WHERE id = :s"),
                             {"s": sample.id})
                changes.append(("sample.start_testing", "samples", number,
                                {"status": "in_testing"}))
            for action, entity, entity_id, after in changes:
                seq += 1
                prev = _append(conn, seq, prev, stamp, now, user_id, username, action, entity,
                               entity_id, after)
            conn.execute(text("UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1"),
                         {"s": seq, "h": prev})
        return jsonify(id=result_id), 201

    return app, engine


def _append(conn: Any, seq: int, prev: str, stamp: Any, now: Any, user_id: int, username: str,
            action: str, entity: str, entity_id: str, after: dict[str, Any]) -> str:
    """The floor's audit row: its SHA-256 over canonical JSON, chained to ``prev``."""
    body = {"seq": seq, "at": now.isoformat(), "actor_id": user_id, "actor": username,
            "action": action, "entity_type": entity, "entity_id": entity_id, "before": None,
            "after": json.dumps(after, sort_keys=True, separators=(",", ":"),
                                ensure_ascii=False), "reason": None, "prev_hash": prev}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"),
                                       ensure_ascii=False).encode()).hexdigest()
    conn.execute(text(
        "INSERT INTO audit_events (seq, at, actor_id, actor, action, entity_type, entity_id, "
        "after, prev_hash, hash) VALUES (:seq, :at, :actor_id, :actor, :action, :entity_type, "
        ":entity_id, :after, :prev_hash, :hash)"), {**body, "at": stamp, "hash": digest})
    return digest


def settings_for(tmp: Path, url: str) -> Settings:
    return Settings(instance_path=tmp, database_url=url, secret_key="bench",
                    signing_pkcs12=str(tmp / "pki" / "signer.p12"),
                    signing_passphrase=(tmp / "pki" / "signer.pass").read_text(),
                    font_dir=str(ensure_fonts(default_font_dir())["Regular"].parent))


def run(label: str, url: str, tmp: Path) -> None:
    upgrade(url)
    settings = settings_for(tmp, url)
    app = create_app(settings)
    engine = app.extensions["lims"].engine
    session = app.extensions["lims"].sessionmaker()
    with unit_of_work(session):
        world = build_world(session)
    token = world.token(session, "tech")
    auth = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    req = client.post("/api/v1/requests", json={"customer_id": world.customer_id},
                      headers=auth).json
    body = {"request_id": req["id"], "description": "bench", "method_ids": [world.method_id]}
    floor, floor_engine = floor_app(url)
    floor_client = floor.test_client()

    def lims_once() -> None:
        resp = client.post("/api/v1/samples", json=body, headers=auth)
        assert resp.status_code == 201, resp.get_data(as_text=True)

    def floor_once() -> None:
        resp = floor_client.post("/api/v1/samples", json=body, headers=auth)
        assert resp.status_code == 201, resp.get_data(as_text=True)

    for warm in (lims_once, floor_once, lims_once, floor_once):
        warm()
    ratios, ours, theirs = [], [], []
    for i in range(RUNS):
        pair: list[float] = []
        for fn in ((lims_once, floor_once) if i % 2 else (floor_once, lims_once)):
            t0 = time.perf_counter()
            fn()
            pair.append(time.perf_counter() - t0)
        lims_s, floor_s = (pair[0], pair[1]) if i % 2 else (pair[1], pair[0])
        ours.append(lims_s)
        theirs.append(floor_s)
        ratios.append(lims_s / floor_s)
    ratio = statistics.median(ratios)
    print(f"[{label}] sample registration via the API: median {statistics.median(ours) * 1000:.2f}"
          f" ms, floor (bare Flask + Core, same writes and commits) "
          f"{statistics.median(theirs) * 1000:.2f} ms, ratio {ratio:.2f} "
          f"(p10-p90 {pct(ratios, 0.1):.2f}-{pct(ratios, 0.9):.2f}) "
          f"[target <= 1.5: {'met' if ratio <= 1.5 else 'NOT met'}]")

    _results(label, client, floor_client, session, world, auth)

    with counted(engine) as ours_sql:
        lims_once()
    with counted(floor_engine) as floor_sql:
        floor_once()
    statements = {"registration": len(ours_sql)}
    statements.update(_other_writes(app, session, world, client, auth))
    print(f"[{label}] statements per request: "
          + ", ".join(f"{k} {v}" for k, v in statements.items())
          + f"; the registration floor {len(floor_sql)} "
          f"[registration target <= 12: {'met' if statements['registration'] <= 12 else 'NOT met'}]")
    session.close()
    floor_engine.dispose()
    engine.dispose()


def _results(label: str, client: Any, floor_client: Any, session: Any, world: Any,
             auth: dict[str, str]) -> None:
    """A sample's first result through ``POST /api/v1/samples/<number>/results`` (which also
    starts testing) against the floor's route doing the same reads, checks and writes; each
    posts on a received sample of its own, made beforehand through the services."""
    body = {"characteristic_id": world.length_id, "value": "12.0", "unit": "mm"}
    numbers = iter([world.new_sample(session) for _ in range(2 * RESULT_RUNS + 4)])

    def post(target: Any) -> float:
        number = next(numbers)
        t0 = time.perf_counter()
        resp = target.post(f"/api/v1/samples/{number}/results", json=body, headers=auth)
        elapsed = time.perf_counter() - t0
        assert resp.status_code == 201, resp.get_data(as_text=True)
        return elapsed

    for warm in (client, floor_client, client, floor_client):
        post(warm)
    ours, theirs = [], []
    for i in range(RESULT_RUNS):
        if i % 2:
            ours.append(post(client))
            theirs.append(post(floor_client))
        else:
            theirs.append(post(floor_client))
            ours.append(post(client))
    ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
    ratio = statistics.median(ratios)
    print(f"[{label}] a first result via the API: median {statistics.median(ours) * 1000:.2f} ms, "
          f"floor (bare Flask + Core + pint, same reads, checks and writes) "
          f"{statistics.median(theirs) * 1000:.2f} ms, ratio {ratio:.2f} "
          f"(p10-p90 {pct(ratios, 0.1):.2f}-{pct(ratios, 0.9):.2f}) "
          f"[target <= 1.5: {'met' if ratio <= 1.5 else 'NOT met'}]")


def _other_writes(app: Any, session: Any, world: Any, client: Any,
                  auth: dict[str, str]) -> dict[str, int]:
    """Statements of a result, an agent's one-reading upload and a report issue."""
    from lims.readings.services import register_agent

    engine = app.extensions["lims"].engine
    counts: dict[str, int] = {}
    number = world.new_sample(session)
    with counted(engine) as sql:
        resp = client.post(f"/api/v1/samples/{number}/results", headers=auth, json={
            "characteristic_id": world.length_id, "value": "12.0", "unit": "mm"})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    counts["result"] = len(sql)
    with unit_of_work(session):
        _agent, agent_token = register_agent(session, actor=world.user(session, "admin"),
                                             name="bench-agent", assets=["EQ-1"])
    agent_auth = {"Authorization": f"Bearer {agent_token}"}

    def upload(seq: int) -> int:
        with counted(engine) as sql:
            resp = client.post("/api/v1/readings/batch", headers=agent_auth, json={"readings": [{
                "seq": seq, "asset": "EQ-1", "read_at": utcnow().isoformat(), "value": "1.0",
                "unit": "g", "stable": True, "status": "ok", "error": None,
                "raw": base64.b64encode(b"S S      1.0 g\r\n").decode()}]})
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return len(sql)

    upload(1)
    counts["capture upload"] = upload(2)
    approved = world.approved_sample(session)
    sign = {"Authorization": f"Bearer {world.token(session, 'signatory')}"}
    with counted(engine) as sql:
        resp = client.post(f"/api/v1/samples/{approved}/report", headers=sign,
                           json={"password": PASSWORD})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    counts["report issue"] = len(sql)
    return counts


def main() -> None:
    """On the shared database of a centre's size (bench/dataset.py: 100,000 samples, 2,000
    instruments, 3,000 customers, 1,000,000 audit events), a private copy of it per database;
    ``--small`` runs on an empty database instead (seconds, for a quick look)."""
    from bench import dataset

    tmp = Path(tempfile.mkdtemp(prefix="lims-bench-reg-"))
    create_dev_pki(tmp / "pki", lab_name="Bench Lab")
    small = "--small" in sys.argv[1:]
    where = "an empty database" if small else "the shared dataset (bench/dataset.py)"
    print(f"registration and statements per request, on {where}")
    run("SQLite", f"sqlite:///{tmp / 'bench.sqlite'}" if small else dataset.sqlite(copy=True),
        tmp)
    bindir = find_bindir()
    if bindir is None:
        print("[PostgreSQL] skipped: no PostgreSQL binaries (pg_ctl) on this machine")
        return
    if small:
        cluster = Cluster(bindir).start()
        url, stop = cluster.url(), cluster.stop
    else:
        url, stop = dataset.postgres()
    try:
        run("PostgreSQL", url, tmp)
    finally:
        stop()


if __name__ == "__main__":
    main()
