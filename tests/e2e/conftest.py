"""Browser fixtures: the app on a real port and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.conftest import CI
from tests.support.world import PASSWORD

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture
def server(app: Any) -> Iterator[str]:
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_port}"
    finally:
        srv.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        if CI:
            pytest.fail("chromium is not installed; browser tests are mandatory when CI=true")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def login(page: Any, base: str, name: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button:has-text('Log in'), form button:has-text('登录')")  # en or zh page
    page.wait_for_url(f"{base}/")


def logout(page: Any) -> None:
    page.click("button:has-text('Log out')")


def overflow(page: Any) -> int:
    """How far the laid-out page is wider than its viewport (0 or less: no sideways scrolling).

    Waits for the current document's load first: measured before its stylesheet applies, a table
    not yet confined to its scrolling box counts as overflow (seen on a slow CI machine)."""
    page.wait_for_load_state("load")
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))
