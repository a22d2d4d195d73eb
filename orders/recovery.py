"""The reconciler: orders whose step has not moved for PIPELINE_STUCK_AFTER_SECONDS get that
step sent again (a lost message, a killed worker, a restarted Redis). Steps are idempotent, so
re-sending one that is merely slow costs a duplicate that changes nothing.

It also sweeps the other way: an ended order (cancelled, out of stock, payment failed, failed)
that still holds stock, an authorization or a carrier booking after the same period lost its
compensation message, and gets the compensations it needs sent again; and an order that still
owes a refund gets its refund steps sent again."""

import functools
import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from inventory import selectors as inventory_selectors
from ordersite import logs
from ordersite.db import cas_update
from ordersite.errors import ConflictError
from payments import selectors as payment_selectors
from shipping import selectors as shipping_selectors

from . import pipeline
from .models import Order
from .selectors import (
    ended_orders_still_holding,
    received_return_ids,
    received_returns,
    stuck_orders,
)
from .states import COMPENSABLE, REFUNDABLE, EventKind
from .steps import CANCEL_SHIPMENT, REFUND_PAYMENT, REFUND_RETURN, RELEASE_STOCK, VOID_PAYMENT
from .timeline import record_event

logger = logging.getLogger(__name__)


def _one_by_one(orders: Iterable[Order]) -> Iterator[Order]:
    """The orders, each one's ids bound to the log context while the loop works on it (its lines,
    the steps it re-sends), and none once the loop is over."""
    with logs.order_scope():
        for order in orders:
            logs.bind_order(order_id=order.public_id, correlation_id=order.correlation_id)
            yield order


def resend_stuck_orders() -> int:
    """Re-send the step of every stuck order; returns how many. Each re-send touches the order
    (compare-and-swap on the version it saw), so an order that moved meanwhile is left alone and
    a still-stuck one is re-sent again only after another full PIPELINE_STUCK_AFTER_SECONDS."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.PIPELINE_STUCK_AFTER_SECONDS)
    resent = 0
    for order in _one_by_one(
        stuck_orders(statuses=pipeline.STEP_FOR_STATUS, unchanged_since=cutoff)
    ):
        step = pipeline.STEP_FOR_STATUS[order.status]
        try:
            with transaction.atomic(durable=True):
                cas_update(Order, order.pk, version=order.version, updated_at=now)
                record_event(
                    order,
                    EventKind.STEP_RESENT,
                    task=step,
                    unchanged_s=int((now - order.updated_at).total_seconds()),
                )
                transaction.on_commit(
                    functools.partial(
                        pipeline.resume, order_id=str(order.public_id), status=order.status
                    )
                )
        except ConflictError:
            continue  # it moved: not stuck after all
        logger.warning("re-sent %s for stuck order %s", step, order.public_id)
        resent += 1
    return resent


def _resend(order: Order, *, now: datetime, tasks: list[str], send: Callable[[], None]) -> bool:
    """Touch the order (compare-and-swap on the version it was read with), record a
    `compensation_resent` event and `send` its tasks on commit; False if it changed meanwhile.
    The touch puts the next re-send a full PIPELINE_STUCK_AFTER_SECONDS away."""
    try:
        with transaction.atomic(durable=True):
            cas_update(Order, order.pk, version=order.version, updated_at=now)
            unchanged_s = int((now - order.updated_at).total_seconds())
            record_event(order, EventKind.COMPENSATION_RESENT, tasks=tasks, unchanged_s=unchanged_s)
            send()
    except ConflictError:
        return False
    return True


def resend_lost_compensations() -> int:
    """Re-send, for every ended order still holding something after PIPELINE_STUCK_AFTER_SECONDS
    with no change and no event, the compensations that would give it back; returns how many
    orders. Each re-send touches the order and records a `compensation_resent` event, so the next
    one comes only after another full period (a compensation that is retrying writes its own
    events, so it is not swept). An order flagged for review (a compensation in the DLQ) waits
    for staff."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.PIPELINE_STUCK_AFTER_SECONDS)
    holding = {
        "holds_booking": shipping_selectors.live_bookings(),
        "holds_stock": inventory_selectors.held_stock(),
        "holds_authorization": payment_selectors.open_authorizations(),
    }
    undo = {
        "holds_booking": CANCEL_SHIPMENT,
        "holds_stock": RELEASE_STOCK,
        "holds_authorization": VOID_PAYMENT,
    }
    resent = 0
    holding_orders = ended_orders_still_holding(
        statuses=COMPENSABLE, unchanged_since=cutoff, holding=holding
    )
    for order in _one_by_one(holding_orders):
        names = tuple(task for flag, task in undo.items() if getattr(order, flag))

        def send(o: Order = order, names: tuple[str, ...] = names) -> None:
            pipeline.compensate_on_commit(order_id=str(o.public_id), names=names)

        if not _resend(order, now=now, tasks=list(names), send=send):
            continue  # it changed meanwhile: judge it again next time
        logger.warning("re-sent %s for ended order %s", ", ".join(names), order.public_id)
        resent += 1
    return resent


def resend_lost_refunds() -> int:
    """Re-send the refunds an order still owes after PIPELINE_STUCK_AFTER_SECONDS with no change
    and no event: a pending refund (refund_payment), a received return not yet refunded
    (refund_return). Their messages are sent on commit and may be lost to a broker outage; a
    refund that is retrying writes its own events, and one in the DLQ waits for staff."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.PIPELINE_STUCK_AFTER_SECONDS)
    holding = {
        "owes_refund": payment_selectors.payments_owing_refunds(),
        "owes_return": received_returns(),
    }
    resent = 0
    for order in _one_by_one(
        ended_orders_still_holding(statuses=REFUNDABLE, unchanged_since=cutoff, holding=holding)
    ):
        order_id = str(order.public_id)
        sends = [
            (REFUND_PAYMENT, rid) for rid in payment_selectors.pending_refund_ids(order_pk=order.pk)
        ]
        sends += [(REFUND_RETURN, rid) for rid in received_return_ids(order=order)]

        def send(order_id: str = order_id, sends: list[tuple[str, str]] = sends) -> None:
            for name, target in sends:
                pipeline.send_on_commit(name, order_id, target)

        if not _resend(order, now=now, tasks=[name for name, _ in sends], send=send):
            continue
        logger.warning("re-sent %d refund step(s) for order %s", len(sends), order.public_id)
        resent += 1
    return resent
