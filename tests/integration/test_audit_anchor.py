"""Signed checkpoints and the records check catch what a database owner does behind the
application's back: a cut tail, a re-hashed chain, edited results, approvers and reports
(issue 8, finding 4; issue 14, incremental verification)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest
from sqlalchemy import func, select, text

from lims.audit import checkpoints
from lims.audit.models import AuditEvent, AuditHead
from lims.audit.records import verify_records
from lims.audit.services import event_hash, verify_chain
from lims.auth.services import get_user
from lims.db import unit_of_work
from lims.reports.pki import create_dev_pki
from lims.reports.sign import load_signer
from lims.samples import services
from lims.samples.models import Result, Sample, SampleTest
from lims.scheduler import run_job
from tests.support.world import TZ


def _lims(settings, *args):
    env = {**os.environ, "LIMS_DATABASE_URL": settings.database_url,
           "LIMS_INSTANCE_PATH": str(settings.instance_path), "LIMS_SECRET_KEY": "x",
           "LIMS_SIGNING_PKCS12": settings.signing_pkcs12,
           "LIMS_SIGNING_PASSPHRASE": settings.signing_passphrase}
    return subprocess.run([sys.executable, "-m", "lims.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def _drop_guards(session):
    """Do what a database owner acting behind the application's back can do."""
    session.rollback()  # a fresh transaction: SQLite cannot write from an outdated snapshot
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("DROP TRIGGER audit_events_append_only ON audit_events"))
        session.execute(text("DROP TRIGGER reports_frozen ON reports"))
    else:
        for name in ("audit_events_no_update", "audit_events_no_delete", "reports_frozen"):
            session.execute(text(f"DROP TRIGGER {name}"))
    session.commit()


def _tamper(session, sql, **params):
    session.execute(text(sql), params)
    session.commit()


def _head(session):
    return session.scalar(select(func.max(AuditEvent.seq)))


def _results(session, number):
    return session.scalars(select(Result).join(SampleTest).join(Sample)
                           .where(Sample.number == number).order_by(Result.id)).all()


@pytest.fixture
def lab(session, world, settings):
    """A reported sample (mass weighed on the calibrated balance) and a sample whose mass was
    corrected: every kind of row the records check covers, changed only by the application."""
    number, report = world.reported_sample(session, settings)
    corrected = world.new_sample(session)
    tech = world.user(session, "tech")
    with unit_of_work(session):
        first = services.record_result(session, timezone=TZ, actor=tech, number=corrected,
                                       characteristic_id=world.mass_id, value="100.00", unit="g")
        rid = first.id
    with unit_of_work(session):
        services.correct_result(session, timezone=TZ, actor=tech, result_id=rid, value="100.10",
                                unit="g", reason="misread display")
    session.expire_all()
    return {"sample": number, "report": report, "corrected": corrected, "replaced_id": rid}


def _more_events(session, world):
    """Append three events (a request, a sample, its receipt)."""
    world.new_sample(session)
    session.expire_all()


def test_an_untouched_database_passes_everything(session, world, settings, lab):
    made, new = checkpoints.take(session, settings)
    assert new and made.seq == _head(session)
    folder = checkpoints.checkpoint_dir(settings)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(made.path.stat().st_mode) == 0o600
    assert made.name == f"{made.seq:012d}.json"
    doc = json.loads(made.path.read_text())
    assert doc["checkpoint"]["hash"] == session.get(AuditHead, 1).hash
    assert set(doc["signature"]) == {"algorithm", "certificate", "value"}
    again, new = checkpoints.take(session, settings)  # nothing happened since: same file
    assert not new and again.path == made.path

    _more_events(session, world)
    verdict, start, anchors = checkpoints.verify(session, settings)
    assert verdict.ok and start is None and anchors == 1 and verdict.count == _head(session)
    verdict, start, _ = checkpoints.verify(session, settings, since_checkpoint=True)
    assert verdict.ok and start.seq == made.seq and verdict.count == 3
    records = verify_records(session)
    assert records.ok, [str(p) for p in records.problems]
    assert records.checked == {"results": 4, "samples": 3, "reports": 1}
    # The replaced row is no longer current: the correction's event says so, not its own.
    assert not session.get(Result, lab["replaced_id"]).is_current


