"""The health of this thread's PostgreSQL connections, as workers see it: which errors mean the
database is out of reach, and letting go of a connection it dropped.

Imports nothing but Django's database layer: ordersite/celery.py loads it before Django's
settings are configured (a worker started without DJANGO_SETTINGS_MODULE set)."""

import time

from django.db import InterfaceError, OperationalError, connections


def close_broken_connections() -> None:
    """Close every database connection of this thread that raised an error and no longer
    answers, or that outlived CONN_MAX_AGE; the next query connects afresh.

    Why: workers keep their connection across tasks (CELERY_DB_REUSE_MAX), so Celery's fixup no
    longer closes it, and nothing else notices one the database dropped (a PostgreSQL restart).
    This is Django's per-request check, without its ping on a healthy connection."""
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


def database_unreachable(exc: BaseException) -> bool:
    """True when `exc` says PostgreSQL cannot be reached at all (refused, dropped, restarting,
    shutting down), not that a statement failed (a deadlock, a timeout): an outage to wait out,
    not a fault of the work. Errors from the server carry a SQLSTATE; classes 08 (connection)
    and 57P (operator intervention) are outages, and a failure on our side of the socket has
    none."""
    if not isinstance(exc, (OperationalError, InterfaceError)):
        return False
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    return sqlstate is None or sqlstate.startswith(("08", "57P"))
