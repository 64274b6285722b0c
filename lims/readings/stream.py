"""The Server-Sent Events response of an instrument's live readings (issue 12 §2).

The generator runs after the request's app context is gone, so it takes a session of its own
for each poll and closes it before sleeping: an open stream holds a worker thread, never a
database connection. A stream ends after :data:`LIFETIME` (the browser's EventSource
reconnects by itself, with ``Last-Event-ID``), so a worker thread is not held for ever and a
logout or an expired session takes effect at the next reconnect; and at most
:data:`MAX_STREAMS` are open per process, since under gunicorn's gthread workers each one
takes a thread that ordinary requests would otherwise use.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from flask import Response, current_app, request
from sqlalchemy.orm import Session

from lims.errors import InvalidInput, msg
from lims.instruments.services import find_instrument
from lims.readings.live import Follower, highest_id, now, reading_json
from lims.web.context import get_session, state

POLL = 0.15      # seconds between polls: a reading shows within ~150 ms of being stored
HEARTBEAT = 15.0  # a comment this often keeps proxies and NAT from closing an idle stream
# How long a stream lasts before the browser reconnects, and how many a process serves at once
# (each holds one of its threads: `lims serve` runs 4 per gunicorn worker); the app's config
# LIMS_LIVE_STREAM_SECONDS and LIMS_LIVE_STREAMS override them (the browser tests do).
LIFETIME = 300
MAX_STREAMS = 2
RETRY_MS = 1000


def _resume_from() -> int | None:
    """The id after which to resume: the browser's ``Last-Event-ID`` on a reconnect (it wins
    over the URL, which still carries the first connection's ``after``), else ``?after=``."""
    for text, field in ((request.headers.get("Last-Event-ID"), "Last-Event-ID"),
                        (request.args.get("after"), "after")):
        if text is not None and text.strip():
            try:
                value = int(text.strip())
            except ValueError:
                raise InvalidInput(msg("must be a reading id (an integer)"), field=field) \
                    from None
            if value < 0:
                raise InvalidInput(msg("must be a reading id (an integer)"), field=field)
            return value
    return None


def _events(follower: Follower, sessionmaker: Callable[[], Session], asset: str,
            lifetime: float) -> Iterator[str]:
    yield f"retry: {RETRY_MS}\n\n"
    start = last_beat = time.monotonic()
    while time.monotonic() - start < lifetime:
        at = now()
        with sessionmaker() as db:
            rows = follower.poll(db, at)
            out = [f"event: reading\nid: {r.id}\ndata: "
                   f"{json.dumps(reading_json(r, name, asset, at))}\n\n" for r, name in rows]
        if out:
            yield "".join(out)
            last_beat = time.monotonic()
        elif time.monotonic() - last_beat >= HEARTBEAT:
            yield ": keep-alive\n\n"
            last_beat = time.monotonic()
        time.sleep(POLL)


def event_stream(asset: str) -> Response:
    """The stream of ``asset``'s readings stored after the one the client last saw (or after
    the newest one now, on a first connection without ``after``).

    :raises NotFound: no such instrument. :raises InvalidInput: a bad ``Last-Event-ID``.
    """
    db = get_session()
    instrument = find_instrument(db, asset)
    after = _resume_from()
    follower = Follower(instrument_id=instrument.id,
                        floor=highest_id(db) if after is None else after)
    asset = instrument.asset_number
    db.close()  # the stream polls with sessions of its own; give the connection back now
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # nginx: do not buffer
    most = current_app.config.get("LIMS_LIVE_STREAMS", MAX_STREAMS)
    slots = current_app.extensions.setdefault("lims_live_streams",
                                              threading.BoundedSemaphore(most))
    if not slots.acquire(blocking=False):
        # Busy: tell the browser to come back later rather than take the last threads.
        return Response(f"retry: {RETRY_MS * 10}\n\n", mimetype="text/event-stream",
                        headers=headers)
    released = threading.Event()

    def release() -> None:  # once, whether the stream ran to its end or the client left
        if not released.is_set():
            released.set()
            slots.release()
    # The served process (gunicorn) takes the lifetime from its environment: the API fuzz
    # run reaches real instruments and must not wait five minutes on each stream.
    lifetime = current_app.config.get("LIMS_LIVE_STREAM_SECONDS") or os.environ.get(
        "LIMS_LIVE_STREAM_SECONDS") or LIFETIME
    body: Any = _events(follower, state().sessionmaker, asset, float(lifetime))
    response = Response(body, mimetype="text/event-stream", headers=headers)
    response.call_on_close(release)
    return response
