"""Fixtures of the dead-letter tests: envelopes, and workers on a broker of their own."""

import os
import re
from collections.abc import Callable, Iterator

import pytest
import redis
from kombu import Connection

from ordersite import dlq

from ..conftest import TEST_REDIS_URL, WorkerProcess, worker_env


def _neighbour_db(url: str) -> str:
    """The Redis database just below the tests' own (10 -> 9, 15 -> 14)."""
    return re.sub(r"/(\d+)$", lambda m: f"/{max(int(m.group(1)) - 1, 0)}", url)


# Workers that must not share their queues with the session's live worker (a failing gateway,
# a fatal one) consume from this broker; their dead letters still land in the tests' Redis.
ISOLATED_BROKER_URL = os.environ.get("TEST_ISOLATED_BROKER_URL") or _neighbour_db(TEST_REDIS_URL)
QUEUES = ("orders", "payments", "inventory", "shipping", "notifications")


@pytest.fixture
def make_entry(redis_client) -> Callable[..., dlq.Envelope]:
    def make(**fields: object) -> dlq.Envelope:
        defaults: dict[str, object] = {
            "task": "payments.authorize_payment",
            "queue": "payments",
            "args": ["00000000-0000-0000-0000-000000000000"],
            "exc_type": "GatewayUnavailableError",
            "exc_message": "down",
            "attempts": 3,
            "last_failed_at": dlq.now_iso(),
        }
        defaults.update(fields)
        if "order_id" not in fields:
            defaults["order_id"] = str(defaults["args"][0]) if defaults["args"] else ""
        entry = dlq.Envelope(**defaults)
        dlq.push(entry)
        return entry

    return make


@pytest.fixture
def isolated_broker() -> Iterator[Connection]:
    """A broker connection of its own, emptied first, for messages only the test's worker sees."""
    client = redis.Redis.from_url(ISOLATED_BROKER_URL)
    client.delete(*QUEUES, "unacked", "unacked_index", "unacked_mutex")
    client.close()
    with Connection(ISOLATED_BROKER_URL) as connection:
        yield connection


@pytest.fixture
def isolated_worker(isolated_broker) -> Iterator[Callable[..., WorkerProcess]]:
    """Start a worker on the isolated broker with extra env; stopped (by its PID) after the test."""
    started: list[WorkerProcess] = []

    def start(**env: str) -> WorkerProcess:
        worker = WorkerProcess(
            worker_env(CELERY_BROKER_URL=ISOLATED_BROKER_URL, **env), name=f"dlq{len(started)}", concurrency=1
        )
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
