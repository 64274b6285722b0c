"""The capture agent of ``make run``'s simulated bench: registered once, its config rewritten.

``make run`` serves the three demo instruments on pseudo-terminals under ``<instance>/dev`` and
reads them through one agent, as a bench PC would (issue 12 §2), so that the instrument pages
show live readings and Capture takes the latest stable one from the stream. Running ``make
run`` again keeps the agent and its token; only the config is rewritten (the port may change).
The token lives in ``<instance>/agent.token`` (mode 0600), never in the output.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import func, select

from lims.auth.services import get_user
from lims.db import unit_of_work
from lims.errors import NotFound, msg
from lims.instruments.models import Instrument
from lims.readings.models import Agent
from lims.readings.services import agent_for_token, register_agent, revoke_agent
from lims.runtime import Runtime

NAME = "demo-bench"
CONFIG = "agent.toml"
TOKEN_FILE = "agent.token"  # noqa: S105 - a file name, not a secret
SPOOL = "agent-spool.sqlite"
# How the agent reads each demo instrument; its driver and port come from the register.
READ = {"EQ-BAL-001": 'mode = "stream"',
        "EQ-DMM-001": 'mode = "poll"\ninterval = 1.0',
        "EQ-HYG-001": 'mode = "poll"\ninterval = 2.0'}


def _token(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""


def write_bench_agent(rt: Runtime, *, server: str) -> Path:
    """Register the demo bench's agent unless its token is still valid; write its config.

    An agent whose token file was lost (or belongs to another database) is revoked and a new
    one registered, since a token is shown only once. Returns the config's path.

    :raises NotFound: the demo data is not seeded (no ``admin``).
    """
    instance = rt.settings.instance_path
    instance.mkdir(parents=True, exist_ok=True)
    token_path = instance / TOKEN_FILE
    token = _token(token_path)
    with rt.session() as session, unit_of_work(session):
        admin = get_user(session, "admin")
        if admin is None:
            raise NotFound(msg("no demo data: run `lims demo` first"), field="admin")
        if not token or agent_for_token(session, token) is None:
            for stale in session.scalars(select(Agent.name).where(
                    Agent.name.startswith(NAME), Agent.revoked_at.is_(None))).all():
                revoke_agent(session, actor=admin, name=stale)
            taken = session.scalar(select(func.count()).select_from(Agent)
                                   .where(Agent.name.startswith(NAME)))
            name = NAME if not taken else f"{NAME}-{taken + 1}"
            _, token = register_agent(session, actor=admin, name=name, assets=list(READ))
            # Written before the commit: a token the file lost would be a token nobody has.
            fd = os.open(token_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(token + "\n")
        bench = session.execute(
            select(Instrument.asset_number, Instrument.driver, Instrument.port)
            .where(Instrument.asset_number.in_(READ)).order_by(Instrument.asset_number)).all()
    lines = ["# Written by `lims demo --agent-server` (make run): the simulated bench's agent.",
             f'server = "{server}"', f'token_file = "{TOKEN_FILE}"', f'spool = "{SPOOL}"']
    for asset, driver, port in bench:
        lines += ["", "[[instruments]]", f'asset = "{asset}"', f'driver = "{driver}"',
                  f'port = "{port}"', READ[asset]]
    config = instance / CONFIG
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config
