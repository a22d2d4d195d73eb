"""The staff-only dead-letter API, /api/v1/dlq/: the admin page's operations for tools.

Same permission as the admin page (`deadletters.review_dead_letters`), same functions
(store.py to read, services.py to act), same error body."""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ordersite.openapi import AUTHENTICATED, error_responses

from . import services, store
from .envelope import Envelope
from .models import PERMISSION


class CanReviewDeadLetters(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff and user.has_perm(PERMISSION))


class DeadLetterListInput(serializers.Serializer):
    task = serializers.CharField(required=False, default="")
    queue = serializers.CharField(required=False, default="")
    exception = serializers.CharField(required=False, default="")
    order = serializers.CharField(required=False, default="")
    offset = serializers.IntegerField(required=False, default=0, min_value=0)
    limit = serializers.IntegerField(required=False, default=50, min_value=1, max_value=500)


class DeadLetterOutput(serializers.Serializer):
    id = serializers.CharField(read_only=True)
    malformed = serializers.BooleanField(read_only=True)
    raw = serializers.SerializerMethodField()
    task = serializers.CharField(read_only=True)
    task_id = serializers.CharField(read_only=True)
    queue = serializers.CharField(read_only=True)
    args = serializers.JSONField(read_only=True)
    kwargs = serializers.JSONField(read_only=True)
    chain = serializers.JSONField(read_only=True)
    order_id = serializers.CharField(read_only=True)
    correlation_id = serializers.CharField(read_only=True)
    exc_type = serializers.CharField(read_only=True)
    exc_message = serializers.CharField(read_only=True)
    traceback = serializers.CharField(read_only=True)
    attempts = serializers.IntegerField(read_only=True)
    first_failed_at = serializers.CharField(read_only=True)
    last_failed_at = serializers.CharField(read_only=True)
    hostname = serializers.CharField(read_only=True)
    reason = serializers.CharField(read_only=True)
    truncated = serializers.BooleanField(read_only=True)

    def get_raw(self, entry: Envelope) -> str | None:
        return entry.raw if entry.malformed else None


STAFF_ONLY = (*AUTHENTICATED, "permission_denied")


class DeadLetterDiscardInput(serializers.Serializer):
    reason = serializers.CharField(max_length=1000)


class DeadLetterListView(APIView):
    """GET /api/v1/dlq/: entries newest first, filtered by task, queue, exception and order."""

    permission_classes = [CanReviewDeadLetters]

    @extend_schema(
        operation_id="api_v1_dlq_list",  # a list, not a second "api_v1_dlq_retrieve"
        parameters=[DeadLetterListInput],
        responses={
            200: inline_serializer(
                "DeadLetterPage",
                {"count": serializers.IntegerField(), "results": DeadLetterOutput(many=True)},
            ),
            **error_responses("invalid", *STAFF_ONLY),
        },
    )
    def get(self, request: Request) -> Response:
        incoming = DeadLetterListInput(data=request.query_params)
        incoming.is_valid(raise_exception=True)
        params = incoming.validated_data
        matched = store.matching(store.filters_from(params, exc_type="exception", order_id="order"))
        window = matched[params["offset"] : params["offset"] + params["limit"]]
        return Response(
            {"count": len(matched), "results": DeadLetterOutput(window, many=True).data}
        )


class DeadLetterStatsView(APIView):
    """GET /api/v1/dlq/stats/: length, limit, overflow count, entries in replay, breakdowns."""

    permission_classes = [CanReviewDeadLetters]

    @extend_schema(responses={200: OpenApiTypes.OBJECT, **error_responses(*STAFF_ONLY)})
    def get(self, request: Request) -> Response:
        return Response(store.stats())


class DeadLetterDetailView(APIView):
    """GET /api/v1/dlq/{entry_id}/: one whole envelope."""

    permission_classes = [CanReviewDeadLetters]

    @extend_schema(
        responses={200: DeadLetterOutput, **error_responses(*STAFF_ONLY, "dead_letter_not_found")}
    )
    def get(self, request: Request, entry_id: str) -> Response:
        return Response(DeadLetterOutput(store.get(entry_id)).data)


class DeadLetterReplayView(APIView):
    """POST /api/v1/dlq/{entry_id}/replay/: send the task again (404 if someone else did; 409
    dead_letter_stale if the order no longer waits at that step)."""

    permission_classes = [CanReviewDeadLetters]

    @extend_schema(
        request=None,
        responses={
            200: DeadLetterOutput,
            **error_responses(
                *STAFF_ONLY,
                "dead_letter_not_found",
                "dead_letter_not_replayable",
                "dead_letter_stale",
            ),
        },
    )
    def post(self, request: Request, entry_id: str) -> Response:
        entry = services.replay_dead_letter(
            entry_id=entry_id, actor=request.user.get_username(), user=request.user
        )
        return Response(DeadLetterOutput(entry).data)


class DeadLetterDiscardView(APIView):
    """POST /api/v1/dlq/{entry_id}/discard/ {"reason": "..."}: remove it for good, with why."""

    permission_classes = [CanReviewDeadLetters]

    @extend_schema(
        request=DeadLetterDiscardInput,
        responses={
            200: DeadLetterOutput,
            **error_responses("invalid", *STAFF_ONLY, "dead_letter_not_found"),
        },
    )
    def post(self, request: Request, entry_id: str) -> Response:
        incoming = DeadLetterDiscardInput(data=request.data)
        incoming.is_valid(raise_exception=True)
        entry = services.discard_dead_letter(
            entry_id=entry_id,
            actor=request.user.get_username(),
            reason=incoming.validated_data["reason"],
            user=request.user,
        )
        return Response(DeadLetterOutput(entry).data)
