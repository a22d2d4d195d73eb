"""The dead-letter list and the staff actions on it, against the tests' real Redis and database."""

import json
import logging
import threading
from io import StringIO

import pytest
from django.contrib.admin.models import LogEntry
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection

from deadletters import services as dlq_services
from deadletters import store
from deadletters.envelope import TRUNCATED, Envelope, bounded
from deadletters.exceptions import DeadLetterNotFoundError, DeadLetterNotReplayableError
from orders.models import Order
from orders.states import EventKind, OrderStatus
from ordersite.queues import Queue

from .. import broker
from ..broker import TEST_BROKER_URL
from ..factories import OrderFactory, StaffFactory

# A queue no worker consumes: what a replay sends stays there to be counted.
PARKED = "dlq-test-parked"


def test_push_lists_newest_first_and_gets_by_id(redis_client, make_entry):
    first = make_entry(task="payments.authorize_payment")
    second = make_entry(task="inventory.reserve_stock", queue=Queue.INVENTORY)
    assert [e.id for e in store.entries()] == [second.id, first.id]
    assert [e.id for e in store.page(offset=1, limit=5)] == [first.id]
    assert store.get(first.id).task == "payments.authorize_payment"
    assert [e.id for e in store.matching(store.Filters(queue=Queue.INVENTORY))] == [second.id]
    with pytest.raises(DeadLetterNotFoundError):
        store.get("nope")


def test_malformed_entry_is_listed_as_such_and_can_be_discarded(redis_client, make_entry, db):
    make_entry()
    redis_client.lpush("ordersite:dlq", "garbage that is not JSON", json.dumps([1, 2]))
    malformed = [e for e in store.entries() if e.malformed]
    assert len(malformed) == 2
    assert malformed[1].raw == "garbage that is not JSON"
    with pytest.raises(DeadLetterNotReplayableError):
        dlq_services.replay_dead_letter(entry_id=malformed[1].id, actor="ops")
    dlq_services.discard_dead_letter(entry_id=malformed[1].id, actor="ops", reason="junk")
    assert store.dead_letter_count() == 2


def test_large_args_are_truncated_with_a_marker_and_refused_for_replay(
    redis_client, settings, make_entry, db
):
    settings.DLQ_MAX_ARGS_BYTES = 100
    args, cut = bounded(["x" * 500])
    assert cut
    assert args[TRUNCATED] is True
    assert args["original_bytes"] > 500
    assert len(args["preview"]) <= 100
    assert bounded(["small"]) == (["small"], False)
    entry = make_entry(args=args, truncated=True, order_id="")
    with pytest.raises(DeadLetterNotReplayableError):
        dlq_services.replay_dead_letter(entry_id=entry.id, actor="ops")


