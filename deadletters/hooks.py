"""The interface an app implements to react to its dead letters, and the registry that calls it.

The queue knows nothing of orders: an entry names its subject only by the id in `order_id`. The
app that owns that subject (orders, in `OrdersConfig.ready()`) registers one `DeadLetterHooks`
to flag it for review when a step is parked, judge whether an entry is still current before a
replay, and record the replay or discard (failing the order when its step is given up).
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from django.db import transaction

from ordersite.errors import ConflictError

from .envelope import Envelope

logger = logging.getLogger(__name__)

# A reaction that keeps losing its compare-and-swap gives up after this many tries, with a log line.
REACT_TRIES = 5


@dataclass(frozen=True)
class Subject:
    """What an entry's `order_id` names, as its owning app sees it: shown on the admin page, and
    the replayed task carries its correlation id."""

    id: str
    status: str
    url: str
    correlation_id: str
    needs_review: bool


class DeadLetterHooks(Protocol):
    """What an app does when one of its dead letters is parked, replayed or discarded. The
    `on_*` reactions are called inside a transaction (the services open it, with the admin log
    row) and may raise ConflictError: they are then run again on fresh rows."""

    def subject(self, entry: Envelope) -> Subject | None:
        """The entry's subject, or None when it names none this app knows."""
        ...

    def ensure_current(self, entry: Envelope) -> None:
        """Raise DeadLetterStaleError if the subject no longer waits at the entry's step."""
        ...

    def on_parked(self, entry: Envelope) -> None:
        """A step failed for good and its entry was pushed (or was already waiting)."""
        ...

    def on_replayed(self, entry: Envelope, *, task_id: str, actor: str) -> None:
        """The entry's task was sent again as `task_id` and the entry left the queue."""
        ...

    def on_discarded(self, entry: Envelope, *, actor: str, reason: str) -> None:
        """The entry was removed for good: a current step is given up."""
        ...


_registry: list[DeadLetterHooks] = []


def register(hooks: DeadLetterHooks) -> None:
    """Add an app's hooks (idempotent: AppConfig.ready() may run twice in tests)."""
    if hooks not in _registry:
        _registry.append(hooks)


def subject(entry: Envelope) -> Subject | None:
    """The first registered app's view of the entry's subject."""
    return next((found for hooks in _registry if (found := hooks.subject(entry)) is not None), None)


def ensure_current(entry: Envelope) -> None:
    for hooks in _registry:
        hooks.ensure_current(entry)


def react(entry: Envelope, action: str, reaction: Callable[[], None]) -> None:
    """Run `reaction` in its own durable transaction; on ConflictError (the subject changed
    meanwhile) judge it again from fresh rows, up to REACT_TRIES times, then log and give up."""
    for _ in range(REACT_TRIES):
        try:
            with transaction.atomic(durable=True):
                reaction()
            return
        except ConflictError:
            continue
    extra = {"order_id": entry.order_id}
    logger.error(
        "%s of dead letter %s not recorded: its order kept changing", action, entry.id, extra=extra
    )


def parked(entry: Envelope) -> None:
    """Tell the apps that `entry` was parked, in a transaction of its own."""

    def reaction() -> None:
        for hooks in _registry:
            hooks.on_parked(entry)

    react(entry, "parking", reaction)


def replayed(entry: Envelope, *, task_id: str, actor: str) -> None:
    """Call inside a transaction."""
    for hooks in _registry:
        hooks.on_replayed(entry, task_id=task_id, actor=actor)


def discarded(entry: Envelope, *, actor: str, reason: str) -> None:
    """Call inside a transaction."""
    for hooks in _registry:
        hooks.on_discarded(entry, actor=actor, reason=reason)
