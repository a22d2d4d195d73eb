"""Starting an order's chain after commit when the broker may be unreachable: a failed send is
kept in this process and sent again every PIPELINE_START_RETRY_SECONDS until the broker takes it.

Why in the web process: the broker (Redis) is exactly what is down, so a retry list kept there
or sent through it would be lost or unreachable too; the database would need a new table for a
state that lasts seconds. A beat sweep of `pending` orders cannot tell "never sent" from "waiting
in a long queue", and would double every queued order under load. The process knows exactly which
sends failed, so it retries just those, and one attempt per round tells it whether the broker is
back. If the process dies first (a deploy during a broker outage), the ids are logged at exit and
the reconciler (orders.resend_stuck_orders) starts those orders after PIPELINE_STUCK_AFTER_SECONDS.
"""

import atexit
import contextvars
import functools
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from django.conf import settings
from kombu.exceptions import KombuError
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# What a send raises when the broker is unreachable (kombu wraps most of them in OperationalError).
BROKER_ERRORS: tuple[type[BaseException], ...] = (KombuError, RedisError, OSError)
# Beyond this many deferred starts in one process, further ones are left to the reconciler.
MAX_DEFERRED = 10_000


class DeferredStarts:
    """Failed sends by key (an order id), oldest first, and the one thread retrying them. The
    thread exists only while something waits, and is started again after a fork."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: OrderedDict[str, Callable[[], object]] = OrderedDict()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def send_or_defer(self, key: str, send: Callable[[], object]) -> bool:
        """Send now; if the broker cannot be reached, keep it for the retry thread. True if sent."""
        try:
            send()
        except BROKER_ERRORS:
            logger.warning(
                "pipeline start of %s deferred: broker unreachable",
                key,
                exc_info=True,
                extra={"order_id": key},
            )
            self._defer(key, send)
            return False
        return True

    def is_deferred(self, key: str) -> bool:
        with self._lock:
            return key in self._pending

    def pending(self) -> list[str]:
        with self._lock:
            return list(self._pending)

    def _defer(self, key: str, send: Callable[[], object]) -> None:
        with self._lock:
            if len(self._pending) >= MAX_DEFERRED:
                logger.error("pipeline start of %s left to the reconciler: too many deferred", key)
                return
            # The retry thread sends it later, with the context it had now (the order's log ids).
            self._pending[key] = functools.partial(contextvars.copy_context().run, send)
            if self._thread is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._retry, name="pipeline-start-retry", daemon=True
                )
                self._thread.start()

    def _retry(self) -> None:
        """Every PIPELINE_START_RETRY_SECONDS, send the waiting starts oldest first; the first
        that fails ends the round (the broker is still down), so an outage costs one connection
        attempt per round however many orders wait."""
        while True:
            time.sleep(settings.PIPELINE_START_RETRY_SECONDS)
            for key, send in self._snapshot():
                try:
                    send()
                except BROKER_ERRORS:
                    break
                except Exception:
                    # Not the broker: a bug. Retrying cannot fix it; the reconciler will try later.
                    logger.exception(
                        "pipeline start of %s failed; left to the reconciler",
                        key,
                        extra={"order_id": key},
                    )
                else:
                    logger.info(
                        "pipeline start of %s sent after deferral", key, extra={"order_id": key}
                    )
                with self._lock:
                    self._pending.pop(key, None)
            with self._lock:
                if not self._pending:
                    self._thread = None
                    return

    def _snapshot(self) -> list[tuple[str, Callable[[], object]]]:
        with self._lock:
            return list(self._pending.items())


deferred_starts = DeferredStarts()


@atexit.register
def _log_unsent() -> None:
    """The process is going away with starts still unsent: name them, the reconciler will pick
    them up."""
    unsent = deferred_starts.pending()
    if unsent:
        logger.error(
            "exiting with %d pipeline starts unsent (the reconciler will send them): %s",
            len(unsent),
            unsent,
        )
