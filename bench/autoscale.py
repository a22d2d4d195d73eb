"""Autoscalers under a burst, Celery's own against ours (ordersite/autoscale.py), in one run.

Starts, on a Redis server and a database of its own (bench/harness.py), four workers from the
Procfile's `worker_payments` line, each on a queue of its own: its default pool (threads) and a
prefork pool (`WORKER_PAYMENTS_POOL=--pool=prefork --autoscale=MAX,MIN`), each once with Celery's
Autoscaler and once with ours (`CELERY_WORKER_AUTOSCALER`). Then two rounds, the same burst sent
to every queue at once (tasks that hold their slot like a step waiting on a gateway):

1. a burst, then silence;
2. a burst, then a trickle of one task a second per queue (traffic rarely stops altogether).

For each pool it prints the time from MIN to MAX after the burst started (as the worker logged
its resizes, and as `celery inspect stats` showed it: polled every 0.25 s, but a busy worker
answers late), the pool changes while the burst's backlog lasted (a shrink there is thrashing),
when the burst was done, and the time from then back to MIN (inspect). Writes
bench/results/<label>.json.

    .venv/bin/python bench/autoscale.py            # make bench-autoscale, about 4 minutes

Only 127.0.0.1 is contacted; every process it starts is stopped by PID when it ends.
"""

import argparse
import itertools
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from celery import shared_task

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import Stack, procfile  # noqa: E402
from ordersite.queues import Queue, worker_argv  # noqa: E402
from ordersite.redis import client as redis_client  # noqa: E402

DONE_KEY = "bench:autoscale:done:{queue}"
POOLS = {  # name -> WORKER_PAYMENTS_POOL ("" keeps the Procfile's default)
    "threads": "",
    "prefork": "--pool=prefork --autoscale={max},{min}",
}
# Celery's Autoscaler logs every resize it makes, and ours inherits the line.
SCALING_LINE = re.compile(
    r"^\[([\d-]+ [\d:]+,\d{3}): INFO/MainProcess\] Scaling (up|down) (\d+) processes\.", re.M
)
WIDTHS = (15, 7, 22, 11, 12)  # the printed table's columns
AUTOSCALERS = {
    "celery": "celery.worker.autoscale:Autoscaler",
    "ordersite": "ordersite.autoscale:BacklogAutoscaler",
}


@shared_task(name="bench.hold")
def hold(seconds: float, done_key: str) -> None:
    """A step that holds its slot `seconds` (waiting, as on a gateway), then counts itself done."""
    from django.conf import settings

    time.sleep(seconds)
    redis_client(settings.REDIS_URL).incr(done_key)


class Worker:
    def __init__(self, stack: Stack, pool: str, scaler: str, bounds: tuple[int, int]) -> None:
        self.pool, self.scaler = pool, scaler
        self.queue = f"autoscale-{pool}-{scaler}"
        self.node = f"{self.queue}@{os.uname().nodename}"
        self.max, self.min = bounds
        # The Procfile's payments worker, consuming a queue of its own under a node name of its own.
        procfile_worker = shlex.join(worker_argv([Queue.PAYMENTS], node=f"{Queue.PAYMENTS}@%h"))
        own_worker = shlex.join(worker_argv([self.queue], node=self.node))
        command = procfile()["worker_payments"].replace(procfile_worker, own_worker)
        env = dict(stack.env, CELERY_WORKER_AUTOSCALER=AUTOSCALERS[scaler])
        if POOLS[pool]:
            env["WORKER_PAYMENTS_POOL"] = POOLS[pool].format(max=self.max, min=self.min)
        self.log = stack.logs / f"{self.queue}.log"
        stack.procs[self.queue] = subprocess.Popen(
            ["bash", "-c", f"exec {command} --include bench.autoscale"],
            cwd=ROOT,
            env=env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )
        self.proc = stack.procs[self.queue]
        self.sizes: list[tuple[float, int]] = []

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while "ready." not in self.log.read_text():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"{self.queue} did not start:\n{self.log.read_text()[-2000:]}")
            time.sleep(0.2)

    def resizes_since(self, offset: int) -> list[tuple[float, int]]:
        """(wall time, +n or -n) of every resize the worker logged after `offset` in its log."""
        with self.log.open() as log:
            log.seek(offset)
            text = log.read()
        return [
            (
                # The worker logs local time, and so do we: naive on both sides.
                datetime.strptime(at, "%Y-%m-%d %H:%M:%S,%f").timestamp(),  # noqa: DTZ007
                int(n) if way == "up" else -int(n),
            )
            for at, way, n in SCALING_LINE.findall(text)
        ]

    @property
    def done_key(self) -> str:
        return DONE_KEY.format(queue=self.queue)


