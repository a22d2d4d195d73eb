"""The staff-only /api/v1/dlq/ endpoints."""

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from deadletters import store
from orders.models import Order
from orders.states import EventKind, OrderStatus

from ..factories import OrderFactory, StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def reviewer_api() -> APIClient:
    user = StaffFactory()
    user.user_permissions.add(Permission.objects.get(codename="review_dead_letters"))
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_dlq_api_needs_the_review_permission(staff_api, api, redis_client):
    assert staff_api.get("/api/v1/dlq/").status_code == 403
    assert api.get("/api/v1/dlq/").status_code == 403


def test_dlq_api_lists_filters_shows_and_discards(reviewer_api, redis_client, make_entry):
    order = OrderFactory(status=OrderStatus.PAID)
    entry = make_entry(args=[str(order.public_id)], exc_type="KeyError")
    make_entry()
    body = reviewer_api.get("/api/v1/dlq/", {"exception": "KeyError"}).json()
    assert (body["count"], body["results"][0]["id"]) == (1, entry.id)
    assert reviewer_api.get(f"/api/v1/dlq/{entry.id}/").json()["order_id"] == str(order.public_id)
    assert reviewer_api.get("/api/v1/dlq/stats/").json()["length"] == 2

    refused = reviewer_api.post(f"/api/v1/dlq/{entry.id}/discard/", {}, format="json")
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "invalid")
    done = reviewer_api.post(
        f"/api/v1/dlq/{entry.id}/discard/", {"reason": "test data"}, format="json"
    )
    assert done.status_code == 200
    assert (
        Order.objects.get(pk=order.pk).events.filter(kind=EventKind.DEAD_LETTER_DISCARDED).exists()
    )
    gone = reviewer_api.get(f"/api/v1/dlq/{entry.id}/")
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "dead_letter_not_found")
    assert store.dead_letter_count() == 1
