"""An order's parked steps as the order moves: entries it no longer waits at are resolved.

An entry is *current* while its order still waits at the entry's step (orders/steps.py:
step_is_current). The order is flagged for review (`dead_lettered_at`) while a current entry of
it waits; when the order moves on (transition_order), its entries that are no longer current are
resolved: removed from the live DLQ, with a `dead_letter_resolved` event.
"""

import logging

import redis
from django.db import transaction

from deadletters import store
from deadletters.envelope import Envelope
from ordersite.db import cas_update, require_transaction

from .models import Order
from .states import EventKind
from .steps import step_is_current
from .timeline import record_event

logger = logging.getLogger(__name__)


def clear_flag_if_nothing_waits(order: Order) -> None:
    """Drop the order's review flag unless another current entry of it is still in the list.
    Call inside a transaction, after the entry at hand left the list."""
    require_transaction("clear_flag_if_nothing_waits")
    if order.dead_lettered_at is None:
        return
    waiting = [
        e for e in store.for_order(str(order.public_id)) if step_is_current(e.task, order.status)
    ]
    if not waiting:
        cas_update(Order, order.pk, version=order.version, dead_lettered_at=None)
        order.version += 1
        order.dead_lettered_at = None


def resolve_parked(order: Order) -> None:
    """The order just changed status: resolve its entries that are no longer current, and drop
    the review flag once none current is left. Call inside a transaction, with the change, on an
    order read with its version (its `dead_lettered_at` is then the stored one). Cheap when the
    order is not flagged; a scan of the DLQ when it is."""
    require_transaction("resolve_parked")
    if order.dead_lettered_at is None:
        return
    try:
        entries = store.for_order(str(order.public_id))
    except redis.RedisError:
        # Redis down: the entries cannot be judged now; the order stays flagged for staff.
        logger.warning(
            "dead letters of order %s not resolved: Redis unreachable",
            order.public_id,
            exc_info=True,
        )
        return
    stale = [entry for entry in entries if not step_is_current(entry.task, order.status)]
    if len(stale) == len(entries):
        cas_update(Order, order.pk, version=order.version, dead_lettered_at=None)
        order.version += 1
        order.dead_lettered_at = None
    if stale:
        resolve(order, stale, why=f"the order is {order.status}")


def resolve(order: Order, entries: list[Envelope], *, why: str) -> None:
    """One `dead_letter_resolved` event now; the entries leave Redis after commit (a failure to
    remove is logged: the entry then shows as stale, and discarding it touches nothing)."""
    entry_ids = [entry.id for entry in entries]
    record_event(
        order,
        EventKind.DEAD_LETTER_RESOLVED,
        actor="pipeline",
        entry_ids=entry_ids,
        tasks=[entry.task for entry in entries],
        reason=why,
    )

    def remove() -> None:
        for entry_id in entry_ids:
            store.remove(entry_id)

    transaction.on_commit(remove, robust=True)