def test_a_cut_tail_fails_naming_the_checkpoint(session, world, settings, lab):
    made, _ = checkpoints.take(session, settings)
    _more_events(session, world)
    keep = made.seq - 2
    kept_hash = session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == keep))
    _drop_guards(session)
    _tamper(session, "DELETE FROM audit_events WHERE seq > :keep", keep=keep)
    _tamper(session, "UPDATE audit_head SET seq = :keep, hash = :h", keep=keep, h=kept_hash)
    assert verify_chain(session).ok  # the chain alone cannot tell
    verdict, _, _ = checkpoints.verify(session, settings)
    assert not verdict.ok and verdict.checkpoint == made.name
    assert verdict.first_bad_seq == keep + 1 and "cut" in verdict.message
    verdict, _, _ = checkpoints.verify(session, settings, since_checkpoint=True)
    assert not verdict.ok and verdict.checkpoint == made.name
    with pytest.raises(checkpoints.CheckpointError, match="no checkpoint taken"):
        checkpoints.take(session, settings)
    failed = _lims(settings, "audit", "verify")
    assert failed.returncode == 1
    assert made.name in failed.stderr and f"event {keep + 1}" in failed.stderr


def test_a_rehashed_chain_fails_at_the_checkpoint(session, world, settings, lab):
    made, _ = checkpoints.take(session, settings)
    _more_events(session, world)
    _drop_guards(session)
    events = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    events[4].after = events[4].after.replace("Tester", "Hacker")
    prev = events[4].prev_hash
    for event in events[4:]:  # re-hash every event from the edited one on
        event.prev_hash = prev
        event.hash = prev = event_hash(event)
    session.get(AuditHead, 1).hash = prev
    session.commit()
    assert verify_chain(session).ok  # the chain alone cannot tell
    verdict, _, _ = checkpoints.verify(session, settings)
    assert not verdict.ok and verdict.first_bad_seq == made.seq
    assert verdict.checkpoint == made.name and "rewritten" in verdict.message
    verdict, _, _ = checkpoints.verify(session, settings, since_checkpoint=True)
    assert not verdict.ok and verdict.first_bad_seq == made.seq
    failed = _lims(settings, "audit", "verify", "--since-checkpoint")
    assert failed.returncode == 1 and made.name in failed.stderr


def _refused(session, settings, name, why):
    verdict, _, _ = checkpoints.verify(session, settings)
    assert not verdict.ok and verdict.checkpoint == name
    assert why in verdict.message
    with pytest.raises(checkpoints.CheckpointError, match="refused"):
        checkpoints.take(session, settings)


def test_an_edited_checkpoint_is_refused(session, world, settings, lab):
    made, _ = checkpoints.take(session, settings)
    doc = json.loads(made.path.read_text())
    wrong = session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == made.seq - 1))
    doc["checkpoint"]["hash"] = wrong
    made.path.write_text(json.dumps(doc))
    _refused(session, settings, made.name, "signature does not verify")


def test_a_renumbered_checkpoint_is_refused(session, world, settings, lab):
    made, _ = checkpoints.take(session, settings)
    doc = json.loads(made.path.read_text())
    doc["checkpoint"]["seq"] = made.seq - 1
    doc["checkpoint"]["hash"] = session.scalar(select(AuditEvent.hash)
                                               .where(AuditEvent.seq == made.seq - 1))
    moved = made.path.with_name(checkpoints.file_name(made.seq - 1))
    moved.write_text(json.dumps(doc))
    made.path.unlink()
    _refused(session, settings, moved.name, "signature does not verify")


