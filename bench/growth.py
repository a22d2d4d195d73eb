"""Growth: the same load with a large order history. Bulk-loads N historical orders (each with a
line and its events) into a database of its own, then times what staff and customers open
(the admin's order list, filtered and not, an order's admin page, the API's order list for a
customer and for staff), and runs our open-loop step beside the same step on an empty history.

    .venv/bin/python bench/growth.py --orders 1000000 --rate 20

Only 127.0.0.1 is contacted; every process it starts is stopped by PID when it ends.
"""

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import Stack  # noqa: E402

LOAD_SQL = """
INSERT INTO orders_order (public_id, customer_id, status, total_cents, currency, shipping_address,
    payment_token, correlation_id, status_reason, version, last_event_seq, created_at, updated_at)
SELECT md5(g::text || 'o')::uuid, (SELECT min(id) FROM auth_user WHERE username LIKE 'bench-%%')
       + (g %% 200), CASE WHEN g %% 50 = 0 THEN 'cancelled' ELSE 'completed' END, 1000, 'USD', '{}',
       'tok_visa', md5(g::text || 'c')::uuid, '', 6, 2,
       now() - make_interval(secs => g * 30), now() - make_interval(secs => g * 30 - 1)
FROM generate_series(%(start)s, %(stop)s) AS g;
INSERT INTO orders_orderitem (order_id, product_id, sku, name, quantity, unit_price_cents)
SELECT o.id, (SELECT id FROM inventory_product WHERE sku = 'prod-1'), 'prod-1', 'Widget', 1, 1000
FROM orders_order o WHERE o.id > %(last_id)s;
INSERT INTO orders_orderevent (order_id, seq, kind, status, data, actor, correlation_id, created_at)
SELECT o.id, s.seq, s.kind, s.status, '{}', '', o.correlation_id, o.created_at
FROM orders_order o,
     (VALUES (1, 'order_created', 'pending'), \
(2, 'order_completed', 'completed')) AS s(seq, kind, status)
WHERE o.id > %(last_id)s;
"""


def timed(fn: Callable[[], object], repeat: int = 5) -> float:
    """Median wall time of `fn` in milliseconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--step-seconds", type=float, default=15)
    args = parser.parse_args()

    stack = Stack(db_name="ordersite_growth")
    stack.start()
    try:
        import httpx

        from bench.load import Bench

        bench = Bench(stack, argparse.Namespace(hot=False, drain_seconds=60))
        from django.contrib.auth import get_user_model
        from django.db import connection

        from orders.models import Order

        before = bench.step(args.rate, args.step_seconds)
        have = Order.objects.count()
        if have < args.orders:
            t0 = time.time()
            with connection.cursor() as cursor:
                last_id = Order.objects.order_by("-id").values_list("id", flat=True).first() or 0
                cursor.execute(
                    LOAD_SQL, {"start": have + 1, "stop": args.orders, "last_id": last_id}
                )
                cursor.execute(
                    "ANALYZE orders_order; ANALYZE orders_orderitem; ANALYZE orders_orderevent"
                )
            print(
                f"loaded {args.orders - have} historical orders in {time.time() - t0:.0f} s",
                flush=True,
            )
        after = bench.step(args.rate, args.step_seconds)

        users = get_user_model()
        admin, _ = users.objects.get_or_create(
            username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
        )
        admin.set_password("bench-admin")
        admin.is_staff = admin.is_superuser = True
        admin.save()
        from rest_framework.authtoken.models import Token

        staff_token = Token.objects.get_or_create(user=admin)[0].key
        web = httpx.Client(base_url=stack.base, timeout=60)
        login = web.get("/admin/login/")
        web.post(
            "/admin/login/?next=/admin/",
            data={
                "username": "bench-admin",
                "password": "bench-admin",
                "csrfmiddlewaretoken": login.cookies.get("csrftoken"),
            },
            headers={"Referer": f"{stack.base}/admin/login/"},
        )
        one = Order.objects.order_by("-id").values_list("id", flat=True)[500]

        def get(path: str, **headers: str) -> None:
            response = web.get(path, headers=headers)
            response.raise_for_status()

        pages = {
            "admin order list": lambda: get("/admin/orders/order/"),
            "admin order list, status=cancelled": lambda: get(
                "/admin/orders/order/?status__exact=cancelled"
            ),
            "admin order list, search by sku": lambda: get("/admin/orders/order/?q=prod-2"),
            "admin order page": lambda: get(f"/admin/orders/order/{one}/change/"),
            "API order list (customer)": lambda: get(
                "/api/v1/orders/", Authorization=f"Token {bench.tokens[7]}"
            ),
            "API order list (staff)": lambda: get(
                "/api/v1/orders/?page_size=50", Authorization=f"Token {staff_token}"
            ),
            "API order list (staff, status=cancelled)": lambda: get(
                "/api/v1/orders/?status=cancelled", Authorization=f"Token {staff_token}"
            ),
        }
        timings = {name: timed(fn) for name, fn in pages.items()}
    finally:
        stack.stop()
    result = {
        "orders_in_history": args.orders,
        "page_ms_median_of_5": timings,
        "step_before": before,
        "step_after": after,
        "cpu_ms_per_order_change_pct": round(
            100
            * (after["cpu_ms_per_order"] - before["cpu_ms_per_order"])
            / before["cpu_ms_per_order"],
            1,
        ),
    }
    (ROOT / "bench" / "results" / "bench-growth.json").write_text(json.dumps(result, indent=2))
    for name, ms in timings.items():
        print(f"  {name:45} {ms:8.1f} ms")
    print(
        f"  CPU per order before {before['cpu_ms_per_order']} ms, "
        f"after {after['cpu_ms_per_order']} ms "
        f"({result['cpu_ms_per_order_change_pct']:+} %)"
    )


if __name__ == "__main__":
    main()
