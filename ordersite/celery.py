"""The Celery app: settings come from Django's CELERY_* values; tasks are autodiscovered; every
worker writes a heartbeat per queue for readiness."""

import os
import time
from typing import Any

from celery import Celery, concurrency
from celery.signals import task_postrun
from django.db import connections

from .worker_heartbeat import WorkerHeartbeat

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ordersite.settings")
# `--pool=threads` is our thread pool, which --autoscale and `celery control pool_grow` can resize
# (Celery's cannot). `--pool` accepts only Celery's pool names, not a dotted path, and resolves the
# name after the app is loaded, so the alias is the one way to select it on the command line.
concurrency.ALIASES["threads"] = "ordersite.thread_pool:ResizableThreadPool"

app = Celery("ordersite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.steps["consumer"].add(WorkerHeartbeat)


@task_postrun.connect
def drop_broken_db_connections(**_: Any) -> None:
    """Workers keep their database connection across tasks (CELERY_DB_REUSE_MAX), so Celery's
    fixup no longer closes it, and nothing would notice one the database dropped (a PostgreSQL
    restart): every later task would fail on it until the worker restarted. This is Django's
    per-request check without its ping: close a connection that raised a database error and no
    longer answers, or that outlived CONN_MAX_AGE; the next task connects afresh."""
    for conn in connections.all(initialized_only=True):
        if conn.connection is None or conn.in_atomic_block:
            continue
        if conn.errors_occurred:
            if conn.is_usable():
                conn.errors_occurred = False
            else:
                conn.close()
                continue
        if conn.close_at is not None and time.monotonic() >= conn.close_at:
            conn.close()
