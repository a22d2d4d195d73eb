"""The write side of live updates: every OrderEvent goes to one Redis stream after its commit.

record_event calls `publish_on_commit` for each event it writes. The entries of one transaction
are sent together, as one pipelined round trip of XADDs, by a single on_commit callback; a
rollback drops the callback and so publishes nothing. The stream is capped (MAXLEN ~, the cheap
approximate trim); a client further behind than it holds catches up from the OrderEvent table.
No SQL here: the entry is built from the event and the order already in hand.
"""

import json
import logging
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

import redis
from django.conf import settings
from django.db import transaction

from ordersite.redis import client

from ..visibility import full_event, public_event

if TYPE_CHECKING:
    from ..models import Order, OrderEvent

logger = logging.getLogger(__name__)


def _jsonable(value: Any) -> Any:
    """Datetimes as the REST API writes them (DRF: ISO 8601, `Z` for UTC), UUIDs as text."""
    if isinstance(value, datetime):
        text = value.isoformat()
        return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> str:
    return json.dumps(value, default=_jsonable, separators=(",", ":"))


def stream_entry(event: "OrderEvent", order: "Order") -> dict[str, str]:
    """The stream's fields for one event: who may see it (the order's owner; staff see all),
    where it sits in its order's timeline, and both views of it (orders/visibility.py decides
    them here, once, so the live server never sees data a customer may not read unless the
    reader is staff). `public` is empty for a kind customers never see."""
    public = public_event(event)
    return {
        "order": str(order.public_id),
        "owner": str(order.customer_id),
        "seq": str(event.seq),
        "kind": event.kind,
        "status": event.status,
        "public": dumps(public) if public is not None else "",
        "full": dumps(full_event(event)),
    }


class _Batch:
    """The entries one transaction (or savepoint) wrote, sent by one on_commit callback."""

    def __init__(self, savepoints: tuple[str, ...]) -> None:
        self.savepoints = savepoints
        self.entries: list[dict[str, str]] = []

    def send(self) -> None:
        try:
            pipe = client().pipeline(transaction=False)
            for entry in self.entries:
                pipe.xadd(
                    settings.LIVE_STREAM_KEY,
                    entry,
                    maxlen=settings.LIVE_STREAM_MAXLEN,
                    approximate=True,
                )
            pipe.execute()
        except redis.RedisError:
            # Committed is committed: live clients fill the gap from the timeline (by seq) when
            # the order's next event arrives, or on reconnect.
            logger.warning("live events not published: Redis unreachable", exc_info=True)


def publish_on_commit(event: "OrderEvent", order: "Order") -> None:
    """Queue `event` for the stream once the current transaction commits. Call inside it.

    One callback per transaction, keyed by the open savepoints too: Django drops the callbacks of
    a savepoint rolled back, so events written inside one vanish with it, not with the rest."""
    connection = transaction.get_connection()
    savepoints = tuple(connection.savepoint_ids)
    batch: _Batch | None = getattr(connection, "_ordersite_live_batch", None)
    if batch is None or batch.savepoints != savepoints or not _registered(connection, batch):
        batch = _Batch(savepoints)
        connection._ordersite_live_batch = batch
        transaction.on_commit(batch.send, robust=True)
    batch.entries.append(stream_entry(event, order))


def _registered(connection: Any, batch: _Batch) -> bool:
    """Whether the batch's callback still waits for this transaction's commit (it is gone once
    the transaction committed or rolled back)."""
    return any(
        getattr(callback, "__self__", None) is batch for _, callback, _ in connection.run_on_commit
    )


def is_publish(callback: Any) -> bool:
    """Whether an on_commit callback is this module's (tests counting the tasks a change sends
    after commit leave these out)."""
    return isinstance(getattr(callback, "__self__", None), _Batch)
