"""Orders through real workers while the sandboxes misbehave; reports time and invariants.

Starts its own sandbox process and one worker (stopped by PID at the end), against DATABASE_URL
(migrated) and REDIS_URL:
    python bench/chaos.py [orders] [payment_error_rate] [primary_carrier_error_rate]
Prints how long until every order is terminal or waiting (at most 240 s), the status counts, the
retries the timeline recorded, the steps the reconciler re-sent (it runs every 5 s here, with
PIPELINE_STUCK_AFTER_SECONDS=10, standing in for beat), the breakers, and any order whose money
does not add up."""

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ordersite.settings")
PORTS = os.environ.get("BENCH_SANDBOX_PORTS", "8371,8372,8373").split(",")
URLS = {
    "PAYMENT_GATEWAY_URL": f"http://127.0.0.1:{PORTS[0]}",
    "CARRIER_PRIMARY_URL": f"http://127.0.0.1:{PORTS[1]}",
    "CARRIER_FALLBACK_URL": f"http://127.0.0.1:{PORTS[2]}",
}
os.environ.update(URLS)
os.environ.setdefault("PIPELINE_STUCK_AFTER_SECONDS", "10")  # beat's reconciler, run below
django.setup()

import logging  # noqa: E402

from django.contrib.auth import get_user_model  # noqa: E402

from inventory.models import Product  # noqa: E402
from orders.models import Order, OrderEvent  # noqa: E402
from orders.services import place_order  # noqa: E402
from orders.services_recovery import resend_stuck_orders  # noqa: E402
from orders.states import TERMINAL, EventKind, OrderStatus  # noqa: E402
from ordersite.breakers import Breaker, all_breakers  # noqa: E402
from payments.models import Payment, PaymentStatus  # noqa: E402
from sandboxes.faults import SANDBOXES, reset_faults, set_faults  # noqa: E402

TIMINGS = {"BREAKER_OPEN_SECONDS": "2", "PIPELINE_RETRY_BACKOFF_MAX": "4", "PIPELINE_MAX_RETRIES": "10"}


def start(args: list[str], name: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1", **URLS, **TIMINGS)
    log = (ROOT / "var" / f"bench-{name}.log").open("w")
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    pay_errors = float(sys.argv[2]) if len(sys.argv) > 2 else 0.2
    ship_errors = float(sys.argv[3]) if len(sys.argv) > 3 else 0.3
    logging.disable(logging.INFO)
    (ROOT / "var").mkdir(exist_ok=True)
    reset_faults()
    for name in ("payment", "carrier_primary", "carrier_fallback"):
        Breaker(name).reset()
    sandboxes = start(["manage.py", "run_sandboxes"], "sandboxes")
    worker = start(
        ["-m", "celery", "-A", "ordersite", "worker", "-Q", "orders,payments,inventory,shipping", "-c", "4"],
        "worker",
    )
    try:
        time.sleep(4)
        set_faults("payments", error_rate=pay_errors, jitter_ms=30, seed=1)
        set_faults("carrier_primary", error_rate=ship_errors, seed=2)
        product, _ = Product.objects.get_or_create(
            sku="bench-chaos", defaults={"name": "Chaos", "price_cents": 500, "on_hand": 10**6}
        )
        user, _ = get_user_model().objects.get_or_create(username="bench-chaos")
        tokens = random.Random(3).choices(
            ["tok_visa", "tok_declined", "tok_processing_error"], weights=[8, 1, 1], k=count
        )
        started = time.monotonic()
        ids = [
            place_order(customer=user, items=[{"sku": product.sku, "quantity": 1}], payment_token=t)[0].pk
            for t in tokens
        ]
        settled = set(TERMINAL) | {OrderStatus.PENDING_SHIPMENT}
        deadline, resent = started + 240, 0
        while Order.objects.filter(pk__in=ids).exclude(status__in=settled).exists() and time.monotonic() < deadline:
            time.sleep(5)
            resent += resend_stuck_orders()  # what beat does every PIPELINE_RECONCILE_EVERY_SECONDS
        elapsed = time.monotonic() - started
        statuses = Counter(Order.objects.filter(pk__in=ids).values_list("status", flat=True))
        retries = OrderEvent.objects.filter(order_id__in=ids, kind=EventKind.STEP_RETRY).count()
        bad = [
            p.order_id
            for p in Payment.objects.filter(order_id__in=ids)
            .exclude(status=PaymentStatus.FAILED)
            .select_related("order")
            if p.order.status in TERMINAL and p.amount_cents != p.captured_cents + p.voided_cents + p.refunded_cents
        ]
        print(f"{count} orders, payment 5xx {pay_errors:.0%}, primary carrier 5xx {ship_errors:.0%}")
        print(f"settled in {elapsed:.1f} s: {dict(statuses)}; step_retry events: {retries}; re-sent: {resent}")
        print("breakers:", ", ".join(f"{b.name}={b.state} opened {b.times_opened}x" for b in all_breakers()))
        print(f"orders whose money does not add up: {bad or 'none'}")
    finally:
        for name in SANDBOXES:
            reset_faults(name)
        for process in (worker, sandboxes):
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:  # a warm shutdown still waiting on retries
                children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
                process.kill()
                for pid in children:  # the pool processes we started, by PID
                    os.kill(int(pid), signal.SIGKILL)
                process.wait(timeout=10)


if __name__ == "__main__":
    main()
