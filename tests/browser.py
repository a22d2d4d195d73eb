"""Browser tests' shared fixture: Debian's headless Chromium driven by Playwright (never a browser
build Playwright downloads; bin/ensure-chromium installs the package), with every request that
leaves this machine refused and recorded, so a page that still needs a CDN fails its test."""

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import connections
from playwright.sync_api import expect, sync_playwright

__all__ = ["CHROMIUM", "Browser", "expect", "log_in", "needs_chromium"]

CHROMIUM = "/usr/bin/chromium"
# A host name of the tests' own, resolved by Chromium alone: pages are served from a name that is
# not "localhost", as in production (Swagger UI, for one, calls its online validator for any other
# host), while the traffic stays on 127.0.0.1.
SITE_HOST = "ordersite.test"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1", SITE_HOST})
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    f"--host-resolver-rules=MAP {SITE_HOST} 127.0.0.1",
]

needs_chromium = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None, reason="bin/ensure-chromium installs it (make test does)"
)


@dataclass
class Browser:
    """A page, and the requests it tried to make to anywhere but this machine (all refused)."""

    page: Any
    outside_requests: list[str] = field(default_factory=list)

    def site_url(self, live_server_url: str) -> str:
        """The live server's address under SITE_HOST instead of 127.0.0.1."""
        return f"http://{SITE_HOST}:{urlsplit(live_server_url).port}"


@pytest.fixture
def browser(monkeypatch, settings) -> Iterator[Browser]:
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, SITE_HOST]
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        context = chromium.new_context()
        session = Browser(page=context.new_page())

        def local_only(route: Any) -> None:
            url = urlsplit(route.request.url)
            if url.scheme not in ("http", "https", "ws", "wss") or url.hostname in LOCAL_HOSTS:
                route.continue_()
            else:
                session.outside_requests.append(route.request.url)
                route.abort("internetdisconnected")

        context.route("**/*", local_only)
        session.page.set_default_timeout(15000)
        yield session
        chromium.close()
        # Queries made while Playwright's loop runs got connections of their own (Django keeps
        # connections per context): close them here, or they outlive the test database.
        connections.close_all()


def log_in(
    page: Any, base_url: str, *, username: str, password: str, next_path: str = "/admin/"
) -> None:
    page.goto(f"{base_url}/admin/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
