"""`lims demo --supervision` (issue 13 §5): four years of spot checks through the real
services, an objection whose re-inspection overturns the verdict, and a white paper a newcomer
can open. On SQLite only: it is the embedded default `make run` uses, and every step is a
service already tested on both databases; the demo signs every report, so one run is enough."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from lims.reports.sign import validate_pdf
from lims.samples.models import Sample
from lims.supervision import statistics
from lims.supervision.models import Objection, ResultNotice, SpotCheckPlan, WhitePaper
from tests.support.world import TZ


def lims(env, *args):
    return subprocess.run([sys.executable, "-m", "lims.cli", *args], env=env,
                          capture_output=True, text=True, timeout=600)


def test_the_supervision_demo(tmp_path: Path, font_dir: Path) -> None:
    inst = tmp_path / "inst"
    url = f"sqlite:///{tmp_path / 'lims.db'}"
    env = {**os.environ, "LIMS_INSTANCE_PATH": str(inst), "LIMS_DATABASE_URL": url,
           "LIMS_FONT_DIR": str(font_dir), "LIMS_DEFAULT_LOCALE": "en"}
    assert lims(env, "init").returncode == 0
    out = lims(env, "demo", "--supervision", "--tasks-per-year", "5")
    assert out.returncode == 0, out.stderr
    this_year = dt.datetime.now(ZoneInfo(TZ)).year
    paper_path = inst / f"whitepaper-{this_year - 1}.pdf"
    assert f"supervision demo: white paper {paper_path}" in out.stdout
    again = lims(env, "demo", "--supervision", "--tasks-per-year", "5")
    assert again.returncode == 0 and "supervision demo: seeded already" in again.stdout

    engine = create_engine(url)
    try:
        with Session(engine) as session:
            assert session.scalars(select(SpotCheckPlan.year).order_by(SpotCheckPlan.year)
                                   ).all() == [this_year - i for i in (3, 2, 1, 0)]
            # This year: 5 tasks drawn, 4 sampled, 3 reported of which at least the first
            # two failed; each failure got a notice; one objection was refused, the other's
            # re-inspection passed and replaced the verdict. The earlier years are sampled
            # and reported in full.
            notices = session.scalar(select(func.count()).select_from(ResultNotice))
            assert notices >= 2
            rates = statistics.pass_rates(session, year=this_year, timezone=TZ,
                                          inspection_type="supervision")
            total = rates.total
            assert (total.sampled, total.tested, total.pending) == (4, 3, 1)
            assert (total.qualified, total.unqualified) == (3 - notices + 1, notices - 1)
            assert sorted(session.scalars(select(Objection.status))) == ["accepted",
                                                                          "rejected"]
            assert session.scalar(select(func.count()).where(
                Sample.reinspection_of_id.is_not(None))) == 1
            for year in (this_year - 3, this_year - 2, this_year - 1):
                counts = statistics.pass_rates(session, year=year, timezone=TZ).total
                assert (counts.sampled, counts.pending) == (5, 0), year
            # The white paper on file is the one stored, signed, and its pass rates are the
            # statistics API's payload for that year.
            paper = session.scalars(select(WhitePaper)).one()
            assert paper.year == this_year - 1 and paper_path.read_bytes() == paper.pdf
            figures = json.loads(paper.figures)
            assert figures["rates"] == statistics.pass_rates(
                session, year=paper.year, timezone=TZ, inspection_type="supervision").as_dict()
    finally:
        engine.dispose()
    assert lims(env, "pki", "export-ca", str(tmp_path / "ca.pem")).returncode == 0
    check = validate_pdf(paper_path.read_bytes(), (tmp_path / "ca.pem").read_bytes())
    assert check.ok, check
