"""Load generators for the benches: open loop (each request due at a fixed time, latency counted
from then, so queueing is never hidden) and closed loop (as fast as the server answers)."""

import http.client
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Sample:
    intended: float  # wall-clock time the request was due (open loop)
    done: float
    status: int
    order_id: str = ""


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Client:
    """One POST per fresh connection (gunicorn's sync workers close after each answer)."""

    def __init__(self, port: int) -> None:
        self.port = port

    def post(self, path: str, body: dict, token: str | None = None) -> tuple[int, dict]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Token {token}"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request("POST", path, json.dumps(body), headers)
            response = conn.getresponse()
            raw = response.read()
        except OSError:
            return 0, {}
        finally:
            conn.close()
        try:
            return response.status, json.loads(raw or b"{}")
        except ValueError:
            return response.status, {}


def open_loop(
    rate: float, seconds: float, send: Callable[[int], tuple[int, dict]], threads: int = 200
) -> list[Sample]:
    """Send `rate` requests a second for `seconds`, each due at a fixed time; a late send still
    counts its latency from when it was due."""
    total = int(rate * seconds)
    start = time.time() + 0.2
    samples: list[Sample | None] = [None] * total
    counter = iter(range(total))
    lock = threading.Lock()

    def loop() -> None:
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            due = start + i / rate
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
            status, body = send(i)
            samples[i] = Sample(due, time.time(), status, str(body.get("order_id", "")))

    workers = [
        threading.Thread(target=loop, daemon=True) for _ in range(min(threads, max(8, total)))
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return [s for s in samples if s is not None]


def closed_loop(
    seconds: float,
    send: Callable[[int], tuple[int, dict]],
    threads: int = 24,
    count: int | None = None,
) -> list[Sample]:
    """As fast as the server answers, from `threads` clients, for `seconds` (or until `count`
    requests were sent, whichever comes first)."""
    stop = time.time() + seconds
    samples: list[Sample] = []
    lock = threading.Lock()
    counter = iter(range(count if count is not None else 10**9))

    def loop() -> None:
        while time.time() < stop:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            t0 = time.time()
            status, body = send(i)
            with lock:
                samples.append(Sample(t0, time.time(), status, str(body.get("order_id", ""))))

    workers = [threading.Thread(target=loop, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return samples
