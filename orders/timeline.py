"""The order timeline: appending OrderEvents, always with the change they record."""

from typing import Any

from django.db import transaction

from ordersite.db import increment_returning, require_transaction

from .models import Order, OrderEvent
from .states import EventKind


def record_event(order: Order, kind: EventKind, *, actor: str = "", seq: int | None = None, **data: Any) -> OrderEvent:
    """Append one event to the order's timeline. Call inside a transaction, with the change it
    records, so the two commit or vanish together. `seq` is the number the caller already took
    in the statement that made the change (transition_order does); otherwise one is taken here."""
    require_transaction("record_event")
    if seq is None:
        seq = increment_returning(Order, order.pk, "last_event_seq")
    order.last_event_seq = seq
    return OrderEvent.objects.create(
        order=order,
        seq=seq,
        kind=kind,
        status=order.status,
        data=data,
        actor=actor,
        correlation_id=order.correlation_id,
    )


def record_step_event(*, order_id: str, kind: EventKind, **data: Any) -> None:
    """Write a timeline event that changes no status (a retry, a re-sent step)."""
    with transaction.atomic(durable=True):
        order = Order.objects.filter(public_id=order_id).first()
        if order is not None:
            record_event(order, kind, **data)
