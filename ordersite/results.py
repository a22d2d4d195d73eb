"""The Celery result backend: django-celery-results' table, written so that storing a result
can never break the handling of the task it describes."""

import logging
from typing import Any

from django.db import DatabaseError
from django_celery_results.backends.database import DatabaseBackend

from .db_connections import close_broken_connections

logger = logging.getLogger(__name__)


class ResilientDatabaseBackend(DatabaseBackend):
    """Celery stores a failing step's RETRY or FAILURE state before it runs the step's own
    failure handling (the retry event, the dead-letter entry). With the stock backend, a
    database that is down or restarting makes that store raise outside the task body, and the
    message is then never acknowledged: a thread-pool worker whose every slot holds such a
    message stops taking work for good. A result row is a record for staff, nothing the pipeline
    reads (state lives on the order, failures in the dead-letter queue), so here a database
    error while storing one is logged and dropped, and a broken connection is closed so the next
    query connects afresh."""

    def _store_result(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super()._store_result(*args, **kwargs)
        except DatabaseError as exc:
            close_broken_connections()
            logger.warning("task result not stored (database unavailable): %r", exc)
            return None
