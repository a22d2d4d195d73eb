"""Server-Sent Events on the live server: resumable with Last-Event-ID (nothing missed or
repeated), heartbeats, the same authentication and visibility as the API; and what gunicorn
answers when asked for a stream."""

import time

import httpx
import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client
from websockets.exceptions import ConnectionClosed

from orders.states import EventKind
from orders.timeline import record_event

from ..conftest import _free_ports
from ..factories import OrderFactory, StaffFactory
from .conftest import receive_json, ws_connect
from .sse import EventStream

pytestmark = pytest.mark.django_db(transaction=True)


def write(order, kind=EventKind.PAYMENT_STARTED, **data):
    with transaction.atomic():
        record_event(order, kind, **data)


def auth(token):
    return {"Authorization": f"Token {token}"}


def test_one_orders_stream_resumes_after_last_event_id_without_miss_or_repeat(
    live, customer, token_for
):
    order = OrderFactory(customer=customer)
    url = f"{live.url}/api/v1/orders/{order.public_id}/stream/"
    write(
        order, EventKind.ORDER_CREATED, total_cents=1000, items=[{"sku": "prod-1", "quantity": 1}]
    )
    write(
        order,
        EventKind.STEP_RETRY,
        task="payments.authorize_payment",
        error="GatewayUnavailable at 10.0.0.7",
    )
    with EventStream(url, headers=auth(token_for(customer))) as stream:
        assert stream.response.status_code == 200
        assert stream.response.headers["content-type"].startswith("text/event-stream")
        first = stream.next_event()
        write(order, EventKind.PAYMENT_STARTED)
        second = stream.next_event()
    assert [first[0], second[0]] == ["1", "3"], "the retry (seq 2) is staff's only"
    assert first[1]["order_id"] == str(order.public_id)
    assert first[1]["kind"] == "order_created"
    assert first[1]["data"] == {"total_cents": 1000, "items": [{"sku": "prod-1", "quantity": 1}]}
    assert "actor" not in first[1]

    # Disconnected: four more events happen, one of them hidden.
    write(order, EventKind.PAYMENT_AUTHORIZED, amount_cents=1000)
    write(order, EventKind.STEP_RETRY, task="x")
    write(order, EventKind.STOCK_RESERVED, lines=[{"sku": "prod-1", "quantity": 1}])
    write(order, EventKind.SHIPMENT_CREATED, tracking_number="1Z1")
    with EventStream(url, headers={**auth(token_for(customer)), "Last-Event-ID": "3"}) as stream:
        caught_up = stream.events(3)
        write(order, EventKind.ORDER_SHIPPED, tracking_number="1Z1")
        live_one = stream.next_event()
    assert [event_id for event_id, _ in [*caught_up, live_one]] == ["4", "6", "7", "8"]
    assert [data["kind"] for _, data in caught_up] == [
        "payment_authorized",
        "stock_reserved",
        "shipment_created",
    ]

    # Staff read every event in full, the retries too.
    with EventStream(
        url, headers={**auth(token_for(StaffFactory())), "Last-Event-ID": "1"}
    ) as stream:
        staff_seen = stream.events(2)
    assert [(event_id, data["kind"]) for event_id, data in staff_seen] == [
        ("2", "step_retry"),
        ("3", "payment_started"),
    ]
    assert staff_seen[0][1]["data"]["error"] == "GatewayUnavailable at 10.0.0.7"


def test_all_orders_stream_resumes_from_its_stream_id_and_shows_only_the_callers_orders(
    live, customer, token_for
):
    mine, also_mine, theirs = (
        OrderFactory(customer=customer),
        OrderFactory(customer=customer),
        OrderFactory(),
    )
    url = f"{live.url}/api/v1/orders/stream/"
    with EventStream(url, headers=auth(token_for(customer))) as stream:
        assert stream.retry == 2000 or stream.retry is None
        write(mine)
        write(theirs)
        write(also_mine)
        seen = stream.events(2)
    assert [data["order_id"] for _, data in seen] == [str(mine.public_id), str(also_mine.public_id)]
    last_id = seen[-1][0]
    assert "-" in (last_id or ""), "positioned by the Redis stream id"

    write(theirs)
    write(mine, EventKind.PAYMENT_AUTHORIZED, amount_cents=5)
    write(also_mine, EventKind.ORDER_CANCELLED, reason="Cancelled on request.")
    with EventStream(
        url, headers={**auth(token_for(customer)), "Last-Event-ID": last_id}
    ) as stream:
        caught_up = stream.events(2)
        write(mine, EventKind.STOCK_RESERVED)
        live_one = stream.next_event()
    kinds = [(data["order_id"], data["kind"]) for _, data in [*caught_up, live_one]]
    assert kinds == [
        (str(mine.public_id), "payment_authorized"),
        (str(also_mine.public_id), "order_cancelled"),
        (str(mine.public_id), "stock_reserved"),
    ]
    ids = [event_id for event_id, _ in [*caught_up, live_one]]
    assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))
    assert last_id not in ids


