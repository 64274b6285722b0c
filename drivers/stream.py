"""Read many streaming instruments from one thread: the capture side of a bench PC.

One selector waits on every port; each readable port is drained without blocking into its own
bounded buffer, framed and parsed. Threads per port would spend most of their time waking each
other under the GIL; one loop keeps up with dozens of ports at full line rate.
"""

from __future__ import annotations

import selectors
from collections.abc import Callable
from dataclasses import dataclass

from drivers.errors import TransportError
from drivers.reading import Reading
from drivers.transport import SerialTransport


@dataclass
class Stream:
    name: str
    transport: SerialTransport
    terminator: bytes
    parse: Callable[[bytes], Reading | list[Reading]]
    lost: bool = False


class MultiPortReader:
    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.streams: list[Stream] = []

    def add(self, name: str, transport: SerialTransport, terminator: bytes,
            parse: Callable[[bytes], Reading | list[Reading]]) -> None:
        stream = Stream(name, transport, terminator, parse)
        self.streams.append(stream)
        self.selector.register(transport.fileno(), selectors.EVENT_READ, stream)

    def poll(self, timeout: float, on_reading: Callable[[str, Reading], None]) -> int:
        """Wait up to ``timeout`` for data, hand every parsed reading over; return how many.

        A port that goes away is unregistered and marked ``lost`` (the caller reconnects it).
        """
        count = 0
        for key, _ in self.selector.select(timeout):
            stream: Stream = key.data
            try:
                frames = stream.transport.read_available(stream.terminator)
            except TransportError:
                self.selector.unregister(key.fileobj)
                stream.lost = True
                continue
            for frame in frames:
                parsed = stream.parse(frame)
                for reading in parsed if isinstance(parsed, list) else [parsed]:
                    on_reading(stream.name, reading)
                    count += 1
        return count

    def close(self) -> None:
        for stream in self.streams:
            stream.transport.close()
        self.selector.close()
