"""The workers' autoscaler: sizes a pool to its tasks in hand plus its queues' backlog in the
broker, within what the host can run (CELERY_WORKER_AUTOSCALER).

Celery's own autoscaler sees only the tasks a worker has already reserved (at most its prefetch
count), and shrinks only when no task at all arrived for AUTOSCALE_KEEPALIVE (30 s), checked every
30 s. This one also reads the backlog waiting in the broker, jumps straight to the size the demand
asks for, and shrinks after AUTOSCALE_COOLDOWN_SECONDS to the largest demand seen in that time,
never below it, so a steady backlog keeps a steady pool. Decisions are the pure functions below;
the class only gathers their inputs and applies the answer.
"""

import contextlib
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from celery.utils.sysinfo import cpu_budget  # type: ignore[attr-defined]  # Celery 5.7, absent from the stubs
from celery.worker import state
from celery.worker.autoscale import Autoscaler
from django.conf import settings
from kombu.exceptions import ChannelError, OperationalError

from . import worker_heartbeat
from .thread_pool import ResizableThreadPool

logger = logging.getLogger(__name__)

# A shrink must free at least this share of the pool (and one slot): a demand that wobbles by a
# task or two around the pool's size then moves nothing.
SHRINK_SLACK = 0.25
# What one more thread of a thread pool costs in memory: a thread adds about 0.1 MiB to its
# worker's RSS (measured: 8 threads against 2, each running a task), and holds a PostgreSQL
# connection whose server process is mostly shared memory; 4 MiB covers both generously.
THREAD_SLOT_MB = 4.0


@dataclass(frozen=True)
class Demand:
    """How many pool slots the worker could use at one moment."""

    at: float  # time.monotonic()
    reserved: int  # tasks this worker holds: running, or prefetched and waiting for a slot
    backlog: int  # its share of the messages still waiting in its queues in the broker

    @property
    def slots(self) -> int:
        return self.reserved + self.backlog


def host_capacity(
    *,
    cpus: int,
    per_cpu: float,
    available_mb: float | None,
    reserve_mb: float,
    slot_mb: float,
    current: int,
) -> int:
    """The most pool slots this host can run: `per_cpu` per CPU, and no more new ones than the
    memory available beyond `reserve_mb` holds (slots already running are never counted twice)."""
    by_cpu = max(1, math.floor(cpus * per_cpu))
    if available_mb is None or slot_mb <= 0:
        return by_cpu
    room = max(0, math.floor((available_mb - reserve_mb) / slot_mb))
    return max(1, min(by_cpu, current + room))


def target_pool_size(
    *,
    current: int,
    minimum: int,
    maximum: int,
    host_cap: int,
    demands: Sequence[Demand],
    now: float,
    cooldown: float,
    watching_since: float,
) -> int:
    """The pool size to have now.

    Grows at once, all the way to the latest demand (within the bounds and the host's capacity).
    Shrinks to the largest demand of the last `cooldown` seconds (Kubernetes' HPA calls this its
    scale-down stabilization window), once the pool has been watched that long and only if that
    frees at least SHRINK_SLACK of it: a demand that held steady, or came back within the
    cooldown, never shrinks the pool it filled, and the pool is back at its minimum one cooldown
    after the last task that needed more. `demands` are the samples of the last `cooldown`
    seconds, oldest first.
    """
    ceiling = max(minimum, min(maximum, host_cap))
    if current > ceiling:  # bounds lowered (`celery control autoscale`), or a smaller CPU quota
        return ceiling
    if current < minimum:
        return minimum
    latest = demands[-1].slots if demands else 0
    if latest > current:
        return min(latest, ceiling)
    recent = [d.slots for d in demands if now - d.at <= cooldown]
    if now - watching_since < cooldown or not recent:
        return current
    peak = max(recent)
    if current - peak < max(1, math.ceil(current * SHRINK_SLACK)):
        return current
    return max(minimum, peak)


# --- reading the host and the broker --------------------------------------------------------
def _meminfo_available_mb() -> float | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    return None


def _rss_mb(pid: int) -> float | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return None


def _child_pids() -> list[int]:
    pids: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{os.getpid()}/task").iterdir():
            with contextlib.suppress(OSError, ValueError):
                pids += [int(p) for p in (task / "children").read_text().split()]
    return pids


def slot_memory_mb(*, threads: bool = False) -> float:
    """What one more pool slot costs: AUTOSCALE_SLOT_MEMORY_MB if set; else the mean RSS of the
    pool's child processes (prefork), or THREAD_SLOT_MB for a pool of threads (which has no
    child processes to look for: /proc is not read every sample for nothing)."""
    if settings.AUTOSCALE_SLOT_MEMORY_MB > 0:
        return settings.AUTOSCALE_SLOT_MEMORY_MB
    if threads:
        return THREAD_SLOT_MB
    sizes = [mb for pid in _child_pids() if (mb := _rss_mb(pid)) is not None]
    return sum(sizes) / len(sizes) if sizes else THREAD_SLOT_MB


