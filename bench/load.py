"""`make bench`: what an order costs, open-loop, beside the floors measured in the same run.

Starts `make run`'s processes (Procfile lines, its defaults) on a database, a Redis server and
ports of its own, then per run:
1. floors: a trivial DRF POST (server CPU per request), a chain of four no-op tasks on the four
   queues (chains/s, CPU per chain), a minimal order (the same POST with token auth, one
   INSERT, that chain sent on commit: orders/s, CPU per order);
2. ours: a closed burst to find saturation, then open-loop steps at fixed rates (fractions of
   that saturation): each request carries its intended send time and latency counts from it,
   so queueing is never hidden. Per step: offered, accepted, completed/s, API and end-to-end
   p50/p95/p99, errors, unfinished, CPU ms per completed order by process role, PostgreSQL
   commits, rows fetched and Redis commands per order;
3. the minimal-order floor open-loop at the same rate as our 70% step, for CPU side by side.
Prints a table and writes the figures as JSON under bench/results/. Medians over --runs.

    .venv/bin/python bench/load.py --runs 3            # make bench
    .venv/bin/python bench/load.py --runs 3 --latency-ms 50 --jitter-ms 20
    .venv/bin/python bench/load.py --runs 1 --memory-orders 50000 --label bench-memory

Only 127.0.0.1 is contacted; every process it starts is stopped by PID when it ends.
"""

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.floor_load import FloorMeasurements  # noqa: E402
from bench.harness import Stack, wait_orders_ended, wait_quiet  # noqa: E402
from bench.loadgen import Client, Sample, closed_loop, open_loop, percentile  # noqa: E402
from bench.report import format_step, summary  # noqa: E402
from bench.workload import Workload  # noqa: E402