def test_a_checkpoint_signed_with_another_key_is_refused(session, world, settings, lab,
                                                         tmp_path):
    other = tmp_path / "mallory"
    create_dev_pki(other, lab_name="Mallory Lab")
    signer = load_signer(str(other / "signer.p12"), (other / "signer.pass").read_text())
    head = session.get(AuditHead, 1)
    body = {"format": checkpoints.FORMAT, "seq": head.seq, "hash": head.hash,
            "event_at": "2026-01-01T00:00:00+00:00", "at": "2026-01-01T00:00:00+00:00",
            "lab": "Mallory Lab"}
    folder = checkpoints.checkpoint_dir(settings)
    folder.mkdir(parents=True)
    forged = folder / checkpoints.file_name(head.seq)
    forged.write_text(json.dumps(checkpoints.sign(body, signer)))  # true content, wrong key
    _refused(session, settings, forged.name, "not signed with the lab's key")


def test_incremental_verify_walks_only_later_events_and_catches_a_later_edit(
        app, session, world, settings, lab):
    made, _ = checkpoints.take(session, settings)
    _more_events(session, world)
    _more_events(session, world)
    verdict, start, anchors = checkpoints.verify(session, settings, since_checkpoint=True)
    assert verdict.ok and start.name == made.name and anchors == 1
    assert verdict.count == 6 == _head(session) - made.seq
    outcome = run_job("verify-audit-chain", app)  # the nightly job is incremental
    assert outcome["ok"] and outcome["since_seq"] == made.seq and outcome["count"] == 6
    ok = _lims(settings, "audit", "verify", "--since-checkpoint")
    assert ok.returncode == 0, ok.stderr
    assert f"from checkpoint {made.name}" in ok.stdout and "(7 events)" in ok.stdout  # + job's

    _drop_guards(session)
    early, late = made.seq - 3, made.seq + 2
    _tamper(session, "UPDATE audit_events SET actor = 'eve' WHERE seq IN (:a, :b)", a=early,
            b=late)
    verdict, _, _ = checkpoints.verify(session, settings, since_checkpoint=True)
    assert not verdict.ok and verdict.first_bad_seq == late  # the later edit is caught
    verdict, _, _ = checkpoints.verify(session, settings)  # the full walk finds the first
    assert not verdict.ok and verdict.first_bad_seq == early


def test_the_hourly_job_writes_checkpoints(app, session, world, settings, lab):
    first = run_job("audit-checkpoint", app)
    assert first["ok"] and first["written"] and first["seq"] == _head(session)
    assert run_job("audit-checkpoint", app)["written"] is False  # the head has not moved
    _more_events(session, world)
    second = run_job("audit-checkpoint", app)
    assert second["written"] and second["seq"] == first["seq"] + 3
    names = sorted(p.name for p in checkpoints.checkpoint_dir(settings).iterdir())
    assert names == [checkpoints.file_name(first["seq"]), checkpoints.file_name(second["seq"])]


