"""The WebSocket at /ws against a real uvicorn process, PostgreSQL, Redis and a worker: seed
004's protocol message by message, its authentication, and who sees which events."""

import json

import pytest
from django.test import Client
from websockets.exceptions import ConnectionClosed

from orders import services
from orders.models import Order

from ..factories import StaffFactory, UserFactory
from ..shipping.test_ship_api import _pending_shipment_order
from .conftest import events_until, receive_json, ws_connect

pytestmark = pytest.mark.django_db(transaction=True)

# Seed 004's "Place Order via WebSocket" client message, exactly as the seed writes it.
SEED_PLACE_ORDER = """{
  "type": "command",
  "action": {
    "PlaceOrder": {
      "customer_id": "cust-123",
      "items": [
        {
          "product_id": "prod-1",
          "name": "Widget",
          "quantity": 1,
          "unit_price_cents": 1000
        }
      ]
    }
  }
}"""


def test_seed_client_places_an_order_and_receives_its_events(
    live, live_worker, catalog, cust_123, token_for
):
    with ws_connect(live, token=token_for(cust_123)) as ws:
        ws.send(SEED_PLACE_ORDER)
        received = events_until(ws, "OrderCompleted")
    names = [next(iter(message["action"])) for message in received]
    assert names[0] == "OrderPlaced"
    assert {"OrderPaid", "OrderReserved", "OrderShipped", "OrderCompleted"} <= set(names)
    placed = received[0]["action"]["OrderPlaced"]
    order = Order.objects.get()
    assert placed["order_id"] == str(order.public_id)
    assert placed["customer_id"] == "cust-123"
    assert placed["items"] == [{"product_id": "prod-1", "quantity": 1}]
    assert placed["total_cents"] == 1000
    assert placed["status"] == "pending"
    assert received[-1]["action"]["OrderCompleted"]["status"] == "completed"
    shipped = next(m["action"]["OrderShipped"] for m in received if "OrderShipped" in m["action"])
    assert shipped["tracking_number"]
    seqs = [next(iter(m["action"].values()))["seq"] for m in received]
    assert seqs == sorted(set(seqs)), "each event once, in timeline order"
    # A customer's events are the public projection: no actor, no internals.
    assert all("actor" not in next(iter(m["action"].values())) for m in received)


def test_ping_is_answered_with_pong(live, customer, token_for):
    with ws_connect(live, token=token_for(customer)) as ws:
        ws.send(json.dumps({"type": "ping"}))
        assert receive_json(ws) == {"type": "pong"}


@pytest.mark.parametrize(
    ("message", "code"),
    [
        pytest.param("not json", "parse_error", id="not-json"),
        pytest.param("[1, 2]", "invalid", id="not-an-object"),
        pytest.param('{"type": "shout"}', None, id="unknown-type"),
        pytest.param(
            '{"type": "command", "action": {"Explode": {}}}', "invalid", id="unknown-command"
        ),
        pytest.param(
            '{"type": "command", "action": {"PlaceOrder": {"items": []}}}',
            "invalid",
            id="empty-order",
        ),
        pytest.param(
            '{"type": "command", "action": {"PlaceOrder": {"items": '
            '[{"product_id": "nope", "quantity": 1}]}}}',
            "unknown_product",
            id="unknown-product",
        ),
        pytest.param(
            '{"type": "command", "action": {"PlaceOrder": {"items": '
            '[{"product_id": "prod-1", "quantity": 1, "unit_price_cents": 5}]}}}',
            "stale_price",
            id="stale-price",
        ),
        pytest.param(
            '{"type": "command", "action": {"CancelOrder": {}}}', "invalid", id="cancel-without-id"
        ),
        pytest.param(
            '{"type": "command", "action": {"CancelOrder": '
            '{"order_id": "00000000-0000-0000-0000-000000000000"}}}',
            "not_found",
            id="cancel-unknown",
        ),
        pytest.param(
            '{"type": "command", "action": {"ShipOrder": '
            '{"order_id": "x", "tracking_number": "T"}}}',
            "permission_denied",
            id="ship-by-customer",
        ),
        pytest.param(
            '{"type": "command", "action": {"PlaceOrder": ' + "[" * 20 + "]" * 20 + "}}",
            "invalid",
            id="deep",
        ),
    ],
)
def test_a_bad_message_gets_an_error_and_the_connection_stays_open(
    live, catalog, customer, token_for, message, code
):
    with ws_connect(live, token=token_for(customer)) as ws:
        ws.send(message)
        error = receive_json(ws)
        assert error["type"] == "error"
        assert error["message"]
        if code is not None:
            assert error["code"] == code
        ws.send('{"type": "ping"}')
        assert receive_json(ws) == {"type": "pong"}
    assert not Order.objects.exists()


