"""Workers keep their database connection across tasks; one the database dropped is replaced."""

import pytest
from django.db import connection

from ordersite.celery import drop_broken_db_connections

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
