"""Events reach the live stream after their transaction commits, and only then: a rollback (of
the transaction or of a savepoint) publishes nothing; one transaction's events go in one round
trip, in order."""

import json

import pytest
from django.conf import settings
from django.db import transaction

from orders import services
from orders.states import EventKind
from orders.timeline import record_event

from ..factories import OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db(transaction=True)


def entries(redis_client):
    return [fields for _, fields in redis_client.xrange(settings.LIVE_STREAM_KEY)]


def test_an_event_is_published_after_commit_with_both_views(redis_client, customer):
    ProductFactory(sku="prod-1", price_cents=1000)
    order, _ = services.place_order(
        customer=customer, items=[{"sku": "prod-1", "quantity": 2}], actor="api"
    )
    (entry,) = entries(redis_client)
    assert entry["order"] == str(order.public_id)
    assert entry["owner"] == str(customer.pk)
    assert (entry["seq"], entry["kind"], entry["status"]) == ("1", "order_created", "pending")
    public, full = json.loads(entry["public"]), json.loads(entry["full"])
    assert public["data"] == {"total_cents": 2000, "items": [{"sku": "prod-1", "quantity": 2}]}
    assert "actor" not in public
    assert full["actor"] == "api"
    assert public["created_at"].endswith("Z")


def _write_then_fail(order, kind):
    with transaction.atomic():
        record_event(order, kind)
        raise RuntimeError


def test_nothing_is_published_before_commit_nor_after_a_rollback(redis_client):
    order = OrderFactory()
    with pytest.raises(RuntimeError):
        _write_then_fail(order, EventKind.PAYMENT_STARTED)
    assert entries(redis_client) == []
    with transaction.atomic():
        record_event(order, EventKind.PAYMENT_STARTED)
        assert entries(redis_client) == [], "nothing leaves before the commit"
    assert [entry["kind"] for entry in entries(redis_client)] == ["payment_started"]


def test_a_rolled_back_savepoint_takes_its_events_along_and_no_others(redis_client):
    order = OrderFactory()
    with transaction.atomic():
        record_event(order, EventKind.PAYMENT_STARTED)
        with pytest.raises(RuntimeError):
            _write_then_fail(order, EventKind.STEP_RETRY)
        record_event(order, EventKind.PAYMENT_AUTHORIZED)
    assert [entry["kind"] for entry in entries(redis_client)] == [
        "payment_started",
        "payment_authorized",
    ]


def test_hidden_kinds_are_published_for_staff_with_an_empty_public_view(redis_client):
    order = OrderFactory()
    with transaction.atomic():
        record_event(order, EventKind.STEP_RETRY, error="boom at 10.0.0.1")
    (entry,) = entries(redis_client)
    assert entry["public"] == ""
    assert json.loads(entry["full"])["data"] == {"error": "boom at 10.0.0.1"}


def test_one_transactions_events_go_in_one_round_trip_in_order(redis_client, monkeypatch):
    order = OrderFactory()
    executed = []
    from redis.client import Pipeline

    original = Pipeline.execute

    def counting(self, *args, **kwargs):
        executed.append(len(self.command_stack))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "execute", counting)
    with transaction.atomic():
        for kind in (
            EventKind.PAYMENT_STARTED,
            EventKind.PAYMENT_AUTHORIZED,
            EventKind.STOCK_RESERVED,
        ):
            record_event(order, kind)
    assert executed == [3]
    assert [entry["seq"] for entry in entries(redis_client)] == ["1", "2", "3"]


def test_the_stream_is_capped(redis_client, settings):
    settings.LIVE_STREAM_MAXLEN = 10
    order = OrderFactory()
    for _ in range(3):
        with transaction.atomic():
            for _ in range(100):
                record_event(order, EventKind.STEP_RETRY)
    # MAXLEN ~ trims whole radix-tree nodes (100 entries by default): approximately, cheaply.
    assert redis_client.xlen(settings.LIVE_STREAM_KEY) < 300
