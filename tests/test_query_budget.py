"""SQL statements per pipeline step, held so a saving cannot quietly come back (timings live in
`make bench`, never here). Each step runs in this process against the real database and our
sandboxes over HTTP, exactly as a worker runs it."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from inventory import services as inventory_services
from notifications import services as notification_services
from orders import services as order_services
from orders.models import Order, OrderEvent
from payments import services as payment_services
from shipping import services as shipping_services

from .factories import ProductFactory

pytestmark = pytest.mark.django_db(transaction=True)

# Statements per step, BEGIN, COMMIT and savepoints included (each is a round trip).
BUDGET = {
    "place_order": 6,
    "authorize_payment": 8,
    "reserve_stock": 7,
    "create_shipment": 9,
    "capture_payment": 7,
    # Each of the two mails an order sends (confirmed, shipped): the event, the claim (one
    # INSERT … ON CONFLICT), the lines, and the outcome with its timeline event (one statement).
    "send_notification confirmed": 7,
    "send_notification shipped": 7,
}


def _run(name, fn, **kwargs):
    with CaptureQueriesContext(connection) as ctx:
        fn(**kwargs)
    return [q["sql"] for q in ctx.captured_queries]


def test_every_step_stays_within_its_statement_budget(
    customer, redis_client, sandboxes, monkeypatch
):
    # This test runs each step itself: the chain place_order sends after commit would let the
    # session's live worker (if one runs) move the same order meanwhile.
    monkeypatch.setattr(transaction, "on_commit", lambda *args, **kwargs: None)
    product = ProductFactory(sku="budget-1", on_hand=10)
    statements = {}
    with CaptureQueriesContext(connection) as ctx:
        order, _ = order_services.place_order(
            customer=customer, items=[{"sku": product.sku, "quantity": 2, "unit_price_cents": None}]
        )
    statements["place_order"] = [q["sql"] for q in ctx.captured_queries]
    order_id = str(order.public_id)
    steps = {
        "authorize_payment": payment_services.authorize_payment,
        "reserve_stock": inventory_services.reserve_stock,
        "create_shipment": shipping_services.create_shipment,
        "capture_payment": payment_services.capture_payment,
    }
    for name, step in steps.items():
        statements[name] = _run(name, step, order_id=order_id)
    assert Order.objects.get(pk=order.pk).status == "completed"
    for event in OrderEvent.objects.filter(order=order).order_by("seq"):
        kind = notification_services.NOTIFY.get((event.kind, event.status))
        if kind is not None:
            statements[f"send_notification {kind}"] = _run(
                "send_notification",
                notification_services.send_notification,
                notification_id=notification_services.notification_id(
                    order_id=order_id, seq=event.seq
                ),
                order_id=order_id,
                seq=event.seq,
            )
    assert set(statements) == set(BUDGET), "every step measured, and only those"
    report = "\n\n".join(
        f"{name}: {len(sql)}\n  " + "\n  ".join(s[:160] for s in sql)
        for name, sql in statements.items()
    )
    over = {name: len(sql) for name, sql in statements.items() if len(sql) > BUDGET[name]}
    assert not over, f"over budget {over}:\n{report}"
