"""What pushes to the dead-letter queue: a step's final failure, and the worker's messages that
cannot run or that kill their worker.

StepTask (orders/pipeline.py) calls `fail_task` from on_failure, `delivered_too_often` and
`failure_clock` around each run. Celery rejects an unknown task, an invalid message or one it
cannot decode (and logs it); on Redis a rejected message is gone, so `DeadLetteringConsumer`
(wired by CELERY_WORKER_CONSUMER) pushes an envelope first, then lets Celery do what it always
does. After a push the reacting apps are told (deadletters/hooks.py: on_parked).
"""

import logging
import socket
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

import redis
from celery.worker.consumer import Consumer
from django.conf import settings
from django.db import DatabaseError

from ordersite import logs, queues

from . import hooks, store
from .envelope import Envelope, Reason, new_envelope, now_iso

if TYPE_CHECKING:
    from celery import Task

logger = logging.getLogger(__name__)


class WorkerKilledError(Exception):
    """Stands in, in the envelope, for a message whose every delivery killed its worker."""


def _order_id(args: Any, kwargs: Any) -> str:
    if args:
        return str(args[0])
    return str((kwargs or {}).get("order_id", ""))


def count_delivery(task_id: str, retries: int, eta: str = "") -> int:
    """Count one delivery of a message (same task id, retry number and eta) and return the count.
    The eta tells apart the messages of one retry number (a wait on an open breaker keeps the
    number, not the eta); a redelivery of one message repeats all three.
    Kept a day: long enough to catch a loop, short enough to clean itself."""
    key = store.dlq_key(f"deliveries:{task_id}:{retries}" + (f":{eta}" if eta else ""))
    pipe = store.redis_client().pipeline(transaction=False)
    pipe.incr(key)
    pipe.expire(key, 86400)
    return int(pipe.execute()[0])


def first_failure(task_id: str) -> str:
    """The first failure time of a task id (across its retries), set once."""
    client = store.redis_client()
    key = store.dlq_key(f"first-failure:{task_id}")
    client.set(key, now_iso(), nx=True, ex=86400)
    return cast(str | None, client.get(key)) or now_iso()  # a decoding client


def _first_failed_at(task_id: str) -> str:
    try:
        return first_failure(task_id)
    except redis.RedisError:
        return ""  # Redis down: the push will fail too and log the envelope instead


def envelope_for_task(
    task: "Task",
    *,
    exc: BaseException,
    task_id: str,
    args: Any,
    kwargs: Any,
    traceback: str,
    reason: Reason,
) -> Envelope:
    """What staff need to judge and replay a failed step, from the task's current request."""
    request = task.request
    return new_envelope(
        task=task.name,
        task_id=task_id,
        queue=queues.queue_of(request.delivery_info, settings.CELERY_TASK_QUEUES),
        args=list(args or []),
        kwargs=dict(kwargs or {}),
        chain=list(request.chain or []) or None,
        order_id=_order_id(args, kwargs),
        # The order's own correlation id, as its log lines and timeline have it; else the chain's.
        correlation_id=str(logs.current("correlation_id") or request.root_id or ""),
        exc_type=type(exc).__name__,
        exc_message=str(exc),
        traceback=traceback,
        attempts=int(request.retries or 0) + 1,
        first_failed_at=_first_failed_at(task_id),
        hostname=str(request.hostname or socket.gethostname()),
        reason=reason,
    )


def _body_text(message: Any) -> str:
    body = message.body
    if isinstance(body, bytes | bytearray):
        return body.decode("utf-8", errors="replace")
    return str(body)


def envelope_for_message(message: Any, exc: BaseException | None, *, reason: Reason) -> Envelope:
    """An envelope from a raw kombu message: its task and id from the headers, args and kwargs
    when the body decodes (so the task can be replayed once it exists), else the body as text."""
    headers = message.headers or {}
    args: Any = []
    kwargs: Any = {}
    try:
        payload = message.decode() if reason != Reason.UNDECODABLE else None
        if isinstance(payload, list | tuple) and len(payload) >= 2:
            args, kwargs = payload[0], payload[1]
        elif payload is not None:
            kwargs = {"body": payload}
    except Exception:  # noqa: BLE001  (an undecodable body is exactly what we are recording)
        reason = Reason.UNDECODABLE
    if reason == Reason.UNDECODABLE:
        kwargs = {"raw_body": _body_text(message)}
    return new_envelope(
        task=str(headers.get("task") or "(unknown)"),
        task_id=str(headers.get("id") or ""),
        queue=queues.queue_of(message.delivery_info, settings.CELERY_TASK_QUEUES),
        args=args,
        kwargs=kwargs,
        correlation_id=logs.carried(headers.get(logs.CONTEXT_HEADER)).get("correlation_id")
        or str(headers.get("root_id") or ""),
        exc_type=type(exc).__name__ if exc is not None else "UnknownMessage",
        exc_message=str(exc or "the worker does not know this message"),
        traceback="".join(traceback.format_exception(exc)) if exc is not None else "",
        hostname=socket.gethostname(),
        reason=reason,
    )


