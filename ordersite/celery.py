"""The Celery app: settings come from Django's CELERY_* values; tasks are autodiscovered; every
worker writes a heartbeat per queue for readiness and logs in the web's format (ordersite/logs.py)."""

import os
from typing import Any

from celery import Celery
from celery.signals import setup_logging, task_postrun

from . import kombu_fixes
from .db import close_broken_connections
from .logs import configure_worker_logging
from .worker_heartbeat import WorkerHeartbeat

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ordersite.settings")
kombu_fixes.apply()

app = Celery("ordersite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.steps["consumer"].add(WorkerHeartbeat)
setup_logging.connect(configure_worker_logging)


@task_postrun.connect
def drop_broken_db_connections(**_: Any) -> None:
    """After every task: a connection the database dropped must not fail every later task."""
    close_broken_connections()