def test_without_credentials_the_server_says_why_and_closes_4401(live):
    with ws_connect(live) as ws:
        error = receive_json(ws)
        assert error["type"] == "error"
        assert error["code"] == "not_authenticated"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd.code == 4401


def test_a_wrong_token_is_refused_like_none(live, customer, token_for):
    token_for(customer)
    with ws_connect(live, token="not-a-token") as ws:
        assert receive_json(ws)["code"] == "not_authenticated"


def _place(user, sku="prod-1"):
    order, _ = services.place_order(
        customer=user, items=[{"sku": sku, "quantity": 1, "unit_price_cents": None}]
    )
    return order


def test_token_in_the_query_and_the_session_cookie_authenticate_too(
    live, catalog, customer, token_for
):
    with ws_connect(live, query=f"?token={token_for(customer)}") as ws:
        order = _place(customer)
        assert events_until(ws, "OrderPlaced")[-1]["action"]["OrderPlaced"]["order_id"] == str(
            order.public_id
        )

    browser = Client()
    browser.force_login(customer)
    cookie = f"sessionid={browser.cookies['sessionid'].value}"
    origin = {"Cookie": cookie, "Origin": live.url}
    with ws_connect(live, headers=origin) as ws:
        order = _place(customer)
        assert events_until(ws, "OrderPlaced")[-1]["action"]["OrderPlaced"]["order_id"] == str(
            order.public_id
        )
    # A page of another site cannot use the visitor's cookie (cross-site WebSocket hijacking).
    with ws_connect(live, headers={"Cookie": cookie, "Origin": "https://evil.example"}) as ws:
        assert receive_json(ws)["code"] == "not_authenticated"


def test_customers_see_only_their_orders_and_staff_see_all(live, catalog, token_for):
    alice, bob, staff = UserFactory(), UserFactory(), StaffFactory()
    with (
        ws_connect(live, token=token_for(alice)) as alice_ws,
        ws_connect(live, token=token_for(bob)) as bob_ws,
        ws_connect(live, token=token_for(staff)) as staff_ws,
    ):
        alices = _place(alice)
        services.cancel_order(order=alices, actor="alice")
        bobs = _place(bob)

        alice_events = events_until(alice_ws, "OrderCancelled")
        assert {next(iter(m["action"].values()))["order_id"] for m in alice_events} == {
            str(alices.public_id)
        }
        cancelled = alice_events[-1]["action"]["OrderCancelled"]
        assert cancelled["reason"] == "Cancelled on request."
        assert "actor" not in cancelled

        bob_placed = events_until(bob_ws, "OrderPlaced")
        assert [next(iter(m["action"].values()))["order_id"] for m in bob_placed] == [
            str(bobs.public_id)
        ]

        # A session worker may be running these orders: its events may come in between.
        seen = [receive_json(staff_ws)]
        while seen[-1]["action"].get("OrderPlaced", {}).get("order_id") != str(bobs.public_id):
            seen.append(receive_json(staff_ws))
        by_staff = [
            (next(iter(m["action"])), next(iter(m["action"].values())))
            for m in seen
            if {"OrderPlaced", "OrderCancelled"} & set(m["action"])
        ]
        assert [(name, body["order_id"]) for name, body in by_staff] == [
            ("OrderPlaced", str(alices.public_id)),
            ("OrderCancelled", str(alices.public_id)),
            ("OrderPlaced", str(bobs.public_id)),
        ]
        assert by_staff[1][1]["actor"] == "alice", "staff read the full record"
        assert by_staff[2][1]["customer_id"] == bob.username

        # Alice's socket never carried Bob's order. Her own may still move before the pong (a
        # step the session worker was running when she cancelled: its late event, then the void).
        alice_ws.send('{"type": "ping"}')
        while (message := receive_json(alice_ws)) != {"type": "pong"}:
            assert next(iter(message["action"].values()))["order_id"] == str(alices.public_id)


