"""Staff actions on dead letters (the admin page, `manage.py dlq`, the staff API): replay and
discard, each written to the admin log and handed to the reacting apps (deadletters/hooks.py).

Replaying sends the original task again (steps are idempotent; a replayed order continues from
where it stopped); an entry that is no longer current is refused by its app's `ensure_current`
(DeadLetterStaleError, 409): its step could only do nothing, or harm an order that moved on.
Discarding removes the entry for good; what that means for its subject (a current step given
up, a stale one only removed) is the app's `on_discarded`.
"""

import logging
from typing import TYPE_CHECKING

from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError

from ordersite import logs

from . import hooks, store
from .envelope import Envelope
from .exceptions import DeadLetterNotFoundError, DeadLetterNotReplayableError, DeadLetterStaleError
from .models import DeadLetter

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)


def _admin_log(user: "AbstractBaseUser | None", entry: Envelope, flag: int, message: str) -> None:
    """The admin's own history (LogEntry): who did what to which entry. Call inside a
    transaction."""
    if user is None or user.pk is None:
        return
    LogEntry.objects.create(
        user_id=user.pk,
        content_type=ContentType.objects.get_for_model(DeadLetter, for_concrete_model=False),
        object_id=entry.id,
        object_repr=f"{entry.task} {entry.order_id}".strip()[:200],
        action_flag=flag,
        change_message=message[:1000],
    )


def _bind_subject_of(entry: Envelope, subject: hooks.Subject | None) -> None:
    """The staff action's lines, and the task a replay sends, name the entry's order."""
    if entry.order_id:
        correlation_id = subject.correlation_id if subject is not None else entry.correlation_id
        logs.bind_order(order_id=entry.order_id, correlation_id=correlation_id)


def replay_dead_letter(
    *, entry_id: str, actor: str, user: "AbstractBaseUser | None" = None
) -> Envelope:
    """Send the entry's task again and record it. The entry leaves the DLQ only after the send
    succeeded; of concurrent replays of one entry exactly one sends (DeadLetterNotFoundError
    for the others). An entry that is no longer current is refused (DeadLetterStaleError) and
    stays, to be discarded."""
    entry = store.get(entry_id)
    _bind_subject_of(entry, hooks.subject(entry))
    hooks.ensure_current(entry)

    def record(entry: Envelope, task_id: str) -> None:
        def reaction() -> None:
            _admin_log(user, entry, CHANGE, f"Replayed as task {task_id}.")
            hooks.replayed(entry, task_id=task_id, actor=actor)

        hooks.react(entry, "replay", reaction)

    return store.replay(entry_id, after_send=record)


def discard_dead_letter(
    *, entry_id: str, actor: str, reason: str, user: "AbstractBaseUser | None" = None
) -> Envelope:
    """Remove the entry for good, with a required reason, and let its app give the step up."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": ["A reason is required to discard a dead letter."]})
    entry = store.discard(entry_id)
    _bind_subject_of(entry, None)
    logger.warning(
        "dead letter %s discarded by %s: %s", entry.id, actor, reason, extra={"dlq_entry": entry.id}
    )

    def reaction() -> None:
        _admin_log(user, entry, DELETION, f"Discarded: {reason}")
        hooks.discarded(entry, actor=actor, reason=reason)

    hooks.react(entry, "discard", reaction)
    return entry


def replay_many(
    *, entry_ids: list[str], actor: str, user: "AbstractBaseUser | None" = None
) -> tuple[int, list[str]]:
    """Replay each entry; returns how many were sent and the messages of those that were not."""
    sent, problems = 0, []
    for entry_id in entry_ids:
        try:
            with logs.order_scope():
                replay_dead_letter(entry_id=entry_id, actor=actor, user=user)
            sent += 1
        except DeadLetterNotFoundError as exc:
            problems.append(exc.message)
        except (DeadLetterNotReplayableError, DeadLetterStaleError) as exc:
            problems.append(f"{entry_id}: {exc.message}")
    return sent, problems


def discard_many(
    *, entry_ids: list[str], actor: str, reason: str, user: "AbstractBaseUser | None" = None
) -> tuple[int, list[str]]:
    """Discard each entry with one reason; returns how many went and the messages of the others."""
    done, problems = 0, []
    for entry_id in entry_ids:
        try:
            with logs.order_scope():
                discard_dead_letter(entry_id=entry_id, actor=actor, reason=reason, user=user)
            done += 1
        except DeadLetterNotFoundError as exc:
            problems.append(exc.message)
    return done, problems
