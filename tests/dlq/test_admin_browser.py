"""The Dead letters page in a real browser: Debian's headless Chromium driven by Playwright
against the live server. Log in, filter, replay, discard."""

import pytest
from django.contrib.auth.models import Permission

from deadletters import store
from orders.models import Order
from orders.states import EventKind, OrderStatus

from .. import broker
from ..broker import TEST_BROKER_URL
from ..browser import expect, log_in, needs_chromium
from ..factories import OrderFactory, StaffFactory

PARKED = "dlq-test-parked"

pytestmark = [pytest.mark.django_db(transaction=True), needs_chromium]


def test_staff_logs_in_filters_replays_and_discards(live_server, browser, redis_client, make_entry):
    page = browser.page
    broker.empty_queue(TEST_BROKER_URL, PARKED)
    reviewer = StaffFactory(username="reviewer")
    reviewer.set_password("a-long-test-password")
    reviewer.save()
    reviewer.user_permissions.add(Permission.objects.get(codename="review_dead_letters"))
    to_replay = OrderFactory(status=OrderStatus.PAID)
    to_discard = OrderFactory(status=OrderStatus.PAID)
    replayed = make_entry(task="orders.parked_task", queue=PARKED, args=[str(to_replay.public_id)])
    discarded = make_entry(
        task="inventory.reserve_stock", queue=PARKED, args=[str(to_discard.public_id)]
    )
    make_entry(task="shipping.create_shipment", queue=PARKED, args=["someone-else"], order_id="")

    log_in(page, live_server.url, username="reviewer", password="a-long-test-password")
    count = page.locator(".dlq-count")
    expect(count).to_have_text("(3)")
    page.click("text=Dead letters")
    expect(page.locator("tr.dlq-row")).to_have_count(3)

    page.select_option("select[name=task]", "orders.parked_task")
    page.click("#dlq-filters input[type=submit]")
    expect(page.locator("tr.dlq-row")).to_have_count(1)
    page.check(f"tr[data-entry='{replayed.id}'] input[type=checkbox]")
    page.select_option("select[name=action]", "replay")
    page.click("button[name=go]")
    expect(page.locator(".messagelist")).to_contain_text("Replayed 1 dead letter(s).")
    assert broker.backlog(TEST_BROKER_URL, (PARKED,)) == 1

    page.fill("input[name=q]", str(to_discard.public_id))
    page.select_option("select[name=task]", "")
    page.click("#dlq-filters input[type=submit]")
    expect(page.locator("tr.dlq-row")).to_have_count(1)
    page.select_option("select[name=action]", "discard")
    page.select_option("select[name=scope]", "matching")
    page.click("button[name=go]")
    page.fill("input[name=reason]", "customer asked by phone")
    page.click("#dlq-discard input[type=submit]")
    expect(page.locator(".messagelist")).to_contain_text("Discarded 1 dead letter(s).")

    assert store.dead_letter_count() == 1
    assert (
        Order.objects.get(pk=to_replay.pk)
        .events.filter(kind=EventKind.DEAD_LETTER_REPLAYED)
        .exists()
    )
    event = Order.objects.get(pk=to_discard.pk).events.get(kind=EventKind.DEAD_LETTER_DISCARDED)
    assert (event.actor, event.data["reason"]) == ("reviewer", "customer asked by phone")
    assert discarded.id == event.data["entry_id"]
    assert browser.outside_requests == []
