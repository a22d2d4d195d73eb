"""Test fixtures: the real PostgreSQL (pytest-django's test database), a Redis database of the
tests' own, flushed per test, API clients, and a real Celery worker in a subprocess."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from asgiref.local import Local
from django.conf import settings
from django.core.cache import caches
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from ordersite.celery import app as celery_app

from .factories import StaffFactory, UserFactory

ROOT = Path(__file__).resolve().parent.parent
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
QUEUES = "orders,payments,inventory,shipping"


@pytest.fixture(autouse=True, scope="session")
def _use_test_redis() -> None:
    """Point Django and the Celery producer at the tests' own Redis database."""
    settings.REDIS_URL = TEST_REDIS_URL
    settings.CELERY_BROKER_URL = TEST_REDIS_URL
    celery_app.conf.broker_url = TEST_REDIS_URL
    # --- API: the cache (throttle counters) in the tests' Redis too, and no throttling unless a
    # test sets ORDER_CREATE_THROTTLE_RATE through the `settings` fixture.
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": TEST_REDIS_URL}}
    caches._settings = caches.settings = caches.configure_settings(None)
    caches._connections = Local()
    settings.ORDER_CREATE_THROTTLE_RATE = None


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    """The tests' Redis, emptied of everything but kombu's queue bindings before each test."""
    client = redis.Redis.from_url(TEST_REDIS_URL, decode_responses=True)
    for key in client.scan_iter():
        if not key.startswith("_kombu"):
            client.delete(key)
    yield client
    client.close()


@pytest.fixture
def customer(db):
    return UserFactory()


@pytest.fixture
def staff(db):
    return StaffFactory()


@pytest.fixture
def api(customer) -> APIClient:
    client = APIClient()
    client.force_authenticate(customer)
    return client


@pytest.fixture
def staff_api(staff) -> APIClient:
    client = APIClient()
    client.force_authenticate(staff)
    return client


@pytest.fixture
def token_for() -> Callable:
    def make(user) -> str:
        return Token.objects.get_or_create(user=user)[0].key

    return make


def worker_env(**extra: str) -> dict[str, str]:
    """The environment a worker subprocess needs to see the test database and Redis."""
    db = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        REDIS_URL=TEST_REDIS_URL,
        CELERY_BROKER_URL=TEST_REDIS_URL,
        PIPELINE_RETRY_BACKOFF="1",
        PIPELINE_RETRY_BACKOFF_MAX="2",
        DATABASE_CONN_MAX_AGE="0",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class WorkerProcess:
    """A `celery worker` we started; stopped by its own PID only."""

    def __init__(self, env: dict[str, str], queues: str = QUEUES, concurrency: int = 2, name: str = "test") -> None:
        self.log = Path(ROOT / "var" / f"worker-{name}-{os.getpid()}.log")
        self.log.parent.mkdir(exist_ok=True)
        self._log_file = self.log.open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "ordersite",
                "worker",
                "-Q",
                queues,
                "-c",
                str(concurrency),
                "-n",
                f"{name}-{os.getpid()}@%h",
                "-l",
                "info",
                "--without-mingle",
                "--without-gossip",
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        self.wait_ready()

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "ready." in self.log.read_text():
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready in {timeout}s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log_file.close()


@pytest.fixture(scope="session")
def live_worker(django_db_setup, django_db_blocker) -> Iterator[WorkerProcess]:
    """One real worker consuming every queue of the test Redis, against the test database."""
    client = redis.Redis.from_url(TEST_REDIS_URL)
    # Messages earlier tests sent for orders that no longer exist would only make noise.
    client.delete(*QUEUES.split(","), "unacked", "unacked_index")
    client.close()
    with django_db_blocker.unblock():
        worker = WorkerProcess(worker_env())
    yield worker
    worker.stop()


def wait_for(predicate: Callable[[], object], *, timeout: float = 30, interval: float = 0.1) -> object:
    """Poll `predicate` until it returns something truthy (bounded, never a bare sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
