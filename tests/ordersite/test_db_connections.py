"""Workers keep their database connection across tasks; one the database dropped is replaced."""

import uuid

import pytest
from django.db import OperationalError, connection
from django_celery_results.models import TaskResult

from ordersite.celery import app, drop_broken_db_connections
from payments.tasks import authorize_payment

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_connection_the_database_dropped_is_closed_after_the_task():
    connection.ensure_connection()
    connection.connection.close()  # as a PostgreSQL restart leaves it: the socket is gone
    connection.errors_occurred = True  # Django sets this when a query fails on it
    drop_broken_db_connections()
    assert connection.connection is None
    with connection.cursor() as cursor:  # the next task connects afresh
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_a_healthy_connection_is_kept_across_tasks():
    connection.ensure_connection()
    kept = connection.connection
    drop_broken_db_connections()
    assert connection.connection is kept


def test_storing_a_result_on_a_dropped_connection_never_raises_into_celery():
    """Found by the postgres-restart chaos run under load: a step failed on a dropped connection,
    Celery stored its RETRY state on that same connection, the store raised outside the task
    body, and the message was never acknowledged; once every slot of a thread-pool worker held
    such a message, the worker took no more work and the orders behind it stalled for good."""
    connection.ensure_connection()
    connection.connection.close()
    app.backend.mark_as_retry("chaos-task-1", RuntimeError("gateway down"))  # must not raise
    assert connection.connection is None  # the dead connection was let go, not kept
    app.backend.mark_as_retry("chaos-task-1", RuntimeError("gateway down"))
    assert TaskResult.objects.get(task_id="chaos-task-1").status == "RETRY"


def test_a_step_that_failed_on_a_dropped_connection_lets_go_of_it_before_celery_records_the_failure():
    connection.ensure_connection()
    connection.connection.close()
    with pytest.raises(OperationalError):
        authorize_payment(str(uuid.uuid4()))  # its first query meets the dropped connection
    assert connection.connection is None
