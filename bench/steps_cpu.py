"""CPU per pipeline step, in one process, with Celery taken out: where an order's worker time
goes (`--profile` adds a cProfile of the hottest functions, by CPU time).

    .venv/bin/python bench/steps_cpu.py --orders 300 [--profile]

Starts its own Redis server and the sandboxes; uses the bench database (ordersite_bench).
"""

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import Stack  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    stack = Stack(roles=("sandbox",))
    try:
        stack.start()  # inside the try: a start that fails still stops what it started
        os.environ.update(stack.env)
        os.environ["DJANGO_SETTINGS_MODULE"] = "ordersite.settings"
        import django

        django.setup()
        from django.contrib.auth import get_user_model

        from inventory import services as inventory_services
        from inventory.models import Product
        from notifications import services as notification_services
        from orders import services as order_services
        from orders.models import OrderEvent
        from payments import services as payment_services
        from shipping import services as shipping_services

        def send_notifications(*, order_id: str) -> None:
            """The mails an order's events send (confirmation, shipment), as their tasks do."""
            kinds = {kind for kind, _ in notification_services.NOTIFY}
            seqs = OrderEvent.objects.filter(order__public_id=order_id, kind__in=kinds).values_list(
                "seq", flat=True
            )
            for seq in list(seqs):
                notification_services.send_notification(
                    notification_id=notification_services.notification_id(
                        order_id=order_id, seq=seq
                    ),
                    order_id=order_id,
                    seq=seq,
                )

        customer, _ = get_user_model().objects.get_or_create(username="bench-steps")
        product = Product.objects.filter(sku="prod-1").first() or inventory_services.create_product(
            sku="prod-1", name="Widget", price_cents=1000, on_hand=10**9
        )
        steps = {
            "place_order": lambda: order_services.place_order(
                customer=customer,
                items=[{"sku": product.sku, "quantity": 1, "unit_price_cents": None}],
            )[0],
            "authorize_payment": payment_services.authorize_payment,
            "reserve_stock": inventory_services.reserve_stock,
            "create_shipment": shipping_services.create_shipment,
            "capture_payment": payment_services.capture_payment,
            "send_notifications": send_notifications,
        }
        spent = dict.fromkeys(steps, 0.0)
        profiler = cProfile.Profile(time.process_time) if args.profile else None
        from django.db import transaction

        # Run the steps here, not via Celery: nothing is sent on commit.
        transaction.on_commit = lambda fn, using=None, robust=False: None
        for _ in range(args.orders):
            order_id = None
            for name, step in steps.items():
                t0 = time.process_time()
                if profiler:
                    profiler.enable()
                if name == "place_order":
                    order_id = str(step().public_id)
                else:
                    step(order_id=order_id)
                if profiler:
                    profiler.disable()
                spent[name] += time.process_time() - t0
        print(f"CPU ms per step, this process only (mean of {args.orders} orders):")
        for name, seconds in spent.items():
            print(f"  {name:20} {seconds * 1000 / args.orders:6.2f}")
        print(f"  {'total':20} {sum(spent.values()) * 1000 / args.orders:6.2f}")
        if profiler:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(
                r"work/main/(orders|payments|inventory|shipping|notifications|ordersite)|httpx/_client|redis/commands|django/db/models/(query|base).py",
                45,
            )
            print(out.getvalue())
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
