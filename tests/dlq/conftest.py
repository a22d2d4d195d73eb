"""Fixtures of the dead-letter tests: envelopes, and workers on a broker of their own."""

from collections.abc import Callable, Iterator

import pytest
from kombu import Connection

from deadletters import store
from deadletters.envelope import Envelope, now_iso
from ordersite.queues import Queue

from .. import broker
from ..broker import ISOLATED_BROKER_URL, QUEUES
from ..conftest import WorkerProcess, worker_env

# Workers that must not share their queues with the session's live worker (a failing gateway,
# a fatal one) consume from ISOLATED_BROKER_URL; their dead letters still land in the tests' Redis.
__all__ = ("ISOLATED_BROKER_URL", "QUEUES")


@pytest.fixture
def make_entry(redis_client) -> Callable[..., Envelope]:
    def make(**fields: object) -> Envelope:
        defaults: dict[str, object] = {
            "task": "payments.authorize_payment",
            "queue": Queue.PAYMENTS,
            "args": ["00000000-0000-0000-0000-000000000000"],
            "exc_type": "GatewayUnavailableError",
            "exc_message": "down",
            "attempts": 3,
            "last_failed_at": now_iso(),
        }
        defaults.update(fields)
        if "order_id" not in fields:
            defaults["order_id"] = str(defaults["args"][0]) if defaults["args"] else ""
        entry = Envelope(**defaults)
        store.push(entry)
        return entry

    return make


@pytest.fixture
def isolated_broker(redis_client) -> Iterator[Connection]:
    """A broker connection of its own, emptied first, for messages only the test's worker sees.
    The tests' Redis (where those workers' dead letters land) starts empty too, so a test counts
    only its own entries whatever ran before it."""
    broker.purge(ISOLATED_BROKER_URL)
    with Connection(ISOLATED_BROKER_URL) as connection:
        yield connection


@pytest.fixture
def isolated_worker(isolated_broker) -> Iterator[Callable[..., WorkerProcess]]:
    """Start a worker on the isolated broker with extra env; stopped (by its PID) after the test."""
    started: list[WorkerProcess] = []

    def start(**env: str) -> WorkerProcess:
        worker = WorkerProcess(
            worker_env(CELERY_BROKER_URL=ISOLATED_BROKER_URL, **env),
            name=f"dlq{len(started)}",
            concurrency=1,
        )
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
