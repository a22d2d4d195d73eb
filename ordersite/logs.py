"""Structured logs: one format for every process (JSON in production, readable lines under
`make run`), and the context that lets `grep <order id>` follow an order through all of them.

Code keeps logging through the stdlib (`logger.info(..., extra={...})`); the formatter here
renders every record, Django's, Celery's, gunicorn's and ours, with its `extra` keys and the
context bound in structlog's contextvars: `request_id` (a web request), `order_id` and
`correlation_id` (the order being worked on), `task` and `task_id` (a Celery task).

The order's context travels with its tasks in one message header (`log_context`), added when a
task is published and bound again when a worker runs it: the web request that placed the order
sends the first step with it, and every step, retry and compensation sent from a task carries
on what that task had. Binding is a few contextvar writes; nothing here queries anything.
"""

import logging.config
import re
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import structlog
from celery.signals import before_task_publish, task_postrun, task_prerun
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty
from structlog.contextvars import (
    bind_contextvars,
    clear_contextvars,
    get_contextvars,
    unbind_contextvars,
)

FORMATS = ("json", "console")
# The context a task inherits from whoever sent it: which order, which story, which request.
ORDER_KEYS = ("order_id", "correlation_id")
PROPAGATED = (*ORDER_KEYS, "request_id")
CONTEXT_HEADER = "log_context"
REQUEST_ID_HEADER = "X-Request-ID"
# A caller's request id is kept if it looks like one (a proxy's or a client's); else a new one.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

# Added to every record that did not come from structlog itself, i.e. all of them here.
_PRE_CHAIN: list[structlog.types.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.ExtraAdder(),
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def _lead_with_when_and_what(_: Any, __: str, event: structlog.typing.EventDict) -> dict[str, Any]:
    """JSON keys in reading order: when, how bad, who said it, what; then the context."""
    lead = {
        key: event.pop(key) for key in ("timestamp", "level", "logger", "event") if key in event
    }
    return {**lead, **event}


def formatter(log_format: str = "json") -> structlog.stdlib.ProcessorFormatter:
    """The logging.Formatter of every handler (settings.LOGGING names it): `json`, one object
    per line for a log shipper, or `console`, aligned `key=value` lines for a person."""
    if log_format == "json":
        renderer: structlog.types.Processor = structlog.processors.JSONRenderer()
        processors: list[structlog.types.Processor] = [
            structlog.processors.format_exc_info,
            _lead_with_when_and_what,
            renderer,
        ]
    elif log_format == "console":
        # Plain tracebacks: rich's would print every frame's locals (a card token among them).
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
        processors = [renderer]
    else:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(FORMATS)}, not {log_format!r}")
    return structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *processors],
        foreign_pre_chain=_PRE_CHAIN,
    )


def current(key: str) -> Any:
    """A value of the context bound now (None if unbound)."""
    return get_contextvars().get(key)


def bind_order(*, order_id: object, correlation_id: object = "") -> None:
    """From here on, this request's or task's lines, and the tasks it sends, name this order.
    Without a correlation id, one bound for another order is dropped: it is not this order's."""
    order_id = str(order_id)
    if correlation_id:
        bind_contextvars(order_id=order_id, correlation_id=str(correlation_id))
        return
    if current("order_id") != order_id:
        unbind_contextvars("correlation_id")
    bind_contextvars(order_id=order_id)


@contextmanager
def order_scope() -> Iterator[None]:
    """Whatever order the block binds is forgotten at its end: for code that works through many
    orders (the reconciler, bulk actions), so one order's id does not stick to the next one's."""
    saved = {key: value for key, value in get_contextvars().items() if key in ORDER_KEYS}
    try:
        yield
    finally:
        unbind_contextvars(*ORDER_KEYS)
        bind_contextvars(**saved)


# --- the web: one request id per request, the order id of the URL, the user -------------------


def _user_id(request: HttpRequest) -> int | None:
    """The authenticated user's id if something already loaded the user (DRF's token auth sets
    it; a lazy user nobody touched stays unloaded: reading it would cost a query)."""
    user = request.__dict__.get("user")
    if isinstance(user, SimpleLazyObject):
        user = None if user._wrapped is empty else user._wrapped  # type: ignore[attr-defined]  # private
    return user.pk if user is not None and getattr(user, "is_authenticated", False) else None


class RequestLogContextMiddleware:
    """Binds a request id (the caller's `X-Request-ID` if it sends a sane one, answered in the
    same header) and the order id named by the URL. The context stays bound after the response
    so that gunicorn's access line (ordersite/access_log.py) carries it too; the next request on
    the thread starts afresh."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        clear_contextvars()
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = offered if _REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
        bind_contextvars(request_id=request_id)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        user_id = _user_id(request)
        if user_id is not None:
            bind_contextvars(user_id=user_id)
        return response

    def process_view(
        self, request: HttpRequest, view: Callable, args: Any, kwargs: dict[str, Any]
    ) -> None:
        if "order_id" in kwargs:
            bind_contextvars(order_id=str(kwargs["order_id"])[:64])


# --- Celery: the context rides in a header from the sender to the task ------------------------


@before_task_publish.connect(dispatch_uid="ordersite.logs.propagate")
def _propagate(headers: dict[str, Any] | None = None, **_: Any) -> None:
    context = get_contextvars()
    carried = {key: context[key] for key in PROPAGATED if key in context}
    if carried and headers is not None:
        headers[CONTEXT_HEADER] = carried


def carried(header: object) -> dict[str, str]:
    """The context a message's `log_context` header carries (nothing if it is not one)."""
    if not isinstance(header, dict):
        return {}
    return {key: str(header[key]) for key in PROPAGATED if key in header}


@task_prerun.connect(dispatch_uid="ordersite.logs.bind_task")
def _bind_task(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    clear_contextvars()
    context = carried(getattr(task.request, CONTEXT_HEADER, None)) if task is not None else {}
    bind_contextvars(task=getattr(task, "name", ""), task_id=task_id, **context)


@task_postrun.connect(dispatch_uid="ordersite.logs.unbind_task")
def _unbind_task(**_: Any) -> None:
    clear_contextvars()


def configure_worker_logging(**_: Any) -> None:
    """Celery's setup_logging receiver: workers and beat log through settings.LOGGING, like the
    web, instead of Celery's own format (connecting any receiver turns Celery's setup off)."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
