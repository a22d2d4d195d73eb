"""The floors measured beside ours in `make bench` (bench/load.py's Bench takes them in): a
trivial DRF POST, a chain of four no-op tasks, and a minimal order (bench/floor.py serves and runs
them on the same processes as ours)."""

import time

from bench.loadgen import closed_loop, open_loop, percentile


class FloorMeasurements:
    """Mixin of bench/load.py's Bench: uses its `redis`, `workload`, `_wait_quiet`, `_readings`
    and `_costs`."""

    def _wait_counter(self, target: int, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while int(self.redis.get("bench:floor:done") or 0) < target and time.monotonic() < deadline:
            time.sleep(0.05)
        return time.time()

    def floor_trivial_post(self, seconds: float) -> dict:
        self._wait_quiet()
        before = self._readings()
        samples = closed_loop(seconds, self.workload.trivial_post)
        after = self._readings()
        ok = sum(s.status == 201 for s in samples)
        web_ms = (after["cpu"]["web"] - before["cpu"]["web"]) * 1000 / max(ok, 1)
        return {
            "requests_per_s": round(ok / (after["t"] - before["t"]), 1),
            "web_cpu_ms_per_request": round(web_ms, 3),
        }

    def floor_noop_chain(self, count: int) -> dict:
        from bench.floor import noop_chain

        self._wait_quiet()
        self.redis.set("bench:floor:done", 0)
        before = self._readings()
        for i in range(count):
            noop_chain(i).apply_async()
        done = self._wait_counter(count, timeout=120)
        after = self._readings()
        finished = int(self.redis.get("bench:floor:done") or 0)
        costs = self._costs(before, after, finished)
        costs["cpu_ms_per_order"] = round(
            sum(costs["cpu_ms_by_role"][r] for r in ("workers", "redis")), 2
        )
        return {
            "chains": finished,
            "chains_per_s": round(finished / (done - before["t"]), 1),
            **costs,
        }

    def floor_minimal_order(self, seconds: float, rate: float | None = None) -> dict:
        self._wait_quiet()
        self.redis.set("bench:floor:done", 0)
        before = self._readings()
        send = self.workload.minimal_order
        samples = open_loop(rate, seconds, send) if rate else closed_loop(seconds, send)
        ok = sum(s.status == 201 for s in samples)
        done = self._wait_counter(ok, timeout=120)
        after = self._readings()
        finished = int(self.redis.get("bench:floor:done") or 0)
        api = [(s.done - s.intended) * 1000 for s in samples]
        return {
            "completed_per_s": round(finished / (done - samples[0].intended), 1),
            "api_ms": {q: round(percentile(api, p), 1) for q, p in (("p50", 0.5), ("p95", 0.95))},
            **self._costs(before, after, finished),
        }