class Bench(FloorMeasurements):
    def __init__(self, stack: Stack, args: argparse.Namespace) -> None:
        self.stack, self.args = stack, args
        self.client = Client(stack.port)
        os.environ.update(
            {k: v for k, v in stack.env.items() if k not in ("DJANGO_SETTINGS_MODULE",)}
        )
        os.environ["DJANGO_SETTINGS_MODULE"] = "ordersite.settings"
        import django

        django.setup()
        from ordersite.redis import client as redis_client

        self.redis = redis_client(stack.env["REDIS_URL"], decode_responses=False)
        self.workload = Workload(self.client, hot=args.hot)

    # --- measuring ---------------------------------------------------------------------------
    def _readings(self) -> dict:
        return {
            "t": time.time(),
            "cpu": self.stack.cpu(),
            "pg": self.stack.pg_counters(),
            "redis": self.stack.redis_commands(),
        }

    def _wait_quiet(self, timeout: float | None = None) -> bool:
        """Until no message waits in a queue or in a worker's hands (twice in a row, 0.2 s
        apart), at most --drain-seconds; False if that ran out. Each measurement starts on a quiet
        stack and ends when the work it caused is done (an order is completed before its
        shipment mail is sent): no reading is charged with another's leftovers, and no order's
        own mails are left out of its cost. `timeout` defaults to --drain-seconds."""
        quiet = wait_quiet(self.redis, timeout or self.args.drain_seconds)
        if not quiet:
            print("  (the queues did not go quiet in time)", flush=True)
        return quiet

    @staticmethod
    def _costs(before: dict, after: dict, completed: int) -> dict:
        n = max(completed, 1)
        cpu = {
            role: (after["cpu"][role] - before["cpu"][role]) * 1000 / n for role in before["cpu"]
        }
        return {
            "cpu_ms_per_order": round(sum(cpu.values()), 2),
            "cpu_ms_by_role": {k: round(v, 2) for k, v in cpu.items()},
            "commits_per_order": round((after["pg"]["commits"] - before["pg"]["commits"]) / n, 1),
            "rows_fetched_per_order": round(
                (after["pg"]["rows_fetched"] - before["pg"]["rows_fetched"]) / n, 1
            ),
            "redis_commands_per_order": round((after["redis"] - before["redis"]) / n, 1),
        }

    def _order_outcomes(self, samples: list[Sample]) -> dict:
        from orders.models import Order, OrderEvent

        due = {s.order_id: s.intended for s in samples if s.status == 201}
        rows = Order.objects.filter(public_id__in=list(due)).values_list(
            "pk", "public_id", "status"
        )
        pk_to_id = {pk: str(public_id) for pk, public_id, _ in rows}
        statuses = [status for _, _, status in rows]
        done_at = OrderEvent.objects.filter(
            order_id__in=list(pk_to_id), kind="order_completed"
        ).values_list("order_id", "created_at")
        e2e = [(at.timestamp() - due[pk_to_id[pk]]) * 1000 for pk, at in done_at]
        retries = OrderEvent.objects.filter(order_id__in=list(pk_to_id), kind="step_retry").count()
        return {
            "completed": statuses.count("completed"),
            "unfinished": sum(
                s not in ("completed", "cancelled", "failed", "payment_failed") for s in statuses
            ),
            "e2e_ms": e2e,
            "last_completed": max((at.timestamp() for _, at in done_at), default=time.time()),
            "retries_per_order": round(retries / max(len(rows), 1), 3),
        }

    def step(self, rate: float, seconds: float) -> dict:
        """Our orders, open-loop at `rate` for `seconds`, then drained (their mails too)."""
        self._wait_quiet()
        before = self._readings()
        samples = open_loop(rate, seconds, self.workload.order)
        ids = [s.order_id for s in samples if s.status == 201]
        wait_orders_ended(ids, timeout=self.args.drain_seconds)
        self._wait_quiet()
        after = self._readings()
        outcome = self._order_outcomes(samples)
        api = [(s.done - s.intended) * 1000 for s in samples]
        elapsed = max(outcome["last_completed"], samples[-1].done) - samples[0].intended
        return {
            "offered_per_s": rate,
            "accepted_per_s": round(len(ids) / seconds, 1),
            "completed_per_s": round(outcome["completed"] / elapsed, 1),
            "errors": sum(s.status != 201 for s in samples),
            "unfinished": outcome["unfinished"],
            "api_ms": {
                q: round(percentile(api, p), 1)
                for q, p in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
            },
            "e2e_ms": {
                q: round(percentile(outcome["e2e_ms"], p), 1)
                for q, p in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
            },
            "retries_per_order": outcome["retries_per_order"],
            **self._costs(before, after, outcome["completed"]),
        }

    @staticmethod
    def _print_burst(result: dict) -> dict:
        print("  " + json.dumps(result), flush=True)
        return result

    @staticmethod
    def _print(step: dict) -> dict:
        print("  " + format_step(step), flush=True)
        return step

    def ours_burst(self, seconds: float) -> dict:
        """Saturation: as many orders as the API takes for `seconds`, then time to finish them."""
        self._wait_quiet()
        before = self._readings()
        samples = closed_loop(seconds, self.workload.order)
        ids = [s.order_id for s in samples if s.status == 201]
        wait_orders_ended(ids, timeout=self.args.drain_seconds * 3)
        self._wait_quiet()
        after = self._readings()
        outcome = self._order_outcomes(samples)
        elapsed = outcome["last_completed"] - samples[0].intended
        return {
            "accepted": len(ids),
            "completed": outcome["completed"],
            "unfinished": outcome["unfinished"],
            "completed_per_s": round(outcome["completed"] / elapsed, 1),
            **self._costs(before, after, outcome["completed"]),
        }

    def burst(self, orders: int) -> dict:
        """`orders` orders as fast as the API takes them; then how long until every one ended,
        how many were lost, and what each process's memory did meanwhile."""
        self._wait_quiet()
        rss_before = self.stack.rss_mb()
        before = self._readings()
        samples = closed_loop(float(10**6), self.workload.order, threads=32, count=orders)
        accepted_at = time.time()
        ids = [s.order_id for s in samples if s.status == 201]
        ended = wait_orders_ended(ids, timeout=max(600.0, orders / 5))
        self._wait_quiet(timeout=max(600.0, orders / 5))
        after = self._readings()
        outcome = self._order_outcomes(samples)
        start = min(s.intended for s in samples)
        return {
            "orders": orders,
            "accepted": len(ids),
            "rejected": orders - len(ids),
            "accept_seconds": round(accepted_at - start, 1),
            "all_ended_seconds": round(ended - start, 1),
            "completed": outcome["completed"],
            "lost": outcome["unfinished"],
            "completed_per_s": round(outcome["completed"] / (ended - start), 1),
            "rss_mb_before": {k: round(v) for k, v in rss_before.items()},
            "rss_mb_after": {k: round(v) for k, v in self.stack.rss_mb().items()},
            **self._costs(before, after, outcome["completed"]),
        }

    def _memory_reading(self, orders: int) -> dict:
        from django_celery_results.models import TaskResult

        reading = {
            "orders": orders,
            "rss_mb": {k: round(v, 1) for k, v in self.stack.rss_mb().items()},
            "redis_used_mb": round(self.redis.info("memory")["used_memory"] / 2**20, 1),
            "result_rows": TaskResult.objects.count(),
        }
        print("  memory " + json.dumps(reading), flush=True)
        return reading

    def memory(self, orders: int, rate: float, parts: int) -> dict:
        """`orders` orders open-loop at `rate`, in `parts` equal parts, each drained; after each,
        every process's RSS, Redis's memory and the stored results: growth shows as a trend
        over the whole run, not as one pair of readings."""
        seconds = orders / parts / rate
        trend = [self._memory_reading(0)]
        steps = []
        for part in range(1, parts + 1):
            steps.append(self._print(self.step(rate, seconds)))
            trend.append(self._memory_reading(round(part * rate * seconds)))
        return {"rate": rate, "parts": parts, "trend": trend, "steps": steps}

    def run(self) -> dict:
        a = self.args
        if a.burst_orders:
            return {"burst_orders": self._print_burst(self.burst(a.burst_orders))}
        if a.memory_orders:  # at --rates' first, or at 70 % of the saturation a burst finds
            rate = (
                a.rates[0]
                if a.rates
                else round(0.7 * self.ours_burst(a.burst_seconds)["completed_per_s"], 1)
            )
            return {"memory": self.memory(a.memory_orders, rate, a.memory_parts)}
        if a.steps_only:  # A/B comparisons: only our open-loop steps at --rates
            return {"steps": [self._print(self.step(rate, a.step_seconds)) for rate in a.rates]}
        result: dict = {"floors": {}}
        result["floors"]["trivial_post"] = self.floor_trivial_post(a.burst_seconds / 2)
        result["floors"]["noop_chain"] = self.floor_noop_chain(a.chains)
        result["floors"]["minimal_order"] = self.floor_minimal_order(a.burst_seconds)
        result["burst"] = self.ours_burst(a.burst_seconds)
        saturation = result["burst"]["completed_per_s"]
        rates = a.rates or [round(saturation * f, 1) for f in (0.25, 0.5, 0.7, 0.85, 1.0, 1.2)]
        result["steps"] = []
        for rate in rates:
            step = self.step(rate, a.step_seconds)
            result["steps"].append(step)
            print("  " + format_step(step), flush=True)
        at70 = round(saturation * 0.7, 1)
        result["floors"]["minimal_order_at_70"] = self.floor_minimal_order(
            a.step_seconds, rate=at70
        )
        result["at70"] = next(
            (s for s in result["steps"] if s["offered_per_s"] == at70), None
        ) or self.step(at70, a.step_seconds)
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--burst-seconds", type=float, default=15)
    parser.add_argument("--step-seconds", type=float, default=12)
    parser.add_argument("--drain-seconds", type=float, default=60)
    parser.add_argument("--chains", type=int, default=3000)
    parser.add_argument(
        "--rates",
        type=float,
        nargs="*",
        help="fixed offered rates (default: fractions of saturation)",
    )
    parser.add_argument("--hot", action="store_true", help="90%% of orders want prod-1..prod-3")
    parser.add_argument(
        "--latency-ms", type=float, default=0, help="added sandbox latency (each gateway call)"
    )
    parser.add_argument("--jitter-ms", type=float, default=0)
    parser.add_argument("--label", default="bench")
    parser.add_argument(
        "--db", default="ordersite_bench", help="the bench's own database (created if missing)"
    )
    parser.add_argument(
        "--burst-orders", type=int, default=0, help="only a burst of this many orders (and memory)"
    )
    parser.add_argument(
        "--steps-only", action="store_true", help="skip floors and burst; needs --rates"
    )
    parser.add_argument(
        "--memory-orders",
        type=int,
        default=0,
        help="only memory: this many orders open-loop at --rates' first (or 70%% of saturation)",
    )
    parser.add_argument("--memory-parts", type=int, default=10, help="readings over the run")
    parser.add_argument(
        "--env", nargs="*", default=[], help="NAME=value for every process (A/B of settings)"
    )
    args = parser.parse_args()

    stack = Stack(db_name=args.db, extra_env=dict(item.split("=", 1) for item in args.env))
    print(
        f"starting make run's processes on 127.0.0.1:{stack.port} (logs in var/bench/)", flush=True
    )
    runs = []
    try:
        stack.start()  # inside the try: a bench stopped while starting still stops what it started
        bench = Bench(stack, args)
        if args.latency_ms:
            from sandboxes.faults import SANDBOXES, set_faults

            for name in SANDBOXES:  # latency_ms ± jitter_ms, uniformly
                set_faults(
                    name,
                    latency_ms=int(args.latency_ms - args.jitter_ms),
                    jitter_ms=int(2 * args.jitter_ms),
                )
        for n in range(args.runs):
            print(f"run {n + 1}/{args.runs}", flush=True)
            runs.append(bench.run())
        rss = stack.rss_mb()
    finally:
        stack.stop()
    result = {
        "label": args.label,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "args": vars(args),
        "summary": summary(runs)
        if not (args.steps_only or args.burst_orders or args.memory_orders)
        else {},
        "rss_mb_at_end": rss,
        "runs": runs,
    }
    out = ROOT / "bench" / "results" / f"{args.label}.json"
    out.write_text(json.dumps(result, indent=2, default=str))
    print(f"\nmedians of {len(runs)} run(s)  (JSON: {out.relative_to(ROOT)})")
    for key, value in result["summary"].items():
        print(f"  {key:36} {value}")


if __name__ == "__main__":
    main()
