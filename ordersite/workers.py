"""What the broker and the workers say about capacity, for the staff dashboard: the messages
waiting in each queue, and each worker's pool size.

Backlogs come from the broker with a passive queue declare, which Redis and RabbitMQ both answer
without changing anything. Pool sizes need a Celery `inspect stats` broadcast, which costs every
worker a reply and the caller up to a timeout; so it goes only to the nodes whose heartbeat is live
(ordersite/worker_heartbeat.py), returns as soon as all of them answered, and its answer is cached
in Django's cache, shared by every web process, for DASHBOARD_POOLS_CACHE_SECONDS.
"""

from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache

from . import worker_heartbeat
from .celery import app

POOLS_CACHE_KEY = "dashboard:worker-pools"


def queue_backlogs(queues: list[str]) -> dict[str, int | None]:
    """Messages waiting in each queue, not yet taken by a worker (reserved and running tasks are
    not counted). None for a queue the broker does not know yet. Raises kombu's OperationalError
    when the broker cannot be reached within one connection attempt."""
    backlogs: dict[str, int | None] = dict.fromkeys(queues)
    with app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1)
        for queue in queues:
            # A fresh channel per queue: RabbitMQ closes the channel on an unknown queue.
            with conn.channel() as channel:
                try:
                    # Every transport's channel has it; the stubs' StdChannel lacks it.
                    declared = channel.queue_declare(queue=queue, passive=True)  # type: ignore[attr-defined]
                    backlogs[queue] = declared.message_count
                except conn.channel_errors:
                    backlogs[queue] = None
    return backlogs


@dataclass(frozen=True)
class WorkerPool:
    """One worker node's pool: `size` processes or threads now, between `min` and `max`
    (`min` only for an autoscaled pool); `replied` False if it did not answer in time."""

    node: str
    queues: tuple[str, ...]
    pool: str
    size: int | None
    max: int | None
    min: int | None
    replied: bool


def _pool_from_stats(
    node: str, queues: tuple[str, ...], stats: dict[str, Any] | None
) -> WorkerPool:
    if stats is None:
        return WorkerPool(node, queues, pool="", size=None, max=None, min=None, replied=False)
    pool = stats.get("pool", {})
    autoscaler = stats.get("autoscaler") or {}
    # "celery.concurrency.prefork:TaskPool" -> "prefork" (or "thread", "solo", "gevent" ...)
    kind = str(pool.get("implementation", "")).split(":")[0].rsplit(".", 1)[-1]
    if "processes" in pool:
        size = len(pool["processes"])
    elif "threads" in pool:
        size = int(pool["threads"])
    else:
        size = pool.get("max-concurrency")
    return WorkerPool(
        node,
        queues,
        pool=kind or "unknown",
        size=size,
        max=autoscaler.get("max", pool.get("max-concurrency")),
        min=autoscaler.get("min"),
        replied=True,
    )


def worker_pools(*, queues: list[str], timeout: float) -> list[WorkerPool]:
    """Every worker with a live heartbeat on one of `queues`, with its pool size (one broadcast)."""
    queues_of: dict[str, list[str]] = {}
    for queue, nodes in worker_heartbeat.live_nodes(worker_heartbeat.client(), queues).items():
        for node in nodes:
            queues_of.setdefault(node, []).append(queue)
    if not queues_of:
        return []
    nodes = sorted(queues_of)
    # Each reply is the worker's JSON; "autoscaler" is missing from the stubs' _StatInfo.
    replies: dict[str, Any] = (
        app.control.inspect(destination=nodes, timeout=timeout, limit=len(nodes)).stats() or {}
    )
    return [_pool_from_stats(node, tuple(queues_of[node]), replies.get(node)) for node in nodes]


def cached_worker_pools(*, queues: list[str]) -> list[dict[str, Any]]:
    """worker_pools() as plain dicts, asked at most once per DASHBOARD_POOLS_CACHE_SECONDS across
    every web process, however many staff keep the dashboard open."""
    pools = cache.get(POOLS_CACHE_KEY)
    if pools is None:
        pools = [
            asdict(p)
            for p in worker_pools(queues=queues, timeout=settings.DASHBOARD_INSPECT_TIMEOUT)
        ]
        cache.set(POOLS_CACHE_KEY, pools, timeout=settings.DASHBOARD_POOLS_CACHE_SECONDS)
    return pools
