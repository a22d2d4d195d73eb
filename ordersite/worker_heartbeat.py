"""Worker liveness for readiness: every `celery worker` writes which queues it consumes into Redis
every third of HEALTH_WORKER_TTL, and readiness reads every queue in one round trip.

Readiness used to broadcast a Celery `inspect` and wait HEALTH_CHECK_TIMEOUT for replies, holding
a web worker a full second per probe; a handful of anonymous probes starved the API. A heartbeat
costs the web side one Redis script call, whatever the number of workers.

Layout: one sorted set per queue, `{ordersite:workers}:<queue>`, member = worker node name, score =
the time its heartbeat expires. Both scripts take the time from the Redis server, so hosts with
skewed clocks agree. A worker stopping cleanly removes itself at once; one that dies simply stops
refreshing and is gone after HEALTH_WORKER_TTL.
"""

import logging
from typing import Any

import redis
from celery import bootsteps
from django.conf import settings

from . import redis as redis_factory

logger = logging.getLogger(__name__)

# One hash tag: the scripts below take every queue's key at once, and on Redis Cluster all the
# keys of one script must share a hash slot.
KEY_PREFIX = "{ordersite:workers}:"
# Redis calls from the worker's event loop must not stall it for long if Redis hangs.
_SOCKET_TIMEOUT_S = 1.0

# KEYS: one set per queue; ARGV: node, ttl seconds. Stale members are pruned on every beat, and a
# set nobody has refreshed for three TTLs disappears.
_BEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local ttl = tonumber(ARGV[2])
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + ttl, ARGV[1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  redis.call('EXPIRE', key, math.ceil(ttl * 3))
end
return #KEYS
"""
# KEYS: one set per queue; returns, per queue, the node names whose heartbeat is alive now.
_NODES = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local nodes = {}
for i, key in ipairs(KEYS) do
  nodes[i] = redis.call('ZRANGEBYSCORE', key, '(' .. now, '+inf')
end
return nodes
"""


def queue_key(queue: str) -> str:
    return f"{KEY_PREFIX}{queue}"


def client(timeout: float = _SOCKET_TIMEOUT_S) -> redis.Redis:
    # No retries: a heartbeat missed is sent again on the next beat, a probe answers "down".
    return redis_factory.client(timeout=timeout)


def beat(conn: redis.Redis, *, node: str, queues: list[str], ttl: float) -> None:
    """Say that `node` consumes `queues`, for `ttl` seconds from now (Redis's clock)."""
    if queues:
        conn.register_script(_BEAT)(keys=[queue_key(q) for q in queues], args=[node, ttl])


def forget(conn: redis.Redis, *, node: str, queues: list[str]) -> None:
    """`node` no longer consumes `queues` (it stopped, or cancelled them)."""
    with conn.pipeline(transaction=False) as pipe:
        for queue in queues:
            pipe.zrem(queue_key(queue), node)
        pipe.execute()


def live_workers(conn: redis.Redis, queues: list[str]) -> dict[str, int]:
    """How many workers with a live heartbeat consume each queue: one round trip."""
    return {queue: len(nodes) for queue, nodes in live_nodes(conn, queues).items()}


def live_nodes(conn: redis.Redis, queues: list[str]) -> dict[str, list[str]]:
    """The node names with a live heartbeat consuming each queue: one round trip."""
    nodes = conn.register_script(_NODES)(keys=[queue_key(q) for q in queues]) if queues else []
    return {
        queue: sorted(_text(n) for n in names) for queue, names in zip(queues, nodes, strict=True)
    }


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class WorkerHeartbeat(bootsteps.StartStopStep):
    """A step of the worker's consumer: once the task consumer runs, beat every third of
    HEALTH_WORKER_TTL on the consumer's own timer (the one Celery's event heartbeat uses), so it
    runs in every `celery worker` whatever its pool or options. The queues are read from the task
    consumer on each beat, so `add_consumer` and `cancel_consumer` show within one beat."""

    requires = ("celery.worker.consumer.tasks:Tasks",)
    label = "ordersite heartbeat"

    def __init__(self, c: Any, **kwargs: Any) -> None:
        super().__init__(c, **kwargs)
        self.tref: Any = None
        self.queues: list[str] = []

    def start(self, c: Any) -> None:
        self.beat(c)
        interval = max(settings.HEALTH_WORKER_TTL / 3, 0.1)
        self.tref = c.timer.call_repeatedly(interval, self.beat, (c,))

    def beat(self, c: Any) -> None:
        consumer = c.task_consumer
        queues = sorted({queue.name for queue in consumer.queues}) if consumer is not None else []
        try:
            conn = client()
            if dropped := sorted(set(self.queues) - set(queues)):
                forget(conn, node=c.hostname, queues=dropped)
            beat(conn, node=c.hostname, queues=queues, ttl=settings.HEALTH_WORKER_TTL)
        except redis.RedisError:
            logger.warning("worker heartbeat not written: Redis unreachable", exc_info=True)
            return
        self.queues = queues

    def stop(self, c: Any) -> None:
        if self.tref is not None:
            c.timer.cancel(self.tref)
            self.tref = None
        if self.queues:
            try:
                forget(client(), node=c.hostname, queues=self.queues)
            except redis.RedisError:
                logger.warning(
                    "worker heartbeat not removed: Redis unreachable (it expires)", exc_info=True
                )
            self.queues = []

    shutdown = stop