def test_over_max_length_nothing_is_trimmed_and_the_overflow_is_counted(
    redis_client, settings, make_entry, caplog
):
    settings.DLQ_MAX_LENGTH = 2
    with caplog.at_level(logging.ERROR, logger="deadletters.store"):
        for n in range(4):
            make_entry(args=[f"order-{n}"])
    assert store.dead_letter_count() == 4
    stats = store.stats()
    assert (stats["over_limit"], stats["overflow_pushes"]) == (True, 2)
    assert sum("over DLQ_MAX_LENGTH" in r.message for r in caplog.records) == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_replays_of_one_entry_send_it_once(redis_client, make_entry):
    broker.empty_queue(TEST_BROKER_URL, PARKED)
    entry = make_entry(task="orders.parked_task", queue=PARKED, args=["not-an-order"], order_id="")
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def replay() -> None:
        barrier.wait()
        try:
            dlq_services.replay_dead_letter(entry_id=entry.id, actor="ops")
            outcomes.append("sent")
        except DeadLetterNotFoundError:
            outcomes.append("gone")
        finally:
            connection.close()

    threads = [threading.Thread(target=replay) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["gone"] * 7 + ["sent"]
    assert broker.backlog(TEST_BROKER_URL, (PARKED,)) == 1
    assert store.dead_letter_count() == 0
    assert redis_client.llen("{ordersite:dlq}:processing") == 0


def test_a_replay_that_crashed_midway_is_put_back(redis_client, make_entry):
    entry = make_entry()
    parked = json.dumps({"claimed_at": 0, "raw": entry.to_json()})
    redis_client.lrem("ordersite:dlq", 1, entry.to_json())
    redis_client.lpush("{ordersite:dlq}:processing", parked)
    assert store.stats()["in_replay"] == 1
    assert store.recover_stalled() == 1
    assert store.get(entry.id).id == entry.id


@pytest.mark.django_db
def test_discard_records_the_reason_fails_the_order_and_logs_the_admin_action(
    redis_client, make_entry
):
    order = OrderFactory(status=OrderStatus.PAID, dead_lettered_at="2026-01-01T00:00:00Z")
    entry = make_entry(
        args=[str(order.public_id)], task="inventory.reserve_stock", queue=Queue.INVENTORY
    )
    staff = StaffFactory()
    dlq_services.discard_dead_letter(
        entry_id=entry.id, actor=staff.username, reason="duplicate order", user=staff
    )

    order = Order.objects.get(pk=order.pk)
    assert (order.status, order.needs_review) == (OrderStatus.FAILED, False)
    discarded = order.events.get(kind=EventKind.DEAD_LETTER_DISCARDED)
    assert (discarded.actor, discarded.data["reason"], discarded.data["entry_id"]) == (
        staff.username,
        "duplicate order",
        entry.id,
    )
    assert order.events.order_by("-seq").first().kind == EventKind.ORDER_FAILED
    log = LogEntry.objects.get(object_id=entry.id)
    assert (log.user_id, log.change_message) == (staff.pk, "Discarded: duplicate order")
    assert store.dead_letter_count() == 0


@pytest.mark.django_db
def test_discard_without_a_reason_is_refused(redis_client, make_entry):
    entry = make_entry()
    with pytest.raises(ValidationError):
        dlq_services.discard_dead_letter(entry_id=entry.id, actor="ops", reason="  ")
    assert store.dead_letter_count() == 1


@pytest.mark.django_db(transaction=True)
def test_manage_py_dlq_lists_shows_replays_discards_and_counts(redis_client, make_entry):
    broker.empty_queue(TEST_BROKER_URL, PARKED)
    kept = make_entry(task="orders.parked_task", queue=PARKED, order_id="")
    other = make_entry(task="inventory.reserve_stock", queue=PARKED, order_id="")
    out = StringIO()
    call_command("dlq", "list", "--task", "inventory.reserve_stock", stdout=out)
    assert other.id in out.getvalue()
    assert kept.id not in out.getvalue()
    out = StringIO()
    call_command("dlq", "show", kept.id, stdout=out)
    assert json.loads(out.getvalue())["id"] == kept.id
    call_command(
        "dlq",
        "replay",
        "--all",
        "--task",
        "orders.parked_task",
        "--actor",
        "cron",
        stdout=StringIO(),
    )
    assert broker.backlog(TEST_BROKER_URL, (PARKED,)) == 1
    call_command(
        "dlq", "discard", other.id, "--actor", "cron", "--reason", "obsolete", stdout=StringIO()
    )
    out = StringIO()
    call_command("dlq", "stats", stdout=out)
    assert json.loads(out.getvalue())["length"] == 0


def test_a_second_push_for_the_same_order_and_step_keeps_one_live_entry(redis_client, make_entry):
    """Finding 1: a step that fails again (a redelivery, a re-send) while its entry waits adds no
    second entry; another step of the order, or an entry naming no order, is its own entry."""
    first = make_entry(args=["order-a"], task="payments.authorize_payment")
    again = Envelope(
        task="payments.authorize_payment", args=["order-a"], order_id="order-a", exc_type="X"
    )
    assert store.push(again) == 1
    assert again.id == first.id, "the push answers with the entry that is already waiting"
    assert [e.id for e in store.entries()] == [first.id]
    make_entry(args=["order-a"], task="payments.capture_payment", queue=Queue.ORDERS)
    make_entry(args=["order-b"], task="payments.authorize_payment")
    make_entry(task="orders.parked_task", args=[], order_id="")
    make_entry(task="orders.parked_task", args=[], order_id="")
    assert store.dead_letter_count() == 5
    # Once the waiting entry is gone (replayed, discarded), a new failure is a new entry.
    store.discard(first.id)
    third = Envelope(task="payments.authorize_payment", args=["order-a"], order_id="order-a")
    store.push(third)
    assert store.get(third.id).id == third.id
    assert store.dead_letter_count() == 5
