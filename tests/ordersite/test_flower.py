"""Flower as the Procfile starts it: a login unless DEBUG, loopback only, history kept across
restarts, task names and order ids readable. Real Flower processes on the tests' own ports and
Redis, each stopped by its own PID."""

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from ordersite.celery import app as celery_app

from ..conftest import ROOT, TEST_BROKER_URL, TEST_REDIS_URL, WorkerProcess, _free_ports, wait_for
from ..deploy import run_healthcheck
from ..test_conventions import _procfile

LOGIN = ("ops", "flower-test-password")


class FlowerProcess:
    """The Procfile's `flower` line, run by bash as honcho runs it."""

    def __init__(self, tmp_path: Path, **env: str) -> None:
        self.port = _free_ports(1)[0]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / f"flower-{self.port}.log"
        environment = dict(
            os.environ,
            REDIS_URL=TEST_REDIS_URL,
            CELERY_BROKER_URL=TEST_BROKER_URL,
            FLOWER_PORT=str(self.port),
            FLOWER_DB=str(tmp_path / "flower.db"),
            SECRET_KEY="tests-only",
            PYTHONUNBUFFERED="1",
            PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        )
        environment.update(env)
        self.env = environment
        self._log_file = self.log.open("w")
        self.proc = subprocess.Popen(
            ["bash", "-c", f"exec {_procfile()['flower']}"],
            cwd=ROOT,
            env=environment,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self) -> None:
        def answers() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"Flower exited:\n{self.log.read_text()[-3000:]}")
            try:
                return httpx.get(f"{self.url}/healthcheck", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(answers, timeout=60, interval=0.2)

    stop = WorkerProcess.stop  # SIGTERM by PID, SIGKILL if it lingers


@pytest.fixture
def start_flower(tmp_path):
    started: list[FlowerProcess] = []

    def start(**env: str) -> FlowerProcess:
        started.append(FlowerProcess(tmp_path, **env))
        return started[-1]

    yield start
    for process in started:
        process.stop()


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on `port`, read from /proc/net/tcp{,6}."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:
                found.add(address)
    return found


def test_flower_refuses_to_start_without_a_login_when_debug_is_off(start_flower):
    flower = start_flower(DEBUG="false", FLOWER_BASIC_AUTH="")
    assert flower.proc.wait(timeout=60) != 0
    output = flower.log.read_text()
    assert "Flower refuses to start without a login when DEBUG is false" in output
    assert "FLOWER_BASIC_AUTH" in output
    assert not _listening_addresses(flower.port)


def test_flower_asks_for_its_login_and_listens_on_loopback_only(start_flower):
    flower = start_flower(DEBUG="false", FLOWER_BASIC_AUTH=":".join(LOGIN))
    flower.wait_ready()

    assert httpx.get(f"{flower.url}/", timeout=10).status_code == 401
    assert httpx.get(f"{flower.url}/api/workers", timeout=10).status_code == 401
    assert httpx.get(f"{flower.url}/", auth=("ops", "wrong"), timeout=10).status_code == 401
    assert httpx.get(f"{flower.url}/", auth=LOGIN, timeout=10).status_code == 200
    # Prometheus scrapes /metrics without a login (Flower serves it open, as README says).
    metrics = httpx.get(f"{flower.url}/metrics", timeout=10)
    assert metrics.status_code == 200
    assert "# TYPE flower_events_total counter" in metrics.text
    assert _listening_addresses(flower.port) == {"0100007F"}  # 127.0.0.1, nothing else
    assert run_healthcheck("flower", flower.env).returncode == 0  # docker-compose.yml's check


def test_flower_under_debug_starts_without_a_login(start_flower):
    flower = start_flower(DEBUG="true", FLOWER_BASIC_AUTH="")
    flower.wait_ready()

    assert httpx.get(f"{flower.url}/", timeout=10).status_code == 200
    assert "Flower has no login (DEBUG)" in flower.log.read_text()


def _send_step_event(task_id: str, order_id: str) -> None:
    """A worker's task-received event for a pipeline step, as a worker with events on sends it."""
    with celery_app.connection_for_write() as conn:
        dispatcher = celery_app.events.Dispatcher(conn, hostname="payments@test-host", enabled=True)
        dispatcher.send(
            "task-received",
            uuid=task_id,
            name="payments.authorize_payment",
            args=f"('{order_id}',)",
            kwargs="{}",
            retries=0,
            root_id=task_id,
            parent_id=None,
        )
        dispatcher.close()


def _tasks_page_rows(flower: FlowerProcess, search: str = "") -> list[dict]:
    """The rows of Flower's tasks page, as its table asks for them."""
    query = {
        "draw": "1",
        "start": "0",
        "length": "10",
        "search[value]": search,
        "order[0][column]": "0",
        "order[0][dir]": "asc",
        "columns[0][data]": "name",
    }
    answer = httpx.get(f"{flower.url}/tasks/datatable", params=query, auth=LOGIN, timeout=10)
    answer.raise_for_status()
    return answer.json()["data"]


def test_flower_shows_steps_by_order_and_keeps_them_across_a_restart(start_flower, redis_client):
    env = {"DEBUG": "false", "FLOWER_BASIC_AUTH": ":".join(LOGIN)}
    flower = start_flower(**env)
    flower.wait_ready()
    task_id, order_id = str(uuid.uuid4()), str(uuid.uuid4())

    def seen() -> list[dict]:
        _send_step_event(task_id, order_id)  # again until Flower's event receiver has subscribed
        return _tasks_page_rows(flower)

    rows = wait_for(seen, timeout=30, interval=0.5)
    assert rows[0]["name"] == "payments.authorize_payment"
    assert rows[0]["uuid"] == task_id
    assert rows[0]["args"] == f"order {order_id}"
    assert [row["uuid"] for row in _tasks_page_rows(flower, search=order_id)] == [task_id]
    assert _tasks_page_rows(flower, search=str(uuid.uuid4())) == []
    page = httpx.get(f"{flower.url}/tasks", auth=LOGIN, timeout=10).text
    shown = re.findall(r'<th data-column="(\w+)">', page)
    assert shown[:3] == ["name", "args", "kwargs"]

    flower.stop()
    assert flower.proc.returncode == 0
    again = start_flower(**env)
    again.wait_ready()
    rows = _tasks_page_rows(again)
    assert [row["uuid"] for row in rows] == [task_id]
    assert rows[0]["args"] == f"order {order_id}"
