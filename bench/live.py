"""Live updates under load: commit-to-client latency with many connected WebSocket clients, and
how many idle SSE streams one live-server process holds, with its memory.

Starts the Procfile's `live` process (one uvicorn) on a database, a Redis server and a port of the
bench's own, then:
1. latency: --clients customers connect to /ws (seed 004's protocol), each with an order; this
   process writes --events timeline events (record_event, each in its own transaction) at --rate
   per second, round robin over the orders. A client's latency runs from the moment its event's
   transaction committed (an on_commit callback registered before the event's publish) to the
   moment the client decoded the event message: XADD, the server's XREAD, fan-out, the socket.
   Prints p50/p95/p99/max and how many events never arrived.
2. idle streams: --streams SSE connections to /api/v1/orders/stream/ held for --hold-seconds, then
   counts those still open (each must have received a heartbeat meanwhile, LIVE_HEARTBEAT_SECONDS
   is 5 here) and prints the live process's RSS before and after, and per stream.

    .venv/bin/python bench/live.py                                  # 100 clients, 1,000 streams
    .venv/bin/python bench/live.py --clients 3 --events 20 --streams 10 --hold-seconds 6   # a check

Only 127.0.0.1 is contacted; every process it starts is stopped by PID when it ends.
"""

import argparse
import asyncio
import contextlib
import json
import os
import resource
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import Stack, free_port, tree_rss_mb  # noqa: E402

HEARTBEAT_SECONDS = 5


def _percentile(samples: list[float], q: int) -> float:
    return (
        statistics.quantiles(samples, n=100, method="inclusive")[q - 1]
        if len(samples) > 1
        else samples[0]
    )


def _setup_django(env: dict[str, str]) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        os.environ[name] = env[name]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ordersite.settings")
    import django

    django.setup()


def _customers(count: int) -> list[tuple[str, str]]:
    """(token, order public id) of `count` bench customers, each with one order."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from orders.models import Order

    found = []
    for i in range(count):
        user, _ = get_user_model().objects.get_or_create(username=f"bench-live-{i}")
        token, _ = Token.objects.get_or_create(user=user)
        order = Order.objects.create(customer=user, total_cents=0)
        found.append((token.key, str(order.public_id)))
    return found


def _write_events(orders: list[str], events: int, rate: float, committed: dict) -> None:
    """Write `events` visible events round robin over `orders`, at `rate` per second (paced
    from the start, so a slow write is not hidden), noting each one's commit time."""
    from django.db import transaction

    from orders.models import Order
    from orders.states import EventKind
    from orders.timeline import record_event

    rows = {str(order.public_id): order for order in Order.objects.filter(public_id__in=orders)}
    started = time.perf_counter()
    for n in range(events):
        delay = started + n / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        order = rows[orders[n % len(orders)]]
        with transaction.atomic():
            seq = order.last_event_seq + 1
            key = (str(order.public_id), seq)
            # Registered before record_event's own callback, so it runs first, right at commit.
            transaction.on_commit(lambda key=key: committed.__setitem__(key, time.perf_counter()))
            record_event(order, EventKind.PAYMENT_STARTED)


async def _latency(ws_url: str, customers: list[tuple[str, str]], events: int, rate: float) -> dict:
    from websockets.asyncio.client import connect

    committed: dict[tuple[str, int], float] = {}
    latencies: list[float] = []
    expected = events
    done = asyncio.Event()

    async def client(token: str) -> None:
        async with connect(
            ws_url, additional_headers={"Authorization": f"Token {token}"}, max_queue=None
        ) as ws:
            ready.release()
            async for text in ws:
                received = time.perf_counter()
                message = json.loads(text)
                if message.get("type") != "event":
                    continue
                body = next(iter(message["action"].values()))
                sent = committed.get((body["order_id"], body["seq"]))
                if sent is not None:
                    latencies.append(received - sent)
                if len(latencies) >= expected:
                    done.set()

    ready = asyncio.Semaphore(0)
    tasks = [asyncio.create_task(client(token)) for token, _ in customers]
    for _ in customers:
        await asyncio.wait_for(ready.acquire(), timeout=60)
    writer = threading.Thread(
        target=_write_events,
        args=([order for _, order in customers], events, rate, committed),
        daemon=True,
    )
    writer.start()
    await asyncio.to_thread(writer.join)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), timeout=30)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {"events": events, "received": len(latencies), "latencies": latencies}


async def _idle_streams(port: int, tokens: list[str], count: int, hold: float) -> tuple[int, int]:
    """Open `count` SSE streams (raw sockets: the client must stay lighter than the server),
    hold them, then count those open and those that saw a heartbeat while held."""
    streams = []
    for n in range(count):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            (
                f"GET /api/v1/orders/stream/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Authorization: Token {tokens[n % len(tokens)]}\r\n"
                "Accept: text/event-stream\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=30)
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"stream {n} refused: {head[:200]!r}")
        streams.append((reader, writer))
    await asyncio.sleep(hold)

    async def heard(reader: asyncio.StreamReader) -> bool:
        try:
            return b"heartbeat" in await asyncio.wait_for(
                reader.read(65536), timeout=HEARTBEAT_SECONDS * 2
            )
        except (TimeoutError, ConnectionError):
            return False

    alive = sum(await asyncio.gather(*(heard(reader) for reader, _ in streams)))
    for _, writer in streams:
        writer.close()
    return len(streams), alive


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200.0, help="events per second")
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--hold-seconds", type=float, default=30.0)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = args.streams * 2 + args.clients * 2 + 200  # both ends live on this machine
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, needed), hard), hard))
    if min(max(soft, needed), hard) < needed:
        sys.exit(f"open files limit {hard} is below the {needed} this run needs")

    port = free_port(8960)
    stack = Stack(
        db_name="ordersite_bench_live",
        roles=("live",),
        extra_env={
            "LIVE_PORT": str(port),
            "LIVE_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
            "DEBUG": "false",
            "SECURE_SSL_REDIRECT": "false",  # plain HTTP
        },
    )
    stack.env.setdefault("SECRET_KEY", "bench-only")
    try:
        stack.start()
        stack._wait_http(f"http://127.0.0.1:{port}/api/v1/health")
        _setup_django(stack.env)
        live_pid = stack.procs["live"].pid
        customers = _customers(args.clients)
        result = asyncio.run(
            _latency(f"ws://127.0.0.1:{port}/ws", customers, args.events, args.rate)
        )
        samples = sorted(result["latencies"])
        print(
            f"commit-to-client, {args.clients} WebSocket clients, "
            f"{args.events} events at {args.rate:g}/s:"
        )
        if samples:
            print(
                f"  p50 {_percentile(samples, 50) * 1000:.1f} ms, "
                f"p95 {_percentile(samples, 95) * 1000:.1f} ms, "
                f"p99 {_percentile(samples, 99) * 1000:.1f} ms, max {samples[-1] * 1000:.1f} ms"
            )
        print(f"  received {result['received']} of {result['events']}")

        before = tree_rss_mb(live_pid)
        opened, alive = asyncio.run(
            _idle_streams(port, [token for token, _ in customers], args.streams, args.hold_seconds)
        )
        after = tree_rss_mb(live_pid)
        print(
            f"idle SSE streams held by one live process for {args.hold_seconds:g}s: "
            f"{alive} of {opened} alive"
        )
        print(
            f"  live process RSS {before:.1f} MB before, {after:.1f} MB with them open "
            f"({(after - before) * 1024 / max(opened, 1):.1f} KB per stream)"
        )
        return 0 if result["received"] == result["events"] and alive == opened else 1
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
