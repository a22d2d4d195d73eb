"""Two savings on every task published (orders/pipeline.py's task_signature and
ordersite/celery_settings.py), held here with what they must keep: the same message, the same
configuration, overrides still seen."""

import uuid

import kombu
import pytest
from celery.utils.saferepr import saferepr
from django.conf import LazySettings, settings
from django.test import override_settings

from notifications.services import SEND_NOTIFICATION
from orders.pipeline import pipeline_chain, task_signature
from orders.steps import AUTHORIZE, STEPS
from ordersite.celery import app
from ordersite.celery_settings import CelerySettings


@pytest.fixture
def memory_broker():
    """An in-memory broker with the pipeline's queues: the messages a publish writes, read back
    without touching the broker the other tests share."""
    with kombu.Connection("memory://") as connection:
        for queue in settings.CELERY_TASK_QUEUES:
            queue(connection.default_channel).declare()
        yield connection


def _published(connection: kombu.Connection, queue: str) -> kombu.Message:
    with connection.SimpleQueue(queue, no_ack=True) as simple:
        return simple.get(timeout=1)


def test_a_chain_is_published_with_its_arguments_text_written_once_not_by_saferepr(
    memory_broker, monkeypatch
):
    calls = []
    monkeypatch.setattr("celery.app.amqp.saferepr", lambda *a, **k: calls.append(a) or "")
    order_id = str(uuid.uuid4())
    pipeline_chain(order_id).apply_async(connection=memory_broker)
    message = _published(memory_broker, "payments")
    assert calls == []
    assert message.headers["task"] == AUTHORIZE
    assert message.headers["argsrepr"] == saferepr((order_id,)) == repr((order_id,))
    assert message.headers["kwargsrepr"] == saferepr({}) == "{}"
    # The rest of the chain rides along and carries its text too, for the steps that send it on.
    rest = message.payload[2]["chain"]
    assert [step["task"] for step in reversed(rest)] == list(STEPS[1:])
    assert {step["options"]["argsrepr"] for step in rest} == {repr((order_id,))}


def test_a_task_with_several_arguments_reads_as_saferepr_would_write_it(memory_broker):
    args = (str(uuid.uuid4()), str(uuid.uuid4()), "12")
    task_signature(SEND_NOTIFICATION, *args).apply_async(connection=memory_broker)
    message = _published(memory_broker, "notifications")
    assert message.headers["argsrepr"] == saferepr(args)
    assert message.payload[0] == list(args)


def test_celery_reads_django_settings_without_going_through_lazysettings(monkeypatch):
    assert isinstance(app.loader.conf, CelerySettings)
    assert app.conf.task_default_queue == settings.CELERY_TASK_DEFAULT_QUEUE
    assert app.conf.task_acks_late == settings.CELERY_TASK_ACKS_LATE
    assert app.conf.worker_prefetch_multiplier == settings.CELERY_WORKER_PREFETCH_MULTIPLIER
    looked_up = []
    real = LazySettings.__getattr__

    def counting(self, name):
        looked_up.append(name)
        return real(self, name)

    monkeypatch.setattr(LazySettings, "__getattr__", counting)
    app.conf.task_default_queue  # noqa: B018 - a lookup, as Celery makes a dozen per publish
    app.conf.task_compression  # noqa: B018 - a key Django's settings do not have
    assert looked_up == []


def test_an_overridden_celery_setting_is_what_celery_reads():
    before = app.conf.task_default_rate_limit
    with override_settings(CELERY_TASK_DEFAULT_RATE_LIMIT="7/s"):
        assert app.conf.task_default_rate_limit == "7/s"
    assert app.conf.task_default_rate_limit == before
