"""The admin dashboard's cost on a large history: bulk-loads N orders (eight timeline events each,
spread evenly over --hours, ids growing with time as they do) for a user of its own, then prints
the plan (scan nodes) and execution time of each of the dashboard's queries over the timeline,
and the median time of the whole JSON payload (orders/analytics.py: pipeline_dashboard). Its rows
stay: the timeline is append-only (a trigger refuses DELETE on orders_orderevent, see README), so
point it at a scratch database and drop that afterwards:

    createdb -h 127.0.0.1 -U postgres ordersite_bench_dashboard
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/ordersite_bench_dashboard
    .venv/bin/python manage.py migrate \\
        && .venv/bin/python bench/dashboard_queries.py --orders 50000 --hours 24
    dropdb -h 127.0.0.1 -U postgres ordersite_bench_dashboard

Only 127.0.0.1 is contacted (PostgreSQL, Redis, the broker).
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ordersite.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from orders import analytics  # noqa: E402

USERNAME = "bench-dashboard"
LOAD_SQL = """
INSERT INTO orders_order (public_id, customer_id, status, \
total_cents, currency, shipping_address, payment_token,
    correlation_id, status_reason, version, last_event_seq, created_at, updated_at)
SELECT gen_random_uuid(), %(user)s, \
CASE WHEN g %% 20 = 0 THEN 'payment_failed' ELSE 'completed' END, 1000, 'USD',
       '{}', 'tok_visa', gen_random_uuid(), '', 1, 8, now() - (%(orders)s - g) * %(every)s,
       now() - (%(orders)s - g) * %(every)s
FROM generate_series(1, %(orders)s) AS g;
INSERT INTO orders_orderevent (order_id, seq, kind, status, data, actor, correlation_id, created_at)
SELECT o.id, k.seq, k.kind, o.status,
       CASE WHEN k.kind = 'step_retry' THEN \
'{"task": "payments.authorize_payment"}'::jsonb ELSE '{}' END,
       '', o.correlation_id, o.created_at + k.seq * interval '100 milliseconds'
FROM orders_order o CROSS JOIN (VALUES (1, 'order_created'), \
(2, 'payment_started'), (3, 'step_retry'),
    (4, 'payment_authorized'), (5, 'stock_reserved'), (6, 'order_shipped'), (7, 'payment_captured'),
    (8, 'order_completed')) AS k(seq, kind)
WHERE o.customer_id = %(user)s
ORDER BY o.created_at, k.seq;
ANALYZE orders_order;
ANALYZE orders_orderevent;
"""


def explain(label: str, sql: str, params: object) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
        plan = [row[0] for row in cursor.fetchall()]
    scans = [line.strip() for line in plan if "Scan" in line and "Function Scan" not in line]
    print(f"{label}: {plan[-1].strip()}")
    for scan in scans:
        print(f"    {scan.split('  (cost')[0]}")


def measure(repeat: int) -> None:
    now = timezone.now()
    since = (now - timedelta(minutes=analytics.settings.DASHBOARD_WINDOW_MINUTES)).replace(
        second=0, microsecond=0
    )
    first_order = analytics.first_order_pk(since=since)
    for label, queryset in (
        ("orders per minute", analytics.orders_per_minute_queryset(since=since)),
        (
            "retries per minute",
            analytics.retries_per_minute_queryset(since=since, first_order=first_order),
        ),
    ):
        sql, params = queryset.query.sql_with_params()
        explain(label, sql, params)
    params = analytics.step_latency_params(since=since, first_order=first_order)
    explain("step latencies", analytics._STEP_LATENCY_SQL, params)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        analytics.pipeline_dashboard()
        times.append((time.perf_counter() - started) * 1000)
    print(f"pipeline_dashboard(): median {statistics.median(times):.1f} ms of {repeat}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=50000)
    parser.add_argument("--hours", type=float, default=24)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    user, _ = User.objects.get_or_create(username=USERNAME)
    every = timedelta(hours=args.hours) / args.orders
    with connection.cursor() as cursor:
        cursor.execute(LOAD_SQL, {"user": user.pk, "every": every, "orders": args.orders})
        cursor.execute("SELECT count(*) FROM orders_orderevent")
        print(f"{args.orders} orders loaded; {cursor.fetchone()[0]} events in the table")
    measure(args.repeat)


if __name__ == "__main__":
    main()
