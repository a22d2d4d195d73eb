"""The order timeline: appending OrderEvents, always with the change they record."""

from collections.abc import Callable
from typing import Any, cast

from django.db import connection, transaction
from django.db.models import Field

from ordersite import logs
from ordersite.db import require_transaction
from ordersite.errors import ConflictError

from .live.publish import publish_on_commit
from .models import Order, OrderEvent
from .selectors import order_by_public_id
from .states import EventKind

# Called with every event as it is written, inside its transaction: other apps act on events
# (notifications/ sends mail on commit) without orders importing them. Registered in
# AppConfig.ready.
EVENT_LISTENERS: list[Callable[[OrderEvent], None]] = []


def record_event(
    order: Order, kind: EventKind, *, actor: str = "", seq: int | None = None, **data: Any
) -> OrderEvent:
    """Append one event to the order's timeline. Call inside a transaction, with the change it
    records, so the two commit or vanish together. `seq` is the number the caller already took
    in the statement that made the change; otherwise the event is numbered and written in one
    statement here (its status is the order's as of that number, read by the same statement).

    The request or task that writes an order's timeline works on that order: its later log lines,
    and the tasks it sends (the chain on commit, compensations), carry the order's ids from here.
    Code that goes through many orders in one run wraps each in logs.order_scope."""
    require_transaction("record_event")
    if seq is None:
        numbered = _append(
            order,
            {},
            version=None,
            kind=kind,
            actor=actor,
            data=data,
        )
        if numbered is None:
            raise ConflictError(Order._meta.label, pk=order.pk)
        return _written(numbered, order)
    order.last_event_seq = seq
    event = OrderEvent.objects.create(
        order=order,
        seq=seq,
        kind=kind,
        status=order.status,
        data=data,
        actor=actor,
        correlation_id=order.correlation_id,
    )
    return _written(event, order)


def record_change(
    order: Order,
    changes: dict[str, Any],
    *,
    version: int,
    kind: EventKind,
    actor: str = "",
    **data: Any,
) -> OrderEvent:
    """Change the order (a compare-and-swap on `version`, which moves) and append the event that
    records it, in one statement: the UPDATE numbers the event and feeds the INSERT. Raises
    ConflictError, having changed nothing, if the order is no longer at `version`. Call inside a
    transaction; `changes` are plain values, and `order` is updated in memory with them and its
    new version."""
    require_transaction("record_change")
    event = _append(
        order,
        changes,
        version=version,
        kind=kind,
        actor=actor,
        data=data,
    )
    if event is None:
        raise ConflictError(Order._meta.label, pk=order.pk, expected_version=version)
    order.version = version + 1
    for name, value in changes.items():
        setattr(order, name, value)
    return _written(event, order)


# The event's columns the INSERT takes from Python; `seq` and `status` come from the UPDATE.
_EVENT_FIELDS = ("order", "kind", "data", "actor", "correlation_id", "created_at")


def _append(
    order: Order,
    changes: dict[str, Any],
    *,
    version: int | None,
    kind: EventKind,
    actor: str,
    data: dict[str, Any],
) -> OrderEvent | None:
    """`UPDATE … RETURNING last_event_seq, status` of the order (at `version`, which moves, if
    one is given) as a CTE feeding the event's INSERT: one round trip instead of two. None if
    no row matched."""
    update, update_params = _order_update(order.pk, version, changes)
    event = OrderEvent(
        order=order, kind=kind, data=data, actor=actor, correlation_id=order.correlation_id
    )
    fields = [OrderEvent._meta.get_field(name) for name in _EVENT_FIELDS]
    values = tuple(
        field.get_db_prep_save(field.pre_save(event, add=True), connection)  # type: ignore[union-attr]
        for field in fields
    )
    q = connection.ops.quote_name
    columns = ", ".join(q(field.column) for field in fields)  # type: ignore[union-attr]
    statement = (
        f"WITH changed AS ({update} RETURNING {q('last_event_seq')}, {q('status')}) "  # noqa: S608
        f"INSERT INTO {q(OrderEvent._meta.db_table)} ({columns}, {q('seq')}, {q('status')}) "
        f"SELECT {', '.join(['%s'] * len(values))}, changed.{q('last_event_seq')}, "
        f"changed.{q('status')} FROM changed RETURNING {q('id')}, {q('seq')}, {q('status')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, (*update_params, *values))
        row = cursor.fetchone()
    if row is None:
        return None
    event.pk, event.seq, event.status = row
    event._state.adding = False
    event._state.db = connection.alias
    order.last_event_seq = event.seq
    return event


def _order_update(pk: int, version: int | None, changes: dict[str, Any]) -> tuple[str, tuple]:
    """The UPDATE that numbers the next event, applies `changes` (plain values) and, at a
    version, moves it. Written here rather than compiled by the ORM (ordersite.db.update_sql):
    compiling cost more CPU than the statement's round trip, and every event runs it."""
    meta, q = Order._meta, connection.ops.quote_name
    fields = [cast(Field, meta.get_field(name)) for name in changes]
    counters = [cast(Field, meta.get_field("last_event_seq")).column]
    where = [f"{q(meta.pk.column)} = %s"]  # type: ignore[union-attr]
    params: list[Any] = [
        field.get_db_prep_save(value, connection)
        for field, value in zip(fields, changes.values(), strict=True)
    ]
    params.append(pk)
    if version is not None:
        counters.append(cast(Field, meta.get_field("version")).column)
        where.append(f"{q(counters[-1])} = %s")
        params.append(version)
    assignments = [f"{q(field.column)} = %s" for field in fields]
    assignments += [f"{q(column)} = {q(column)} + 1" for column in counters]
    statement = (
        f"UPDATE {q(meta.db_table)} SET {', '.join(assignments)} WHERE {' AND '.join(where)}"  # noqa: S608
    )
    return statement, tuple(params)


def _written(event: OrderEvent, order: Order) -> OrderEvent:
    """What follows every event written: its order's ids on the log lines, the live stream, and
    the other apps' listeners."""
    logs.bind_order(order_id=order.public_id, correlation_id=order.correlation_id)
    # The one place events are written, so the one place they leave for live clients.
    publish_on_commit(event, order)
    for listener in EVENT_LISTENERS:
        listener(event)
    return event


def record_step_event(*, order_id: str, kind: EventKind, **data: Any) -> None:
    """Write a timeline event that changes no status (a retry, a re-sent step)."""
    with transaction.atomic(durable=True):
        order = order_by_public_id(order_id=order_id)
        if order is not None:
            record_event(order, kind, **data)
