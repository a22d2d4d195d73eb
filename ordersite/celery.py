"""The Celery app: settings come from Django's CELERY_* values; tasks are autodiscovered; every
worker writes a heartbeat per queue for readiness and logs in the web's format
(ordersite/logs.py)."""

import os
from typing import Any

from celery import Celery, concurrency
from celery.signals import setup_logging, task_postrun
from django.conf import settings
from django.db import reset_queries

from . import kombu_fixes
from .celery_settings import CelerySettings
from .db_connections import close_broken_connections
from .logs import configure_worker_logging
from .worker_heartbeat import WorkerHeartbeat

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ordersite.settings")
kombu_fixes.apply()
# `--pool=threads` is our thread pool, which --autoscale and `celery control pool_grow` can resize
# (Celery's cannot). `--pool` accepts only Celery's pool names, not a dotted path, and resolves the
# name after the app is loaded, so the alias is the one way to select it on the command line.
concurrency.ALIASES["threads"] = "ordersite.thread_pool:ResizableThreadPool"  # type: ignore[attr-defined]

app = Celery("ordersite")
# Django's CELERY_* settings, read from a dict, not LazySettings (ordersite/celery_settings.py).
app.config_from_object(CelerySettings(), namespace="CELERY")
app.autodiscover_tasks()
app.steps["consumer"].add(WorkerHeartbeat)
setup_logging.connect(configure_worker_logging)


@task_postrun.connect
def drop_broken_db_connections(**_: Any) -> None:
    """After every task: a connection the database dropped must not fail every later task."""
    close_broken_connections()


@task_postrun.connect
def forget_logged_queries(task: Any = None, **_: Any) -> None:
    """With DEBUG (`make run`), Django keeps each connection's last 9,000 queries, which a web
    request clears as it starts; a worker's threads never did, so each thread's connection held
    about 6 MB of old SQL and the workers grew by tens of MB over 50,000 orders (`bench/load.py
    --memory-orders`). Each task now starts with an empty log; an eager task (a test's) runs
    inside its caller, whose log is left alone."""
    if settings.DEBUG and not getattr(getattr(task, "request", None), "is_eager", False):
        reset_queries()
