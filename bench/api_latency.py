"""Time the order API of a running instance (make run): POST /orders/, its idempotent replay,
and how long the pipeline takes to complete the orders (from the staff dashboard).

    .venv/bin/python bench/api_latency.py --base http://127.0.0.1:8000 \\
        --token T --staff-token S -n 100

Bounded: 2n requests (n at most 1000), then at most 60 s waiting for the pipeline. Loopback only.
Replays count against ORDER_CREATE_THROTTLE_RATE (600/min) too: keep 2n under it, or run the web
with ORDER_CREATE_THROTTLE_RATE= (empty) to measure without the throttle.
"""

import argparse
import statistics
import sys
import time
import uuid

import httpx

BODY = {"items": [{"product_id": "prod-1", "quantity": 1}]}


def _percentiles(samples: list[float]) -> str:
    cuts = statistics.quantiles(samples, n=100)
    return (
        f"p50 {cuts[49] * 1000:.1f} ms, p95 {cuts[94] * 1000:.1f} ms, "
        f"max {max(samples) * 1000:.1f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--token", required=True)
    parser.add_argument("--staff-token", required=True)
    parser.add_argument("-n", type=int, default=100)
    args = parser.parse_args()
    if not args.base.startswith(("http://127.", "http://localhost", "http://[::1]")):
        sys.exit("loopback targets only")
    n = min(args.n, 1000)
    headers = {"Authorization": f"Token {args.token}"}
    created, replayed, ids = [], [], []
    with httpx.Client(base_url=f"{args.base}/api/v1", headers=headers, timeout=10) as client:
        for _ in range(n):
            key = {"Idempotency-Key": str(uuid.uuid4())}
            started = time.perf_counter()
            response = client.post("/orders/", json=BODY, headers=key)
            created.append(time.perf_counter() - started)
            assert response.status_code == 201, response.text
            ids.append(response.json()["order_id"])
            started = time.perf_counter()
            again = client.post("/orders/", json=BODY, headers=key)
            replayed.append(time.perf_counter() - started)
            assert (again.status_code, again.json()["order_id"]) == (201, ids[-1]), again.text
        print(f"POST /orders/ x{n}: {_percentiles(created)}")
        print(f"replay with the same Idempotency-Key x{n}: {_percentiles(replayed)}")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if client.get(f"/orders/{ids[-1]}/status/").json()["status"] == "completed":
                break
            time.sleep(0.2)
        dashboard = client.get(
            "/analytics/dashboard/", headers={"Authorization": f"Token {args.staff_token}"}
        )
        print("pipeline created->completed over the last hour:", dashboard.json()["latency"])
        started = time.perf_counter()
        ready = client.get("/health/ready")
        print(
            f"GET /health/ready: {ready.status_code} "
            f"in {(time.perf_counter() - started) * 1000:.0f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
