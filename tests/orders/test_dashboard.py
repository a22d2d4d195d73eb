"""The admin's pipeline dashboard: who may see it, and every figure of its JSON
(GET /api/v1/analytics/pipeline/) from the real database, Redis, broker and workers."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from deadletters import store
from deadletters.envelope import Envelope
from orders.models import Order, OrderEvent
from orders.states import EventKind, OrderStatus
from ordersite import worker_heartbeat
from ordersite.breakers import Breaker, BreakerName
from ordersite.celery import app as celery_app
from ordersite.queues import Queue

from .. import broker
from ..broker import TEST_BROKER_URL, closed_broker_url
from ..factories import OrderFactory, backdate_events

pytestmark = pytest.mark.django_db
URL = "/api/v1/analytics/pipeline/"
PAGE = "/admin/dashboard/"
K = EventKind


def _order_with_events(
    status: str, *milestones: tuple[str, float], placed_minutes_ago: float
) -> Order:
    """An order placed at the start of the minute `placed_minutes_ago`, with its events `seconds`
    after that (a negative `seconds` marks a step_retry as a breaker wait)."""
    order = OrderFactory(status=status)
    placed = (timezone.now() - timedelta(minutes=placed_minutes_ago)).replace(
        second=0, microsecond=0
    )
    Order.objects.filter(pk=order.pk).update(created_at=placed)
    for seq, (kind, seconds) in enumerate(milestones, start=1):
        data = (
            {"task": "payments.authorize_payment", "breaker_wait": seconds < 0}
            if kind == K.STEP_RETRY
            else {}
        )
        event = OrderEvent.objects.create(
            order=order,
            seq=seq,
            kind=kind,
            status=status,
            data=data,
            correlation_id=order.correlation_id,
        )
        backdate_events(
            OrderEvent.objects.filter(pk=event.pk), placed + timedelta(seconds=abs(seconds))
        )
    return order


def test_dashboard_page_sends_anyone_but_staff_to_the_login(client, customer):
    assert client.get(PAGE)["Location"] == f"/admin/login/?next={PAGE}"
    client.force_login(customer)
    response = client.get(PAGE)
    assert (response.status_code, response["Location"]) == (302, f"/admin/login/?next={PAGE}")


def test_dashboard_page_loads_its_charts_from_our_static_files(client, staff):
    client.force_login(staff)
    html = client.get(PAGE).content.decode()
    assert '<canvas id="chart-orders"' in html
    assert "/static/orders/vendor/chart.js/chart.umd.min.js" in html
    assert f'data-url="{URL}"' in html
    assert "cdn" not in html.lower()
    index = client.get("/admin/").content.decode()
    assert f'href="{PAGE}"' in index


def test_dashboard_json_is_for_staff_only(client, api, staff_api):
    assert client.get(URL).status_code == 401
    assert api.get(URL).json()["error"]["code"] == "permission_denied"
    assert staff_api.get(URL).status_code == 200


def test_dashboard_counts_orders_per_minute_by_their_status_now(staff_api, redis_client):
    for _ in range(3):
        _order_with_events(OrderStatus.COMPLETED, placed_minutes_ago=2)
    _order_with_events(OrderStatus.PAYMENT_FAILED, placed_minutes_ago=2)
    _order_with_events(OrderStatus.PENDING, placed_minutes_ago=0)
    _order_with_events(OrderStatus.COMPLETED, placed_minutes_ago=600)  # outside the window

    body = staff_api.get(URL).json()

    assert len(body["minutes"]) == body["window_minutes"] + 1
    series = body["orders_per_minute"]
    assert set(series) == {"completed", "payment_failed", "pending"}
    assert all(len(values) == len(body["minutes"]) for values in series.values())
    assert sum(series["completed"]) == 3
    assert (
        series["completed"].index(3)
        == series["payment_failed"].index(1)
        == len(body["minutes"]) - 3
    )
    assert series["pending"][-1] == 1


def test_dashboard_step_latencies_run_from_milestone_to_milestone(staff_api, redis_client):
    for authorize, reserve in ((1, 2), (2, 4), (3, 6), (4, 8), (10, 20)):
        _order_with_events(
            OrderStatus.RESERVED,
            (K.ORDER_CREATED, 0),
            (K.PAYMENT_STARTED, 0.5),
            (K.STEP_RETRY, 0.7),
            (K.PAYMENT_AUTHORIZED, authorize),
            (K.STOCK_RESERVED, authorize + reserve),
            placed_minutes_ago=3,
        )

    latency = staff_api.get(URL).json()["step_latency"]

    assert latency["window"]["authorize"] == {"count": 5, "p50": 3.0, "p95": pytest.approx(8.8)}
    assert latency["window"]["reserve"] == {"count": 5, "p50": 6.0, "p95": pytest.approx(17.6)}
    assert latency["window"]["ship"] == {"count": 0, "p50": None, "p95": None}
    assert list(latency["p95"]) == [
        "authorize",
        "reserve",
    ]  # pipeline order; steps nobody passed left out
    assert [v for v in latency["p50"]["authorize"] if v is not None] == [3.0]
    assert [v for v in latency["p95"]["reserve"] if v is not None] == [pytest.approx(17.6)]
    assert latency["p95"]["reserve"][-4] == pytest.approx(17.6)  # the minute they were placed


def test_dashboard_retries_count_apart_from_breaker_waits(staff_api, redis_client):
    _order_with_events(
        OrderStatus.PAYMENT_PROCESSING, (K.STEP_RETRY, 1), (K.STEP_RETRY, 2), placed_minutes_ago=1
    )
    _order_with_events(OrderStatus.PAYMENT_PROCESSING, (K.STEP_RETRY, -1), placed_minutes_ago=1)

    retries = staff_api.get(URL).json()["retries_per_minute"]

    assert {name: sum(values) for name, values in retries.items()} == {
        "payments.authorize_payment": 2,
        "breaker waits": 1,
    }


def test_dashboard_costs_four_queries_whatever_the_number_of_orders(staff_api, redis_client):
    for _ in range(20):
        _order_with_events(
            OrderStatus.COMPLETED,
            (K.ORDER_CREATED, 0),
            (K.PAYMENT_AUTHORIZED, 1),
            placed_minutes_ago=1,
        )
    with CaptureQueriesContext(connection) as queries:
        assert staff_api.get(URL).status_code == 200
    # auth (the staff session's user) aside: orders per minute, the first recent order, step
    # latencies, retries.
    dashboard_queries = [q["sql"] for q in queries.captured_queries if "orders_order" in q["sql"]]
    assert len(dashboard_queries) == 4, dashboard_queries


def test_dashboard_reads_only_the_events_of_recent_orders(staff_api, redis_client):
    """Events are read by order id from the first order placed EVENT_LOOKBACK before the window:
    an old order's retry inside the window is left out, a recent order's is counted."""
    old = _order_with_events(OrderStatus.PAYMENT_PROCESSING, placed_minutes_ago=600)
    _order_with_events(OrderStatus.PAYMENT_PROCESSING, (K.STEP_RETRY, 1), placed_minutes_ago=80)
    event = OrderEvent.objects.create(
        order=old,
        seq=1,
        kind=K.STEP_RETRY,
        status=old.status,
        data={"task": "t"},
        correlation_id=old.correlation_id,
    )
    assert event.created_at > timezone.now() - timedelta(minutes=1)

    retries = staff_api.get(URL).json()["retries_per_minute"]

    assert (
        retries == {}
    )  # the recent order's retry is outside the window, the old order is not read
    _order_with_events(OrderStatus.PAYMENT_PROCESSING, (K.STEP_RETRY, 1), placed_minutes_ago=1)
    retries = staff_api.get(URL).json()["retries_per_minute"]
    assert {name: sum(values) for name, values in retries.items()} == {
        "payments.authorize_payment": 1
    }


def test_dashboard_reads_the_dead_letters_breakers_and_queue_backlogs(
    staff_api, redis_client, settings
):
    settings.HEALTH_QUEUES = ["dashboard-test-queue"]
    broker.empty_queue(TEST_BROKER_URL, "dashboard-test-queue")
    for _ in range(3):
        celery_app.send_task("orders.no_such_task", queue="dashboard-test-queue")
    store.push(
        Envelope(task="payments.authorize_payment", queue=Queue.PAYMENTS, args=["x"], order_id="x")
    )
    payment = Breaker(BreakerName.PAYMENT)
    for _ in range(settings.BREAKER_CONSECUTIVE_FAILURES):
        payment.record(ok=False)

    body = staff_api.get(URL).json()
    broker.empty_queue(TEST_BROKER_URL, "dashboard-test-queue")

    assert body["queues"] == [{"name": "dashboard-test-queue", "backlog": 3, "workers": 0}]
    assert body["dead_letters"] == {"count": 1, "max": settings.DLQ_MAX_LENGTH}
    states = {b["name"]: b["state"] for b in body["breakers"]}
    assert states == {
        "payment": "open",
        "carrier_primary": "closed",
        "carrier_fallback": "closed",
        "email": "closed",
    }
    assert body["unavailable"] == []


def test_dashboard_names_a_worker_that_does_not_answer_and_caches_pool_sizes(
    staff_api, redis_client, settings
):
    settings.DASHBOARD_INSPECT_TIMEOUT = 0.3
    worker_heartbeat.beat(
        worker_heartbeat.client(), node="ghost@nowhere", queues=[Queue.PAYMENTS], ttl=60
    )

    pools = {p["node"]: p for p in staff_api.get(URL).json()["pools"]}
    assert pools["ghost@nowhere"] == {
        "node": "ghost@nowhere",
        "queues": [Queue.PAYMENTS],
        "pool": "",
        "size": None,
        "max": None,
        "min": None,
        "replied": False,
    }
    # Within DASHBOARD_POOLS_CACHE_SECONDS nobody asks the workers again: a node gone since still
    # shows.
    worker_heartbeat.forget(
        worker_heartbeat.client(), node="ghost@nowhere", queues=[Queue.PAYMENTS]
    )
    assert "ghost@nowhere" in {p["node"] for p in staff_api.get(URL).json()["pools"]}


def test_dashboard_names_what_it_could_not_read_and_still_answers(
    staff_api, settings, redis_client, monkeypatch
):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    monkeypatch.setitem(celery_app.conf, "broker_url", closed_broker_url())

    body = staff_api.get(URL).json()

    assert set(body["unavailable"]) == {"queues", "workers", "dead_letters", "breakers", "pools"}
    assert body["queues"][0]["backlog"] is None
    assert body["dead_letters"]["count"] is None
    assert body["breakers"] == []
