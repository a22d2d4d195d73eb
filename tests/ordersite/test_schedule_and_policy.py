"""Beat's schedule names real tasks, and each task carries the queue and retry policy declared
with it (orders/pipeline.py: step_task, beat_task), the one place they are written."""

import pytest
from django.conf import settings

from notifications.services import SEND_NOTIFICATION
from orders import steps
from orders.pipeline import TASKS, route_task
from ordersite.celery import app
from ordersite.queues import Queue

# The retries of each step, as the settings give them: pinned, so a declaration cannot drift.
RETRIES = {
    "payments.authorize_payment": "PIPELINE_MAX_RETRIES",
    "inventory.reserve_stock": "PIPELINE_MAX_RETRIES",
    "shipping.create_shipment": "PIPELINE_SHIP_MAX_RETRIES",
    "payments.capture_payment": "PIPELINE_COMPENSATION_MAX_RETRIES",
    "payments.void_payment": "PIPELINE_COMPENSATION_MAX_RETRIES",
    "inventory.release_stock": "PIPELINE_COMPENSATION_MAX_RETRIES",
    "shipping.cancel_shipment": "PIPELINE_COMPENSATION_MAX_RETRIES",
    "shipping.cancel_stray_booking": "PIPELINE_COMPENSATION_MAX_RETRIES",
    "payments.refund_payment": "PIPELINE_REFUND_MAX_RETRIES",
    "payments.refund_return": "PIPELINE_REFUND_MAX_RETRIES",
    "payments.abandon_refund": "PIPELINE_MAX_RETRIES",
    "notifications.send_notification": "NOTIFICATION_MAX_RETRIES",
}
QUEUES = {
    "payments.authorize_payment": Queue.PAYMENTS,
    "payments.void_payment": Queue.PAYMENTS,
    "payments.refund_payment": Queue.PAYMENTS,
    "payments.refund_return": Queue.PAYMENTS,
    "payments.abandon_refund": Queue.PAYMENTS,
    "payments.capture_payment": Queue.ORDERS,
    "inventory.reserve_stock": Queue.INVENTORY,
    "inventory.release_stock": Queue.INVENTORY,
    "shipping.create_shipment": Queue.SHIPPING,
    "shipping.cancel_shipment": Queue.SHIPPING,
    "shipping.cancel_stray_booking": Queue.SHIPPING,
    "shipping.retry_pending_shipments": Queue.SHIPPING,
    "shipping.poll_deliveries": Queue.SHIPPING,
    "orders.purge_idempotency_keys": Queue.ORDERS,
    "orders.resend_stuck_orders": Queue.ORDERS,
    "notifications.send_notification": Queue.NOTIFICATIONS,
    "notifications.resend_lost_notifications": Queue.NOTIFICATIONS,
}


@pytest.fixture(scope="module", autouse=True)
def _tasks_imported():
    app.loader.import_default_modules()


def _app_tasks() -> set[str]:
    """The tasks of the apps (not Celery's own, nor those tests and benchmarks define)."""
    return {name for name in app.tasks if name.split(".")[0] not in ("celery", "tests", "bench")}


def test_every_beat_entry_names_a_registered_task():
    assert {"orders.resend_stuck_orders", "shipping.retry_pending_shipments"} <= {
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }
    assert all(entry["task"] in app.tasks for entry in settings.CELERY_BEAT_SCHEDULE.values())


def test_every_task_is_declared_with_a_queue_and_a_retry_policy_and_runs_with_that_policy():
    assert _app_tasks() == set(TASKS), (
        "declare tasks with step_task or beat_task (orders/pipeline.py)"
    )
    for name in _app_tasks():
        assert TASKS[name].queue in Queue, name
        assert app.tasks[name].max_retries == TASKS[name].retry.max_retries, name


def test_each_step_keeps_its_retries():
    for name, setting in RETRIES.items():
        assert app.tasks[name].max_retries == getattr(settings, setting), name
    beat_tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert all(TASKS[name].retry.max_retries == 0 for name in beat_tasks), (
        "beat runs them again instead"
    )


def test_every_task_is_routed_to_its_declared_queue_which_a_worker_consumes():
    assert {name: declared.queue for name, declared in TASKS.items()} == QUEUES
    for name in TASKS:
        route = app.amqp.router.route({}, name)
        assert route["queue"].name == TASKS[name].queue, name
        assert route["queue"].name in settings.WORKER_QUEUES, name
    assert route_task("tests.never_declared") is None, (
        "an undeclared task falls to the default queue"
    )


def test_every_task_sent_by_name_is_declared():
    """No dead configuration: each name the apps send by name (a step, a compensation, a refund,
    a mail) is a task some app declares."""
    sent = {
        *steps.STEPS,
        *steps.STEP_FOR_STATUS.values(),
        *steps.COMPENSATIONS,
        *steps.UNDO_STEPS,
        *steps.REFUND_STEPS,
        steps.ABANDON_REFUND,
        SEND_NOTIFICATION,
    }
    assert sent <= set(TASKS), sent - set(TASKS)
