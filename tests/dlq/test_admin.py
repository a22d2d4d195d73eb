"""The Dead letters admin page, through Django's test client."""

import importlib

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from deadletters import store
from orders.models import Order
from orders.states import EventKind, OrderStatus
from ordersite.queues import Queue

from .. import broker
from ..broker import TEST_BROKER_URL
from ..factories import OrderFactory, StaffFactory

pytestmark = pytest.mark.django_db

LIST = "admin:deadletters_deadletter_changelist"


@pytest.fixture
def reviewer(client):
    user = StaffFactory()
    user.user_permissions.add(Permission.objects.get(codename="review_dead_letters"))
    client.force_login(user)
    return user


def test_staff_without_the_permission_cannot_see_the_page(client, redis_client):
    client.force_login(StaffFactory())
    assert client.get(reverse(LIST)).status_code == 403
    assert "Dead letters" not in client.get(reverse("admin:index")).content.decode()


def test_index_shows_the_count_and_turns_red_past_the_maximum(
    client, reviewer, make_entry, settings
):
    make_entry()
    page = client.get(reverse("admin:index")).content.decode()
    assert 'class="dlq-count"' in page
    assert "(1)" in page
    settings.DLQ_MAX_LENGTH = 0
    assert "dlq-alarm" in client.get(reverse("admin:index")).content.decode()


def test_list_filters_searches_by_order_and_survives_garbage(
    client, reviewer, make_entry, redis_client
):
    order = OrderFactory()
    mine = make_entry(args=[str(order.public_id)], exc_type="KeyError")
    make_entry(task="inventory.reserve_stock", queue=Queue.INVENTORY)
    redis_client.lpush("ordersite:dlq", "{broken")
    page = client.get(reverse(LIST)).content.decode()
    assert "malformed entry" in page
    assert "3 in the queue" in page
    filtered = client.get(reverse(LIST), {"exc_type": "KeyError"}).content.decode()
    assert (mine.id in filtered, "inventory.reserve_stock</td>" in filtered) == (True, False)
    searched = client.get(reverse(LIST), {"q": str(order.public_id)}).content.decode()
    assert "1 match" in searched


def test_detail_shows_the_envelope_and_links_the_order(client, reviewer, make_entry):
    order = OrderFactory()
    entry = make_entry(args=[str(order.public_id)])
    page = client.get(
        reverse("admin:deadletters_deadletter_change", args=[entry.id])
    ).content.decode()
    assert reverse("admin:orders_order_change", args=[order.pk]) in page
    assert "&quot;exc_type&quot;: &quot;GatewayUnavailableError&quot;" in page


def test_discard_asks_for_a_reason_and_records_it(client, reviewer, make_entry):
    order = OrderFactory(status=OrderStatus.PAID)
    entry = make_entry(args=[str(order.public_id)])
    response = client.post(
        reverse(LIST), {"action": "discard", "scope": "selected", "entry": [entry.id]}
    )
    confirm = response["Location"]
    assert client.get(confirm).status_code == 200
    refused = client.post(
        reverse("admin:deadletters_deadletter_discard"), {"entry": [entry.id], "reason": ""}
    )
    assert "A reason is required" in refused.content.decode()
    assert store.dead_letter_count() == 1
    client.post(
        reverse("admin:deadletters_deadletter_discard"),
        {"entry": [entry.id], "reason": "test order"},
    )
    assert store.dead_letter_count() == 0
    event = Order.objects.get(pk=order.pk).events.get(kind=EventKind.DEAD_LETTER_DISCARDED)
    assert (event.actor, event.data["reason"]) == (reviewer.username, "test order")


def test_replay_from_the_detail_page_lands_in_recent_actions(
    client, reviewer, make_entry, redis_client
):
    broker.empty_queue(TEST_BROKER_URL, "dlq-test-parked")
    entry = make_entry(task="orders.parked_task", queue="dlq-test-parked", order_id="")
    detail = reverse("admin:deadletters_deadletter_change", args=[entry.id])
    response = client.post(detail)
    assert response.status_code == 302
    assert broker.backlog(TEST_BROKER_URL, ("dlq-test-parked",)) == 1
    assert detail in client.get(reverse("admin:index")).content.decode()


def test_the_pages_former_addresses_redirect_to_their_room(client, reviewer, make_entry):
    entry = make_entry()
    old_to_new = {
        "/admin/orders/deadletter/?task=payments.authorize_payment": (
            f"{reverse(LIST)}?task=payments.authorize_payment"
        ),
        "/admin/orders/deadletter/discard/?entry=x": (
            f"{reverse('admin:deadletters_deadletter_discard')}?entry=x"
        ),
        f"/admin/orders/deadletter/{entry.id}/": reverse(
            "admin:deadletters_deadletter_change", args=[entry.id]
        ),
    }
    for old, new in old_to_new.items():
        response = client.get(old)
        assert (response.status_code, response["Location"]) == (302, new)
    assert reverse(LIST) == "/admin/deadletters/deadletter/"


_MOVE = importlib.import_module("orders.migrations.0008_deadletter_moves_to_deadletters")


def _grant_the_old_permission():
    """The database as it was before the move: the permission hangs on orders' content type."""
    old = ContentType.objects.create(app_label="orders", model="deadletter")
    permission = Permission.objects.create(
        content_type=old, codename="review_dead_letters", name="Can review"
    )
    user = StaffFactory()
    user.user_permissions.add(permission)
    return user


@pytest.fixture
def fresh_content_types():
    """The test rolls back content types the cache would otherwise keep for later tests."""
    ContentType.objects.clear_cache()
    yield
    ContentType.objects.clear_cache()


@pytest.mark.parametrize("new_exists", [False, True])
def test_moving_the_model_keeps_who_may_review_dead_letters(new_exists, fresh_content_types):
    """Whether or not deadletters' own content type was made first, the grants follow it."""
    if not new_exists:
        ContentType.objects.filter(app_label="deadletters", model="deadletter").delete()
    user = _grant_the_old_permission()
    _MOVE.rename_content_type(django_apps, None)
    ContentType.objects.clear_cache()
    assert not ContentType.objects.filter(app_label="orders", model="deadletter").exists()
    assert type(user).objects.get(pk=user.pk).has_perm("deadletters.review_dead_letters")
