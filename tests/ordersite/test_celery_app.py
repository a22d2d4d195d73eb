"""The Celery app loads as the Procfile starts it: `celery -A ordersite …` in a shell where
DJANGO_SETTINGS_MODULE is not set (the app sets it). A module the app imports before that must
not touch Django's settings: once one did, and every process of `make run` died at start."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_procfile_kind_of_process_loads_the_app_without_django_settings_module():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    for args in (["-m", "celery", "-A", "ordersite", "report"], ["-c", "import ordersite.celery"]):
        done = subprocess.run(
            [sys.executable, *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]


def _run_postrun(task) -> None:
    from celery.signals import task_postrun

    task_postrun.send(
        sender=task, task_id="t", task=task, args=(), kwargs={}, retval=None, state="SUCCESS"
    )


def test_with_debug_a_worker_task_leaves_no_logged_queries_behind(settings):
    """With DEBUG, Django keeps a connection's last 9,000 queries; a worker thread's connection
    filled to about 6 MB before each task started clearing it (ordersite/celery.py)."""
    from django.db import connection

    from notifications.tasks import send_notification as task

    settings.DEBUG = True
    connection.queries_log.append({"sql": "SELECT 1", "time": "0.000"})
    _run_postrun(task)
    assert len(connection.queries_log) == 0


def test_an_eager_task_leaves_its_callers_logged_queries_alone(settings):
    """A test's eager task runs inside its caller, which may be counting queries."""
    from django.db import connection

    from notifications.tasks import send_notification as task

    settings.DEBUG = True
    connection.queries_log.append({"sql": "SELECT 1", "time": "0.000"})
    task.push_request(is_eager=True)
    try:
        _run_postrun(task)
    finally:
        task.pop_request()
    assert len(connection.queries_log) == 1
    connection.queries_log.clear()
