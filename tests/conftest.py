"""Test fixtures: the real PostgreSQL (pytest-django's test database), a Redis database of the
tests' own, flushed per test, the broker (that Redis, or RabbitMQ: tests/broker.py), API clients,
and a real Celery worker in a subprocess."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import structlog
from asgiref.local import Local
from django.conf import settings
from django.core.cache import caches
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from orders.live.publish import is_publish
from ordersite.celery import app as celery_app
from ordersite.queues import worker_argv

from . import broker
from .broker import TEST_BROKER_URL, TEST_REDIS_URL
from .browser import browser  # noqa: F401  (the browser tests' fixture)
from .factories import StaffFactory, UserFactory
from .pgbouncer import PgBouncerProcess, pgbouncer  # noqa: F401  (the live worker reaches PostgreSQL through it)

ROOT = Path(__file__).resolve().parent.parent
QUEUES = ",".join(broker.QUEUES)
# Workers started by the tests write every mail here, one file per connection (Django's file
# backend): tests count what was sent by reading them (tests/notifications/).
MAIL_DIR = ROOT / "var" / f"mail-{os.getpid()}"


@pytest.fixture(autouse=True, scope="session")
def _use_test_redis() -> None:
    """Point Django at the tests' own Redis database, and the Celery producer at the tests'
    broker."""
    settings.REDIS_URL = TEST_REDIS_URL
    settings.CELERY_BROKER_URL = TEST_BROKER_URL
    celery_app.conf.broker_url = TEST_BROKER_URL
    # --- API: the cache (throttle counters) in the tests' Redis too, and no throttling unless a
    # test sets ORDER_CREATE_THROTTLE_RATE through the `settings` fixture.
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": TEST_REDIS_URL}}
    caches._settings = caches.settings = caches.configure_settings(None)
    caches._connections = Local()
    settings.ORDER_CREATE_THROTTLE_RATE = None
    # Customer mail adds `notification_sent` events to timelines, after the pipeline's and in no
    # fixed order: off unless a test turns it on (tests/notifications/, with workers of their own).
    settings.NOTIFICATIONS_ENABLED = False


@pytest.fixture(autouse=True)
def _fresh_log_context() -> None:
    """Services bind the order they touch to the log context (ordersite/logs.py), and tasks sent
    from the test process carry it: no test inherits the previous test's order."""
    structlog.contextvars.clear_contextvars()


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
    """The environment a worker subprocess needs to see the test database, Redis and broker."""
    db = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        REDIS_URL=TEST_REDIS_URL,
        CELERY_BROKER_URL=TEST_BROKER_URL,
        PIPELINE_RETRY_BACKOFF="1",
        PIPELINE_RETRY_BACKOFF_MAX="2",
        DATABASE_CONN_MAX_AGE="0",
        PYTHONUNBUFFERED="1",
        LOG_TASK_LEVEL="INFO",  # tests read Celery's "succeeded"/"ignored" lines in worker logs
        LOG_FORMAT="json",  # ... one JSON object per line (log_records reads them)
        HEALTH_WORKER_TTL="3",  # a heartbeat a second: readiness sees a worker come and go quickly
        NOTIFICATIONS_ENABLED="false",  # see _use_test_redis
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(MAIL_DIR),
        # The tests' servers speak plain HTTP, with DEBUG off too (no redirect to https, cookies
        # sent without TLS).
        SECURE_SSL_REDIRECT="false",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
    )
    env.update(SANDBOX_ENV, **FAULT_TIMINGS)
    env.update(extra)
    return env


class WorkerProcess:
    """A `celery worker` we started; stopped by its own PID only."""

    def __init__(
        self,
        env: dict[str, str],
        queues: str = QUEUES,
        concurrency: int = 2,
        name: str = "test",
        pool_options: tuple[str, ...] = (),
    ) -> None:
        """`pool_options`, when given, replace `-c concurrency` (e.g. a pool and --autoscale)."""
        self._args = (env, queues, concurrency, name, pool_options)
        self.nodename = f"{name}-{os.getpid()}@{socket.gethostname()}"
        self.log = Path(ROOT / "var" / f"worker-{name}-{os.getpid()}.log")
        self.log.parent.mkdir(exist_ok=True)
        self._log_file = self.log.open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                *worker_argv(
                    queues.split(","),
                    node=self.nodename,
                    options=(
                        *(pool_options or ("-c", str(concurrency))),
                        *("-l", "info", "--without-mingle", "--without-gossip"),
                    ),
                ),
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

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes (by their PIDs), as a crashed host would."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        self.proc.kill()
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._log_file.close()

    def restart(self) -> None:
        """A fresh worker with the same settings, in place of this (killed or stopped) one."""
        self.__init__(*self._args)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log_file.close()


