"""The order timeline: appending OrderEvents, always with the change they record."""

from collections.abc import Callable
from typing import Any

from django.db import transaction

from ordersite import logs
from ordersite.db import increment_returning, require_transaction

from .live.publish import publish_on_commit
from .models import Order, OrderEvent
from .selectors import order_by_public_id
from .states import EventKind

# Called with every event as it is written, inside its transaction: other apps act on events
# (notifications/ sends mail on commit) without orders importing them. Registered in
# AppConfig.ready.
EVENT_LISTENERS: list[Callable[[OrderEvent], None]] = []


def record_event(
    order: Order, kind: EventKind, *, actor: str = "", seq: int | None = None, **data: Any
) -> OrderEvent:
    """Append one event to the order's timeline. Call inside a transaction, with the change it
    records, so the two commit or vanish together. `seq` is the number the caller already took
    in the statement that made the change (transition_order does); otherwise one is taken here.

    The request or task that writes an order's timeline works on that order: its later log lines,
    and the tasks it sends (the chain on commit, compensations), carry the order's ids from here.
    Code that goes through many orders in one run wraps each in logs.order_scope."""
    require_transaction("record_event")
    logs.bind_order(order_id=order.public_id, correlation_id=order.correlation_id)
    status = order.status
    if seq is None:
        # The status as of this number: the fold of orders/replay.py reads it from the event.
        seq, status = increment_returning(Order, order.pk, "last_event_seq", "status")
    order.last_event_seq = seq
    event = OrderEvent.objects.create(
        order=order,
        seq=seq,
        kind=kind,
        status=status,
        data=data,
        actor=actor,
        correlation_id=order.correlation_id,
    )
    # The one place events are written, so the one place they leave for live clients.
    publish_on_commit(event, order)
    for listener in EVENT_LISTENERS:
        listener(event)
    return event


def record_step_event(*, order_id: str, kind: EventKind, **data: Any) -> None:
    """Write a timeline event that changes no status (a retry, a re-sent step)."""
    with transaction.atomic(durable=True):
        order = order_by_public_id(order_id=order_id)
        if order is not None:
            record_event(order, kind, **data)
