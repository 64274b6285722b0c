"""Send spooled readings to ``POST /api/v1/readings/batch``; delete them only when acknowledged.

The wire contract is the docstring of ``lims/readings/views.py``. A 200 means every reading of
the batch is stored exactly once on the server (a replay after a lost reply is acknowledged as
duplicates), so deleting after it is safe and resending before it is harmless. 5xx or no
reply: back off exponentially (capped) and send the same batch again. 422: the batch is
malformed and will fail again, so it is set aside in the spool's ``quarantine`` table and
logged loudly rather than retried forever. 401/403: the token is wrong or revoked, or the
agent is not registered for an instrument: logged loudly, retried slowly (an administrator
fixes the registration; nothing is dropped meanwhile).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import urllib.error
import urllib.request
from typing import Any

from lims.agent.spool import Spool, Spooled

log = logging.getLogger(__name__)

BACKOFF, BACKOFF_MAX = 0.2, 30.0
IDLE = 0.05  # how long to wait for new readings when the spool is empty


def wire(r: Spooled) -> dict[str, Any]:
    return {"seq": r.seq, "asset": r.asset, "read_at": r.read_at, "value": r.value,
            "unit": r.unit, "stable": r.stable, "status": r.status, "error": r.error,
            "raw": base64.b64encode(r.raw).decode("ascii")}


class Uploader:
    def __init__(self, spool: Spool, *, server: str, token: str, batch_size: int = 500,
                 timeout: float = 10.0, backoff_max: float = BACKOFF_MAX) -> None:
        self.spool, self.url, self.token = spool, server + "/api/v1/readings/batch", token
        self.batch_size, self.timeout, self.backoff_max = batch_size, timeout, backoff_max
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.error: str | None = None

    def post(self, batch: list[Spooled]) -> tuple[int, dict[str, Any]]:
        """POST one batch; the HTTP status and the decoded reply (0 when no reply came)."""
        body = json.dumps({"readings": [wire(r) for r in batch]}).encode()
        request = urllib.request.Request(  # noqa: S310 - http(s) only, checked in config
            self.url, data=body, method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:  # noqa: S310
                return reply.status, json.loads(reply.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                data = json.loads(exc.read() or b"{}")
            except ValueError:
                data = {}
            return exc.code, data if isinstance(data, dict) else {}
        except (OSError, ValueError) as exc:  # refused, reset, timed out, garbled reply
            return 0, {"error": {"message": str(exc)}}

    def send_once(self) -> str:
        """Send the oldest batch; ``idle``, ``sent``, ``set aside`` or ``retry``."""
        batch = self.spool.batch(self.batch_size)
        if not batch:
            return "idle"
        status, data = self.post(batch)
        found = data.get("error")
        error: dict[str, Any] = found if isinstance(found, dict) else {}
        if status == 200 and isinstance(data.get("acknowledged"), int):
            self.spool.acknowledge(batch, data["acknowledged"])
            self._report(None)
            return "sent"
        message = str(error.get("message", ""))
        if error.get("field"):
            message += f" ({error['field']})"
        if status == 422:
            log.error("the server REFUSED readings %s-%s as malformed: %s; they are set aside in "
                      "the spool's quarantine table, not retried", batch[0].seq, batch[-1].seq,
                      message)
            self.spool.set_aside(batch, message or "422")
            return "set aside"
        if status in (401, 403):
            self._report(f"HTTP {status}: {message}")
            log.error("the server refuses this agent's readings (HTTP %s: %s): check the token "
                      "and `lims agent list`; readings stay in the spool", status, message)
        else:
            self._report(f"HTTP {status}: {message}" if status else f"unreachable: {message}")
            log.warning("cannot upload to %s (%s); retrying, readings stay in the spool",
                        self.url, f"HTTP {status}" if status else message)
        return "retry"

    def _report(self, error: str | None) -> None:
        if error != self.error:
            self.error = error
            self.spool.set_meta(upload_error=error or "")

    def run(self) -> None:
        delay = BACKOFF
        while not self.stop.is_set():
            try:
                outcome = self.send_once()
            except Exception:  # noqa: BLE001 - the uploader must outlive any one failure
                log.exception("uploading failed unexpectedly; retrying")
                outcome = "retry"
            if outcome == "retry":
                self.stop.wait(delay)
                delay = min(delay * 2, self.backoff_max)
                continue
            delay = BACKOFF
            if outcome == "idle":
                self.stop.wait(IDLE)

    def start(self) -> Uploader:
        self.thread = threading.Thread(target=self.run, name="uploader", daemon=True)
        self.thread.start()
        return self

    def close(self, *, drain: float = 0.0) -> None:
        """Stop; first try for up to ``drain`` seconds to send what is spooled."""
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=self.timeout + 5)
        if drain > 0:
            import time

            until = time.monotonic() + drain
            while time.monotonic() < until and self.send_once() in ("sent", "set aside"):
                pass