def park(envelope: Envelope) -> None:
    """Redis first (it holds the arguments a replay needs), then the reacting apps. Either store
    being down leaves the other one, and an error in the log."""
    try:
        store.push(envelope)
    except redis.RedisError:
        # Redis down: the log is the last place the envelope can go; the order still gets flagged.
        logger.critical(
            "dead letter not stored in Redis: %s", envelope.to_json(), extra={"task": envelope.task}
        )
    if not envelope.order_id:
        return  # it names no subject: no app has anything to flag
    try:
        hooks.parked(envelope)
    except DatabaseError:
        logger.exception(
            "dead letter %s not recorded on its order",
            envelope.id,
            extra={"order_id": envelope.order_id},
        )


def fail_task(
    task: "Task", *, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
) -> None:
    """StepTask.on_failure: the step ran out of retries, or raised something nobody planned for."""
    exhausted = isinstance(exc, tuple(getattr(task, "autoretry_for", ()) or ()))
    envelope = envelope_for_task(
        task,
        exc=exc,
        task_id=task_id,
        args=args,
        kwargs=kwargs,
        traceback=str(getattr(einfo, "traceback", "") or ""),
        reason=Reason.RETRIES_EXHAUSTED if exhausted else Reason.UNEXPECTED_ERROR,
    )
    park(envelope)


def delivered_too_often(task: "Task", args: Any, kwargs: Any) -> bool:
    """Count this delivery; past DLQ_MAX_DELIVERIES of the same message (its worker died each
    time, so acks_late redelivered it), dead-letter it instead of running it again."""
    request = task.request
    if request.called_directly or not (request.delivery_info or {}).get("redelivered"):
        return False  # a first delivery killed nothing yet: no Redis round trip on the hot path
    try:
        # The broker flags every delivery after the first (kombu's Redis restore, AMQP itself).
        count = (
            count_delivery(str(request.id), int(request.retries or 0), str(request.eta or "")) + 1
        )
    except redis.RedisError:
        logger.warning("delivery of %s not counted: Redis unreachable", task.name, exc_info=True)
        return False  # fail open: running a step beats stalling the pipeline on a counter
    if count <= settings.DLQ_MAX_DELIVERIES:
        return False
    exc = WorkerKilledError(f"delivered {count - 1} times, and its worker died every time")
    envelope = envelope_for_task(
        task,
        exc=exc,
        task_id=str(request.id),
        args=args,
        kwargs=kwargs,
        traceback="",
        reason=Reason.WORKER_LOST,
    )
    envelope.attempts = count - 1
    park(envelope)
    return True


@contextmanager
def failure_clock(task: "Task") -> Iterator[None]:
    """Remember when a task id first failed, across its retries, for the envelope."""
    try:
        yield
    except BaseException:
        if not task.request.called_directly:
            try:
                first_failure(str(task.request.id))
            except redis.RedisError:
                # Redis down: the envelope gets the last failure's time; the task's own error,
                # not this one, must decide whether it is retried.
                logger.warning("first failure of %s not kept: Redis unreachable", task.name)
        raise


def _push_message(message: Any, exc: BaseException | None, reason: Reason) -> None:
    try:
        store.push(envelope_for_message(message, exc, reason=reason))
    except Exception:
        # Redis down too: the message is still logged in full by Celery right after this.
        logger.exception("could not dead-letter a %s message", reason)


class DeadLetteringConsumer(Consumer):
    """Celery's consumer, with the undeliverable messages copied to the DLQ before rejection."""

    def on_unknown_message(self, body: Any, message: Any) -> None:
        _push_message(message, None, Reason.UNKNOWN_MESSAGE)
        super().on_unknown_message(body, message)

    def on_unknown_task(self, body: Any, message: Any, exc: Exception) -> None:
        _push_message(message, exc, Reason.UNKNOWN_TASK)
        super().on_unknown_task(body, message, exc)

    def on_invalid_task(self, body: Any, message: Any, exc: Exception) -> None:
        _push_message(message, exc, Reason.INVALID_TASK)
        super().on_invalid_task(body, message, exc)

    def on_decode_error(self, message: Any, exc: Exception) -> None:
        _push_message(message, exc, Reason.UNDECODABLE)
        super().on_decode_error(message, exc)