def test_catching_up_past_the_streams_retention_reads_the_timeline(
    live, redis_client, customer, token_for
):
    order = OrderFactory(customer=customer)
    url = f"{live.url}/api/v1/orders/stream/"
    with EventStream(url, headers=auth(token_for(customer))) as stream:
        write(order)
        last_id, _ = stream.next_event()
    write(order, EventKind.PAYMENT_AUTHORIZED, amount_cents=5)
    write(order, EventKind.STOCK_RESERVED)
    redis_client.xtrim(
        settings.LIVE_STREAM_KEY, maxlen=0
    )  # retention passed: the stream forgot them
    write(order, EventKind.SHIPMENT_CREATED, tracking_number="T")
    with EventStream(
        url, headers={**auth(token_for(customer)), "Last-Event-ID": last_id}
    ) as stream:
        caught_up = stream.events(4)
    kinds = [data["kind"] for _, data in caught_up]
    # From the table (within LIVE_CATCHUP_MARGIN_SECONDS of the position, so the event at the
    # position itself comes again), then the stream's retained entries.
    assert kinds == ["payment_started", "payment_authorized", "stock_reserved", "shipment_created"]
    assert [event_id for event_id, _ in caught_up][:3] == [None, None, None]


def test_a_live_event_ahead_of_one_in_flight_fills_the_gap_from_the_timeline(
    live, redis_client, customer, token_for
):
    order = OrderFactory(customer=customer)
    url = f"{live.url}/api/v1/orders/{order.public_id}/stream/"
    with EventStream(url, headers=auth(token_for(customer))) as stream:
        write(order)
        assert stream.next_event()[0] == "1"
        # seq 2 commits, but its XADD is lost (Redis blinked): seq 3's arrival brings it along.
        with transaction.atomic():
            record_event(order, EventKind.PAYMENT_AUTHORIZED, amount_cents=5)
            transaction.get_connection().run_on_commit.clear()
        write(order, EventKind.STOCK_RESERVED)
        assert [event_id for event_id, _ in stream.events(2)] == ["2", "3"]


def test_heartbeats_keep_an_idle_stream_open(live, customer, token_for):
    with httpx.stream(
        "GET", f"{live.url}/api/v1/orders/stream/", headers=auth(token_for(customer)), timeout=10
    ) as r:
        started, lines = time.monotonic(), []
        for line in r.iter_lines():
            lines.append(line)
            if line == ": heartbeat" or time.monotonic() - started > 5:
                break
    assert ": heartbeat" in lines, lines


def test_streams_refuse_strangers_and_other_customers_orders(live, customer, token_for):
    order = OrderFactory()
    base = f"{live.url}/api/v1/orders"
    anonymous = httpx.get(f"{base}/stream/", timeout=5)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "not_authenticated"
    assert httpx.get(f"{base}/stream/", headers=auth("wrong"), timeout=5).status_code == 401
    others = httpx.get(
        f"{base}/{order.public_id}/stream/", headers=auth(token_for(customer)), timeout=5
    )
    assert others.status_code == 404
    assert others.json()["error"]["code"] == "not_found"
    bad = httpx.get(
        f"{base}/stream/", headers={**auth(token_for(customer)), "Last-Event-ID": "x"}, timeout=5
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid"
    assert (
        httpx.post(f"{base}/stream/", headers=auth(token_for(customer)), timeout=5).status_code
        == 405
    )


def test_token_query_parameter_authenticates_a_stream(live, customer, token_for):
    order = OrderFactory(customer=customer)
    write(order)
    with EventStream(
        f"{live.url}/api/v1/orders/{order.public_id}/stream/?token={token_for(customer)}"
    ) as stream:
        assert stream.next_event()[0] == "1"
    log = live.log.read_text()
    assert "stream/?token=[redacted]" in log
    assert token_for(customer) not in log, "the access line keeps no token"


def test_gunicorn_names_the_live_server_for_streams_and_the_websocket(
    web_server, customer, token_for
):
    # The test process signs the session below with its own SECRET_KEY.
    web = web_server(
        workers=1, LIVE_PUBLIC_URL="http://live.example:8001", SECRET_KEY=settings.SECRET_KEY
    )
    for path in ("/api/v1/orders/stream/", "/api/v1/orders/abc/stream/?token=x", "/ws"):
        response = httpx.get(f"{web.url}{path}", timeout=5)
        assert response.status_code == 421, path
        body = response.json()["error"]
        assert body["code"] == "live_server_only"
        assert body["data"]["url"] == f"http://live.example:8001{path}"
    # The tracking page: a login first, then the same page on the live server (cookies do not
    # depend on the port, so the session goes along).
    anonymous = httpx.get(f"{web.url}/track/", timeout=5)
    assert (anonymous.status_code, anonymous.headers["location"]) == (
        302,
        "/api-auth/login/?next=/track/",
    )
    browser = Client()
    browser.force_login(customer)
    cookies = {"sessionid": browser.cookies["sessionid"].value}
    page = httpx.get(f"{web.url}/track/", cookies=cookies, timeout=5)
    assert (page.status_code, page.headers["location"]) == (302, "http://live.example:8001/track/")


def test_without_redis_the_live_server_says_so_instead_of_hanging(
    live_server_process, customer, token_for
):
    live = live_server_process(REDIS_URL=f"redis://127.0.0.1:{_free_ports(1)[0]}/0")
    response = httpx.get(
        f"{live.url}/api/v1/orders/stream/", headers=auth(token_for(customer)), timeout=15
    )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "live_unavailable"
    with ws_connect(live, token=token_for(customer)) as ws:
        assert receive_json(ws, timeout=15)["code"] == "live_unavailable"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd.code == 1013
