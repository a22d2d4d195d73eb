"""One registry of queue names, the Queue enum (ordersite/queues.py): Python derives every queue
from it, and the Procfile and docker-compose.yml, which cannot import it, are held to it here."""

import re
import shlex
from pathlib import Path

import pytest
import yaml
from django.conf import settings

from ordersite.queues import Queue, worker_argv

ROOT = Path(__file__).resolve().parent.parent
# Where a queue may be spelled as a string, and why.
ALLOWED = {
    Path("ordersite/queues.py"): "the enum itself",
    Path("tests/test_queue_registry.py"): "the scan's own examples of what it finds",
}

_NAME = "|".join(queue.value for queue in Queue)
_QUOTED = rf"""["'](?:{_NAME})["']"""
# A queue spelled as a string: given to a name, keyword or key that says queue (alone or first in
# a list), or in a worker's `-Q`. An app label or a sandbox that shares a queue's name is neither.
_QUEUE_LITERAL = re.compile(
    rf"""(?i:queue)\w*["']?\s*[=:]\s*[\[({{]?\s*{_QUOTED}|-Q[\s="',]+(?:{_NAME})\b"""
)


@pytest.mark.parametrize(
    "line",
    [
        'send_task(name, queue="payments")',
        '{"queue": "orders", "args": []}',
        'heartbeat(queues=["payments"])',
        'QUEUES = ("orders", "payments")',
        'STEP_OF_QUEUE = {"payments": AUTHORIZE}',
        '["-Q", "inventory", "-n", node]',
        'command = "celery -A ordersite worker -Q shipping"',
    ],
)
def test_the_scan_finds_a_queue_spelled_as_a_string(line):
    assert _QUEUE_LITERAL.search(line)


@pytest.mark.parametrize(
    "line",
    [
        "send_task(name, queue=Queue.PAYMENTS)",
        'set_faults("payments", error_rate=1.0)',
        'INSTALLED_APPS = ["orders",',
        'APPS = ("orders", "payments", "inventory")',
        'Report(checked={"orders": 6})',
        'worker_argv([queue], node=f"chaos-{queue}@%h")',
    ],
)
def test_the_scan_leaves_other_strings_alone(line):
    assert not _QUEUE_LITERAL.search(line)


def test_no_queue_is_spelled_outside_the_enum():
    offenders = []
    for path in sorted(ROOT.glob("**/*.py")):
        relative = path.relative_to(ROOT)
        if (
            relative.parts[0] in (".venv", "var")
            or "migrations" in relative.parts
            or relative in ALLOWED
        ):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if _QUEUE_LITERAL.search(line):
                offenders.append(f"{relative}:{number}: {line.strip()}")
    assert not offenders, "name queues through ordersite.queues.Queue:\n" + "\n".join(offenders)


def test_settings_take_every_queue_from_the_enum():
    assert tuple(Queue) == settings.WORKER_QUEUES
    assert list(settings.HEALTH_QUEUES) == list(Queue)
    assert [queue.name for queue in settings.CELERY_TASK_QUEUES] == list(Queue)
    assert settings.CELERY_TASK_DEFAULT_QUEUE in Queue


def _procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


def test_the_procfile_runs_one_worker_per_queue_with_the_shared_command_line():
    workers = {name: command for name, command in _procfile().items() if name.startswith("worker_")}
    assert set(workers) == {f"worker_{queue}" for queue in Queue}
    for queue in Queue:
        expected = shlex.join(worker_argv([queue], node=f"{queue}@%h"))
        assert workers[f"worker_{queue}"].startswith(f"{expected} "), (
            f"worker_{queue}: {workers[f'worker_{queue}']}"
        )


def test_compose_runs_one_worker_service_per_queue():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert {name for name in services if name.startswith("worker-")} == {
        f"worker-{queue}" for queue in Queue
    }
    for queue in Queue:
        assert services[f"worker-{queue}"]["command"] == _procfile()[f"worker_{queue}"]
