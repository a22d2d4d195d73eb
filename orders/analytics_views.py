"""GET /api/v1/analytics/dashboard/ and /analytics/pipeline/: staff figures, computed by SQL
aggregates and read from the broker, Redis and the workers."""

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ordersite.openapi import AUTHENTICATED, error_responses

from . import analytics


class MinuteOutput(serializers.Serializer):
    minute = serializers.DateTimeField(read_only=True)
    orders = serializers.IntegerField(read_only=True)
    revenue_cents = serializers.IntegerField(
        read_only=True, help_text="Totals of orders not failed or cancelled."
    )


class FailuresOutput(serializers.Serializer):
    failed = serializers.IntegerField(read_only=True)
    payment_failed = serializers.IntegerField(read_only=True)
    out_of_stock = serializers.IntegerField(read_only=True)
    step_retries = serializers.IntegerField(read_only=True)
    dead_lettered = serializers.IntegerField(read_only=True)


class LatencyOutput(serializers.Serializer):
    completed = serializers.IntegerField(read_only=True)
    p50_seconds = serializers.FloatField(read_only=True, allow_null=True)
    p95_seconds = serializers.FloatField(read_only=True, allow_null=True)


class DashboardOutput(serializers.Serializer):
    generated_at = serializers.DateTimeField(read_only=True)
    window_minutes = serializers.IntegerField(read_only=True)
    orders_by_status = serializers.DictField(child=serializers.IntegerField(), read_only=True)
    per_minute = MinuteOutput(many=True, read_only=True)
    failures = FailuresOutput(read_only=True, help_text="Events within the window.")
    dead_letters = serializers.IntegerField(
        read_only=True, help_text="Entries waiting in the dead-letter queue."
    )
    latency = LatencyOutput(
        read_only=True, help_text="Order created -> completed, within the window."
    )


DASHBOARD_EXAMPLE = {
    "generated_at": "2026-11-25T23:30:00Z",
    "window_minutes": 60,
    "orders_by_status": {"pending": 1, "completed": 118, "cancelled": 3, "payment_failed": 2},
    "per_minute": [{"minute": "2026-11-25T23:29:00Z", "orders": 12, "revenue_cents": 24000}],
    "failures": {
        "failed": 0,
        "payment_failed": 2,
        "out_of_stock": 3,
        "step_retries": 4,
        "dead_lettered": 0,
    },
    "dead_letters": 0,
    "latency": {"completed": 118, "p50_seconds": 0.41, "p95_seconds": 1.2},
}


class AnalyticsDashboardView(APIView):
    """Staff only: how the shop and its pipeline did over the last hour."""

    permission_classes = [IsAdminUser]

    @extend_schema(
        operation_id="analytics_dashboard",
        summary="Dashboard (staff)",
        responses={200: DashboardOutput, **error_responses(*AUTHENTICATED, "permission_denied")},
        examples=[OpenApiExample("Last hour", value=DASHBOARD_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request) -> Response:
        return Response(DashboardOutput(analytics.dashboard()).data)


class SeriesField(serializers.DictField):
    """{name: [one value per minute of `minutes`]}."""

    def __init__(self, **kwargs: Any) -> None:
        values = serializers.ListField(child=serializers.FloatField(allow_null=True))
        super().__init__(child=values, read_only=True, **kwargs)


class StepWindowOutput(serializers.Serializer):
    count = serializers.IntegerField(read_only=True)
    p50 = serializers.FloatField(read_only=True, allow_null=True)
    p95 = serializers.FloatField(read_only=True, allow_null=True)


class StepLatencyOutput(serializers.Serializer):
    p50 = SeriesField(
        help_text="Seconds, per step and minute (null: no order passed the step then)."
    )
    p95 = SeriesField()
    window = serializers.DictField(
        child=StepWindowOutput(), read_only=True, help_text="Per step, the whole window."
    )


class DeadLettersOutput(serializers.Serializer):
    count = serializers.IntegerField(read_only=True, allow_null=True)
    max = serializers.IntegerField(read_only=True, help_text="DLQ_MAX_LENGTH")


class BreakerOutput(serializers.Serializer):
    name = serializers.CharField(read_only=True)
    state = serializers.ChoiceField(choices=["closed", "open", "half_open"], read_only=True)
    calls = serializers.IntegerField(read_only=True)
    errors = serializers.IntegerField(read_only=True)
    consecutive_failures = serializers.IntegerField(read_only=True)
    open_for_s = serializers.FloatField(read_only=True)
    times_opened = serializers.IntegerField(read_only=True)


class QueueOutput(serializers.Serializer):
    name = serializers.CharField(read_only=True)
    backlog = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="Messages waiting, not yet taken."
    )
    workers = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="Workers with a live heartbeat."
    )


class PoolOutput(serializers.Serializer):
    node = serializers.CharField(read_only=True)
    queues = serializers.ListField(child=serializers.CharField(), read_only=True)
    pool = serializers.CharField(read_only=True, help_text="prefork, thread, solo ...")
    size = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="Processes or threads now."
    )
    max = serializers.IntegerField(read_only=True, allow_null=True)
    min = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="Autoscaled pools only."
    )
    replied = serializers.BooleanField(read_only=True)


class PipelineDashboardOutput(serializers.Serializer):
    generated_at = serializers.DateTimeField(read_only=True)
    window_minutes = serializers.IntegerField(read_only=True)
    minutes = serializers.ListField(child=serializers.DateTimeField(), read_only=True)
    orders_per_minute = SeriesField(
        help_text="Orders placed each minute, by the status they are in now."
    )
    step_latency = StepLatencyOutput(read_only=True)
    retries_per_minute = SeriesField(
        help_text="Retries each minute, by task; waits on an open breaker apart."
    )
    dead_letters = DeadLettersOutput(read_only=True)
    breakers = BreakerOutput(many=True, read_only=True)
    queues = QueueOutput(many=True, read_only=True)
    pools = PoolOutput(many=True, read_only=True)
    unavailable = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="Parts whose store could not be reached.",
    )


class PipelineDashboardView(APIView):
    """Staff only: the admin dashboard's figures, polled by /admin/dashboard/ every
    DASHBOARD_REFRESH_SECONDS."""

    permission_classes = [IsAdminUser]

    @extend_schema(
        operation_id="analytics_pipeline",
        summary="Pipeline dashboard (staff)",
        responses={
            200: PipelineDashboardOutput,
            **error_responses(*AUTHENTICATED, "permission_denied"),
        },
    )
    def get(self, request: Request) -> Response:
        return Response(PipelineDashboardOutput(analytics.pipeline_dashboard()).data)
