"""The live server as `make run` starts it: uvicorn serving ordersite.asgi on a free port of the
tests' own, against the test database and Redis; stopped by its own PID."""

import json
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from websockets.sync.client import ClientConnection, connect

from ..conftest import ROOT, TEST_REDIS_URL, WebProcess, _free_ports, worker_env
from ..factories import ProductFactory, UserFactory


class LiveProcess(WebProcess):
    """The Procfile's `live` (uvicorn), where WebProcess is its `web` (gunicorn)."""

    def __init__(self, **env: str) -> None:
        port = _free_ports(1)[0]
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}/ws"
        self.log = ROOT / "var" / f"live-{port}.log"
        self.log.parent.mkdir(exist_ok=True)
        self._log_file = self.log.open("w")
        # The test process's SECRET_KEY: sessions it logs in are signed with it.
        defaults = {"CACHE_URL": TEST_REDIS_URL, "ORDER_CREATE_THROTTLE_RATE": "", "DEBUG": "false"}
        defaults.update(SECRET_KEY=settings.SECRET_KEY, LIVE_HEARTBEAT_SECONDS="1")
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "ordersite.asgi:application",
            "--host",
            "127.0.0.1",
        ]
        command += ["--port", str(port), "--timeout-graceful-shutdown", "2"]
        self._serve(command, worker_env(**{**defaults, **env}))


@pytest.fixture
def live_server_process() -> Iterator[Callable[..., LiveProcess]]:
    """Start live servers (`live_server_process(SOME_SETTING="x")`); stopped after the test. A
    test using it needs committed data: `django_db(transaction=True)`."""
    started: list[LiveProcess] = []

    def start(**env: str) -> LiveProcess:
        started.append(LiveProcess(**env))
        return started[-1]

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def live(live_server_process, redis_client) -> LiveProcess:
    return live_server_process()


@pytest.fixture
def catalog(db):
    return [
        ProductFactory(sku="prod-1", name="Widget", price_cents=1000),
        ProductFactory(sku="prod-2", price_cents=250),
    ]


@pytest.fixture
def cust_123(db):
    """Seed 004's customer, whose username is the seed's customer_id."""
    return UserFactory(username="cust-123")


def receive_json(ws: ClientConnection, timeout: float = 10) -> dict[str, Any]:
    return json.loads(ws.recv(timeout=timeout))


def events_until(
    ws: ClientConnection, name: str, timeout: float = 30, *, order_id: str | None = None
) -> list[dict[str, Any]]:
    """The `event` messages received until one whose action is `name` (inclusive), of order
    `order_id` only if given."""
    deadline = time.monotonic() + timeout
    received = []
    while True:
        message = receive_json(ws, timeout=max(0.1, deadline - time.monotonic()))
        assert message["type"] == "event", message
        if order_id is not None and next(iter(message["action"].values()))["order_id"] != order_id:
            continue
        received.append(message)
        if name in message["action"]:
            return received


def ws_connect(
    live: LiveProcess,
    *,
    token: str | None = None,
    query: str = "",
    headers: dict[str, str] | None = None,
) -> ClientConnection:
    headers = {**(headers or {}), **({"Authorization": f"Token {token}"} if token else {})}
    return connect(f"{live.ws_url}{query}", additional_headers=headers, open_timeout=10)
