"""Liveness and readiness: is the web process up, and can it do its work (database, Redis, a
live worker consuming every queue)?"""

import logging

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from kombu.exceptions import KombuError
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .celery import app as celery_app
from .errors import DomainError
from .openapi import error_responses

logger = logging.getLogger(__name__)

OK, DOWN = "ok", "down"


class NotReadyError(DomainError):
    code = "not_ready"
    http_status = status.HTTP_503_SERVICE_UNAVAILABLE


def check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        logger.warning("readiness: database down", exc_info=True)
        return DOWN
    return OK


def check_redis(timeout: float) -> str:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
    except redis.RedisError:
        logger.warning("readiness: redis down", exc_info=True)
        return DOWN
    finally:
        client.close()
    return OK


def consumed_queues(timeout: float) -> set[str] | None:
    """The queues some live worker consumes, from one broadcast that waits `timeout` seconds for
    replies; None if the broker cannot be reached."""
    try:
        replies = celery_app.control.inspect(timeout=timeout).active_queues() or {}
    except (KombuError, OSError, redis.RedisError):
        logger.warning("readiness: broker unreachable", exc_info=True)
        return None
    return {queue["name"] for queues in replies.values() for queue in queues or ()}


def readiness() -> dict[str, str]:
    """Each check's verdict. Workers are asked only when Redis answers, so a dead broker does not
    make the check hang in kombu's reconnect loop."""
    timeout = settings.HEALTH_CHECK_TIMEOUT
    checks = {"database": check_database(), "redis": check_redis(timeout)}
    consumed = consumed_queues(timeout) if checks["redis"] == OK else None
    for queue in settings.HEALTH_QUEUES:
        checks[f"worker:{queue}"] = OK if consumed is not None and queue in consumed else DOWN
    return checks


HealthOutput = inline_serializer(
    "HealthOutput",
    fields={
        "status": serializers.CharField(),
        "checks": serializers.DictField(child=serializers.CharField(), required=False),
    },
)


class HealthView(APIView):
    """GET /api/v1/health: the process answers (for a load balancer's liveness probe)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        operation_id="health_live",
        summary="Liveness",
        responses={200: HealthOutput},
        examples=[OpenApiExample("Alive", value={"status": "ok"}, response_only=True)],
    )
    def get(self, request: Request) -> Response:
        return Response({"status": OK})


class ReadinessView(APIView):
    """GET /api/v1/health/ready: 200 when PostgreSQL, Redis and a worker per queue answer,
    else 503 naming what is down."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        operation_id="health_ready",
        summary="Readiness",
        responses={200: HealthOutput, **error_responses("not_ready")},
        examples=[
            OpenApiExample(
                "Ready",
                value={"status": OK, "checks": {"database": OK, "redis": OK, "worker:orders": OK}},
                response_only=True,
                status_codes=["200"],
            )
        ],
    )
    def get(self, request: Request) -> Response:
        checks = readiness()
        down = [name for name, verdict in checks.items() if verdict != OK]
        if down:
            raise NotReadyError(f"Not ready: {', '.join(down)}.", checks=checks)
        return Response({"status": OK, "checks": checks})
