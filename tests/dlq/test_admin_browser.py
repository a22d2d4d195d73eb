"""The Dead letters page in a real browser: Debian's headless Chromium driven by Playwright
against the live server. Log in, filter, replay, discard."""

import shutil

import pytest
from django.contrib.auth.models import Permission
from django.db import connections

from orders.models import Order
from orders.states import EventKind, OrderStatus
from ordersite import dlq

from ..factories import OrderFactory, StaffFactory

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PARKED = "dlq-test-parked"

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="bin/ensure-chromium installs it (make test does)"),
]


@pytest.fixture
def page(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_default_timeout(15000)
        yield page
        browser.close()
        # Queries made while Playwright's loop runs got connections of their own (Django keeps
        # connections per context): close them here, or they outlive the test database.
        connections.close_all()


def test_staff_logs_in_filters_replays_and_discards(live_server, page, redis_client, make_entry):
    redis_client.delete(PARKED)
    reviewer = StaffFactory(username="reviewer")
    reviewer.set_password("a-long-test-password")
    reviewer.save()
    reviewer.user_permissions.add(Permission.objects.get(codename="review_dead_letters"))
    to_replay = OrderFactory(status=OrderStatus.PAID)
    to_discard = OrderFactory(status=OrderStatus.PAID)
    replayed = make_entry(task="orders.parked_task", queue=PARKED, args=[str(to_replay.public_id)])
    discarded = make_entry(task="inventory.reserve_stock", queue=PARKED, args=[str(to_discard.public_id)])
    make_entry(task="shipping.create_shipment", queue=PARKED, args=["someone-else"], order_id="")

    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "reviewer")
    page.fill("#id_password", "a-long-test-password")
    page.click("input[type=submit]")
    count = page.locator(".dlq-count")
    assert count.inner_text() == "(3)"
    page.click("text=Dead letters")
    assert page.locator("tr.dlq-row").count() == 3

    page.select_option("select[name=task]", "orders.parked_task")
    page.click("#dlq-filters input[type=submit]")
    assert page.locator("tr.dlq-row").count() == 1
    page.check(f"tr[data-entry='{replayed.id}'] input[type=checkbox]")
    page.select_option("select[name=action]", "replay")
    page.click("button[name=go]")
    assert "Replayed 1 dead letter(s)." in page.locator(".messagelist").inner_text()
    assert redis_client.llen(PARKED) == 1

    page.fill("input[name=q]", str(to_discard.public_id))
    page.select_option("select[name=task]", "")
    page.click("#dlq-filters input[type=submit]")
    assert page.locator("tr.dlq-row").count() == 1
    page.select_option("select[name=action]", "discard")
    page.select_option("select[name=scope]", "matching")
    page.click("button[name=go]")
    page.fill("input[name=reason]", "customer asked by phone")
    page.click("#dlq-discard input[type=submit]")
    assert "Discarded 1 dead letter(s)." in page.locator(".messagelist").inner_text()

    assert dlq.dead_letter_count() == 1
    assert Order.objects.get(pk=to_replay.pk).events.filter(kind=EventKind.DEAD_LETTER_REPLAYED).exists()
    event = Order.objects.get(pk=to_discard.pk).events.get(kind=EventKind.DEAD_LETTER_DISCARDED)
    assert (event.actor, event.data["reason"]) == ("reviewer", "customer asked by phone")
    assert discarded.id == event.data["entry_id"]
