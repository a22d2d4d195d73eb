"""How long `manage.py verify_events` takes over many orders.

    .venv/bin/python bench/verify_events.py --orders 100000

Creates a scratch database of its own (`--db`, on the PostgreSQL at 127.0.0.1:5432), migrates it,
writes N orders in SQL as the pipeline leaves them (a completed order: its line, a captured
payment, a live parcel and 7 timeline events; every tenth one delivered, with an 8th event), then
times verify_events over all of them (median of --rounds) and counts its queries. As a check that
it really compares, one order's payment is then changed behind its timeline's back and must be
the one reported. The database is dropped at the end (events cannot be deleted; see README).
Prints a JSON line with the figures, and writes it to bench/results/bench-verify-events.json.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ORDERS_SQL = """
INSERT INTO inventory_product (sku, name, price_cents, \
currency, on_hand, reserved, version, updated_at)
VALUES ('bench-events', 'Bench events', 1000, 'USD', 1000000, 0, 1, now());
INSERT INTO orders_order (public_id, customer_id, status, \
total_cents, currency, shipping_address, payment_token,
    correlation_id, status_reason, version, last_event_seq, \
refunded_cents, delivered_at, created_at, updated_at)
SELECT gen_random_uuid(), %(customer)s, \
CASE WHEN g %% 10 = 0 THEN 'delivered' ELSE 'completed' END, 1000, 'USD',
    '{}', 'tok_visa', gen_random_uuid(), '', 8, CASE WHEN g %% 10 = 0 THEN 8 ELSE 7 END, 0,
    CASE WHEN g %% 10 = 0 THEN timestamptz '2026-12-01 09:30:00+00' END, now(), now()
FROM generate_series(1, %(orders)s) g;
INSERT INTO orders_orderitem (order_id, product_id, sku, name, quantity, unit_price_cents)
SELECT o.id, p.id, p.sku, p.name, 1, 1000 FROM orders_order o CROSS JOIN inventory_product p;
INSERT INTO payments_payment (order_id, amount_cents, \
captured_cents, voided_cents, refunded_cents, refunding_cents,
    currency, status, gateway, gateway_reference, \
idempotency_key, failure_code, version, created_at, updated_at)
SELECT id, 1000, 1000, 0, 0, 0, 'USD', 'captured', \
'sandbox', 'auth_' || substr(md5(id::text), 1, 20),
    public_id || ':payments.authorize_payment', '', 2, created_at, created_at FROM orders_order;
INSERT INTO shipping_shipment (order_id, carrier, \
tracking_number, label_reference, status, delivered_at, created_at)
SELECT id, 'primary', 'TRK' || upper(substr(md5(public_id::text), 1, 12)), \
'', 'created', delivered_at, created_at
FROM orders_order;
INSERT INTO orders_orderevent (order_id, seq, kind, status, data, actor, correlation_id, created_at)
SELECT o.id, e.seq, e.kind, e.status,
    CASE e.kind
        WHEN 'order_created' THEN jsonb_build_object('total_cents', \
1000, 'currency', 'USD', 'items',
            jsonb_build_array(jsonb_build_object('sku', \
'bench-events', 'quantity', 1, 'unit_price_cents', 1000)))
        WHEN 'payment_authorized' THEN jsonb_build_object('amount_cents', 1000, 'reference',
            'auth_' || substr(md5(o.id::text), 1, 20))
        WHEN 'stock_reserved' THEN jsonb_build_object('lines',
            jsonb_build_array(jsonb_build_object('sku', 'bench-events', 'quantity', 1)))
        WHEN 'order_shipped' THEN jsonb_build_object('carrier', 'primary', 'tracking_number',
            'TRK' || upper(substr(md5(o.public_id::text), 1, 12)))
        WHEN 'payment_captured' THEN jsonb_build_object('amount_cents', 1000)
        WHEN 'order_delivered' THEN jsonb_build_object('delivered_at', \
'2026-12-01T09:30:00+00:00', 'source', 'staff')
        ELSE '{}'::jsonb END,
    CASE WHEN e.seq = 1 THEN 'bench-customer' ELSE '' END, o.correlation_id, o.created_at
FROM orders_order o CROSS JOIN (VALUES (1, 'order_created', 'pending'), \
(2, 'payment_started', 'payment_processing'),
    (3, 'payment_authorized', 'paid'), \
(4, 'stock_reserved', 'reserved'), (5, 'order_shipped', 'shipped'),
    (6, 'payment_captured', 'shipped'), \
(7, 'order_completed', 'completed'), (8, 'order_delivered', 'delivered'))
    AS e(seq, kind, status)
WHERE e.seq <= o.last_event_seq;
"""


def _psql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qtAc", sql], check=True)


def fill(orders: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection

    customer = get_user_model().objects.create_user("bench-customer")
    with connection.cursor() as cursor:
        cursor.execute(ORDERS_SQL, {"customer": customer.pk, "orders": orders})
        cursor.execute("ANALYZE")


def run(rounds: int) -> tuple[list[float], int, int, list]:
    """Median inputs: each round's seconds, its queries, the orders verified, the mismatches."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from orders.verify import Mismatch, verify_events

    times, queries, verified, found = [], 0, 0, []
    for _ in range(rounds):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            results = list(verify_events())
            times.append(time.perf_counter() - started)
        queries, verified = len(captured), results[-1]
        found = [r for r in results if isinstance(r, Mismatch)]
        print(
            f"  verify_events: {times[-1]:.2f} s, {queries} queries, {verified} orders, "
            f"{len(found)} differ"
        )
    return times, queries, verified, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--db", default="ordersite_bench_events")
    parser.add_argument(
        "--no-write", action="store_true", help="print the figures only (a trial run)"
    )
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{args.db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ordersite.settings")
    _psql(f"DROP DATABASE IF EXISTS {args.db}")
    _psql(f"CREATE DATABASE {args.db}")
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        from payments.models import Payment

        call_command("migrate", verbosity=0)
        started = time.monotonic()
        fill(args.orders)
        print(
            f"{args.orders} orders and their events written in {time.monotonic() - started:.1f} s"
        )
        times, queries, verified, found = run(args.rounds)
        assert (verified, found) == (args.orders, []), (
            f"a clean load must verify: {verified}, {found[:3]}"
        )
        tampered = (
            Payment.objects.order_by("order_id").values_list("order_id", "order__public_id").last()
        )
        Payment.objects.filter(order_id=tampered[0]).update(captured_cents=1)
        *_, found = run(1)
        assert [m.order_id for m in found] == [str(tampered[1])], found
        result = {
            "orders": args.orders,
            "events": args.orders * 7 + args.orders // 10,
            "median_s": round(statistics.median(times), 2),
            "orders_per_s": round(args.orders / statistics.median(times)),
            "queries": queries,
            "rounds": args.rounds,
        }
        print(json.dumps(result))
        if not args.no_write:
            (ROOT / "bench" / "results" / "bench-verify-events.json").write_text(
                json.dumps(result, indent=2) + "\n"
            )
        connection.close()
    finally:
        _psql(f"DROP DATABASE IF EXISTS {args.db}")


if __name__ == "__main__":
    main()
