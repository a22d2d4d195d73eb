"""The order pipeline: every task's declaration (name, queue, retry policy) and its route,
StepTask, TRANSIENT_ERRORS, the chain and compensation.

Steps are sent by name, so orders never imports another app's tasks; each step is idempotent,
because Celery with acks_late delivers at least once.
"""

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from celery import Task, chain, current_app, group, shared_task, signature
from celery.canvas import Signature
from celery.exceptions import Ignore
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, InterfaceError, OperationalError, transaction

from deadletters import capture
from ordersite import breakers, logs, queues
from ordersite.breakers import CircuitOpenError
from ordersite.db_connections import close_broken_connections, database_unreachable
from ordersite.errors import ConflictError, TransientError
from ordersite.queues import Queue

from .pipeline_start import deferred_starts
from .states import EventKind
from .steps import AUTHORIZE, COMPENSATIONS, STEP_FOR_STATUS, STEPS, UNDO_STEPS
from .steps import CAPTURE as CAPTURE  # the task names live in steps.py; apps import them from here
from .steps import REFUND_PAYMENT as REFUND_PAYMENT
from .steps import RESERVE as RESERVE
from .steps import SHIP as SHIP
from .timeline import record_step_event

logger = logging.getLogger(__name__)

# Retried with backoff: lost races, unreachable gateways, a restarted database, a Redis blip
# (breakers, the dead-letter bookkeeping: Redis is a dependency like the others).
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ConflictError,
    TransientError,
    OperationalError,
    InterfaceError,
    redis.ConnectionError,
    redis.TimeoutError,
)


def step_key(order_id: str, step: str) -> str:
    """The idempotency key a step passes to its gateway: one per order and action."""
    return f"{order_id}:{step}"


def parse_step_key(key: str) -> tuple[str, str]:
    """(order id, step) of a key made by step_key; ("", "") for anything else."""
    order_id, sep, step = key.partition(":")
    return (order_id, step) if sep else ("", "")


def task_signature(name: str, *args: str, immutable: bool = False) -> Signature:
    """A task by name with its arguments, which are short ids. Their text for Flower and the logs
    (`argsrepr`) is given here: Celery otherwise writes it with its `saferepr` at every publish,
    a chain's next step included (about a tenth of a publish's CPU), and for a tuple of strings
    `repr` writes the same text."""
    return signature(name, args=args, immutable=immutable, argsrepr=repr(args), kwargsrepr="{}")


def pipeline_chain(order_id: str, *, start: str = AUTHORIZE) -> Signature:
    """The remaining steps from `start`, each with only the order id (immutable signatures)."""
    names = STEPS[STEPS.index(start) :]
    return chain(*(task_signature(name, order_id, immutable=True) for name in names))


def start_on_commit(*, order_id: str) -> None:
    """Send the whole chain once the order is committed (never before: a worker would not find it).
    The order is stored whatever happens next, so a broker that cannot take the chain must not
    fail the request: the send is deferred and retried by this process
    (orders/pipeline_start.py)."""
    transaction.on_commit(
        lambda: deferred_starts.send_or_defer(
            order_id, lambda: pipeline_chain(order_id).apply_async()
        )
    )


def start_deferred(*, order_id: str) -> bool:
    """True while the order's chain waits in this process for the broker to come back."""
    return deferred_starts.is_deferred(order_id)


def resume(*, order_id: str, status: str) -> str | None:
    """Send the chain again from the step that handles `status`; None if nothing is waiting."""
    step = STEP_FOR_STATUS.get(status)
    if step is not None:
        pipeline_chain(order_id, start=step).apply_async()
    return step


def compensations(order_id: str, *, names: tuple[str, ...] = COMPENSATIONS) -> Signature:
    """The compensations as a group, not a chain: each is sent on its own, so one that keeps
    failing (a release losing its race, a carrier down) never holds back the others."""
    return group(*(task_signature(name, order_id, immutable=True) for name in names))


def compensate_on_commit(*, order_id: str, names: tuple[str, ...] = COMPENSATIONS) -> None:
    """After commit, undo whatever the pipeline has done for the order. Every compensation is
    idempotent, finds by itself whether there is anything to undo, and acts only on an order that
    will not complete."""
    transaction.on_commit(lambda: compensations(order_id, names=names).apply_async())


