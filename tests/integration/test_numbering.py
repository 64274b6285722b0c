"""Numbers are unique and gapless under concurrent registration, on both databases."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from lims.db import unit_of_work
from lims.errors import InvalidInput
from lims.numbering import format_number
from lims.samples.models import Sample, TestRequest


def test_format_number():
    assert format_number("BG{year}-{seq:06d}", year=2026, seq=42) == "BG2026-000042"
    with pytest.raises(InvalidInput):
        format_number("{nope}", year=2026, seq=1)


def test_concurrent_registration_gives_unique_gapless_numbers(app, world):
    sm = app.extensions["lims"].sessionmaker
    threads_n, per_thread = 6, 8
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads_n)

    def worker() -> None:
        session = sm()
        try:
            barrier.wait()
            for _ in range(per_thread):
                world.new_sample(session, receive=False)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            session.close()

    threads = [threading.Thread(target=worker) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    session = sm()
    try:
        samples = session.scalars(select(Sample.number)).all()
        requests = session.scalars(select(TestRequest.number)).all()
    finally:
        session.close()
    total = threads_n * per_thread
    for numbers in (samples, requests):
        seqs = sorted(int(n.rsplit("-", 1)[1]) for n in numbers)
        assert seqs == list(range(1, total + 1))  # unique and gapless


def test_a_rolled_back_registration_leaves_no_gap(session, world):
    first = world.new_sample(session)
    with pytest.raises(RuntimeError), unit_of_work(session):
        world_sample_then_fail(session, world)
    second = world.new_sample(session)
    assert int(second.rsplit("-", 1)[1]) == int(first.rsplit("-", 1)[1]) + 1


def world_sample_then_fail(session, world):
    from lims.samples import services

    req = services.create_request(session, actor=world.user(session, "tech"),
                                  customer_id=world.customer_id, number_format="WT{year}-{seq:06d}",
                                  timezone="Asia/Shanghai")
    services.register_sample(session, actor=world.user(session, "tech"), request_id=req.id,
                             description="x", method_ids=[world.method_id],
                             number_format="YP{year}-{seq:06d}", timezone="Asia/Shanghai")
    raise RuntimeError("crash after numbering")
