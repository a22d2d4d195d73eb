"""Workarounds for kombu 5.7.0's Redis transport, applied when the Celery app loads.

When the broker goes away, Celery's consumer closes its connection, which detaches each channel
from it. Two things then still use such a channel, and kombu builds a Redis client from the
connection that is gone, raising AttributeError ('NoneType' object has no attribute 'hostname'
or 'client'):
- closing the channel hands back the messages the worker still holds (`restore_unacked`);
- a task that finishes in the thread pool afterwards acknowledges its message on it.
Celery only tolerates connection errors there, so the worker died ("Unrecoverable error"), and
under honcho (`make run`) every other process with it. Seen in the redis-restart chaos run (6
runs in 18 under load).

Nothing can be handed back or acknowledged over a connection that is gone: those messages stay
in the broker's unacked set and are delivered again after the visibility timeout (or, if the
broker lost them, the reconciler re-sends their orders). So the hand-back is skipped with a
warning, and a client asked of a detached channel is a connection error, which Celery logs and
survives; the worker then reconnects.

One saving, not a fix: kombu builds a new redis-py client object for every publish, binding
lookup and acknowledgement (`conn_or_acquire`), and a client's constructor is costly in redis-py
8 (about 1 ms of a worker's CPU per order, seen in py-spy). The client only wraps the channel's
connection pool, so one is kept per channel and pool, and a new one is built when the pool is.

Another: every publish to a topic or direct exchange read the exchange's bindings from Redis
(an SMEMBERS per message, 2 % of the workers' CPU in py-spy). For the pipeline's exchange, whose
bindings are its fixed queues (ordersite/queues.py), a channel now keeps what it read for
BINDINGS_TTL_SECONDS: a binding made or removed by another process is seen within that time (a
publish racing an unbind can go either way in kombu too), one made or removed on this channel at
once, and an empty table is never kept. Other exchanges are read per message as before: Celery's
remote-control replies are bound per request, by the process that asks. If Redis restarts and
loses the bindings, a kept table still routes to the queue (kombu alone drops such a message until
the queue is declared again).
"""

import logging
import time
from typing import Any

import redis
from kombu.transport import redis as kombu_redis

from .queues import EXCHANGE

logger = logging.getLogger(__name__)

_connparams = kombu_redis.Channel._connparams  # type: ignore[attr-defined]  # private, absent from the stubs
_restore_unacked = kombu_redis.QoS.restore_unacked
_create_client = kombu_redis.Channel._create_client  # type: ignore[attr-defined]
_get_table = kombu_redis.Channel.get_table
_queue_bind = kombu_redis.Channel._queue_bind  # type: ignore[attr-defined]
_delete = kombu_redis.Channel._delete

# How long a channel trusts the bindings it read (a second: about one SMEMBERS a second per
# publishing process instead of one per message).
BINDINGS_TTL_SECONDS = 1.0
KEPT_EXCHANGES = frozenset({EXCHANGE})


def _detached(channel: Any) -> bool:
    return getattr(channel.connection, "client", None) is None


def _connparams_of_a_live_channel(self: kombu_redis.Channel, asynchronous: bool = False) -> dict:
    if _detached(self):
        raise redis.ConnectionError("this broker channel's connection is gone")
    return _connparams(self, asynchronous=asynchronous)


def _restore_unacked_unless_detached(self: kombu_redis.QoS, client: Any = None) -> None:
    delivered = self._delivered
    if client is None and delivered is not None and _detached(self.channel):
        logger.warning(
            "%d unacknowledged message(s) not handed back: the broker connection is gone; "
            "the broker delivers them again after the visibility timeout",
            len(delivered),
        )
        delivered.clear()
        return
    _restore_unacked(self, client)


def _create_client_once_per_pool(self: kombu_redis.Channel, asynchronous: bool = False) -> Any:
    """The channel's synchronous client, built once per connection pool (redis-py clients are
    thread-safe: each command takes a connection from the pool). The pool is read first, so a
    detached channel still raises as above."""
    if asynchronous:
        return _create_client(self, asynchronous=True)
    pool = self.pool
    cached = self.__dict__.get("_ordersite_client")
    if cached is None or cached.connection_pool is not pool:
        cached = self.__dict__["_ordersite_client"] = _create_client(self, asynchronous=False)
    return cached


def _get_table_kept_briefly(self: kombu_redis.Channel, exchange: str) -> list:
    """The exchange's bindings, read from Redis at most once per BINDINGS_TTL_SECONDS for the
    exchanges in KEPT_EXCHANGES."""
    if exchange not in KEPT_EXCHANGES:
        return _get_table(self, exchange)
    kept = self.__dict__.setdefault("_ordersite_tables", {})
    now = time.monotonic()
    entry = kept.get(exchange)
    if entry is None or entry[0] <= now:
        table = _get_table(self, exchange)
        if not table:
            kept.pop(exchange, None)
            return table
        entry = kept[exchange] = (now + BINDINGS_TTL_SECONDS, table)
    return list(entry[1])  # a copy: kombu's queue_unbind edits the list it is given


def _forget_tables(channel: kombu_redis.Channel) -> None:
    channel.__dict__.pop("_ordersite_tables", None)


def _queue_bind_and_forget(self: kombu_redis.Channel, *args: Any, **kwargs: Any) -> Any:
    _forget_tables(self)
    return _queue_bind(self, *args, **kwargs)


def _delete_and_forget(self: kombu_redis.Channel, *args: Any, **kwargs: Any) -> Any:
    _forget_tables(self)
    return _delete(self, *args, **kwargs)


def apply() -> None:
    """Idempotent: patch kombu's Redis transport once per process."""
    kombu_redis.Channel._connparams = _connparams_of_a_live_channel  # type: ignore[attr-defined]
    kombu_redis.QoS.restore_unacked = _restore_unacked_unless_detached  # type: ignore[method-assign]
    kombu_redis.Channel._create_client = _create_client_once_per_pool  # type: ignore[attr-defined]
    kombu_redis.Channel.get_table = _get_table_kept_briefly  # type: ignore[method-assign]
    kombu_redis.Channel._queue_bind = _queue_bind_and_forget  # type: ignore[attr-defined]
    kombu_redis.Channel._delete = _delete_and_forget  # type: ignore[method-assign,assignment]