def send_on_commit(name: str, *args: str) -> None:
    """Send one task by name once the transaction commits. A broker that cannot take it is
    logged, not raised into the request that already committed: the reconciler sends again
    what is still owed (orders/recovery.py)."""
    transaction.on_commit(lambda: task_signature(name, *args).apply_async(), robust=True)


def _outage_wait(exc: BaseException | None) -> float | None:
    """Seconds to wait when `exc` says a dependency is down as a whole rather than that the step
    failed: an open breaker (its own reopen time) or an unreachable database; None otherwise."""
    if isinstance(exc, CircuitOpenError):
        return exc.retry_after
    if exc is not None and database_unreachable(exc):
        return settings.PIPELINE_DATABASE_WAIT_SECONDS
    return None


class StepTask(Task):
    """Base of every pipeline task: late ack, redelivery when a worker dies, exponential backoff
    with full jitter on TRANSIENT_ERRORS only. Permanent outcomes are states, not exceptions."""

    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = TRANSIENT_ERRORS
    max_retries = settings.PIPELINE_MAX_RETRIES
    retry_backoff = settings.PIPELINE_RETRY_BACKOFF
    retry_backoff_max = settings.PIPELINE_RETRY_BACKOFF_MAX
    retry_jitter = settings.PIPELINE_RETRY_JITTER

    def retry(
        self, args: Any = None, kwargs: Any = None, exc: BaseException | None = None, **options: Any
    ) -> Any:
        """An error that knows when to come back (an open breaker) sets the countdown itself.

        Waiting out an outage (an open breaker, a database that cannot be reached) is not an
        attempt: the step did not get to do its work, and its retries are kept for its own faults
        (a flaky card must not lose them to someone else's outage, nor a step its last retry to a
        PostgreSQL restart). Such waits are bounded instead by PIPELINE_BREAKER_WAIT_MAX_SECONDS
        from the step's first wait: past it the error is raised, and the step is dead-lettered
        like any other. An undo (a compensation, a stray booking's cancel) is not bounded: money
        or stock stays held until it runs, so it waits out the outage."""
        if getattr(exc, "retry_after", None) is not None:
            options["countdown"] = exc.retry_after
        wait = _outage_wait(exc)
        if wait is not None:
            options["countdown"] = wait
        if options.get("countdown"):
            options["countdown"] = queues.broker_countdown(
                options["countdown"], self.app.conf.broker_url
            )
        if wait is None:
            return super().retry(args, kwargs, exc, **options)
        try:
            waited = breakers.seconds_waiting(str(self.request.id))
        except redis.RedisError:
            return super().retry(args, kwargs, exc, **options)  # cannot tell: count it as a retry
        if (
            waited + wait > settings.PIPELINE_BREAKER_WAIT_MAX_SECONDS
            and self.name not in UNDO_STEPS
        ):
            raise exc
        self.request.retries -= 1  # the retry keeps this attempt's number
        try:
            return super().retry(args, kwargs, exc, **options)
        finally:
            self.request.retries += 1

    @property
    def last_attempt(self) -> bool:
        """True on the final try: a step with a fallback takes it now rather than fail."""
        return self.request.retries >= self.max_retries

    def on_retry(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        order_id = str(args[0]) if args else kwargs.get("order_id", "")
        logger.warning(
            "%s retrying after %r", self.name, exc, extra={"order_id": order_id, "task": self.name}
        )
        try:
            record_step_event(
                order_id=order_id,
                kind=EventKind.STEP_RETRY,
                task=self.name,
                attempt=self.request.retries + 1,
                error=f"{type(exc).__name__}: {exc}"[:500],
                breaker_wait=isinstance(exc, CircuitOpenError),
            )
        except DatabaseError:
            # The retry is already sent; a database that is down only costs the timeline a line
            # (raising here would leave the message unacknowledged, see ordersite/results.py).
            close_broken_connections()
            logger.warning(
                "%s: retry of %s not recorded in its timeline", self.name, order_id, exc_info=True
            )

    # --- dead-letter queue: a poison message is parked after DLQ_MAX_DELIVERIES, a final failure
    # is dead-lettered (deadletters/capture.py).
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Every step takes its order's id: its lines name the order even when its message came
        # without a log_context header (the correlation id comes with that header).
        logs.bind_order(order_id=args[0] if args else kwargs.get("order_id", ""))
        if capture.delivered_too_often(self, args, kwargs):
            raise Ignore  # parked in the DLQ: ack it, and run neither it nor the rest of its chain
        with capture.failure_clock(self):
            try:
                return super().__call__(*args, **kwargs)
            except Exception:
                # Celery's failure handling (the result row, the retry event) runs next, on this
                # thread's connection: one the database dropped would fail it too.
                close_broken_connections()
                raise

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        capture.fail_task(self, exc=exc, task_id=task_id, args=args, kwargs=kwargs, einfo=einfo)


# --- Declaring tasks: name, queue and retry policy in one place per task (Sentry's
# instrumented_task), the route derived from it.
@dataclass(frozen=True)
class RetryPolicy:
    """How many times a task retries TRANSIENT_ERRORS before it is dead-lettered: data, declared
    with the task. The backoff (PIPELINE_RETRY_BACKOFF, _MAX, _JITTER) is the same for every
    step, so ordersite/checks.py holds its cap below the broker's visibility timeout once."""

    max_retries: int


# A forward step (authorize, reserve), and a refund's abandonment.
FORWARD_RETRY = RetryPolicy(max_retries=settings.PIPELINE_MAX_RETRIES)
# Money and stock must eventually settle: the capture and the compensations keep trying longer.
SETTLE_RETRY = RetryPolicy(max_retries=settings.PIPELINE_COMPENSATION_MAX_RETRIES)
# Refunds are owed to a customer too; past their retries they wait in the DLQ for staff.
REFUND_RETRY = RetryPolicy(max_retries=settings.PIPELINE_REFUND_MAX_RETRIES)
# A beat task is never retried: its next run is its retry.
NO_RETRY = RetryPolicy(max_retries=0)


@dataclass(frozen=True)
class TaskDeclaration:
    """One task as declared: what routes it and how it retries."""

    name: str
    queue: Queue
    retry: RetryPolicy


# Every task of the apps by name, filled as each tasks.py is imported (step_task, beat_task).
TASKS: dict[str, TaskDeclaration] = {}


def _declare(name: str, queue: Queue, retry: RetryPolicy) -> None:
    declaration = TaskDeclaration(name, Queue(queue), retry)
    if TASKS.setdefault(name, declaration) != declaration:
        raise ImproperlyConfigured(
            f"Task {name} is declared twice, differently: {TASKS[name]} and {declaration}."
        )


def step_task(
    *, name: str, queue: Queue, retry: RetryPolicy, bind: bool = False
) -> Callable[[Callable], Any]:
    """Declare a pipeline step or compensation (a StepTask) where it is written: its name, the
    queue it runs on and its retry policy together; its route comes from here."""
    _declare(name, queue, retry)
    return shared_task(name=name, base=StepTask, bind=bind, max_retries=retry.max_retries)


def beat_task(*, name: str, queue: Queue) -> Callable[[Callable], Any]:
    """Declare a task celery beat sends on a schedule (CELERY_BEAT_SCHEDULE): a plain task, not a
    step, never retried."""
    _declare(name, queue, NO_RETRY)
    return shared_task(name=name, max_retries=NO_RETRY.max_retries)


@functools.cache
def _import_tasks_modules() -> None:
    """Every app's tasks.py, imported (Celery's autodiscovery, at once): their declarations fill
    TASKS."""
    current_app.autodiscover_tasks(force=True)


def route_task(name: str, *args: Any, **kwargs: Any) -> dict[str, str] | None:
    """Celery's router (CELERY_TASK_ROUTES): the queue the task was declared with. A process that
    sends by name before it imported the tasks modules (web, beat) imports them on its first miss.
    An undeclared name gets no route (CELERY_TASK_DEFAULT_QUEUE)."""
    if name not in TASKS:
        _import_tasks_modules()
    declared = TASKS.get(name)
    return {"queue": declared.queue.value} if declared else None
