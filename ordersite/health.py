"""Liveness and readiness: is the web process up, and can it do its work (database, Redis, the
broker, a live worker consuming every queue)?

Readiness is anonymous and probed often, so it must be cheap and bounded: workers are known from
their heartbeats in Redis (ordersite/worker_heartbeat.py, one round trip), the PostgreSQL, Redis
and broker checks run side by side in threads of their own under one deadline
(HEALTH_CHECK_TIMEOUT) with bounded socket timeouts, a check still running from an earlier
probe (a hung server) is waited on rather than started again, and a process reuses its answer
for HEALTH_CACHE_SECONDS. The broker is asked directly, never through a Celery broadcast: an
`inspect` publishes through kombu's retrying producer, which waits out a broker that is down.
"""

import contextlib
import copy
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

import redis
from django.conf import settings
from django.db import DatabaseError, connections
from django.db.utils import load_backend
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from kombu import Connection
from kombu.exceptions import OperationalError as KombuOperationalError
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import queues, worker_heartbeat
from .errors import DomainError
from .openapi import error_responses

logger = logging.getLogger(__name__)

OK, DOWN = "ok", "down"


class NotReadyError(DomainError):
    code = "not_ready"
    http_status = status.HTTP_503_SERVICE_UNAVAILABLE


def check_database(timeout: float) -> str:
    """SELECT 1 on a connection of its own, opened with libpq's connect_timeout (at least 2 s,
    libpq's floor; the caller's deadline is shorter) under a statement_timeout, and closed again:
    the probe holds no connection between checks, and never one of a request. The timeout is set
    for its transaction only (set_config(..., true)): PgBouncer refuses the `options` startup
    parameter, and in transaction mode a session setting would stay on a shared connection."""
    params = copy.deepcopy(connections["default"].settings_dict)
    params["OPTIONS"] = {**params.get("OPTIONS", {}), "connect_timeout": max(2, math.ceil(timeout))}
    probe = load_backend(params["ENGINE"]).DatabaseWrapper(params, alias="readiness")
    try:
        with probe.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute(
                "SELECT set_config('statement_timeout', %s, true)",
                [str(max(1, int(timeout * 1000)))],
            )
            cursor.execute("SELECT 1")
            cursor.execute("COMMIT")
    except DatabaseError:
        logger.warning("readiness: database down", exc_info=True)
        return DOWN
    finally:
        probe.close()
    return OK


def check_redis_and_workers(timeout: float, queues: list[str]) -> dict[str, str]:
    """Redis answers, and which queues have a worker with a live heartbeat: one script call."""
    try:
        live = worker_heartbeat.live_workers(worker_heartbeat.client(timeout), queues)
    except redis.RedisError:
        logger.warning("readiness: redis down", exc_info=True)
        return {"redis": DOWN} | {f"worker:{queue}": DOWN for queue in queues}
    return {"redis": OK} | {f"worker:{queue}": OK if live[queue] else DOWN for queue in queues}


def check_broker(timeout: float) -> str:
    """One round trip to CELERY_BROKER_URL (Redis or RabbitMQ), on a connection of its own with
    connect and socket timeouts, made once and closed: a passive declare of a pipeline queue,
    which changes nothing; a broker that does not know the queue yet has answered too."""
    bounded = max(1.0, timeout)
    url = settings.CELERY_BROKER_URL
    if queues.is_amqp(url):
        timeouts = {"read_timeout": bounded, "write_timeout": bounded}
    else:
        timeouts = {"socket_timeout": bounded, "socket_connect_timeout": bounded}
    # The broker's own options first: a Sentinel broker needs its master's name from them.
    options = {**settings.CELERY_BROKER_TRANSPORT_OPTIONS, **timeouts}
    probe = Connection(url, connect_timeout=bounded, transport_options=options)
    broker_down: tuple[type[BaseException], ...] = (
        *probe.connection_errors,
        OSError,
        KombuOperationalError,
    )
    try:
        probe.ensure_connection(max_retries=1)
        with probe.channel() as channel, contextlib.suppress(*probe.channel_errors):
            # Every transport's channel has it; the stubs' StdChannel lacks it.
            channel.queue_declare(queue=settings.HEALTH_QUEUES[0], passive=True)  # type: ignore[attr-defined]
    except broker_down:
        logger.warning("readiness: broker down", exc_info=True)
        return DOWN
    finally:
        probe.release()
    return OK


class _Checks:
    """The process's readiness state: one thread per check (so a hung check holds one thread,
    not one per probe), the check in flight, and the last answer. Rebuilt after a fork."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pid = os.getpid()
        self.threads = {
            name: ThreadPoolExecutor(1, f"readiness-{name}")
            for name in ("database", "redis", "broker")
        }
        self.in_flight: dict[str, Future] = {}
        self.answer: tuple[float, dict[str, str]] | None = None

    def future(self, name: str, fn: Callable[..., object], *args: object) -> Future:
        """The running check `name`, or a new one if none runs. Call with the lock held."""
        running = self.in_flight.get(name)
        if running is None or running.done():
            running = self.in_flight[name] = self.threads[name].submit(fn, *args)
        return running


_state = _Checks()


def _checks() -> _Checks:
    global _state
    if _state.pid != os.getpid():
        _state = _Checks()  # a forked process (gunicorn worker) gets threads of its own
    return _state


def readiness() -> dict[str, str]:
    """Each check's verdict, within HEALTH_CHECK_TIMEOUT; a check that has not answered by then
    is down. The answer is reused for HEALTH_CACHE_SECONDS."""
    state = _checks()
    now = time.monotonic()
    with state.lock:
        if state.answer is not None and now - state.answer[0] < settings.HEALTH_CACHE_SECONDS:
            return state.answer[1]
        timeout, queues = settings.HEALTH_CHECK_TIMEOUT, list(settings.HEALTH_QUEUES)
        database = state.future("database", check_database, timeout)
        redis_and_workers = state.future("redis", check_redis_and_workers, timeout, queues)
        broker = state.future("broker", check_broker, timeout)
    wait([database, redis_and_workers, broker], timeout=timeout)
    found = {
        "database": _verdict(database, "database", timeout),
        "broker": _verdict(broker, "broker", timeout),
    } | (_verdict(redis_and_workers, "redis", timeout) or {})
    # A check still in flight from an earlier probe may have been asked about other queues.
    names = ["database", "redis", "broker", *(f"worker:{queue}" for queue in queues)]
    checks = {name: found.get(name) or DOWN for name in names}
    with state.lock:
        state.answer = (time.monotonic(), checks)
    return checks


def _verdict(future: Future, name: str, timeout: float) -> Any:
    """The check's result; None if it did not finish in time or failed unexpectedly (down)."""
    if not future.done():
        logger.warning("readiness: %s did not answer within %.1f s", name, timeout)
        return None
    try:
        return future.result()
    except Exception:
        logger.exception("readiness: the %s check failed", name)
        return None


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
    """GET /api/v1/health/ready: 200 when PostgreSQL, Redis and the broker answer and every queue
    has a worker with a live heartbeat, else 503 naming what is down; never slower than
    HEALTH_CHECK_TIMEOUT."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        operation_id="health_ready",
        summary="Readiness",
        responses={200: HealthOutput, **error_responses("not_ready")},
        examples=[
            OpenApiExample(
                "Ready",
                value={
                    "status": OK,
                    "checks": {"database": OK, "redis": OK, "broker": OK, "worker:orders": OK},
                },
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
