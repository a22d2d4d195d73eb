"""Throughput and end-to-end latency of the order pipeline on this machine.

Starts its own gunicorn and one worker per queue against a database of its own
(`ordersite_bench`, Redis db 8 by default), places orders over HTTP from client threads, and
prints, per round and as medians of the rounds:
- POST /orders/ latency (p50/p95) and accepted orders per second,
- end-to-end latency from order creation to `completed` (p50/p95, from the event timeline),
- a baseline in the same run: GET /products/{sku}/ latency, a read that touches no queue.

    .venv/bin/python bench/pipeline.py --orders 300 --clients 8 --rounds 3

Only 127.0.0.1 is contacted; every process it starts is stopped by PID when it ends.
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def start(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--concurrency", type=int, default=2, help="processes per queue worker")
    parser.add_argument(
        "--products", type=int, default=1, help="spread orders over prod-1..prod-N (1: every order races for one row)"
    )
    args = parser.parse_args()

    env = dict(os.environ)
    env.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ordersite_bench")
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/8")
    env["CELERY_BROKER_URL"] = env["REDIS_URL"]
    env["LOG_LEVEL"] = "WARNING"
    env["ORDER_CREATE_THROTTLE_RATE"] = ""  # one customer places every order
    env["DEBUG"] = "false"
    env.setdefault("SECRET_KEY", "bench-only")
    # The gateways are our sandboxes over HTTP, on ports of this run's own.
    sandbox_ports = (args.port + 1, args.port + 2, args.port + 3)
    env["PAYMENT_GATEWAY_URL"] = f"http://127.0.0.1:{sandbox_ports[0]}"
    env["CARRIER_PRIMARY_URL"] = f"http://127.0.0.1:{sandbox_ports[1]}"
    env["CARRIER_FALLBACK_URL"] = f"http://127.0.0.1:{sandbox_ports[2]}"
    os.environ.update(env)
    db_name = env["DATABASE_URL"].rsplit("/", 1)[1]
    subprocess.run(["bin/ensure-services", db_name], cwd=ROOT, check=True)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    subprocess.run([*manage, "seed_demo"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run(["redis-cli", "-u", env["REDIS_URL"], "flushdb"], check=True, capture_output=True)

    import django

    os.environ["DJANGO_SETTINGS_MODULE"] = "ordersite.settings"
    django.setup()
    from rest_framework.authtoken.models import Token

    from orders.models import Order, OrderEvent

    token = Token.objects.get(user__username="cust-123").key
    logs = ROOT / "var" / "bench"
    logs.mkdir(parents=True, exist_ok=True)
    procs = [
        start(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "ordersite.wsgi",
                "--bind",
                f"127.0.0.1:{args.port}",
                "--workers",
                "4",
                "--threads",
                "4",
            ],
            env,
            logs / "web.log",
        )
    ]
    procs.append(start([*manage, "run_sandboxes"], env, logs / "sandboxes.log"))
    for queue in ("orders", "payments", "inventory", "shipping"):
        procs.append(
            start(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "ordersite",
                    "worker",
                    "-Q",
                    queue,
                    "-n",
                    f"bench-{queue}@%h",
                    "-c",
                    str(args.concurrency),
                    "-l",
                    "warning",
                    "--without-mingle",
                    "--without-gossip",
                ],
                env,
                logs / f"worker-{queue}.log",
            )
        )
    base = f"http://127.0.0.1:{args.port}"
    try:
        wait_http(f"{base}/api/v1/")
        wait_http(f"{env['PAYMENT_GATEWAY_URL']}/health")
        time.sleep(3)  # workers connect
        headers = {"Authorization": f"Token {token}"}
        from inventory.models import Product
        from inventory.services import update_product

        catalog = list(Product.objects.filter(sku__startswith="prod-"))
        for product in catalog:  # every round finds stock: the bench measures the happy path
            update_product(
                sku=product.sku,
                version=product.version,
                name=product.name,
                price_cents=product.price_cents,
                on_hand=product.reserved + 1_000_000,
            )
        prices = {product.sku: product.price_cents for product in catalog}
        bodies = [
            {"items": [{"product_id": sku, "quantity": 1, "unit_price_cents": prices[sku]}]}
            for sku in (f"prod-{n}" for n in range(1, args.products + 1))
        ]
        rounds = []
        with httpx.Client(headers=headers, timeout=30) as client:
            for r in range(args.rounds):

                def read(_: int) -> float:
                    t0 = time.perf_counter()
                    client.get(f"{base}/api/v1/products/prod-1/").raise_for_status()
                    return time.perf_counter() - t0

                def post(i: int) -> tuple[float, str]:
                    t0 = time.perf_counter()
                    response = client.post(f"{base}/api/v1/orders/", json=bodies[i % len(bodies)])
                    response.raise_for_status()
                    return time.perf_counter() - t0, response.json()["order_id"]

                with ThreadPoolExecutor(args.clients) as pool:
                    reads = list(pool.map(read, range(args.orders)))
                    t0 = time.perf_counter()
                    posts = list(pool.map(post, range(args.orders)))
                    accept_s = time.perf_counter() - t0
                ids = [order_id for _, order_id in posts]
                deadline = time.monotonic() + 300
                while Order.objects.filter(public_id__in=ids, status="completed").count() < len(ids):
                    if time.monotonic() > deadline:
                        raise RuntimeError("orders did not complete within 300 s")
                    time.sleep(0.2)
                drained_s = time.perf_counter() - t0
                created = dict(Order.objects.filter(public_id__in=ids).values_list("pk", "created_at"))
                done = OrderEvent.objects.filter(order_id__in=created, kind="order_completed")
                e2e = [(at - created[pk]).total_seconds() for pk, at in done.values_list("order_id", "created_at")]
                result = {
                    "read_p50_ms": percentile(reads, 0.5) * 1000,
                    "read_p95_ms": percentile(reads, 0.95) * 1000,
                    "post_p50_ms": percentile([p for p, _ in posts], 0.5) * 1000,
                    "post_p95_ms": percentile([p for p, _ in posts], 0.95) * 1000,
                    "accepted_per_s": len(ids) / accept_s,
                    "completed_per_s": len(ids) / drained_s,
                    "e2e_p50_ms": percentile(e2e, 0.5) * 1000,
                    "e2e_p95_ms": percentile(e2e, 0.95) * 1000,
                }
                rounds.append(result)
                print(f"round {r + 1}: " + "  ".join(f"{k}={v:.1f}" for k, v in result.items()))
        print(f"\nmedians of {args.rounds} rounds, {args.orders} orders each, {args.clients} clients:")
        for key in rounds[0]:
            print(f"  {key:16} {statistics.median(r[key] for r in rounds):9.1f}")
        post_vs_read = statistics.median(r["post_p50_ms"] / r["read_p50_ms"] for r in rounds)
        print(f"  POST p50 / baseline GET p50: {post_vs_read:.2f}x")
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