def test_records_name_each_row_edited_behind_the_application(session, world, settings, lab):
    mass = _results(session, lab["sample"])[0]
    signatory2 = get_user(session, "signatory2").id
    _drop_guards(session)
    _tamper(session, "UPDATE results SET value = '99.00' WHERE id = :id", id=mass.id)
    _tamper(session, "UPDATE results SET is_current = :t WHERE id = :id", t=True,
            id=lab["replaced_id"])
    _tamper(session, "UPDATE samples SET approved_by_id = :u WHERE number = :n", u=signatory2,
            n=lab["sample"])
    _tamper(session, "UPDATE reports SET status = 'withdrawn' WHERE number = :n", n=lab["report"])
    assert verify_chain(session).ok  # the audit trail itself is untouched
    problems = sorted(str(p) for p in verify_records(session).problems)
    sample, report = lab["sample"], lab["report"]
    assert len(problems) == 4, problems
    assert [p for p in problems if p.startswith(f"result {mass.id} ")] == [
        f'result {mass.id} of sample {sample}: value is "99.00", last audited "100.00" '
        f"(event {_event_of(session, 'results', mass.id)})"]
    assert any(p.startswith(f"result {lab['replaced_id']} of sample {lab['corrected']}: "
                            "is_current is true, last audited false") for p in problems)
    assert any(p.startswith(f'sample {sample}: approved_by is "signatory2", last audited '
                            '"signatory"') for p in problems)
    assert any(p.startswith(f'report {report} of sample {sample}: status is "withdrawn", '
                            'last audited "issued"') for p in problems)

    failed = _lims(settings, "audit", "verify", "--records")
    assert failed.returncode == 1
    assert "ok: audit chain intact" in failed.stdout  # the chain still verifies
    assert f"result {mass.id} of sample {sample}: value" in failed.stderr
    assert f"sample {sample}: approved_by" in failed.stderr
    assert f"report {report} of sample {sample}: status" in failed.stderr


def _event_of(session, entity_type, entity_id):
    return session.scalar(select(func.max(AuditEvent.seq)).where(
        AuditEvent.entity_type == entity_type, AuditEvent.entity_id == str(entity_id)))


def test_records_name_a_swapped_report_file_and_a_deleted_result(session, world, settings,
                                                                  lab):
    length = _results(session, lab["sample"])[1].id
    _drop_guards(session)
    _tamper(session, "UPDATE reports SET sha256 = :h, size = 10 WHERE number = :n", h="0" * 64,
            n=lab["report"])
    _tamper(session, "DELETE FROM results WHERE id = :id", id=length)
    problems = sorted(str(p) for p in verify_records(session).problems)
    assert len(problems) == 3, problems
    assert problems[0].startswith(f"report {lab['report']} of sample {lab['sample']}: sha256 is")
    assert problems[1].startswith(f"report {lab['report']} of sample {lab['sample']}: size is "
                                  "10, last audited")
    assert problems[2] == (f"result {length}: was audited (event "
                           f"{_event_of(session, 'results', length)}) but is gone")


def test_cli_checkpoint_export_and_verify_records(session, world, settings, lab, tmp_path):
    out = tmp_path / "worm"
    made = _lims(settings, "audit", "checkpoint", "--out", str(out))
    assert made.returncode == 0, made.stderr
    head = _head(session)
    assert "wrote checkpoint" in made.stdout and f"event {head} " in made.stdout
    assert "exported 1 checkpoint to" in made.stdout
    assert (out / checkpoints.file_name(head)).read_bytes() == \
        (checkpoints.checkpoint_dir(settings) / checkpoints.file_name(head)).read_bytes()
    kept = _lims(settings, "audit", "checkpoint")
    assert kept.returncode == 0 and "kept checkpoint" in kept.stdout

    ok = _lims(settings, "audit", "verify", "--records")
    assert ok.returncode == 0, ok.stderr
    assert f"ok: audit chain intact; matches 1 checkpoint ({head} events)" in ok.stdout
    assert "ok: 4 results, 2 samples and 1 reports match their last audited state" in ok.stdout
    exported = _lims(settings, "audit", "verify", "--checkpoints", str(out))
    assert exported.returncode == 0, exported.stderr

    (checkpoints.checkpoint_dir(settings) / checkpoints.file_name(head)).write_text("{}")
    refused = _lims(settings, "audit", "verify")
    assert refused.returncode == 1
    assert f"checkpoint {checkpoints.file_name(head)} refused" in refused.stderr


def _edit_time(made):
    """Change a checkpoint's content (its signature no longer verifies)."""
    doc = json.loads(made.path.read_text())
    doc["checkpoint"]["at"] = "2020-01-01T00:00:00+00:00"
    made.path.write_text(json.dumps(doc))


