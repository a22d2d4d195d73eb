"""A Celery thread pool that can grow and shrink while the worker runs.

Celery's own thread pool (`--pool=threads`) is a fixed ThreadPoolExecutor: it has no `grow` or
`shrink`, so neither `--autoscale` nor `celery control pool_grow` can resize it, and the only
resizable pool is prefork, which costs more CPU per order (README, Performance). This pool is the
same thread pool (one process, tasks run by `apply_target` in threads), with a size that changes:
growing starts threads at once, shrinking retires idle threads as they come free (a running
task is never interrupted), and a retiring thread closes its own database connections.

Celery's CLI accepts only its pool names (`--pool` refuses a dotted path), so `ordersite/celery.py`
makes `--pool=threads` mean this class.
"""

import itertools
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from billiard.einfo import ExceptionInfo
from celery.concurrency.base import BasePool, apply_target
from celery.concurrency.thread import ApplyResult  # type: ignore[attr-defined]  # absent from the stubs
from django.db import connections

_RETIRE = None  # the work item that tells one thread to exit

logger = logging.getLogger(__name__)


def _answer_a_failed_trace(callback: Callable[..., Any] | None, exc: Exception) -> None:
    """Celery's trace raised outside the task body (its own failure handling failed). Celery's
    thread pool then never answers the request, so its message is never acknowledged and holds
    one of the worker's prefetch slots for good: a worker that meets this a few times stops
    taking work. Answer it as a failed task instead, as the prefork pool does; the request then
    acknowledges it (the reconciler re-sends an order whose step was lost this way)."""
    logger.error("task trace failed outside its body: %r", exc, exc_info=True)
    if callback is not None:
        callback((1, ExceptionInfo(internal=True), 0.0))


class ResizableThreadPool(BasePool):
    """Threads taking work from one queue; `size` threads are wanted, the rest retire."""

    body_can_be_buffer = True
    signal_safe = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._work: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()
        self._names = itertools.count(1)
        self.size = 0

    # --- lifecycle -------------------------------------------------------------------------
    def on_start(self) -> None:
        self.grow(self.limit or 0)

    def on_stop(self) -> None:
        """Warm shutdown, as Celery's thread pool does it: tasks not yet started are dropped
        (their messages are unacknowledged, so the broker delivers them again), running ones
        finish, then every thread exits."""
        while True:
            try:
                item = self._work.get_nowait()
            except queue.Empty:
                break
            if item is not _RETIRE:
                item[0].cancel()
        with self._lock:
            threads = list(self._threads)
            self.size = self.limit = 0
        for _ in threads:
            self._work.put(_RETIRE)
        for thread in threads:
            thread.join()
        super().on_stop()

    # --- resizing --------------------------------------------------------------------------
    def grow(self, n: int = 1) -> None:
        with self._lock:
            for _ in range(max(n, 0)):
                thread = threading.Thread(
                    target=self._serve, name=f"ResizableThreadPool-{next(self._names)}", daemon=True
                )
                self._threads.add(thread)
                thread.start()
            self.size += max(n, 0)
            self.limit = self.size

    def shrink(self, n: int = 1) -> None:
        """Retire `n` threads as they come free (down to none, as `--autoscale=max,0` asks:
        tasks then wait until the autoscaler grows the pool again)."""
        with self._lock:
            n = min(max(n, 0), self.size)
            self.size -= n
            self.limit = self.size
        for _ in range(n):
            self._work.put(_RETIRE)

    @property
    def num_processes(self) -> int:
        return self.size

    # --- work ------------------------------------------------------------------------------
    def on_apply(
        self,
        target: Callable[..., Any],
        args: tuple | None = None,
        kwargs: dict | None = None,
        callback: Callable[..., Any] | None = None,
        accept_callback: Callable[..., Any] | None = None,
        **_: Any,
    ) -> ApplyResult:
        future: Future = Future()
        self._work.put((future, target, args, kwargs, callback, accept_callback))
        return ApplyResult(future)

    def _serve(self) -> None:
        try:
            while (item := self._work.get()) is not _RETIRE:
                future, target, args, kwargs, callback, accept_callback = item
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    apply_target(target, args, kwargs, callback, accept_callback)
                    future.set_result(None)
                except Exception as exc:  # noqa: BLE001 - any failure of the trace must still answer
                    _answer_a_failed_trace(callback, exc)
                    future.set_exception(exc)
                except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on the future
                    future.set_exception(exc)
        finally:
            # Django's connections are per thread: a retired thread's would stay open until
            # garbage collection, and a pool that breathes would leak PostgreSQL sessions.
            connections.close_all()
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _get_info(self) -> dict[str, Any]:
        info = super()._get_info()  # type: ignore[misc]  # BasePool's, absent from the stubs
        with self._lock:
            info.update({"max-concurrency": self.size, "threads": len(self._threads)})
        return info