class Bench:
    def __init__(self, stack: Stack, args: argparse.Namespace) -> None:
        self.stack, self.args = stack, args
        os.environ.update(stack.env)
        os.environ["DJANGO_SETTINGS_MODULE"] = "ordersite.settings"
        import django

        django.setup()
        from ordersite.celery import app

        self.app = app
        self.redis = redis_client(stack.env["REDIS_URL"], decode_responses=False)
        bounds = tuple(int(v) for v in args.bounds.split(","))
        self.workers = [
            Worker(stack, pool, scaler, bounds) for pool in POOLS for scaler in AUTOSCALERS
        ]
        for worker in self.workers:
            worker.wait_ready()

    def poll_sizes(self) -> None:
        """One `inspect stats` round: each worker's pool size as the autoscaler reports it."""
        nodes = [w.node for w in self.workers]
        replies = (
            self.app.control.inspect(destination=nodes, timeout=1.0, limit=len(nodes)).stats() or {}
        )
        now = time.monotonic()
        for worker in self.workers:
            if worker.node in replies:
                worker.sizes.append((now, replies[worker.node]["autoscaler"]["current"]))

    def send(self, count: int) -> None:
        for _ in range(count):
            for worker in self.workers:
                hold.apply_async((self.args.task_seconds, worker.done_key), queue=worker.queue)

    def round(self, label: str, trickle: bool) -> list[dict]:
        a = self.args
        self.wait_all_at_min(timeout=a.back_timeout)
        for worker in self.workers:
            self.redis.set(worker.done_key, 0)
            worker.sizes.clear()
        offsets = {w.queue: w.log.stat().st_size for w in self.workers}
        sent, sent_wall = time.monotonic(), time.time()
        sender = threading.Thread(
            target=self.send, args=(a.burst,)
        )  # pool sizes are read meanwhile
        sender.start()
        drained: dict[str, float] = {}
        last_trickle = time.monotonic()
        while True:
            self.poll_sizes()
            now = time.monotonic()
            for worker in self.workers:
                if (
                    worker.queue not in drained
                    and int(self.redis.get(worker.done_key) or 0) >= a.burst
                ):
                    drained[worker.queue] = now
            if now - sent > a.back_timeout + a.burst * a.task_seconds:  # a burst that never drains
                break
            if len(drained) == len(self.workers):
                if all(self._back_at(w, drained[w.queue]) for w in self.workers):
                    break
                if now - max(drained.values()) > a.back_timeout:
                    break
                if trickle and now - last_trickle >= 1.0:
                    self.send(1)
                    last_trickle = now
            time.sleep(0.25)
        sender.join()
        results = []
        for w in self.workers:
            result = self._result(w, sent, drained.get(w.queue))
            result["min_to_max_logged_s"] = self._logged_min_to_max(
                w, w.resizes_since(offsets[w.queue]), sent_wall
            )
            results.append(result)
        print(f"\n{label}")
        columns = zip(
            ("MIN->MAX logged", "seen", "changes while backlog", "burst done", "back to MIN"),
            WIDTHS,
            strict=True,
        )
        print(
            f"  {'pool':8} {'autoscaler':10} "
            + " ".join(f"{name:>{width}}" for name, width in columns)
        )
        for r in results:
            values = (
                _s(r["min_to_max_logged_s"]),
                _s(r["min_to_max_s"]),
                r["changes_while_backlog"],
                _s(r["burst_done_s"]),
                _s(r["back_to_min_s"]),
            )
            cells = " ".join(
                f"{value:>{width}}" for value, width in zip(values, WIDTHS, strict=True)
            )
            print(f"  {r['pool']:8} {r['autoscaler']:10} {cells}")
        return results

    @staticmethod
    def _logged_min_to_max(
        worker: Worker, resizes: list[tuple[float, int]], sent_wall: float
    ) -> float | None:
        """When the worker's own log says its pool reached MAX: `inspect` answers late while a
        worker is busy (a prefork worker's loop is blocked while it forks)."""
        size = worker.min
        for at, change in resizes:
            size += change
            if size >= worker.max:
                return round(at - sent_wall, 2)
        return None

    def wait_all_at_min(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.poll_sizes()
            if all(w.sizes and w.sizes[-1][1] == w.min for w in self.workers):
                return
            time.sleep(0.5)
        raise RuntimeError("a pool did not come back to its minimum before the round")

    @staticmethod
    def _back_at(worker: Worker, drained: float) -> float | None:
        return next((t for t, size in worker.sizes if t >= drained and size == worker.min), None)

    def _result(self, worker: Worker, sent: float, drained: float | None) -> dict:
        at_max = next((t for t, size in worker.sizes if size >= worker.max), None)
        during = [
            size for t, size in worker.sizes if at_max is not None and at_max <= t <= (drained or t)
        ]
        back = self._back_at(worker, drained) if drained else None
        return {
            "pool": worker.pool,
            "autoscaler": worker.scaler,
            "min_to_max_s": round(at_max - sent, 2) if at_max else None,
            "changes_while_backlog": sum(a != b for a, b in itertools.pairwise(during)),
            "burst_done_s": round(drained - sent, 2) if drained else None,
            "back_to_min_s": round(back - drained, 2) if back else None,
            "sizes": [(round(t - sent, 2), size) for t, size in worker.sizes],
        }


def _s(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--bounds", default="8,2", help="MAX,MIN of every pool (the Procfile's payments default)"
    )
    parser.add_argument("--burst", type=int, default=600, help="tasks per queue")
    parser.add_argument(
        "--task-seconds", type=float, default=0.1, help="how long each task holds its slot"
    )
    parser.add_argument(
        "--back-timeout", type=float, default=100, help="give up waiting for MIN after this"
    )
    parser.add_argument("--db", default="ordersite_bench_autoscale")
    parser.add_argument("--base-port", type=int, default=8950)
    parser.add_argument("--label", default="bench-autoscale")
    args = parser.parse_args()

    stack = Stack(db_name=args.db, base_port=args.base_port, roles=())
    print(
        f"starting 4 workers on a Redis of their own (logs in var/bench/); load {os.getloadavg()}",
        flush=True,
    )
    try:
        stack.start()  # inside the try: a bench stopped while starting still stops what it started
        bench = Bench(stack, args)
        rounds = {
            "silence": bench.round(
                f"burst of {args.burst} x {args.task_seconds} s tasks per pool, then silence", False
            ),
            "trickle": bench.round(
                f"burst of {args.burst} x {args.task_seconds} s, then 1 task/s per pool", True
            ),
        }
    finally:
        stack.stop()
    result = {
        "label": args.label,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "load_at_end": os.getloadavg()},
        "args": vars(args),
        "rounds": rounds,
    }
    out = ROOT / "bench" / "results" / f"{args.label}.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"\nJSON: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
