"""How an order reacts to its dead letters: the orders side of deadletters/hooks.py, registered in
OrdersConfig.ready().

A step parked flags its order for review (`dead_lettered_at`) while the order still waits at
that step (orders/parked.py resolves it when the order moves on); an entry born for a step the
order has already left is resolved at once. Replaying a stale entry is refused; discarding
a current one gives the step up: an order that can still fail moves to `failed`, and compensation
(void, release, cancel the shipment) runs; a refund's step gives its refund up
(`payments.abandon_refund`: its cents are no longer promised; the order keeps its status).
Discarding a stale entry only removes it, with its event.
"""

from django.urls import reverse
from django.utils import timezone

from deadletters.envelope import Envelope
from deadletters.exceptions import DeadLetterStaleError
from deadletters.hooks import Subject
from ordersite.db import cas_update

from . import pipeline
from .models import Order
from .parked import clear_flag_if_nothing_waits, resolve
from .selectors import order_by_public_id
from .services import transition_order
from .states import EventKind, OrderStatus, can_transition
from .steps import ABANDON_REFUND, REFUND_STEPS, step_is_current
from .timeline import record_event


def _order(entry: Envelope) -> Order | None:
    """The entry's order, read fresh; None if its first argument names none."""
    return order_by_public_id(order_id=entry.order_id) if entry.order_id else None


class OrderDeadLetterHooks:
    """The orders app's side of deadletters/hooks.py: the `on_*` reactions run inside the
    transaction the deadletters services open, and a ConflictError makes them run again."""

    def subject(self, entry: Envelope) -> Subject | None:
        order = _order(entry)
        if order is None:
            return None
        return Subject(
            id=str(order.public_id),
            status=order.status,
            url=reverse("admin:orders_order_change", args=[order.pk]),
            correlation_id=order.correlation_id,
            needs_review=order.needs_review,
        )

    def ensure_current(self, entry: Envelope) -> None:
        order = _order(entry)
        if order is not None and not step_is_current(entry.task, order.status):
            raise DeadLetterStaleError(
                f"Order {order.public_id} is {order.status}: it no longer waits for {entry.task}. "
                "Discard this entry.",
                entry_id=entry.id,
                task=entry.task,
                order_id=str(order.public_id),
                current_status=order.status,
            )

    def on_parked(self, entry: Envelope) -> None:
        """Record the failure in the order's timeline, and flag the order for review if it still
        waits at the entry's step; if it has already left that step (another copy of the step got
        through, the order ended meanwhile), the entry is resolved instead. The status stays where
        the step stopped: a replay continues there."""
        order = _order(entry)
        if order is None:
            return
        current = step_is_current(entry.task, order.status)
        if current:
            # Always through the version: a concurrent end of the order (which resolves what is
            # parked) and this flag cannot both win, so the flag never outlives its entry.
            flagged_at = order.dead_lettered_at or timezone.now()
            cas_update(Order, order.pk, version=order.version, dead_lettered_at=flagged_at)
            order.version += 1
        record_event(
            order,
            EventKind.DEAD_LETTERED,
            actor="worker",
            entry_id=entry.id,
            task=entry.task,
            error=f"{entry.exc_type}: {entry.exc_message}"[:500],
            attempts=entry.attempts,
            reason=entry.reason,
        )
        if not current:
            resolve(order, [entry], why=f"the order is already {order.status}")

    def on_replayed(self, entry: Envelope, *, task_id: str, actor: str) -> None:
        order = _order(entry)
        if order is None:
            return
        clear_flag_if_nothing_waits(order)
        record_event(
            order,
            EventKind.DEAD_LETTER_REPLAYED,
            actor=actor,
            entry_id=entry.id,
            task=entry.task,
            task_id=task_id,
        )

    def on_discarded(self, entry: Envelope, *, actor: str, reason: str) -> None:
        """A current entry gives its order up (`failed`, compensation sent); a stale one (the
        order moved on) is only recorded."""
        order = _order(entry)
        if order is None:
            return
        stale = not step_is_current(entry.task, order.status)
        clear_flag_if_nothing_waits(order)
        record_event(
            order,
            EventKind.DEAD_LETTER_DISCARDED,
            actor=actor,
            entry_id=entry.id,
            task=entry.task,
            reason=reason,
            stale=stale,
        )
        if not stale and entry.task in REFUND_STEPS and len(entry.args) == 2:
            # A refund given up: its cents are no longer promised (the order itself stays).
            pipeline.send_on_commit(
                ABANDON_REFUND, str(order.public_id), entry.task, str(entry.args[1])
            )
        elif not stale and can_transition(order.status, OrderStatus.FAILED):
            transition_order(
                order,
                OrderStatus.FAILED,
                kind=EventKind.ORDER_FAILED,
                actor=actor,
                reason=f"Dead letter discarded: {reason}",
            )
            pipeline.compensate_on_commit(order_id=str(order.public_id))
