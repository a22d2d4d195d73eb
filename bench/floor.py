"""The floors `make bench` measures beside ordersite, served by the same processes: a chain of
four no-op tasks on the pipeline's four queues, a minimal order (one INSERT, that chain sent on
commit) and a trivial DRF POST. What the engine costs with nothing of ours in it."""

import functools
import json

import redis
from celery import chain, shared_task
from django.conf import settings
from django.db import connection, transaction
from django.urls import path
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ordersite.queues import Queue
from ordersite.redis import client as redis_client

QUEUES = (
    Queue.PAYMENTS,
    Queue.INVENTORY,
    Queue.SHIPPING,
    Queue.ORDERS,
)  # the pipeline's order of queues
DONE_KEY = "bench:floor:done"
TABLE = "bench_floor_order"


@functools.cache
def _redis() -> redis.Redis:
    return redis_client(settings.REDIS_URL, decode_responses=False)


@shared_task(name="bench.noop")
def noop(ref: int) -> None:
    """A pipeline step that does nothing."""


@shared_task(name="bench.noop_last")
def noop_last(ref: int) -> None:
    """The last step: count the chain as done, so the bench can tell when all drained."""
    _redis().incr(DONE_KEY)


def noop_chain(ref: int) -> chain:
    steps = [noop.si(ref).set(queue=queue) for queue in QUEUES[:-1]]
    return chain(*steps, noop_last.si(ref).set(queue=QUEUES[-1]))


def create_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY,"
            " customer_id integer NOT NULL,"
            " body jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
        )


class MinimalOrderView(APIView):
    """The same POST as /api/v1/orders/ (token auth, JSON body), one INSERT, the chain on commit."""

    permission_classes = [IsAuthenticated]

    def post(self, request: Request) -> Response:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {TABLE} (customer_id, body) VALUES (%s, %s) RETURNING id",
                    [request.user.pk, json.dumps(request.data)],
                )
                ref = cursor.fetchone()[0]
            transaction.on_commit(lambda: noop_chain(ref).apply_async())
        return Response({"order_id": ref}, status=status.HTTP_201_CREATED)


class TrivialPostView(APIView):
    """A DRF POST that parses its body and answers 201: the web stack and nothing else."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        return Response({"received": len(request.data)}, status=status.HTTP_201_CREATED)


urlpatterns = [
    path("bench/floor/order/", MinimalOrderView.as_view()),
    path("bench/floor/post/", TrivialPostView.as_view()),
]