def test_the_nightly_check_reads_only_the_checkpoints_since_the_last_one(
        app, session, world, settings, lab):
    first, _ = checkpoints.take(session, settings)
    _more_events(session, world)
    second, _ = checkpoints.take(session, settings)
    outcome = run_job("verify-audit-chain", app)
    assert outcome["ok"] and outcome["since_seq"] == second.seq
    _edit_time(first)  # read by no check from now on but a full one
    _more_events(session, world)
    third, _ = checkpoints.take(session, settings)
    outcome = run_job("verify-audit-chain", app)
    assert outcome["ok"] and outcome["since_seq"] == third.seq and outcome["count"] == 0
    session.rollback()  # see what the job committed
    assert json.loads(session.scalar(
        select(AuditEvent.after).where(AuditEvent.action == "audit.verify")
        .order_by(AuditEvent.seq.desc()).limit(1)))["checkpoints"] == 3
    # Every file is read by the full check, by `--since-checkpoint` and by a check asked for.
    for since in (False, True):
        verdict, _, _ = checkpoints.verify(session, settings, since_checkpoint=since)
        assert not verdict.ok and verdict.checkpoint == first.name
    failed = _lims(settings, "audit", "verify", "--since-checkpoint")
    assert failed.returncode == 1 and first.name in failed.stderr
    queued = checkpoints.verify(session, settings, since_checkpoint=True, held=None)[0]
    assert not queued.ok


def test_the_nightly_check_fails_while_checkpoints_it_held_are_gone(
        app, client, session, world, settings, lab):
    first, _ = checkpoints.take(session, settings)
    _more_events(session, world)
    second, _ = checkpoints.take(session, settings)
    assert run_job("verify-audit-chain", app)["ok"]
    saved = first.path.read_bytes()
    first.path.unlink()
    for _ in range(2):  # a failed check does not become the next one's baseline
        outcome = run_job("verify-audit-chain", app)
        assert not outcome["ok"]
        assert "1 of the 2 checkpoints the last check held the chain to are gone" \
            in outcome["message"]
    first.path.write_bytes(saved)  # restored from the exported copy
    assert run_job("verify-audit-chain", app)["ok"]

    second.path.unlink()  # the very file the last check walked from
    outcome = run_job("verify-audit-chain", app)
    assert not outcome["ok"] and second.name in outcome["message"] and "gone" in outcome["message"]
    # A check asked for reads every file that is left, and fails all the same.
    headers = {"Authorization": f"Bearer {world.token(session, 'auditor')}"}
    assert client.post("/api/v1/audit/verify", headers=headers).status_code == 202
    asked = run_job("audit-verify-queued", app)
    assert not asked["ok"] and second.name in asked["message"]
    assert not run_job("verify-audit-chain", app)["ok"]

    # Only the quality manager, giving a reason, takes the files left as the new baseline.
    refused = _lims(settings, "audit", "accept-checkpoints", "--user", "admin", "--reason", "x")
    assert refused.returncode == 1 and "audit.accept" in refused.stderr, refused.stderr
    unreasoned = _lims(settings, "audit", "accept-checkpoints", "--user", "qm", "--reason", " ")
    assert unreasoned.returncode == 1 and "reason" in unreasoned.stderr
    accepted = _lims(settings, "audit", "accept-checkpoints", "--user", "qm", "--reason",
                     "disk failure, no exported copy")
    assert accepted.returncode == 0, accepted.stderr
    assert "new baseline" in accepted.stdout
    session.rollback()
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "audit.verify")
                           .order_by(AuditEvent.seq.desc()).limit(1))
    outcome = json.loads(event.after)
    assert event.actor == "qm" and outcome["ok"] and outcome["since_seq"] == first.seq
    assert outcome["accepted"] == "disk failure, no exported copy"
    assert outcome["checkpoints"] == 1
    assert run_job("verify-audit-chain", app)["ok"]