class BacklogAutoscaler(Autoscaler):
    """Celery's Autoscaler with `target_pool_size` as its rule, and the broker's backlog read by a
    thread of its own (so the worker's event loop never waits on the broker). Its `info()` (in
    `celery inspect stats`) adds the last demand and the host's capacity."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Celery's event loop calls maybe_scale every `keepalive` seconds (its thread sleeps 1 s).
        self.keepalive = settings.AUTOSCALE_INTERVAL_SECONDS
        self.cooldown = settings.AUTOSCALE_COOLDOWN_SECONDS
        self.demands: deque[Demand] = deque()
        self.watching_since = time.monotonic()
        self.backlog = 0
        self.host_cap = self.max_concurrency
        self._sampler: threading.Thread | None = None
        self._sampler_lock = threading.Lock()

    # --- deciding (the event loop's thread, or Celery's autoscaler thread) ---------------------
    def _maybe_scale(self, req: Any = None) -> bool:
        """Called for every message received (`req`) and every AUTOSCALE_INTERVAL_SECONDS. Every
        call records the demand; a message can only grow the pool, and the rest (shrinking, new
        bounds) waits for the next interval, so a message never scans the cooldown's demands."""
        self._start_sampler()
        now = time.monotonic()
        self.demands.append(
            Demand(at=now, reserved=len(state.reserved_requests), backlog=self.backlog)
        )
        while self.demands and now - self.demands[0].at > self.cooldown:
            self.demands.popleft()
        current = self.processes
        if req is not None and self.demands[-1].slots <= current:
            return False
        target = target_pool_size(
            current=current,
            minimum=self.min_concurrency,
            maximum=self.max_concurrency,
            host_cap=self.host_cap,
            demands=self.demands,
            now=now,
            cooldown=self.cooldown,
            watching_since=self.watching_since,
        )
        if target == current:
            return False
        logger.info(
            "autoscale %s -> %s (demand %s: %s reserved + %s waiting in the broker; "
            "bounds %s-%s, host cap %s)",
            current,
            target,
            self.demands[-1].slots,
            self.demands[-1].reserved,
            self.demands[-1].backlog,
            self.min_concurrency,
            self.max_concurrency,
            self.host_cap,
        )
        if target > current:
            self.scale_up(target - current)
        else:
            self._shrink(current - target)  # type: ignore[attr-defined]  # Autoscaler's, absent from the stubs
        return True

    # --- sampling (a thread of its own) -------------------------------------------------------
    def _start_sampler(self) -> None:
        with self._sampler_lock:
            if self._sampler is None:
                self._sampler = threading.Thread(
                    target=self._sample_forever, name="BacklogAutoscaler", daemon=True
                )
                self._sampler.start()

    def _sample_forever(self) -> None:
        connection = channel = None
        failing = False
        while True:
            try:
                if channel is None:
                    connection = self.worker.app.connection_for_read()
                    channel = connection.default_channel
                self.backlog = self._backlog_share(channel)
                if failing:
                    logger.info("autoscaler reads the broker's backlog again")
                failing = False
            except (OSError, OperationalError, ChannelError, redis.RedisError):
                if not failing:
                    logger.warning(
                        "autoscaler cannot read the backlog; sizing by reserved tasks only",
                        exc_info=True,
                    )
                failing = True
                self.backlog = 0
                if connection is not None:
                    with contextlib.suppress(Exception):
                        connection.release()
                connection = channel = None
            self.host_cap = host_capacity(
                cpus=cpu_budget().count,
                per_cpu=settings.AUTOSCALE_PROCESSES_PER_CPU,
                available_mb=_meminfo_available_mb(),
                reserve_mb=settings.AUTOSCALE_MEMORY_RESERVE_MB,
                slot_mb=slot_memory_mb(threads=isinstance(self.pool, ResizableThreadPool)),
                current=self.processes,
            )
            time.sleep(self.keepalive)

    def _backlog_share(self, channel: Any) -> int:
        """Messages waiting in this worker's queues, each queue's split evenly between the workers
        that consume it (their heartbeats say how many), so N workers do not each grow for all."""
        consumer = getattr(self.worker.consumer, "task_consumer", None)
        queues = sorted({q.name for q in consumer.queues}) if consumer is not None else []
        if not queues:
            return 0
        waiting = {}
        for name in queues:
            try:
                waiting[name] = channel.queue_declare(queue=name, passive=True).message_count
            except ChannelError:  # Redis has no key for an empty queue
                waiting[name] = 0
        consumers = worker_heartbeat.live_workers(worker_heartbeat.client(), queues)
        return sum(math.ceil(n / max(1, consumers.get(q, 1))) for q, n in waiting.items())

    def info(self) -> dict[str, Any]:
        latest = self.demands[-1] if self.demands else None
        return super().info() | {
            "backlog": self.backlog,
            "demand": latest.slots if latest else None,
            "host_cap": self.host_cap,
            "cooldown": self.cooldown,
        }