# --- Sandboxes (issue 5): the payment and carrier sandboxes, a real process over real HTTP --------
# Ports are taken from TEST_SANDBOX_PORTS; every worker started with worker_env() reaches them.
SANDBOX_ENV: dict[str, str] = {}
# Timings shortened for tests (never 30 s sleeps): breaker open time, read timeout, reconciler.
FAULT_TIMINGS = {
    "BREAKER_OPEN_SECONDS": "2",
    "GATEWAY_READ_TIMEOUT": "1.5",
    "SANDBOX_HANG_SECONDS": "3",
    "PIPELINE_STUCK_AFTER_SECONDS": "3",
    "PIPELINE_MAX_RETRIES": "8",
    "PIPELINE_REFUND_MAX_RETRIES": "3",  # a refused refund reaches the DLQ in seconds
}


def _free_ports(count: int) -> list[int]:
    low, high = map(int, os.environ.get("TEST_SANDBOX_PORTS", "8300-8399").split("-"))
    found = []
    for port in range(low, high + 1):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        found.append(port)
        if len(found) == count:
            return found
    raise RuntimeError(f"no {count} free ports in TEST_SANDBOX_PORTS")


@contextlib.contextmanager
def throwaway_redis(tmp_path: Path, *extra: str, conf: str = "") -> Iterator[int]:
    """A throwaway redis-server on a free port of the tests' own; stopped by its PID."""
    port = _free_ports(1)[0]
    config = tmp_path / f"redis-{port}.conf"
    config.write_text(
        f"port {port}\nbind 127.0.0.1\nsave ''\nappendonly no\ndir {tmp_path}\n{conf}"
    )
    proc = subprocess.Popen(
        ["redis-server", str(config), *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(lambda: _redis_answers(port), timeout=10)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _redis_answers(port: int) -> bool:
    try:
        return bool(redis.Redis(port=port, socket_timeout=0.5).ping())
    except redis.RedisError:
        return False


class SandboxProcess:
    """`manage.py run_sandboxes` on free ports of the tests' own; stopped by its own PID."""

    def __init__(self) -> None:
        pay, primary, fallback = (f"http://127.0.0.1:{port}" for port in _free_ports(3))
        self.urls = {"payments": pay, "carrier_primary": primary, "carrier_fallback": fallback}
        self.env = {
            "PAYMENT_GATEWAY_URL": pay,
            "CARRIER_PRIMARY_URL": primary,
            "CARRIER_FALLBACK_URL": fallback,
        }
        self.log = ROOT / "var" / f"sandboxes-{os.getpid()}.log"
        self.log.parent.mkdir(exist_ok=True)
        self._log_file = self.log.open("w")
        env = dict(
            os.environ,
            REDIS_URL=TEST_REDIS_URL,
            PYTHONUNBUFFERED="1",
            SANDBOXES_ENABLED="true",
            **self.env,
        )
        env["SANDBOX_HANG_SECONDS"] = FAULT_TIMINGS["SANDBOX_HANG_SECONDS"]
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "run_sandboxes"],
            cwd=ROOT,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while "sandboxes ready" not in self.log.read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"sandboxes did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.1)

    stop = WorkerProcess.stop  # SIGTERM by PID, SIGKILL if it lingers


@pytest.fixture(autouse=True, scope="session")
def sandboxes(_use_test_redis) -> Iterator[SandboxProcess]:
    """The sandboxes, for workers (worker_env) and for gateway calls made in the test process."""
    process = SandboxProcess()
    SANDBOX_ENV.update(process.env)
    settings.PAYMENT_GATEWAY_URL = process.urls["payments"]
    settings.CARRIER_URLS = {
        "primary": process.urls["carrier_primary"],
        "fallback": process.urls["carrier_fallback"],
    }
    yield process
    process.stop()


def refuses(url: str) -> bool:
    """True once a sandbox marked down refuses connections (a reset while closing is not yet)."""
    try:
        httpx.get(f"{url}/health", timeout=1)
    except httpx.ConnectError:
        return True
    except httpx.TransportError:
        return False
    return False


def _accepts(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as probe:
        return probe.connect_ex((host, int(port))) == 0


@pytest.fixture
def faults(sandboxes) -> Iterator[SandboxProcess]:
    """A test that injects faults starts and ends with none, empty ledgers, closed breakers."""
    client = redis.Redis.from_url(TEST_REDIS_URL)

    def quiet(url: str) -> bool:
        try:
            return httpx.get(f"{url}/health", timeout=2).json()["in_flight"] == 0
        except httpx.TransportError:
            return True  # down: nothing in flight

    def clear() -> None:
        # A request still sleeping in a sandbox would write into the next test's ledger.
        wait_for(lambda: all(quiet(url) for url in sandboxes.urls.values()), timeout=20)
        for pattern in ("sandbox:*", "{breaker:*"):
            for key in client.scan_iter(pattern):
                client.delete(key)
        wait_for(lambda: all(_accepts(url) for url in sandboxes.urls.values()), timeout=10)

    clear()
    yield sandboxes
    clear()
    client.close()


class WebProcess:
    """gunicorn serving ordersite on a free port of the tests' own, against the test database and
    Redis, as `make run` serves it (sync workers unless `threads` > 1); stopped by its own PID."""

    def __init__(self, *, workers: int = 2, threads: int = 1, **env: str) -> None:
        port = _free_ports(1)[0]
        self.url = f"http://127.0.0.1:{port}"
        self.log = ROOT / "var" / f"web-{port}-{os.getpid()}.log"
        self.log.parent.mkdir(exist_ok=True)
        self._log_file = self.log.open("w")
        defaults = {"CACHE_URL": TEST_REDIS_URL, "ORDER_CREATE_THROTTLE_RATE": "", "DEBUG": "false"}
        defaults["SECRET_KEY"] = "tests-only"
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "ordersite.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
        ]
        command += [
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--timeout",
            "60",
            "--access-logfile",
            "-",
        ]
        self._serve(command, worker_env(**{**defaults, **env}))

    def _serve(self, command: list[str], env: dict[str, str]) -> None:
        """Start `command` and wait until it answers on /api/v1/health (the live server too)."""
        self.proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self._log_file, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while not self._answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{command[2]} did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.1)

    def _answers(self) -> bool:
        try:
            return httpx.get(f"{self.url}/api/v1/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    stop = WorkerProcess.stop


@pytest.fixture
def web_server() -> Iterator[Callable[..., WebProcess]]:
    """Start gunicorn processes (`web_server(workers=3, SOME_SETTING="x")`); all stopped after the
    test. A test using it needs committed data: `django_db(transaction=True)`."""
    started: list[WebProcess] = []

    def start(**kwargs: Any) -> WebProcess:
        started.append(WebProcess(**kwargs))
        return started[-1]

    yield start
    for process in started:
        process.stop()


@pytest.fixture(scope="session")
def live_worker(
    django_db_setup,
    django_db_blocker,
    sandboxes,
    pgbouncer: PgBouncerProcess,  # noqa: F811
) -> Iterator[WorkerProcess]:
    """One real worker consuming every queue of the tests' broker, against the test database,
    which it reaches only through PgBouncer in transaction mode (tests/pgbouncer.py)."""
    broker.purge(TEST_BROKER_URL)
    with django_db_blocker.unblock():
        worker = WorkerProcess(worker_env(**pgbouncer.env))
    _live_workers.append(worker)
    yield worker
    _live_workers.remove(worker)
    worker.stop()


_live_workers: list[WorkerProcess] = []


def _pipeline_idle() -> bool:
    """No message waiting in a queue of the tests' broker, and no task running, reserved or
    waiting for its countdown in the session's workers."""
    if broker.backlog(TEST_BROKER_URL):
        return False
    nodes = [worker.nodename for worker in _live_workers]
    inspect = celery_app.control.inspect(destination=nodes, timeout=2, limit=len(nodes))
    return not any(
        tasks
        for method in (inspect.active, inspect.reserved, inspect.scheduled)
        for tasks in (method() or {}).values()
    )


@pytest.fixture(autouse=True)
def _quiet_pipeline_before_flush(request: pytest.FixtureRequest) -> Iterator[None]:
    """A transactional test ends with a TRUNCATE of every table; a session worker still writing
    (a compensation the test's orders sent) would deadlock with it. So wait, bounded, for the
    queues to drain first. Taking the db fixture here puts this teardown before its flush."""
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(marker and marker.kwargs.get("transaction")) or bool(
        {"live_server", "transactional_db"} & set(request.fixturenames)
    )
    if transactional:
        request.getfixturevalue("_django_db_helper")
    yield
    if transactional and _live_workers:
        with contextlib.suppress(AssertionError):
            wait_for(_pipeline_idle, timeout=20)


def without_live_publish(callbacks: list) -> list:
    """The on_commit callbacks a change registered, less the one publishing its events to the
    live stream (orders/live/publish.py): what it sends to the broker."""
    return [callback for callback in callbacks if not is_publish(callback)]


def wait_for(
    predicate: Callable[[], object], *, timeout: float = 30, interval: float = 0.1
) -> object:
    """Poll `predicate` until it returns something truthy (bounded, never a bare sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def log_records(log: Path) -> list[dict[str, Any]]:
    """The JSON log lines of a process we started (LOG_FORMAT=json), parsed; anything else it
    printed (Celery's banner) is skipped."""
    records = []
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                records.append(json.loads(line))
    return records


def task_result(worker: WorkerProcess, task_id: str) -> str | None:
    """What a task returned, read from its worker's log ("Task …[id] succeeded in …s: '…'"):
    successes store no result row (CELERY_TASK_IGNORE_RESULT)."""
    marker = f"[{task_id}] succeeded in "
    for record in log_records(worker.log):
        message = str(record.get("event", ""))
        if marker in message:
            return message.partition(marker)[2].partition(": ")[2].strip().strip("'\"")
        if f"[{task_id}] raised" in message:
            return message
    return None
