"""Selectors of the staff dashboard: every number is one SQL aggregate, never a Python loop
over rows, so the dashboard costs the same with ten orders or ten million."""

from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

import kombu.exceptions
import redis
from django.conf import settings
from django.db import connection
from django.db.models import (
    Aggregate,
    BooleanField,
    Count,
    F,
    FloatField,
    Func,
    Min,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, TruncMinute
from django.utils import timezone

from deadletters import store as dlq
from ordersite import breakers, worker_heartbeat, workers

from .models import Order, OrderEvent
from .states import EventKind, OrderStatus

# Orders that will not bring money in; the rest count as revenue from the minute they arrive.
NO_REVENUE = (
    OrderStatus.CANCELLED,
    OrderStatus.PAYMENT_FAILED,
    OrderStatus.FAILED,
    OrderStatus.OUT_OF_STOCK,
)


class PercentileCont(Aggregate):
    """PostgreSQL's percentile_cont(fraction) WITHIN GROUP (ORDER BY expression)."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: Any, *, fraction: float) -> None:
        super().__init__(expression, fraction=float(fraction))


def _seconds_from_order_created() -> Func:
    return Func(
        F("created_at") - F("order__created_at"),
        template="EXTRACT(EPOCH FROM %(expressions)s)",
        output_field=FloatField(),
    )


def dashboard(
    *, now: datetime | None = None, window: timedelta = timedelta(hours=1)
) -> dict[str, Any]:
    """Orders by status (all time), then over `window`: orders and revenue per minute, failures,
    retries, the dead-letter count and p50/p95 of created -> completed, in seconds."""
    now = now or timezone.now()
    since = now - window
    by_status = dict.fromkeys(OrderStatus.values, 0)
    by_status.update(Order.objects.order_by().values_list("status").annotate(n=Count("id")))
    per_minute = (
        Order.objects.filter(created_at__gte=since)
        .annotate(minute=TruncMinute("created_at"))
        .order_by("minute")
        .values("minute")
        .annotate(
            orders=Count("id"),
            revenue_cents=Sum("total_cents", filter=~Q(status__in=NO_REVENUE), default=0),
        )
    )
    events = OrderEvent.objects.filter(created_at__gte=since).aggregate(
        failed=Count("id", filter=Q(kind=EventKind.ORDER_FAILED)),
        payment_failed=Count("id", filter=Q(kind=EventKind.PAYMENT_FAILED)),
        out_of_stock=Count("id", filter=Q(kind=EventKind.STOCK_UNAVAILABLE)),
        step_retries=Count("id", filter=Q(kind=EventKind.STEP_RETRY)),
        dead_lettered=Count("id", filter=Q(kind=EventKind.DEAD_LETTERED)),
    )
    latency = OrderEvent.objects.filter(
        kind=EventKind.ORDER_COMPLETED, created_at__gte=since
    ).aggregate(
        completed=Count("id"),
        p50_seconds=PercentileCont(_seconds_from_order_created(), fraction=0.5),
        p95_seconds=PercentileCont(_seconds_from_order_created(), fraction=0.95),
    )
    return {
        "generated_at": now,
        "window_minutes": int(window.total_seconds() // 60),
        "orders_by_status": by_status,
        "per_minute": list(per_minute),
        "failures": events,
        "dead_letters": dlq.dead_letter_count(),
        "latency": latency,
    }


# --- The admin's live dashboard (/admin/dashboard/) ---------------------------------------------
# Each step's latency runs from the milestone event that lets it start to the one it writes, so
# it includes the time its message waited in the queue and its retries: what a customer waits.
STEP_MILESTONES: tuple[tuple[str, EventKind, EventKind], ...] = (
    ("authorize", EventKind.ORDER_CREATED, EventKind.PAYMENT_AUTHORIZED),
    ("reserve", EventKind.PAYMENT_AUTHORIZED, EventKind.STOCK_RESERVED),
    ("ship", EventKind.STOCK_RESERVED, EventKind.ORDER_SHIPPED),
    ("capture", EventKind.ORDER_SHIPPED, EventKind.ORDER_COMPLETED),
)
BREAKER_WAITS = "breaker waits"
# The timeline is read through its (order, seq) index, from the first order placed this long
# before the window on: order ids grow with time, so the events read are those of recent orders,
# whatever the size of the history. A step of an older order acting in the window is not counted.
EVENT_LOOKBACK = timedelta(hours=1)

# One range scan of the recent orders' milestone events (the (order, seq) index), each paired with
# the order's previous milestone by lag(); percentiles per minute and over the whole window.
_STEP_LATENCY_SQL = """
WITH milestones AS (
    SELECT created_at, kind,
           lag(kind) OVER by_order AS previous_kind,
           EXTRACT(EPOCH FROM created_at - lag(created_at) OVER by_order) AS seconds
    FROM orders_orderevent
    WHERE order_id >= %(first_order)s AND created_at >= %(since)s AND kind = ANY(%(kinds)s)
    WINDOW by_order AS (PARTITION BY order_id ORDER BY seq)
), steps AS (
    SELECT date_trunc('minute', m.created_at) AS minute, s.step, m.seconds
    FROM milestones m
    JOIN unnest(%(steps)s::text[], %(starts)s::text[], %(ends)s::text[])
      AS s(step, start_kind, end_kind)
      ON m.previous_kind = s.start_kind AND m.kind = s.end_kind
)
SELECT minute, step, count(*),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY seconds)
FROM steps
GROUP BY GROUPING SETS ((minute, step), (step))
"""


def _minutes(since: datetime, now: datetime) -> list[datetime]:
    first = since.replace(second=0, microsecond=0)
    count = int((now - first).total_seconds() // 60) + 1
    return [first + timedelta(minutes=i) for i in range(count)]


def _series(
    rows: Iterable[tuple[datetime, str, float]],
    minutes: list[datetime],
    *,
    missing: float | None = 0,
) -> dict[str, list[float | None]]:
    """(minute, name, value) rows -> one list per name, aligned on `minutes`, `missing` where a
    minute has no row (0 for counts; None for a latency, so a chart leaves a gap, not a zero)."""
    index = {minute: i for i, minute in enumerate(minutes)}
    series: dict[str, list[float | None]] = {}
    for minute, name, value in rows:
        if minute in index:
            series.setdefault(name, [missing] * len(minutes))[index[minute]] = value
    return series


def orders_per_minute_queryset(*, since: datetime) -> QuerySet:
    """(minute, status, orders) rows of the orders placed since `since` (index on created_at)."""
    return (
        Order.objects.filter(created_at__gte=since)
        .annotate(minute=TruncMinute("created_at"))
        .values_list("minute", "status")
        .annotate(n=Count("id"))
        .order_by()
    )


def orders_per_minute_by_status(
    *, since: datetime, minutes: list[datetime]
) -> dict[str, list[float | None]]:
    """Orders placed in each minute, by the status they are in now."""
    return _series(orders_per_minute_queryset(since=since), minutes)


def first_order_pk(*, since: datetime) -> int | None:
    """The pk from which the window's events are read (None: no recent order, so no events)."""
    return Order.objects.filter(created_at__gte=since - EVENT_LOOKBACK).aggregate(first=Min("id"))[
        "first"
    ]


