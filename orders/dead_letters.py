"""Dead-lettering from the worker: the envelope of a step that failed for good, the order marked
for review with a timeline event, and the guard against messages that kill their worker.

What is parked follows the order: an entry is *current* while the order still waits at its step
(orders/steps.py: step_is_current). The order is flagged for review (`dead_lettered_at`) while a
current entry of it waits; when the order moves on, its entries that are no longer current are
resolved (removed from the live DLQ, with a `dead_letter_resolved` event), and an entry born for a
step the order has already left is resolved at once.

Called by StepTask (orders/pipeline.py); the Redis list itself is ordersite/dlq.py.
"""

import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from ordersite import dlq, logs, queues
from ordersite.db import cas_update, require_transaction
from ordersite.errors import ConflictError

from .models import Order
from .states import EventKind
from .steps import step_is_current
from .timeline import record_event

if TYPE_CHECKING:
    from celery import Task

logger = logging.getLogger(__name__)


def _order_id(args: Any, kwargs: Any) -> str:
    if args:
        return str(args[0])
    return str((kwargs or {}).get("order_id", ""))


def _first_failure(task_id: str) -> str:
    try:
        return dlq.first_failure(task_id)
    except dlq.redis.RedisError:
        return dlq.now_iso()  # Redis down: the push will fail too and log the envelope instead


def build_envelope(
    task: "Task", *, exc: BaseException, task_id: str, args: Any, kwargs: Any, traceback: str, reason: str
) -> dlq.Envelope:
    """What staff need to judge and replay a failed step, from the task's current request."""
    request = task.request
    bounded_args, cut_args = dlq.bounded(list(args or []))
    bounded_kwargs, cut_kwargs = dlq.bounded(dict(kwargs or {}))
    return dlq.Envelope(
        task=task.name,
        task_id=task_id,
        queue=queues.queue_of(request.delivery_info, settings.CELERY_TASK_QUEUES),
        args=bounded_args,
        kwargs=bounded_kwargs,
        chain=list(request.chain or []) or None,
        order_id=_order_id(args, kwargs),
        # The order's own correlation id, as its log lines and timeline have it; else the chain's.
        correlation_id=str(logs.current("correlation_id") or request.root_id or ""),
        exc_type=type(exc).__name__,
        exc_message=str(exc)[:2000],
        traceback=dlq.trim_traceback(traceback),
        attempts=int(request.retries or 0) + 1,
        first_failed_at=_first_failure(task_id),
        last_failed_at=dlq.now_iso(),
        hostname=str(request.hostname or socket.gethostname()),
        reason=reason,
        truncated=cut_args or cut_kwargs,
    )


def mark_order_dead_lettered(envelope: dlq.Envelope) -> None:
    """Record the failure in the order's timeline, and flag the order for review if it still
    waits at the entry's step; if it has already left that step (another copy of the step got
    through, the order ended meanwhile), the entry is resolved instead. The status stays where the
    step stopped: a replay continues there."""
    if not envelope.order_id:
        return
    for _ in range(5):
        try:
            _mark(envelope)
            return
        except ConflictError:
            continue  # the order changed meanwhile: judge the entry again against its new status
    logger.error(
        "dead letter %s not recorded: its order kept changing", envelope.id, extra={"order_id": envelope.order_id}
    )


def _mark(envelope: dlq.Envelope) -> None:
    with transaction.atomic(durable=True):
        order = Order.objects.filter(public_id=envelope.order_id).first()
        if order is None:
            return
        current = step_is_current(envelope.task, order.status)
        if current:
            # Always through the version: a concurrent end of the order (which resolves what is
            # parked) and this flag cannot both win, so the flag never outlives its entry.
            cas_update(
                Order, order.pk, version=order.version, dead_lettered_at=order.dead_lettered_at or timezone.now()
            )
            order.version += 1
        record_event(
            order,
            EventKind.DEAD_LETTERED,
            actor="worker",
            entry_id=envelope.id,
            task=envelope.task,
            error=f"{envelope.exc_type}: {envelope.exc_message}"[:500],
            attempts=envelope.attempts,
            reason=envelope.reason,
        )
        if not current:
            _resolve(order, [envelope], why=f"the order is already {order.status}")


