"""How long the invariant audit takes over many orders, ledgers included.

    python bench/invariants_scale.py --orders 100000

Starts stores of its own (bench/chaos_stack.py: Redis, the sandboxes' Redis, a PostgreSQL
cluster) and the sandboxes, writes N completed orders as the pipeline leaves them (5 events,
a captured payment, a committed reservation, a live parcel each; in SQL, in seconds) and the
same authorizations and parcels in the sandboxes' ledgers, then times `check_invariants()` over
all of it (median of --rounds) and counts its queries. Stops everything by PID at the end.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chaos_processes import wait_until  # noqa: E402
from chaos_stack import Stack  # noqa: E402

ORDERS_SQL = """
INSERT INTO inventory_product (sku, name, price_cents, \
currency, on_hand, reserved, version, updated_at)
SELECT 'scale-' || p, 'Scale ' || p, 1000, 'USD', \
1000000, 0, 1, now() FROM generate_series(1, 50) p;
INSERT INTO orders_order (public_id, customer_id, status, \
total_cents, currency, shipping_address, payment_token,
    correlation_id, status_reason, version, last_event_seq, created_at, updated_at)
SELECT gen_random_uuid(), %(customer)s, 'completed', \
1000, 'USD', '{}', 'tok_visa', gen_random_uuid(), '', 6, 5,
    now() - interval '1 hour', now() - interval '1 hour'
FROM generate_series(1, %(orders)s);
INSERT INTO orders_orderitem (order_id, product_id, sku, name, quantity, unit_price_cents)
SELECT o.id, p.id, p.sku, p.name, 1, 1000 FROM orders_order o
JOIN inventory_product p ON p.sku = 'scale-' || (1 + o.id %% 50);
INSERT INTO payments_payment (order_id, amount_cents, \
captured_cents, voided_cents, refunded_cents, currency, status,
    gateway, gateway_reference, idempotency_key, failure_code, version, created_at, updated_at)
SELECT id, 1000, 1000, 0, 0, 'USD', 'captured', 'sandbox', 'auth_' || substr(md5(id::text), 1, 20),
    public_id || ':payments.authorize_payment', '', 2, created_at, created_at FROM orders_order;
INSERT INTO inventory_reservation (order_id, product_id, quantity, status, created_at, updated_at)
SELECT order_id, product_id, 1, 'committed', now(), now() FROM orders_orderitem;
INSERT INTO shipping_shipment (order_id, carrier, \
tracking_number, label_reference, status, created_at)
SELECT id, 'primary', 'TRK' || upper(substr(md5(public_id::text), 1, 12)), \
'', 'created', created_at FROM orders_order;
INSERT INTO orders_orderevent (order_id, seq, kind, status, data, actor, correlation_id, created_at)
SELECT o.id, e.seq, e.kind, e.status,
    CASE WHEN e.kind = 'payment_authorized'
         THEN jsonb_build_object('reference', \
'auth_' || substr(md5(o.id::text), 1, 20), 'amount_cents', 1000)
         ELSE '{}'::jsonb END,
    CASE WHEN e.seq = 1 THEN 'scale-customer' ELSE '' END, o.correlation_id, o.created_at
FROM orders_order o CROSS JOIN (VALUES (1, 'order_created', 'pending'), \
(2, 'payment_started', 'payment_processing'),
    (3, 'payment_authorized', 'paid'), \
(4, 'payment_captured', 'shipped'), (5, 'order_completed', 'completed'))
    AS e(seq, kind, status);
"""


def fill(orders: int) -> None:
    """Orders in SQL; the same authorizations and parcels written into the sandboxes' ledgers."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from ordersite.redis import sandbox_client as sandbox_redis

    customer = get_user_model().objects.create_user("scale-customer")
    with connection.cursor() as cursor:
        cursor.execute(ORDERS_SQL, {"customer": customer.pk, "orders": orders})
        cursor.execute("ANALYZE")
        cursor.execute(
            "SELECT o.public_id, p.gateway_reference, s.tracking_number FROM orders_order o "
            "JOIN payments_payment p ON p.order_id = o.id "
            "JOIN shipping_shipment s ON s.order_id = o.id"
        )
        rows = cursor.fetchall()
    pipe = sandbox_redis().pipeline(transaction=False)
    for public_id, reference, tracking in rows:
        auth = {"id": reference, "status": "captured", "amount_cents": 1000, "currency": "USD"}
        auth |= {"captured_cents": 1000, "voided_cents": 0, "refunded_cents": 0}
        pipe.hset(
            f"sandbox:payments:auth:{reference}",
            mapping={**auth, "idempotency_key": f"{public_id}:x"},
        )
        pipe.sadd("sandbox:payments:auths", reference)
        parcel = {
            "order_id": str(public_id),
            "carrier": "carrier_primary",
            "tracking_number": tracking,
        }
        pipe.set(
            f"sandbox:carrier_primary:shipment:{public_id}",
            json.dumps({**parcel, "status": "created"}),
        )
        pipe.sadd("sandbox:carrier_primary:orders", str(public_id))
        if len(pipe) > 20000:
            pipe.execute()
    pipe.execute()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    stack = Stack()
    os.environ.update(stack.env)
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from orders.invariants import check_invariants

    try:
        stack.up_stores()
        stack.start_app("sandboxes")
        wait_until(lambda: stack.answers("payments"), "sandboxes")
        started = time.monotonic()
        fill(args.orders)
        print(
            f"{args.orders} orders, 5 events each, and their ledgers written "
            f"in {time.monotonic() - started:.1f} s"
        )
        times = []
        for _ in range(args.rounds):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                report = check_invariants()
                times.append(time.perf_counter() - started)
            print(
                f"  audit {times[-1]:.2f} s, {len(queries)} queries: {report.checked}; "
                f"breaches {report.counts()}"
            )
        print(
            f"check_invariants over {args.orders} orders: "
            f"median {statistics.median(times):.2f} s of {args.rounds}"
        )
    finally:
        stack.down()


if __name__ == "__main__":
    main()