def retries_per_minute_queryset(*, since: datetime, first_order: int) -> QuerySet:
    """(minute, task, breaker wait, events) rows of step_retry events."""
    return (
        OrderEvent.objects.filter(
            order_id__gte=first_order, kind=EventKind.STEP_RETRY, created_at__gte=since
        )
        .annotate(minute=TruncMinute("created_at"), task=KeyTextTransform("task", "data"))
        .annotate(waited=Cast(KeyTextTransform("breaker_wait", "data"), BooleanField()))
        .values_list("minute", "task", "waited")
        .annotate(n=Count("id"))
        .order_by()
    )


def retries_per_minute_by_step(
    *, since: datetime, first_order: int | None, minutes: list[datetime]
) -> dict[str, list[float | None]]:
    """Retries per minute and task; waits on an open breaker (they spend no retry) count apart,
    as BREAKER_WAITS."""
    if first_order is None:
        return {}
    rows = retries_per_minute_queryset(since=since, first_order=first_order)
    return _series(
        ((minute, BREAKER_WAITS if waited else task, n) for minute, task, waited, n in rows),
        minutes,
    )


def step_latency_params(*, since: datetime, first_order: int) -> dict[str, Any]:
    steps, starts, ends = zip(*STEP_MILESTONES, strict=True)
    kinds = sorted({*starts, *ends})
    return {
        "since": since,
        "first_order": first_order,
        "kinds": kinds,
        "steps": list(steps),
        "starts": list(starts),
        "ends": list(ends),
    }


