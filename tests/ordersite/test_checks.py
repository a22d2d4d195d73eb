"""The startup checks refuse settings under which the broker would deliver a step twice: countdowns
that Redis' visibility timeout would cut short, and on RabbitMQ tasks that outlast the consumer
timeout or a delivery limit that drops a poison message before the DLQ sees it."""

import subprocess
import sys

from django.core.checks import run_checks

from ..conftest import ROOT

REDIS = "redis://127.0.0.1:6379/0"
RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"


def _ours() -> list[str]:
    return sorted(m.id for m in run_checks() if m.id and m.id.startswith("ordersite."))


def test_defaults_pass_on_both_brokers(settings):
    for url in (REDIS, RABBITMQ):
        settings.CELERY_BROKER_URL = url
        assert _ours() == [], url


def test_a_breaker_open_longer_than_the_visibility_timeout_is_an_error_on_redis_only(settings):
    settings.CELERY_BROKER_URL = REDIS
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 20}
    settings.PIPELINE_RETRY_BACKOFF_MAX = 10
    settings.BREAKER_OPEN_SECONDS = 30
    settings.PIPELINE_STUCK_AFTER_SECONDS = 300
    assert _ours() == ["ordersite.E001"]
    # On RabbitMQ the countdown waits in the broker (delayed delivery): no visibility timeout.
    settings.CELERY_BROKER_URL = RABBITMQ
    assert _ours() == []


def test_a_task_time_limit_the_consumer_timeout_would_cut_is_an_error_on_rabbitmq_only(settings):
    settings.CELERY_BROKER_URL = RABBITMQ
    settings.CELERY_TASK_TIME_LIMIT = 90
    settings.CELERY_WORKER_PREFETCH_MULTIPLIER = 1
    settings.RABBITMQ_CONSUMER_TIMEOUT = 180  # a prefetched task waits one limit, then runs one
    assert _ours() == ["ordersite.E002"]
    settings.RABBITMQ_CONSUMER_TIMEOUT = 181
    assert _ours() == []
    settings.CELERY_WORKER_PREFETCH_MULTIPLIER = 4
    assert _ours() == ["ordersite.E002"]
    settings.CELERY_BROKER_URL = REDIS
    assert _ours() == []


def test_a_delivery_limit_below_our_delivery_count_is_an_error_on_rabbitmq(settings):
    """RabbitMQ delivers a message 1 + limit times (tests/ordersite/test_queues.py shows it); our
    count parks it on its delivery 1 + DLQ_MAX_DELIVERIES, which must still come."""
    settings.CELERY_BROKER_URL = RABBITMQ
    settings.DLQ_MAX_DELIVERIES = 3
    settings.RABBITMQ_DELIVERY_LIMIT = 2
    assert _ours() == ["ordersite.E003"]
    settings.RABBITMQ_DELIVERY_LIMIT = 3
    assert _ours() == []


def test_manage_py_check_refuses_to_start_with_a_short_consumer_timeout():
    """From the environment, as a deployment sets it: `check` (and so `migrate`, `runserver`)
    fails, naming the setting."""
    env = {
        "CELERY_BROKER_URL": RABBITMQ,
        "RABBITMQ_CONSUMER_TIMEOUT": "60",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "ordersite.E002" in done.stderr
    assert "RABBITMQ_CONSUMER_TIMEOUT (60s)" in done.stderr


def test_a_reconciler_faster_than_the_breaker_is_a_warning(settings):
    settings.CELERY_BROKER_URL = REDIS
    settings.PIPELINE_STUCK_AFTER_SECONDS = 10
    assert _ours() == ["ordersite.W001"]