def resolve_parked(order: Order) -> None:
    """The order just changed status: resolve its entries that are no longer current, and drop
    the review flag once none current is left. Call inside a transaction, with the change, on an
    order read with its version (its `dead_lettered_at` is then the stored one). Cheap when the
    order is not flagged; a scan of the DLQ when it is."""
    require_transaction("resolve_parked")
    if order.dead_lettered_at is None:
        return
    try:
        entries = dlq.for_order(str(order.public_id))
    except dlq.redis.RedisError:
        # Redis down: the entries cannot be judged now; the order stays flagged for staff.
        logger.warning("dead letters of order %s not resolved: Redis unreachable", order.public_id, exc_info=True)
        return
    stale = [entry for entry in entries if not step_is_current(entry.task, order.status)]
    if len(stale) == len(entries):
        cas_update(Order, order.pk, version=order.version, dead_lettered_at=None)
        order.version += 1
        order.dead_lettered_at = None
    if stale:
        _resolve(order, stale, why=f"the order is {order.status}")


def _resolve(order: Order, entries: list[dlq.Envelope], *, why: str) -> None:
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
            dlq.remove(entry_id)

    transaction.on_commit(remove, robust=True)


def dead_letter(envelope: dlq.Envelope) -> None:
    """Redis first (it holds the arguments a replay needs), then the order. Either store being
    down leaves the other one, and an error in the log."""
    try:
        dlq.push(envelope)
    except dlq.redis.RedisError:
        # Redis down: the log is the last place the envelope can go; the order still gets flagged.
        logger.critical("dead letter not stored in Redis: %s", envelope.to_json(), extra={"task": envelope.task})
    try:
        mark_order_dead_lettered(envelope)
    except DatabaseError:
        logger.exception("dead letter %s not recorded on its order", envelope.id, extra={"order_id": envelope.order_id})


def dead_letter_failed_task(
    task: "Task", *, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
) -> None:
    """StepTask.on_failure: the step ran out of retries, or raised something nobody planned for."""
    exhausted = isinstance(exc, tuple(getattr(task, "autoretry_for", ()) or ()))
    envelope = build_envelope(
        task,
        exc=exc,
        task_id=task_id,
        args=args,
        kwargs=kwargs,
        traceback=str(getattr(einfo, "traceback", "") or ""),
        reason="retries_exhausted" if exhausted else "unexpected_error",
    )
    dead_letter(envelope)


class WorkerKilledError(Exception):
    """Stands in, in the envelope, for a message whose every delivery killed its worker."""


def delivered_too_often(task: "Task", args: Any, kwargs: Any) -> bool:
    """Count this delivery; past DLQ_MAX_DELIVERIES of the same message (its worker died each
    time, so acks_late redelivered it), dead-letter it instead of running it again."""
    request = task.request
    if request.called_directly or not (request.delivery_info or {}).get("redelivered"):
        return False  # a first delivery killed nothing yet: no Redis round trip on the hot path
    try:
        # The broker flags every delivery after the first (kombu's Redis restore, AMQP itself).
        count = dlq.count_delivery(str(request.id), int(request.retries or 0), str(request.eta or "")) + 1
    except dlq.redis.RedisError:
        logger.warning("delivery of %s not counted: Redis unreachable", task.name, exc_info=True)
        return False  # fail open: running a step beats stalling the pipeline on a counter
    if count <= settings.DLQ_MAX_DELIVERIES:
        return False
    exc = WorkerKilledError(f"delivered {count - 1} times, and its worker died every time")
    envelope = build_envelope(
        task, exc=exc, task_id=str(request.id), args=args, kwargs=kwargs, traceback="", reason="worker_lost"
    )
    envelope.attempts = count - 1
    dead_letter(envelope)
    return True


@contextmanager
def failure_clock(task: "Task") -> Iterator[None]:
    """Remember when a task id first failed, across its retries, for the envelope."""
    try:
        yield
    except BaseException:
        if not task.request.called_directly:
            try:
                dlq.first_failure(str(task.request.id))
            except dlq.redis.RedisError:
                # Redis down: the envelope gets the last failure's time; the task's own error,
                # not this one, must decide whether it is retried.
                logger.warning("first failure of %s not kept: Redis unreachable", task.name)
        raise
