"""The reconciler: orders whose step has not moved for PIPELINE_STUCK_AFTER_SECONDS get that
step sent again (a lost message, a killed worker, a restarted Redis). Steps are idempotent, so
re-sending one that is merely slow costs a duplicate that changes nothing."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ordersite.db import cas_update
from ordersite.errors import ConflictError

from . import pipeline
from .models import Order
from .selectors import stuck_orders
from .states import EventKind
from .timeline import record_event

logger = logging.getLogger(__name__)


def resend_stuck_orders() -> int:
    """Re-send the step of every stuck order; returns how many. Each re-send touches the order
    (compare-and-swap on the version it saw), so an order that moved meanwhile is left alone and
    a still-stuck one is re-sent again only after another full PIPELINE_STUCK_AFTER_SECONDS."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.PIPELINE_STUCK_AFTER_SECONDS)
    resent = 0
    for order in stuck_orders(statuses=pipeline.STEP_FOR_STATUS, unchanged_since=cutoff):
        step = pipeline.STEP_FOR_STATUS[order.status]
        try:
            with transaction.atomic(durable=True):
                cas_update(Order, order.pk, version=order.version, updated_at=now)
                record_event(
                    order, EventKind.STEP_RESENT, task=step, unchanged_s=int((now - order.updated_at).total_seconds())
                )
                transaction.on_commit(lambda o=order: pipeline.resume(order_id=str(o.public_id), status=o.status))
        except ConflictError:
            continue  # it moved: not stuck after all
        logger.warning("re-sent %s for stuck order %s", step, order.public_id, extra={"order_id": str(order.public_id)})
        resent += 1
    return resent
