"""Read many streaming instruments from one thread: the capture side of a bench PC.

One selector (epoll on Linux: no limit on descriptor numbers, unlike ``select()``, which
refuses descriptors from 1024 up and so crashed the reader at about 204 ports, issue 14) waits
on every port. Each readable port gets one non-blocking ``os.read`` of everything the OS holds;
the complete frames are parsed as one block where the driver can (one regex pass, one
timestamp per read, readings built in C: ``parse_block``), else frame by frame, the incomplete
tail kept for the next read, and the port's readings handed over as one list per read. Threads
per port would spend most of their time waking each other under the GIL; one loop costs about a
system call per read plus well under a microsecond per line (issue 14).
"""

from __future__ import annotations

import datetime as dt
import os
import selectors
from collections.abc import Callable
from dataclasses import dataclass

from drivers.reading import Reading
from drivers.transport import READ_SIZE, SerialTransport

Parse = Callable[[bytes], "Reading | list[Reading] | None"]
ParseBlock = Callable[[bytes, dt.datetime], "list[Reading] | None"]
OnReadings = Callable[[str, list[Reading]], None]


@dataclass(eq=False)
class Stream:
    """One port being read: blocks of frames by ``parse_block`` where it can (None: it cannot),
    else each frame by ``parse`` (None: a frame to skip)."""

    name: str
    transport: SerialTransport
    terminator: bytes
    parse: Parse
    parse_block: ParseBlock | None = None
    fd: int = -1
    tail: bytes = b""          # an incomplete frame, joined with the next read
    lost: bool = False
    reason: str | None = None  # why the port was lost
    skipped: int = 0           # frames the parser set aside (not readings)


class MultiPortReader:
    def __init__(self, *, max_frame: int = 8192) -> None:
        self.selector = selectors.DefaultSelector()
        self.streams: list[Stream] = []
        self.max_frame = max_frame

    def add(self, name: str, transport: SerialTransport, terminator: bytes,
            parse: Parse, parse_block: ParseBlock | None = None) -> Stream:
        """Start reading an open port; bytes it already buffered are read first."""
        stream = Stream(name, transport, terminator, parse, parse_block, fd=transport.fileno(),
                        tail=transport.take_buffer())
        self.selector.register(stream.fd, selectors.EVENT_READ, stream)
        self.streams.append(stream)
        return stream

    def remove(self, stream: Stream) -> None:
        """Stop reading ``stream`` (not closing its port); a lost stream is already off."""
        if not stream.lost:
            self.selector.unregister(stream.fd)
        self.streams.remove(stream)

    def _lose(self, stream: Stream, reason: str,
              on_lost: Callable[[Stream], None] | None) -> None:
        self.selector.unregister(stream.fd)
        stream.lost, stream.reason = True, f"connection lost on {stream.transport.port}: {reason}"
        if on_lost is not None:
            on_lost(stream)

    def poll(self, timeout: float | None, on_readings: OnReadings,
             on_lost: Callable[[Stream], None] | None = None) -> int:
        """Wait up to ``timeout`` for data; hand each port's readings over, one list per read
        (in the order received); return how many readings.

        A port that goes away (hang-up, EOF, an I/O error) is unregistered, marked ``lost``
        with its ``reason`` and handed to ``on_lost``; the other ports go on being read.
        """
        count = 0
        read, now, utc = os.read, dt.datetime.now, dt.UTC
        for key, _ in self.selector.select(timeout):
            stream: Stream = key.data
            try:
                chunk = read(stream.fd, READ_SIZE)
            except BlockingIOError:
                continue  # woken for nothing (another reader of the same port took it)
            except OSError as exc:
                self._lose(stream, exc.strerror or str(exc), on_lost)
                continue
            if not chunk:
                self._lose(stream, "end of file (device disconnected?)", on_lost)
                continue
            if stream.tail:
                chunk = stream.tail + chunk
            terminator = stream.terminator
            cut = chunk.rfind(terminator) + len(terminator)
            if cut < len(terminator):  # no complete frame yet
                cut = 0
            tail = chunk[cut:]
            if len(tail) > self.max_frame:  # longer than any protocol sends: noise
                stream.transport.noise_bytes += len(tail)
                tail = b""
            stream.tail = tail
            if not cut:
                continue
            block = chunk[:cut]
            # One timestamp per read: every line in it was in the OS's buffer by now.
            readings = None if stream.parse_block is None else stream.parse_block(block, now(utc))
            if readings is None:
                readings = self._parse_frames(stream, block)
            if readings:
                on_readings(stream.name, readings)
                count += len(readings)
        return count

    @staticmethod
    def _parse_frames(stream: Stream, block: bytes) -> list[Reading]:
        """The frames of ``block`` one by one: noise dropped, frames to skip counted."""
        frames = block.split(stream.terminator)
        frames.pop()  # empty: the block ends with a terminator
        readings: list[Reading] = []
        parse = stream.parse
        for frame in frames:
            if frame and not 0x20 <= frame[0] <= 0x7E:
                frame = stream.transport.drop_noise(frame)
            parsed = parse(frame)
            if parsed is None:
                stream.skipped += 1
            elif isinstance(parsed, list):
                readings.extend(parsed)
            else:
                readings.append(parsed)
        return readings

    def close(self) -> None:
        for stream in self.streams:
            stream.transport.close()
        self.streams.clear()
        self.selector.close()
