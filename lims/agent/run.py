"""The agent process: one reader thread per instrument, the spool, one uploader thread.

Each reader uses the reconnecting :class:`drivers.session.Session` of ``lims read``: it
survives unplug/replug of the cable and refuses a different instrument on the same path. A
port that stays away is spooled (and so reported to the server) as one ``offline`` reading per
outage. Readings go to the spool first and to the server only from there.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time

from drivers import get_driver
from drivers.errors import DriverError, DriverTimeout, IdentityMismatch, TransportError
from drivers.reading import Reading
from drivers.session import Session
from lims.agent.config import Config, Instrument
from lims.agent.spool import Spool, SpoolFull, now_iso
from lims.agent.uploader import Uploader

log = logging.getLogger(__name__)

OFFLINE_AFTER = 5.0  # seconds a port may stay away before the server is told "offline"
RETRY = 1.0          # seconds between attempts to open a port that is away


class PortReader:
    def __init__(self, instrument: Instrument, spool: Spool, stop: threading.Event, *,
                 offline_after: float = OFFLINE_AFTER) -> None:
        self.inst, self.spool, self.stop = instrument, spool, stop
        self.offline_after = offline_after
        self.thread = threading.Thread(target=self.run, name=f"read-{instrument.asset}",
                                       daemon=True)
        self.away_since: float | None = None
        self.offline_sent = False

    def take(self, reading: Reading) -> None:
        if self.away_since is not None:
            self.away_since, self.offline_sent = None, False
            self.spool.port_state(self.inst.asset, connected=True)
        self.spool.append(self.inst.asset, reading)

    def away(self, reason: str) -> None:
        now = time.monotonic()
        if self.away_since is None:
            self.away_since = now
            log.warning("%s on %s: %s", self.inst.asset, self.inst.port, reason)
            self.spool.port_state(self.inst.asset, connected=False, state="away", message=reason)
        elif now - self.away_since >= self.offline_after and not self.offline_sent:
            self.offline_sent = True
            self.spool.append(self.inst.asset, Reading(
                driver=self.inst.driver, value=None, unit=None, stable=None, status="offline",
                raw=b"", at=dt.datetime.now(dt.UTC), message=reason[:500]))
            self.spool.port_state(self.inst.asset, connected=False, state="offline",
                                  message=reason)

    def run(self) -> None:
        inst = self.inst
        line = {"baudrate": inst.baudrate} if inst.baudrate else {}
        session = Session(get_driver(inst.driver), inst.port, options=inst.settings, line=line,
                          backoff_max=RETRY)
        try:
            while not self.stop.is_set():
                try:
                    if inst.mode == "poll":
                        started = time.monotonic()
                        for reading in session.readings(count=1, timeout=max(inst.interval, 2.0)):
                            self.take(reading)
                        self.stop.wait(max(0.0, inst.interval - (time.monotonic() - started)))
                    else:
                        for reading in session.stream(frame_timeout=1.0):
                            self.take(reading)
                            if self.stop.is_set():
                                break
                except DriverTimeout:
                    continue  # connected but silent: ask again
                except IdentityMismatch as exc:
                    log.error("%s: %s; this port is no longer read", inst.asset, exc)
                    self.spool.port_state(inst.asset, connected=False, state="refused",
                                          message=str(exc))
                    return
                except TransportError as exc:
                    session.close()
                    self.away(str(exc))
                    self.stop.wait(RETRY)
                except SpoolFull:
                    return
                except DriverError as exc:
                    log.warning("%s: %s", inst.asset, exc)
                    self.stop.wait(RETRY)
                except Exception as exc:  # noqa: BLE001 - one port's fault must not end its reader
                    log.exception("%s: reading failed unexpectedly; reopening the port", inst.asset)
                    session.close()
                    self.away(f"{type(exc).__name__}: {exc}")
                    self.stop.wait(RETRY)
        finally:
            session.close()

    def start(self) -> PortReader:
        self.thread.start()
        return self


class Agent:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.stop = threading.Event()
        self.spool = Spool(config.spool, max_rows=config.spool_max)
        self.uploader = Uploader(self.spool, server=config.server, token=config.token,
                                 batch_size=config.batch_size)
        self.readers = [PortReader(i, self.spool, self.stop) for i in config.instruments]

    def start(self) -> Agent:
        self.spool.start()
        self.spool.set_meta(pid=os.getpid(), started_at=now_iso(), stopped_at="",
                            server=self.config.server, upload_error="")
        for inst in self.config.instruments:
            self.spool.port_state(inst.asset, connected=False, state="starting")
        self.uploader.start()
        for reader in self.readers:
            reader.start()
        log.info("agent started: %s instruments, spool %s (%s readings waiting, last seq %s)",
                 len(self.readers), self.config.spool, self.spool.count, self.spool.last_seq)
        return self

    def close(self, *, drain: float = 3.0) -> None:
        """Stop reading, commit the spool, try briefly to upload what is left, close."""
        self.stop.set()
        self.spool.stopping()
        for reader in self.readers:
            reader.thread.join(timeout=5)
        self.spool.flush()
        self.uploader.close(drain=drain)
        for inst in self.config.instruments:
            self.spool.port_state(inst.asset, connected=False, state="stopped")
        self.spool.set_meta(pid="", stopped_at=now_iso())
        self.spool.close()
        log.info("agent stopped: %s readings stay in the spool", self.spool.count)
