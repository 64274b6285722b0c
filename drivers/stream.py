"""Read many streaming instruments from one thread: the capture side of a bench PC.

One selector (epoll on Linux: no limit on descriptor numbers, unlike ``select()``, which
refuses descriptors from 1024 up and so crashed the reader at about 204 ports, issue 14) waits
on every port. Each readable port gets one non-blocking ``os.read`` of everything the OS holds;
the bytes are split into frames at once, the incomplete tail kept for the next read, and every
frame parsed. Threads per port would spend most of their time waking each other under the GIL;
one loop costs about a system call per read plus the parse per line.
"""

from __future__ import annotations

import os
import selectors
from collections.abc import Callable
from dataclasses import dataclass

from drivers.reading import Reading
from drivers.transport import READ_SIZE, SerialTransport

Parse = Callable[[bytes], "Reading | list[Reading] | None"]


@dataclass(eq=False)
class Stream:
    """One port being read: its frames are parsed by ``parse`` (None: a frame to skip)."""

    name: str
    transport: SerialTransport
    terminator: bytes
    parse: Parse
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
            parse: Parse) -> Stream:
        """Start reading an open port; bytes it already buffered are read first."""
        stream = Stream(name, transport, terminator, parse, fd=transport.fileno(),
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

    def poll(self, timeout: float | None, on_reading: Callable[[str, Reading], None],
             on_lost: Callable[[Stream], None] | None = None) -> int:
        """Wait up to ``timeout`` for data, hand every parsed reading over; return how many.

        A port that goes away (hang-up, EOF, an I/O error) is unregistered, marked ``lost``
        with its ``reason`` and handed to ``on_lost``; the other ports go on being read.
        """
        count = 0
        read = os.read
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
            frames = chunk.split(stream.terminator)
            tail = frames.pop()
            if len(tail) > self.max_frame:  # longer than any protocol sends: noise
                stream.transport.noise_bytes += len(tail)
                tail = b""
            stream.tail = tail
            name, parse = stream.name, stream.parse
            for frame in frames:
                if frame and not 0x20 <= frame[0] <= 0x7E:
                    frame = stream.transport.drop_noise(frame)
                parsed = parse(frame)
                if parsed is None:
                    stream.skipped += 1
                elif isinstance(parsed, list):
                    for reading in parsed:
                        on_reading(name, reading)
                    count += len(parsed)
                else:
                    on_reading(name, parsed)
                    count += 1
        return count

    def close(self) -> None:
        for stream in self.streams:
            stream.transport.close()
        self.streams.clear()
        self.selector.close()
