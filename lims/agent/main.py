"""``lims agent --config FILE`` and ``lims agent status --config FILE``."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from typing import Any

from lims.agent import spool as spool_mod
from lims.agent.config import ConfigError, load
from lims.catalogs import tr


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def run_agent(path: str) -> int:
    """Run until SIGTERM/SIGINT; then commit the spool and stop. The exit code."""
    try:
        config = load(path)
    except ConfigError as exc:
        _err(tr("invalid agent configuration: %(error)s", error=exc))
        return 2
    from lims.agent.run import Agent, TooManyPorts

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    stopped = threading.Event()

    def stop(signum: int, frame: Any) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        agent = Agent(config).start()
    except TooManyPorts as exc:
        _err(tr("%(n)s instruments need about %(needed)s open files, but the hard limit "
                "(RLIMIT_NOFILE) is %(limit)s: raise it (ulimit -Hn, or LimitNOFILE= in the "
                "systemd unit) or split the instruments between agents", n=exc.ports,
                needed=exc.needed, limit=exc.limit))
        return 2
    except OSError as exc:
        _err(tr("cannot open the spool %(path)s: %(reason)s", path=config.spool, reason=exc))
        return 1
    print(tr("agent running: %(n)s instruments, spool %(path)s, server %(server)s",
             n=len(config.instruments), path=config.spool, server=config.server), flush=True)
    while not stopped.wait(0.5):
        pass
    agent.close()
    print(tr("agent stopped; %(n)s readings wait in the spool", n=agent.spool.count), flush=True)
    return 0


def _alive(pid: int) -> bool:
    """Is the agent that wrote its pid to the spool still running (on this PC)?

    A killed agent (``kill -9``) leaves its pid behind; signal 0 tells whether it still lives.
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's
    return True


def print_status(path: str, *, as_json: bool = False) -> int:
    try:
        config = load(path)
    except ConfigError as exc:
        _err(tr("invalid agent configuration: %(error)s", error=exc))
        return 2
    if not config.spool.exists():
        _err(tr("no spool at %(path)s yet: the agent has not run", path=config.spool))
        return 1
    state = spool_mod.status(config.spool)
    meta, ports = state["meta"], state["ports"]
    rows = []
    for inst in config.instruments:
        p = ports.get(inst.asset, {})
        rows.append({"asset": inst.asset, "port": inst.port,
                     "connected": p.get("connected", False), "state": p.get("state"),
                     "message": p.get("message"), "last_reading": p.get("last_read_at"),
                     "spooled": p.get("spooled", 0), "last_acknowledged": p.get("acked")})
    pid = int(meta.get("pid") or 0)
    summary = {"running": _alive(pid), "pid": pid or None,
               "spooled": state["spooled"], "spool_max": config.spool_max,
               "quarantined": state["quarantined"], "last_seq": int(meta.get("last_seq") or 0),
               "last_acknowledged": int(meta.get("acked") or 0),
               "upload_error": meta.get("upload_error") or None, "instruments": rows}
    if as_json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return 0
    print(tr("agent %(state)s; spool %(n)s of %(max)s readings, last seq %(seq)s, last "
             "acknowledged %(ack)s", state=tr("running") if summary["running"] else
             tr("not running"), n=summary["spooled"], max=config.spool_max,
             seq=summary["last_seq"], ack=summary["last_acknowledged"]))
    if summary["spooled"] >= spool_mod.WARN_AT * config.spool_max:
        print(tr("WARNING: the spool is %(pct)s%% full; readings stop when it is full",
                 pct=100 * summary["spooled"] // config.spool_max))
    if summary["quarantined"]:
        print(tr("WARNING: %(n)s readings refused by the server are set aside (table "
                 "quarantine)", n=summary["quarantined"]))
    if summary["upload_error"]:
        print(tr("upload failing: %(error)s", error=summary["upload_error"]))
    for r in rows:
        connected = tr("connected") if r["connected"] else tr("not connected")
        extra = f" ({r['state']}: {r['message']})" if r["message"] else \
            (f" ({r['state']})" if r["state"] else "")
        print(tr("%(asset)s %(port)s: %(connected)s%(extra)s; last reading %(last)s; spooled "
                 "%(n)s; last acknowledged seq %(ack)s", asset=r["asset"], port=r["port"],
                 connected=connected, extra=extra, last=r["last_reading"] or "-",
                 n=r["spooled"], ack=r["last_acknowledged"] or "-"))
    return 0
