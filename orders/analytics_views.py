"""GET /api/v1/analytics/dashboard/: the staff dashboard, computed by SQL aggregates."""

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
    revenue_cents = serializers.IntegerField(read_only=True, help_text="Totals of orders not failed or cancelled.")


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
    dead_letters = serializers.IntegerField(read_only=True, help_text="Entries waiting in the dead-letter queue.")
    latency = LatencyOutput(read_only=True, help_text="Order created -> completed, within the window.")


DASHBOARD_EXAMPLE = {
    "generated_at": "2026-11-25T23:30:00Z",
    "window_minutes": 60,
    "orders_by_status": {"pending": 1, "completed": 118, "cancelled": 3, "payment_failed": 2},
    "per_minute": [{"minute": "2026-11-25T23:29:00Z", "orders": 12, "revenue_cents": 24000}],
    "failures": {"failed": 0, "payment_failed": 2, "out_of_stock": 3, "step_retries": 4, "dead_lettered": 0},
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
