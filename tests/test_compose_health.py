"""docker-compose.yml's healthchecks, run for real: each service's command (as Compose splits it)
against the tests' database and Redis, then its healthcheck command as Docker would run it inside
the container (HOSTNAME is the container's host name). No Docker engine is needed for that."""

import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, WorkerProcess, _free_ports, wait_for, worker_env
from .deploy import compose_services, interpolate, run_healthcheck

HOSTNAME = socket.gethostname()


def _compose_env() -> dict[str, str]:
    return worker_env(
        HOSTNAME=HOSTNAME, PATH=f"{Path(sys.executable).parent}:{worker_env()['PATH']}"
    )


class ComposeProcess:
    """A compose service's command, split as Compose splits it (no shell); stopped by its PID."""

    def __init__(self, service: str, env: dict[str, str], tmp_path: Path) -> None:
        command = interpolate(compose_services()[service]["command"], env)
        self.log = tmp_path / f"{service}.log"
        self._log_file = self.log.open("w")
        self.proc = subprocess.Popen(
            shlex.split(command), cwd=ROOT, env=env, stdout=self._log_file, stderr=subprocess.STDOUT
        )

    stop = WorkerProcess.stop  # SIGTERM by PID, SIGKILL if it lingers


@pytest.fixture
def compose_process(tmp_path):
    started: list[ComposeProcess] = []

    def start(service: str, env: dict[str, str]) -> ComposeProcess:
        started.append(ComposeProcess(service, env, tmp_path))
        return started[-1]

    yield start
    for process in started:
        process.stop()


@pytest.mark.django_db(transaction=True)
def test_worker_healthcheck_answers_for_its_own_node_only(compose_process):
    env = _compose_env()
    worker = compose_process("worker-payments", env)
    wait_for(lambda: "ready." in worker.log.read_text(), timeout=60, interval=0.2)

    assert run_healthcheck("worker-payments", env).returncode == 0
    # The orders worker's check asks orders@<host>, which is not running: unhealthy.
    assert run_healthcheck("worker-orders", env).returncode != 0
    worker.stop()
    assert run_healthcheck("worker-payments", env).returncode != 0


@pytest.mark.django_db(transaction=True)
def test_beat_healthcheck_answers_while_beat_runs(compose_process):
    # Beat here must send nothing that a later test's worker would run: its periodic tasks are
    # an hour apart (the first is due one interval after start).
    env = _compose_env()
    env.update(PIPELINE_RECONCILE_EVERY_SECONDS="3600", CARRIER_PENDING_RETRY_SECONDS="3600")
    beat = compose_process("beat", env)

    def healthy() -> bool:
        assert beat.proc.poll() is None, beat.log.read_text()[-3000:]
        return run_healthcheck("beat", env).returncode == 0

    wait_for(healthy, timeout=90, interval=1)
    beat.stop()
    assert run_healthcheck("beat", env).returncode != 0


def test_web_healthcheck_answers_when_gunicorn_serves(web_server):
    web = web_server(workers=1)
    env = _compose_env()
    assert run_healthcheck("web", env, **{"http://127.0.0.1:8000/": f"{web.url}/"}).returncode == 0
    free = _free_ports(1)[0]
    assert (
        run_healthcheck(
            "web", env, **{"http://127.0.0.1:8000/": f"http://127.0.0.1:{free}/"}
        ).returncode
        != 0
    )


@pytest.mark.django_db(transaction=True)
def test_live_healthcheck_answers_while_the_live_server_runs(compose_process):
    """The `live` service's own command (uvicorn on LIVE_PORT), checked by its healthcheck."""
    env = {
        **_compose_env(),
        "LIVE_PORT": str(_free_ports(1)[0]),
        "SECRET_KEY": "tests-only",
        "DEBUG": "false",
    }
    live = compose_process("live", env)
    wait_for(lambda: run_healthcheck("live", env).returncode == 0, timeout=60, interval=0.5)
    live.stop()
    assert run_healthcheck("live", env).returncode != 0
