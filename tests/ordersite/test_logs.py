"""The log format and the order context (ordersite/logs.py): what a line holds in each format,
which format each environment gets, and how a request, a DLQ replay and a task's message carry
the order's ids."""

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
from structlog.contextvars import bind_contextvars

from deadletters import services as dlq_services
from deadletters import store
from deadletters.envelope import Envelope
from orders.states import OrderStatus
from ordersite import logs
from ordersite.celery import app as celery_app

from .. import broker
from ..broker import TEST_BROKER_URL
from ..conftest import ROOT
from ..factories import OrderFactory, ProductFactory

# A queue no worker consumes: a message sent there stays to be read.
PROBE_QUEUE = "logs-test-probe"


@pytest.fixture
def json_lines() -> Iterator[Callable[[], list[dict]]]:
    """Every record logged during the test, rendered by the production formatter and parsed."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.formatter("json"))
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)


def _render(log_format: str, record: logging.LogRecord) -> str:
    return logs.formatter(log_format).format(record)


def _record(
    message: str, *args: object, exc_info: object = None, **extra: object
) -> logging.LogRecord:
    record = logging.LogRecord(
        "orders.services", logging.WARNING, __file__, 1, message, args, exc_info
    )
    record.__dict__.update(extra)
    return record


def test_a_json_line_is_one_valid_object_with_when_what_and_the_orders_context():
    logs.bind_order(order_id="3f0c0a52-order", correlation_id="7d4b1c52-corr")
    bind_contextvars(request_id="req-1")
    line = _render("json", _record("order %s -> %s", "3f0c0a52-order", "paid", status="paid"))
    assert "\n" not in line
    record = json.loads(line)
    assert list(record)[:4] == ["timestamp", "level", "logger", "event"]
    assert record == {
        "timestamp": record["timestamp"],
        "level": "warning",
        "logger": "orders.services",
        "event": "order 3f0c0a52-order -> paid",
        "order_id": "3f0c0a52-order",
        "correlation_id": "7d4b1c52-corr",
        "request_id": "req-1",
        "status": "paid",  # an `extra` key, which the old formatter dropped
    }
    assert datetime.fromisoformat(record["timestamp"]).utcoffset().total_seconds() == 0


def test_a_json_line_carries_its_traceback_in_one_field():
    try:
        raise ValueError("boom")
    except ValueError:
        line = _render("json", _record("step failed", exc_info=sys.exc_info()))
    record = json.loads(line)
    assert record["event"] == "step failed"
    assert record["exception"].startswith("Traceback (most recent call last):")
    assert record["exception"].rstrip().endswith("ValueError: boom")


def test_a_console_line_reads_as_text_with_key_value_context():
    logs.bind_order(order_id="3f0c0a52-order", correlation_id="7d4b1c52-corr")
    line = _render("console", _record("order %s placed", "3f0c0a52-order", total_cents=2000))
    assert "order 3f0c0a52-order placed" in line
    assert "[orders.services]" in line
    for pair in ("order_id=3f0c0a52-order", "correlation_id=7d4b1c52-corr", "total_cents=2000"):
        assert pair in line
    assert "\x1b[" not in line, "no colour codes when stderr is not a terminal"


def test_an_unknown_log_format_is_refused():
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        logs.formatter("xml")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DEBUG": "false"}, "json"),
        ({"DEBUG": "true"}, "console"),
        ({"DEBUG": "false", "LOG_FORMAT": "console"}, "console"),
        ({"DEBUG": "true", "LOG_FORMAT": "json"}, "json"),
    ],
)
def test_production_logs_json_and_development_console_unless_log_format_says(env, expected):
    clean = {k: v for k, v in os.environ.items() if k not in {"LOG_FORMAT", "DEBUG"}}
    clean.update(env, SECRET_KEY="tests-only", DJANGO_SETTINGS_MODULE="ordersite.settings")
    printed = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.LOG_FORMAT)"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert printed.stdout.strip() == expected


def test_a_request_gets_an_id_answers_it_and_binds_the_order_of_its_url(api, customer, db):
    order = OrderFactory(customer=customer, lines=[(ProductFactory(), 1)])
    response = api.get(f"/api/v1/orders/{order.public_id}/", HTTP_X_REQUEST_ID="lb-7f3a")
    assert response.status_code == 200
    assert response["X-Request-ID"] == "lb-7f3a"
    assert (logs.current("request_id"), logs.current("order_id")) == (
        "lb-7f3a",
        str(order.public_id),
    )
    assert logs.current("user_id") == customer.pk

    response = api.get("/api/v1/health", HTTP_X_REQUEST_ID="not a sane id; rm -rf /")
    assert response["X-Request-ID"] != "not a sane id; rm -rf /"
    assert len(response["X-Request-ID"]) == 32
    assert logs.current("order_id") is None, "each request starts with a fresh context"


def test_a_task_sent_while_an_order_is_bound_carries_its_ids_in_its_header():
    broker.empty_queue(TEST_BROKER_URL, PROBE_QUEUE)
    bind_contextvars(request_id="req-9", user_id=4)
    with logs.order_scope():
        logs.bind_order(order_id="order-a", correlation_id="corr-a")
        celery_app.send_task("payments.authorize_payment", args=["order-a"], queue=PROBE_QUEUE)
    celery_app.send_task("payments.authorize_payment", args=["order-b"], queue=PROBE_QUEUE)
    older, newer = broker.take_headers(TEST_BROKER_URL, PROBE_QUEUE)
    assert older[logs.CONTEXT_HEADER] == {
        "order_id": "order-a",
        "correlation_id": "corr-a",
        "request_id": "req-9",
    }
    assert newer[logs.CONTEXT_HEADER] == {"request_id": "req-9"}, (
        "the order's ids ended with its block"
    )


def test_a_tasks_order_id_drops_a_correlation_id_bound_for_another_order():
    logs.bind_order(order_id="order-a", correlation_id="corr-a")
    logs.bind_order(order_id="order-a")
    assert logs.current("correlation_id") == "corr-a"
    logs.bind_order(order_id="order-b")
    assert (logs.current("order_id"), logs.current("correlation_id")) == ("order-b", None)


@pytest.mark.django_db(transaction=True)
def test_a_dlq_replay_logs_and_sends_under_the_orders_ids(redis_client, json_lines):
    broker.empty_queue(TEST_BROKER_URL, PROBE_QUEUE)
    order = OrderFactory(status=OrderStatus.PAYMENT_PROCESSING, lines=[(ProductFactory(), 1)])
    order_id = str(order.public_id)
    entry = Envelope(
        task="payments.authorize_payment", queue=PROBE_QUEUE, args=[order_id], order_id=order_id
    )
    store.push(entry)
    dlq_services.replay_many(entry_ids=[entry.id], actor="ops")

    ids = {"order_id": str(order.public_id), "correlation_id": str(order.correlation_id)}
    (sent,) = broker.take_headers(TEST_BROKER_URL, PROBE_QUEUE)
    assert sent[logs.CONTEXT_HEADER] == ids
    replayed = [
        r for r in json_lines() if r["logger"] == "deadletters.store" and "replayed" in r["event"]
    ]
    assert replayed
    assert {key: replayed[0][key] for key in ids} == ids
    assert logs.current("order_id") is None, "a bulk action leaves no order bound after each entry"
