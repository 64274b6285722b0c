"""The agent process: one supervisor thread per instrument, one stream reader, the spool, one
uploader thread.

Each instrument's thread uses the reconnecting :class:`drivers.session.Session` of ``lims
read``: it survives unplug/replug of the cable and refuses a different instrument on the same
path. A port that stays away is spooled (and so reported to the server) as one ``offline``
reading per outage. Readings go to the spool first and to the server only from there.

Streaming instruments (``mode = "stream"`` on a driver that streams on its own, MT-SICS
``SIR``) are read by one :class:`StreamHub` thread for all of them, a
:class:`drivers.stream.MultiPortReader` on epoll: their threads only connect, identify and
reconnect, then sleep. Reading each port in its own thread cost 7–23 µs of CPU per line and
crashed at about 204 ports in ``select()`` (issue 14).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import queue
import resource
import threading
import time

from drivers import get_driver
from drivers.base import Driver
from drivers.errors import DriverError, DriverTimeout, IdentityMismatch, TransportError
from drivers.reading import Reading
from drivers.session import Session
from drivers.stream import MultiPortReader, Stream
from lims.agent.config import Config, Instrument
from lims.agent.spool import Spool, SpoolFull, now_iso
from lims.agent.uploader import Uploader

log = logging.getLogger(__name__)

OFFLINE_AFTER = 5.0  # seconds a port may stay away before the server is told "offline"
RETRY = 1.0          # seconds between attempts to open a port that is away
SILENT = 1.0         # seconds a streaming port may say nothing before it is asked again
# Descriptors per port: pyserial opens the port and two pipe pairs (for cancel_read/_write).
FDS_PER_PORT = 5
FDS_SPARE = 64       # the spool's connections, the uploader's socket, the selector, logging


class TooManyPorts(Exception):
    """The configured ports need more open files than the hard limit allows."""

    def __init__(self, ports: int, needed: int, limit: int) -> None:
        super().__init__(f"{ports} instruments need about {needed} open files; the hard limit "
                         f"(RLIMIT_NOFILE) is {limit}")
        self.ports, self.needed, self.limit = ports, needed, limit


def fds_needed(ports: int) -> int:
    return ports * FDS_PER_PORT + FDS_SPARE


def raise_fd_limit(needed: int, *, ports: int | None = None) -> int:
    """Make sure ``needed`` descriptors can be open: raise the soft limit to the hard one.

    The soft limit is often 1024 while the hard one is far higher; a process may raise its own
    soft limit up to the hard one. Returns the soft limit now in force.

    :raises TooManyPorts: even the hard limit is too low (the administrator must raise it).
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or needed <= soft:
        return soft
    if hard != resource.RLIM_INFINITY and needed > hard:
        raise TooManyPorts(ports if ports is not None else needed, needed, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    log.info("raised the open-file limit (RLIMIT_NOFILE) from %s to %s: %s descriptors needed",
             soft, hard, needed)
    return hard


class Attached:
    """A port handed to the hub; ``ended`` is set when the hub lets go of it, saying why."""

    def __init__(self, reader: PortReader, device: Driver) -> None:
        self.reader, self.device = reader, device
        self.ended = threading.Event()
        self.reason = ""        # "stopped", "silent" or why the connection was lost
        self.lost = False
        self.count = 0          # readings taken (compared between silence checks)
        self.seen = -1          # the count at the last check (-1: not checked yet)
        self.stream: Stream | None = None


class StreamHub:
    """One thread reading every streaming port through a MultiPortReader."""

    def __init__(self, stop: threading.Event, *, silent: float = SILENT) -> None:
        self.stop, self.silent = stop, silent
        self.reader = MultiPortReader()
        self._incoming: queue.SimpleQueue[Attached] = queue.SimpleQueue()
        self._by_name: dict[str, Attached] = {}
        self.thread = threading.Thread(target=self.run, name="stream-hub", daemon=True)
        self._started = threading.Lock()

    def start(self) -> StreamHub:
        with self._started:
            if not self.thread.is_alive() and self.thread.ident is None:
                self.thread.start()
        return self

    def attach(self, reader: PortReader, device: Driver) -> Attached:
        """Hand over a connected port already streaming; read until lost, silent or stopped."""
        attached = Attached(reader, device)
        self._incoming.put(attached)
        self.start()
        return attached

    def _take(self, name: str, readings: list[Reading]) -> None:
        attached = self._by_name[name]
        attached.count += len(readings)
        attached.reader.take_many(readings)

    def _lost(self, stream: Stream) -> None:
        self._end(self._by_name[stream.name], stream.reason or "connection lost", lost=True)

    def _end(self, attached: Attached, reason: str, *, lost: bool = False) -> None:
        if attached.stream is not None:
            self.reader.remove(attached.stream)
        del self._by_name[attached.reader.inst.asset]
        attached.reason, attached.lost = reason, lost
        attached.ended.set()

    def run(self) -> None:
        check = time.monotonic() + self.silent
        try:
            while not self.stop.is_set():
                while True:
                    try:
                        attached = self._incoming.get_nowait()
                    except queue.Empty:
                        break
                    device = attached.device
                    name = attached.reader.inst.asset
                    self._by_name[name] = attached
                    attached.stream = self.reader.add(name, device.transport, device.terminator,
                                                      device.parse_stream,
                                                      device.parse_stream_block)
                try:
                    self.reader.poll(0.05, self._take, self._lost)
                except SpoolFull:
                    return
                except Exception:  # noqa: BLE001 - one port's fault must not end the others
                    log.exception("reading the streaming ports failed unexpectedly")
                now = time.monotonic()
                if now >= check:
                    check = now + self.silent
                    for attached in list(self._by_name.values()):
                        if attached.count == attached.seen:
                            self._end(attached, "silent")
                        attached.seen = attached.count
        finally:
            for attached in list(self._by_name.values()):
                self._end(attached, "stopped")
            while True:
                try:
                    self._incoming.get_nowait().ended.set()
                except queue.Empty:
                    break


class PortReader:
    def __init__(self, instrument: Instrument, spool: Spool, stop: threading.Event, *,
                 offline_after: float = OFFLINE_AFTER, hub: StreamHub | None = None) -> None:
        self.inst, self.spool, self.stop = instrument, spool, stop
        self.offline_after = offline_after
        self.hub = hub if hub is not None or instrument.mode != "stream" else StreamHub(stop)
        self.thread = threading.Thread(target=self.run, name=f"read-{instrument.asset}",
                                       daemon=True)
        self.away_since: float | None = None
        self.offline_sent = False

    def take(self, reading: Reading) -> None:
        self.take_many([reading])

    def take_many(self, readings: list[Reading]) -> None:
        if self.away_since is not None:
            self.away_since, self.offline_sent = None, False
            self.spool.port_state(self.inst.asset, connected=True)
        self.spool.append_many(self.inst.asset, readings)

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
                        device = session.connect(timeout=SILENT)
                        if self.hub is not None and device.passive_stream and \
                                device.transport.selectable:
                            self.stream_in_hub(session, device, self.hub)
                            continue
                        for reading in session.stream(frame_timeout=SILENT):
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

    def stream_in_hub(self, session: Session, device: Driver, hub: StreamHub) -> None:
        """Start the stream, let the hub read it; return when the hub lets go.

        :raises DriverTimeout: the port fell silent (the caller asks again).
        """
        device.start_stream()
        attached = hub.attach(self, device)
        while not attached.ended.wait(0.25):
            pass
        if attached.lost:
            session.drop(attached.reason)
        elif attached.reason == "silent":
            raise DriverTimeout(f"nothing streamed on {self.inst.port} for {hub.silent:g} s")
        else:
            device.stop_stream()

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
        self.hub = StreamHub(self.stop)
        self.readers = [PortReader(i, self.spool, self.stop, hub=self.hub)
                        for i in config.instruments]

    def start(self) -> Agent:
        """Start spooling, uploading and reading.

        :raises TooManyPorts: the ports need more open files than the hard limit allows.
        """
        raise_fd_limit(fds_needed(len(self.readers)), ports=len(self.readers))
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
        if self.hub.thread.ident is not None:
            self.hub.thread.join(timeout=5)
        self.spool.flush()
        self.uploader.close(drain=drain)
        for inst in self.config.instruments:
            self.spool.port_state(inst.asset, connected=False, state="stopped")
        self.spool.set_meta(pid="", stopped_at=now_iso())
        self.spool.close()
        log.info("agent stopped: %s readings stay in the spool", self.spool.count)
