"""The worker's consumer, extended so that messages it cannot run land in the dead-letter queue.

Celery rejects an unknown task, an invalid message or one it cannot decode (and logs it); on
Redis a rejected message is gone. Each hook here pushes an envelope first, then lets Celery do
what it always does. Wired by CELERY_WORKER_CONSUMER.
"""

import logging
import socket
import traceback
from typing import Any

from celery.worker.consumer import Consumer
from django.conf import settings

from . import dlq, logs, queues

logger = logging.getLogger(__name__)


def _body_text(message: Any) -> str:
    body = message.body
    if isinstance(body, bytes | bytearray):
        return body.decode("utf-8", errors="replace")
    return str(body)


def envelope_for_message(message: Any, exc: BaseException | None, *, reason: str) -> dlq.Envelope:
    """An envelope from a raw kombu message: its task and id from the headers, args and kwargs
    when the body decodes (so the task can be replayed once it exists), else the body as text."""
    headers = message.headers or {}
    args: Any = []
    kwargs: Any = {}
    try:
        payload = message.decode() if reason != "undecodable" else None
        if isinstance(payload, list | tuple) and len(payload) >= 2:
            args, kwargs = payload[0], payload[1]
        elif payload is not None:
            kwargs = {"body": payload}
    except Exception:  # noqa: BLE001  (an undecodable body is exactly what we are recording)
        reason = "undecodable"
    if reason == "undecodable":
        kwargs = {"raw_body": _body_text(message)}
    args, cut_args = dlq.bounded(args)
    kwargs, cut_kwargs = dlq.bounded(kwargs)
    failed_at = dlq.now_iso()
    return dlq.Envelope(
        task=str(headers.get("task") or "(unknown)"),
        task_id=str(headers.get("id") or ""),
        queue=queues.queue_of(message.delivery_info, settings.CELERY_TASK_QUEUES),
        args=args,
        kwargs=kwargs,
        order_id=str(args[0]) if isinstance(args, list) and args and isinstance(args[0], str) else "",
        correlation_id=logs.carried(headers.get(logs.CONTEXT_HEADER)).get("correlation_id")
        or str(headers.get("root_id") or ""),
        exc_type=type(exc).__name__ if exc is not None else "UnknownMessage",
        exc_message=str(exc or "the worker does not know this message")[:2000],
        traceback=dlq.trim_traceback("".join(traceback.format_exception(exc)) if exc is not None else ""),
        attempts=1,
        first_failed_at=failed_at,
        last_failed_at=failed_at,
        hostname=socket.gethostname(),
        reason=reason,
        truncated=cut_args or cut_kwargs,
    )


def _dead_letter(message: Any, exc: BaseException | None, reason: str) -> None:
    try:
        dlq.push(envelope_for_message(message, exc, reason=reason))
    except Exception:
        # Redis down too: the message is still logged in full by Celery right after this.
        logger.exception("could not dead-letter a %s message", reason)


class DeadLetteringConsumer(Consumer):
    """Celery's consumer, with the undeliverable messages copied to the DLQ before rejection."""

    def on_unknown_message(self, body: Any, message: Any) -> None:
        _dead_letter(message, None, "unknown_message")
        super().on_unknown_message(body, message)

    def on_unknown_task(self, body: Any, message: Any, exc: Exception) -> None:
        _dead_letter(message, exc, "unknown_task")
        super().on_unknown_task(body, message, exc)

    def on_invalid_task(self, body: Any, message: Any, exc: Exception) -> None:
        _dead_letter(message, exc, "invalid_task")
        super().on_invalid_task(body, message, exc)

    def on_decode_error(self, message: Any, exc: Exception) -> None:
        _dead_letter(message, exc, "undecodable")
        super().on_decode_error(message, exc)
