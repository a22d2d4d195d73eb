"""Beat runs once, however many are started: django-celery-beat's DatabaseScheduler has no lock,
so two beats (a second host, a deploy that overlaps the old one) would send every periodic task
twice. This scheduler dispatches only while it holds a Redis lock (`BEAT_LOCK_KEY`, from the
one Redis factory), renewed on every tick; the others stand by and check it every third of
BEAT_LOCK_SECONDS. A beat that stops releases the lock; one that is killed lets it expire, and a
standby takes over within BEAT_LOCK_SECONDS, re-reading the schedule (last runs included) from
the database first. Without Redis no beat can tell that it is alone, so none dispatches; without
PostgreSQL the schedule cannot be read, so the holder waits for it (it never exits for that).

Why not celery-redbeat: it moves the schedule into Redis, and the admin's editable schedule
(django-celery-beat's tables, where the reconciler's interval lives) would be lost; the lock is
all that is missing here, and it is this small."""

import logging
import signal
import threading
from typing import Any

import redis
from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django_celery_beat.schedulers import DatabaseScheduler
from redis.exceptions import LockError

from . import redis as redis_factory

logger = logging.getLogger(__name__)

BEAT_LOCK_KEY = "ordersite:beat:lock"


class LockedDatabaseScheduler(DatabaseScheduler):
    """DatabaseScheduler that ticks only while it holds the beat lock."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._lock: Any = None
        self._holding = False
        self._stop_asked = False
        super().__init__(*args, **kwargs)
        if threading.current_thread() is threading.main_thread():
            self._remember_sigterm()

    def _remember_sigterm(self) -> None:
        """Celery's beat stops on SIGTERM by raising SystemExit from the signal handler; raised
        inside a publish's socket read, redis-py turns it into an error that Celery logs and
        carries on from, and the beat would run on holding the lock until it is killed. The
        request is remembered here, so the next tick exits and `close` hands the lock back."""
        previous = signal.getsignal(signal.SIGTERM)

        def on_sigterm(signum: int, frame: Any) -> None:
            self._stop_asked = True
            if callable(previous):
                previous(signum, frame)

        signal.signal(signal.SIGTERM, on_sigterm)

    def _renew_every(self) -> float:
        return max(settings.BEAT_LOCK_SECONDS / 3, 0.1)

    def _hold_lock(self) -> bool:
        """Renew the lock if held, else try to take it (never blocks)."""
        if self._lock is None:
            client = redis_factory.client(timeout=max(settings.BEAT_LOCK_SECONDS / 3, 0.5))
            self._lock = client.lock(
                BEAT_LOCK_KEY, timeout=settings.BEAT_LOCK_SECONDS, blocking=False
            )
        try:
            if self._holding:
                self._lock.reacquire()
                return True
            if self._lock.acquire(blocking=False):
                logger.info("beat: took the beat lock; this beat now sends the periodic tasks")
                self._holding = True
                # Another beat may have run the schedule meanwhile: start from the database's
                # last runs, not from what this process read when it started.
                self._initial_read = True
                self._heap = None
                return True
        except LockError:
            logger.warning("beat: lost the beat lock (expired); standing by")
        except redis.RedisError:
            logger.warning(
                "beat: Redis unreachable, cannot hold the beat lock; standing by", exc_info=True
            )
        self._holding = False
        return False

    def tick(self, *args: Any, **kwargs: Any) -> float:
        if self._stop_asked:
            raise SystemExit()
        if not self._hold_lock():
            return self._renew_every()
        try:
            return min(super().tick(*args, **kwargs), self._renew_every())
        except DatabaseError:
            # django-celery-beat guards some of its reads, not the full re-read (on taking the
            # lock, and every few minutes), and the beat would exit on a PostgreSQL restart.
            logger.warning(
                "beat: PostgreSQL unreachable, schedule not read; waiting", exc_info=True
            )
            close_old_connections()
            self._initial_read = True  # read it whole once the database answers
            self._heap = None
            return self._renew_every()

    def close(self) -> None:
        super().close()
        if self._holding:
            try:
                self._lock.release()
            except (LockError, redis.RedisError):
                logger.warning("beat: could not release the beat lock (it expires)", exc_info=True)
            self._holding = False