def test_cancel_order_command_cancels_and_its_event_arrives(live, catalog, customer, token_for):
    # An order the pipeline has stopped moving (it waits for staff), so the cancel races nothing.
    order = _pending_shipment_order()
    Order.objects.filter(pk=order.pk).update(customer=customer)
    with ws_connect(live, token=token_for(customer)) as ws:
        ws.send(
            json.dumps(
                {"type": "command", "action": {"CancelOrder": {"order_id": str(order.public_id)}}}
            )
        )
        cancelled = events_until(ws, "OrderCancelled")[-1]["action"]["OrderCancelled"]
    assert cancelled["order_id"] == str(order.public_id)
    order.refresh_from_db()
    assert order.status == "cancelled"


def _next_error(ws):
    """Skip the events the pipeline sends meanwhile (a session worker may be running)."""
    while (message := receive_json(ws))["type"] != "error":
        assert message["type"] == "event"
    return message


def _ship(ws, order_id, tracking="T1"):
    ws.send(
        json.dumps(
            {
                "type": "command",
                "action": {"ShipOrder": {"order_id": order_id, "tracking_number": tracking}},
            }
        )
    )


def test_staff_ship_order_command_ships_a_pending_shipment_order(live, catalog, token_for):
    staff = StaffFactory()
    with ws_connect(live, token=token_for(staff)) as ws:
        _ship(ws, "nope")
        assert _next_error(ws)["code"] == "not_found"
        _ship(ws, str(_place(UserFactory()).public_id))
        assert _next_error(ws)["code"] == "not_shippable", (
            "shipping by hand is for pending_shipment orders"
        )

        order = _pending_shipment_order()
        _ship(ws, str(order.public_id), "HAND-9")
        shipped = events_until(ws, "OrderShipped", order_id=str(order.public_id))
    assert shipped[-1]["action"]["OrderShipped"]["tracking_number"] == "HAND-9"
    order.refresh_from_db()
    assert order.status in ("shipped", "completed")


def test_place_order_is_throttled_like_the_api(
    live_server_process, redis_client, catalog, customer, token_for
):
    live = live_server_process(ORDER_CREATE_THROTTLE_RATE="1/min")
    command = json.dumps(
        {
            "type": "command",
            "action": {"PlaceOrder": {"items": [{"product_id": "prod-1", "quantity": 1}]}},
        }
    )
    with ws_connect(live, token=token_for(customer)) as ws:
        ws.send(command)
        assert "OrderPlaced" in receive_json(ws)["action"]
        ws.send(command)
        error = _next_error(ws)
    assert error["code"] == "throttled"
    assert error["data"]["wait"] > 0
    assert Order.objects.count() == 1


def test_an_invalid_command_names_the_fields_in_its_message(live, catalog, customer, token_for):
    with ws_connect(live, token=token_for(customer)) as ws:
        ws.send(
            json.dumps(
                {"type": "command", "action": {"PlaceOrder": {"items": [{"product_id": "prod-1"}]}}}
            )
        )
        error = receive_json(ws)
    assert error["code"] == "invalid"
    assert error["fields"] == {"items": {"0": {"quantity": ["This field is required."]}}}, (
        "as the API says it"
    )
    assert "quantity" in error["message"]
