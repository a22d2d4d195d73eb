"""Selectors of the staff dashboard: every number is one SQL aggregate, never a Python loop
over rows, so the dashboard costs the same with ten orders or ten million."""

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Aggregate, Count, F, FloatField, Func, Q, Sum
from django.db.models.functions import TruncMinute
from django.utils import timezone

from ordersite import dlq

from .models import Order, OrderEvent
from .states import EventKind, OrderStatus

# Orders that will not bring money in; the rest count as revenue from the minute they arrive.
NO_REVENUE = (OrderStatus.CANCELLED, OrderStatus.PAYMENT_FAILED, OrderStatus.FAILED, OrderStatus.OUT_OF_STOCK)


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


def dashboard(*, now: datetime | None = None, window: timedelta = timedelta(hours=1)) -> dict[str, Any]:
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
        .annotate(orders=Count("id"), revenue_cents=Sum("total_cents", filter=~Q(status__in=NO_REVENUE), default=0))
    )
    events = OrderEvent.objects.filter(created_at__gte=since).aggregate(
        failed=Count("id", filter=Q(kind=EventKind.ORDER_FAILED)),
        payment_failed=Count("id", filter=Q(kind=EventKind.PAYMENT_FAILED)),
        out_of_stock=Count("id", filter=Q(kind=EventKind.STOCK_UNAVAILABLE)),
        step_retries=Count("id", filter=Q(kind=EventKind.STEP_RETRY)),
        dead_lettered=Count("id", filter=Q(kind=EventKind.DEAD_LETTERED)),
    )
    latency = OrderEvent.objects.filter(kind=EventKind.ORDER_COMPLETED, created_at__gte=since).aggregate(
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
