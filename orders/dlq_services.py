"""Staff actions on dead letters (admin, `manage.py dlq`, the API): replay and discard, each
recorded in the order's timeline with who and why.

An entry is *current* while its order still waits at the entry's step (orders/steps.py:
step_is_current). Replaying sends the original task again (steps are idempotent; a replayed
order continues from where it stopped); a stale entry is refused (DeadLetterStaleError, 409):
its step could only do nothing, or harm an order that moved on. Discarding a current entry gives
the step up: an order that can still fail moves to `failed`, and compensation (void, release,
cancel the shipment) runs; a refund's step gives its refund up (`payments.abandon_refund`: its
cents are no longer promised; the order keeps its status). Discarding a stale entry only removes
it, with its event: the order, its money and its stock are left as they are.
"""

import logging
from typing import TYPE_CHECKING

from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction

from ordersite import dlq, logs
from ordersite.db import cas_update, require_transaction
from ordersite.errors import ConflictError

from . import pipeline
from .exceptions import DeadLetterStaleError
from .models import DeadLetter, Order
from .services import transition_order
from .states import EventKind, OrderStatus, can_transition
from .steps import ABANDON_REFUND, REFUND_STEPS, step_is_current
from .timeline import record_event

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)


def _order(order_id: str) -> Order | None:
    if not order_id:
        return None
    try:
        return Order.objects.filter(public_id=order_id).first()
    except ValidationError:  # an envelope whose first argument is no order id
        return None


def order_of(entry: dlq.Envelope) -> Order | None:
    """The order an entry belongs to, if it names one that exists."""
    return _order(entry.order_id)


def _admin_log(user: "AbstractBaseUser | None", entry: dlq.Envelope, flag: int, message: str) -> None:
    """The admin's own history (LogEntry): who did what to which entry. Call inside a transaction."""
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


def _clear_flag_if_nothing_waits(order: Order) -> None:
    """Drop the order's review flag unless another current entry of it is still in the list.
    Call inside a transaction, after the entry at hand left the list."""
    require_transaction("_clear_flag_if_nothing_waits")
    if order.dead_lettered_at is None:
        return
    waiting = [e for e in dlq.for_order(str(order.public_id)) if step_is_current(e.task, order.status)]
    if not waiting:
        cas_update(Order, order.pk, version=order.version, dead_lettered_at=None)
        order.version += 1
        order.dead_lettered_at = None


def _bind_order_of(entry: dlq.Envelope, order: Order | None) -> None:
    """The staff action's lines, and the task a replay sends, name the entry's order."""
    if entry.order_id:
        correlation_id = order.correlation_id if order is not None else entry.correlation_id
        logs.bind_order(order_id=entry.order_id, correlation_id=correlation_id)


def replay_dead_letter(*, entry_id: str, actor: str, user: "AbstractBaseUser | None" = None) -> dlq.Envelope:
    """Send the entry's task again and record it. The entry leaves the DLQ only after the send
    succeeded; of concurrent replays of one entry exactly one sends (DeadLetterNotFoundError
    for the others). An entry whose order no longer waits at its step is refused
    (DeadLetterStaleError) and stays, to be discarded."""
    entry = dlq.get(entry_id)
    order = _order(entry.order_id)
    _bind_order_of(entry, order)
    if order is not None and not step_is_current(entry.task, order.status):
        raise DeadLetterStaleError(
            f"Order {order.public_id} is {order.status}: it no longer waits for {entry.task}. Discard this entry.",
            entry_id=entry.id,
            task=entry.task,
            order_id=str(order.public_id),
            current_status=order.status,
        )

    def record(entry: dlq.Envelope, task_id: str) -> None:
        for _ in range(5):
            try:
                _record_replay(entry, task_id, actor=actor, user=user)
                return
            except ConflictError:
                continue  # the order changed under us: read it again
        logger.error("replay of %s not recorded on its order: it kept changing", entry.id)

    return dlq.replay(entry_id, after_send=record)


def _record_replay(entry: dlq.Envelope, task_id: str, *, actor: str, user: "AbstractBaseUser | None") -> None:
    with transaction.atomic(durable=True):
        _admin_log(user, entry, CHANGE, f"Replayed as task {task_id}.")
        order = _order(entry.order_id)
        if order is None:
            return
        _clear_flag_if_nothing_waits(order)
        record_event(
            order, EventKind.DEAD_LETTER_REPLAYED, actor=actor, entry_id=entry.id, task=entry.task, task_id=task_id
        )


def discard_dead_letter(
    *, entry_id: str, actor: str, reason: str, user: "AbstractBaseUser | None" = None
) -> dlq.Envelope:
    """Remove the entry for good, with a required reason. A current entry gives its order up
    (`failed`, compensation sent); a stale one (the order moved on) is only removed."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": ["A reason is required to discard a dead letter."]})
    entry = dlq.discard(entry_id)
    _bind_order_of(entry, None)
    logger.warning("dead letter %s discarded by %s: %s", entry.id, actor, reason, extra={"dlq_entry": entry.id})
    for _ in range(5):
        try:
            _record_discard(entry, actor=actor, reason=reason, user=user)
            break
        except ConflictError:
            continue  # the order changed under us: judge the entry again against its new status
    else:
        logger.error("discard of %s not recorded on its order: it kept changing", entry.id)
    return entry


def _record_discard(entry: dlq.Envelope, *, actor: str, reason: str, user: "AbstractBaseUser | None") -> None:
    with transaction.atomic(durable=True):
        _admin_log(user, entry, DELETION, f"Discarded: {reason}")
        order = _order(entry.order_id)
        if order is None:
            return
        stale = not step_is_current(entry.task, order.status)
        _clear_flag_if_nothing_waits(order)
        record_event(
            order,
            EventKind.DEAD_LETTER_DISCARDED,
            actor=actor,
            entry_id=entry.id,
            task=entry.task,
            reason=reason,
            stale=stale,
        )
        if not stale and entry.task in REFUND_STEPS and len(entry.args) == 2:
            # A refund given up: its cents are no longer promised (the order itself stays).
            pipeline.send_on_commit(ABANDON_REFUND, str(order.public_id), entry.task, str(entry.args[1]))
        elif not stale and can_transition(order.status, OrderStatus.FAILED):
            transition_order(
                order,
                OrderStatus.FAILED,
                kind=EventKind.ORDER_FAILED,
                actor=actor,
                reason=f"Dead letter discarded: {reason}",
            )
            pipeline.compensate_on_commit(order_id=str(order.public_id))


def replay_many(*, entry_ids: list[str], actor: str, user: "AbstractBaseUser | None" = None) -> tuple[int, list[str]]:
    """Replay each entry; returns how many were sent and the messages of those that were not."""
    sent, problems = 0, []
    for entry_id in entry_ids:
        try:
            with logs.order_scope():
                replay_dead_letter(entry_id=entry_id, actor=actor, user=user)
            sent += 1
        except dlq.DeadLetterNotFoundError as exc:
            problems.append(exc.message)
        except (dlq.DeadLetterNotReplayableError, DeadLetterStaleError) as exc:
            problems.append(f"{entry_id}: {exc.message}")
    return sent, problems


def discard_many(
    *, entry_ids: list[str], actor: str, reason: str, user: "AbstractBaseUser | None" = None
) -> tuple[int, list[str]]:
    done, problems = 0, []
    for entry_id in entry_ids:
        try:
            with logs.order_scope():
                discard_dead_letter(entry_id=entry_id, actor=actor, reason=reason, user=user)
            done += 1
        except dlq.DeadLetterNotFoundError as exc:
            problems.append(exc.message)
    return done, problems
