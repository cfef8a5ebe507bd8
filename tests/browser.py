"""Debian's chromium driven by Playwright's Python package: one launcher for every browser test.

No browser download: Playwright starts /usr/bin/chromium (installed by `make browser-deps`) with the flags
this closed network needs.
"""

import contextlib
import os

import pytest

# Playwright's sync API runs an event loop in the test thread; Django's ORM must still be usable there.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@contextlib.contextmanager
def launch_chromium():
    """A headless chromium for the duration of the block (skips the test when it is not installed)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("chromium is not installed (make browser-deps)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def end_other_sessions(terminate: bool = True, timeout: float = 10.0) -> None:
    """After the browser closed, before a transactional test's flush (PostgreSQL): wait until no other session
    of the test database is inside a statement or a transaction, then (``terminate``) end those sessions.

    The live server may still be answering a request the page sent last (an outbox, a service worker's fetch):
    the flush's TRUNCATE and that request's locks would deadlock, and a session left open stops the test
    database from being dropped at the end of the run. SQLite: nothing to do (the page closed first)."""
    import time

    from django.db import connection

    if connection.vendor != "postgresql":
        return
    others = "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(f"SELECT count(*) {others} AND state IS NOT NULL AND state <> 'idle'")
            if cursor.fetchone()[0] == 0:
                break
            time.sleep(0.05)
        if terminate:
            cursor.execute(f"SELECT pg_terminate_backend(pid) {others}")
