"""Real processes for tests: free ports, waiting for a listener, killing a process group."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_serving(port: int, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    """Until something accepts on ``port``; generous, a busy machine starts slowly."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing listens on port {port}") from None
            time.sleep(0.1)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_group(proc: subprocess.Popen[bytes], *, grace: float = 20) -> None:
    """End ``proc``'s process group (started with ``start_new_session=True``): SIGTERM, and
    SIGKILL for whatever is left after ``grace`` seconds. Children die with their leader."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + grace
        while group_alive(proc.pid) and time.monotonic() < deadline:
            proc.poll()  # reap the leader, or the group never empties
            time.sleep(0.05)
        if not group_alive(proc.pid):
            break
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
