"""A live server for browser tests, serving committed data (see tests/accounts/live.py)."""

import os

import pytest
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.db import connections
from django.test.testcases import LiveServerThread

from uploads.clamd_process import free_port

# Debian's chromium-headless-shell (deploy/local/services.sh installs it): the headless
# build Playwright runs by default. The full chromium, when only it is there, renders its
# own UI too, headless or not (about 30 % more CPU).
CHROMIUMS = ("/usr/bin/chromium-headless-shell", "/usr/bin/chromium")
CHROMIUM = next((path for path in CHROMIUMS if os.path.exists(path)), CHROMIUMS[0])


class _StaticLiveServerThread(LiveServerThread):
    def __init__(self) -> None:
        super().__init__("127.0.0.1", StaticFilesHandler, port=free_port())

    def _create_server(self, connections_override=None):
        server = super()._create_server(connections_override)
        # Join request threads on shutdown: each closes its database connection, so
        # none is left open when pytest-django drops the test database.
        server.daemon_threads = False
        return server


@pytest.fixture
def live_base(django_db_setup, django_db_blocker):
    """Start a threaded server on 127.0.0.1; yields its port. DB access stays unblocked.

    On the session's test database (``django_db_setup``): these tests ask for no ``db``,
    so run alone nothing else would make it, and they would write to the development
    database instead (missing tables on a fresh machine)."""
    with django_db_blocker.unblock():
        server = _StaticLiveServerThread()
        server.daemon = True
        server.start()
        server.is_ready.wait()
        if server.error:
            raise server.error
        try:
            yield server.port
        finally:
            server.terminate()


@pytest.fixture
def chromium_browser(monkeypatch):
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing in CI: deploy/local/services.sh installs it")
        pytest.skip(f"{CHROMIUM} is missing (Debian package chromium-headless-shell)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an (idle) event loop on this thread; Django's ORM
    # refuses to run beside any loop unless told this is safe, which it is here.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
            ],
        )  # fmt: skip
        try:
            yield browser
        finally:
            # Connections the test opened while Playwright's loop was around are bound
            # to that context: close them here, or they outlive the test database.
            connections.close_all()
            browser.close()