def step_latencies(
    *, since: datetime, first_order: int | None, minutes: list[datetime]
) -> dict[str, Any]:
    """Per step: p50 and p95 seconds per minute (None where no order passed), and over the
    window."""
    rows = []
    if first_order is not None:
        with connection.cursor() as cursor:
            cursor.execute(
                _STEP_LATENCY_SQL, step_latency_params(since=since, first_order=first_order)
            )
            rows = cursor.fetchall()
    steps = [step for step, _, _ in STEP_MILESTONES]
    # Steps in pipeline order, so every chart lists them alike.
    rows.sort(key=lambda row: steps.index(row[1]))
    per_minute = [row for row in rows if row[0] is not None]
    window = {
        step: {"count": n, "p50": p50, "p95": p95}
        for minute, step, n, p50, p95 in rows
        if minute is None
    }
    return {
        "p50": _series(
            ((minute, step, p50) for minute, step, _, p50, _ in per_minute), minutes, missing=None
        ),
        "p95": _series(
            ((minute, step, p95) for minute, step, _, _, p95 in per_minute), minutes, missing=None
        ),
        "window": {
            step: window.get(step, {"count": 0, "p50": None, "p95": None}) for step in steps
        },
    }


def pipeline_dashboard(*, now: datetime | None = None) -> dict[str, Any]:
    """Everything the admin's dashboard draws: orders, step latencies and retries per minute over
    DASHBOARD_WINDOW_MINUTES (four index-range queries over recent orders), then the live state
    of the dead-letter queue, the breakers, the queues and the worker pools. A part whose store
    cannot be reached is empty and named in `unavailable`, so one outage never blanks the whole
    page."""
    now = now or timezone.now()
    since = (now - timedelta(minutes=settings.DASHBOARD_WINDOW_MINUTES)).replace(
        second=0, microsecond=0
    )
    minutes = _minutes(since, now)
    first_order = first_order_pk(since=since)
    unavailable: list[str] = []

    def attempt(part: str, read: Callable[[], Any], empty: Any) -> Any:
        try:
            return read()
        except (redis.RedisError, kombu.exceptions.OperationalError, OSError):
            unavailable.append(part)
            return empty

    queues = settings.HEALTH_QUEUES
    backlogs = attempt("queues", lambda: workers.queue_backlogs(queues), dict.fromkeys(queues))
    live = attempt(
        "workers", lambda: worker_heartbeat.live_workers(worker_heartbeat.client(), queues), {}
    )
    return {
        "generated_at": now,
        "window_minutes": settings.DASHBOARD_WINDOW_MINUTES,
        "minutes": minutes,
        "orders_per_minute": orders_per_minute_by_status(since=since, minutes=minutes),
        "step_latency": step_latencies(since=since, first_order=first_order, minutes=minutes),
        "retries_per_minute": retries_per_minute_by_step(
            since=since, first_order=first_order, minutes=minutes
        ),
        "dead_letters": {
            "count": attempt("dead_letters", dlq.dead_letter_count, None),
            "max": settings.DLQ_MAX_LENGTH,
        },
        "breakers": attempt("breakers", lambda: [asdict(b) for b in breakers.all_breakers()], []),
        "queues": [{"name": q, "backlog": backlogs[q], "workers": live.get(q)} for q in queues],
        "pools": attempt("pools", lambda: workers.cached_worker_pools(queues=queues), []),
        "unavailable": unavailable,
    }
