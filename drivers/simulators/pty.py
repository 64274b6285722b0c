"""Serve a protocol model on a pseudo-terminal behind a stable symlink.

The symlink plays the part of ``/dev/serial/by-id/…``: :meth:`PtySimulator.unplug` closes the
master (the client sees exactly what a pulled USB-serial adapter gives: ``SerialException``
and a vanished path) and :meth:`PtySimulator.replug` re-points the same link at a new pty.
"""

from __future__ import annotations

import os
import select
import threading
import time
import tty
from pathlib import Path
from typing import Protocol


class Model(Protocol):
    def feed(self, data: bytes, now: float) -> None: ...
    def due(self, now: float) -> list[bytes]: ...


class PtySimulator:
    def __init__(self, model: Model, link: str | os.PathLike[str] | None = None,
                 *, split_delay: float = 0.02) -> None:
        self.model = model
        self.link = Path(link) if link else None
        self.split_delay = split_delay
        self.split_writes = False
        self._master: int | None = None
        self._slave: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.slave_name = ""
        # Set when a client first writes to the port (kept across unplug/replug).
        self.heard = threading.Event()

    @property
    def port(self) -> str:
        return str(self.link) if self.link else self.slave_name

    def start(self) -> PtySimulator:
        master, slave = os.openpty()
        tty.setraw(slave)  # raw before any byte is written, or the line discipline echoes
        self._master, self._slave = master, slave
        self.slave_name = os.ttyname(slave)
        if self.link:
            self.link.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.link.with_name(self.link.name + f".tmp{os.getpid()}")
            if tmp.is_symlink():
                tmp.unlink()
            os.symlink(self.slave_name, tmp)
            os.replace(tmp, self.link)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(master, self._stop),
                                        name="pty-simulator", daemon=True)
        self._thread.start()
        return self

    def _run(self, master: int, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                readable, _, _ = select.select([master], [], [], 0.005)
                now = time.monotonic()
                if readable:
                    data = os.read(master, 4096)
                    if data:
                        self.heard.set()
                        self.model.feed(data, now)
                for chunk in self.model.due(now):
                    self._write(master, chunk)
            except OSError:
                return  # master closed: unplugged or stopped

    def _write(self, master: int, chunk: bytes) -> None:
        if self.split_writes and len(chunk) > 3:
            # A line split across writes, as a slow USB-serial adapter delivers it.
            mid = len(chunk) // 2
            os.write(master, chunk[:mid])
            time.sleep(self.split_delay)
            os.write(master, chunk[mid:])
        else:
            os.write(master, chunk)

    def _close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        for fd in (self._master, self._slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._master = self._slave = None

    def unplug(self) -> None:
        """Pull the cable: the client's next read or write fails and the path vanishes."""
        self._close()
        if self.link and self.link.is_symlink():
            self.link.unlink()

    def replug(self) -> PtySimulator:
        """Plug back in: a new pty behind the same link."""
        return self.start()

    def stop(self) -> None:
        self.unplug()

    def __enter__(self) -> PtySimulator:
        return self.start() if self._master is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()
