"""The Celery app: settings come from Django's CELERY_* values; tasks are autodiscovered."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ordersite.settings")

app = Celery("ordersite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
