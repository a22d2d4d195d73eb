"""Workers keep their database connection across tasks; one the database dropped is replaced."""

import uuid

import pytest
from django.db import DatabaseError, OperationalError, connection
from django_celery_results.models import TaskResult

from orders.pipeline import _outage_wait
from ordersite.celery import app, drop_broken_db_connections
from ordersite.db_connections import close_broken_connections, database_unreachable
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


def test_a_step_failing_on_a_dropped_connection_lets_go_of_it_before_celery_records_the_failure():
    connection.ensure_connection()
    connection.connection.close()
    with pytest.raises(OperationalError):
        authorize_payment(str(uuid.uuid4()))  # its first query meets the dropped connection
    assert connection.connection is None


def _raised_by(sql: str, *, drop_first: bool = False) -> BaseException:
    connection.ensure_connection()
    if drop_first:
        connection.connection.close()
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
    except DatabaseError as exc:
        return exc
    raise AssertionError(f"{sql} did not fail")


def test_an_unreachable_database_is_an_outage_to_wait_out_without_spending_a_retry(settings):
    """Found by the postgres-restart chaos run: a shipping step spent its three retries inside a
    four-second PostgreSQL restart, was dead-lettered, and its order went on without it."""
    dropped = _raised_by("SELECT 1", drop_first=True)
    assert database_unreachable(dropped)
    assert _outage_wait(dropped) == settings.PIPELINE_DATABASE_WAIT_SECONDS
    close_broken_connections()


def test_a_statement_that_failed_on_a_live_database_is_the_steps_own_fault():
    timed_out = _raised_by("SET statement_timeout = 1; SELECT pg_sleep(1)")
    connection.close()  # the next test must not inherit the 1 ms timeout
    assert isinstance(timed_out, OperationalError)  # psycopg's QueryCanceled, SQLSTATE 57014
    assert not database_unreachable(timed_out)
    assert _outage_wait(timed_out) is None
    assert not database_unreachable(RuntimeError("gateway down"))
