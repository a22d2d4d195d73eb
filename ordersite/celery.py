"""The Celery app: settings come from Django's CELERY_* values; tasks are autodiscovered; every
worker writes a heartbeat per queue for readiness."""

import os

from celery import Celery

from .worker_heartbeat import WorkerHeartbeat

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ordersite.settings")

app = Celery("ordersite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.steps["consumer"].add(WorkerHeartbeat)
