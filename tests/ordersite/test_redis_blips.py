"""Finding 12: a Redis blip inside the breaker. Redis is reached through a proxy the test cuts;
the payment processor is the real sandbox over HTTP."""

from urllib.parse import urlsplit

import httpx
import pytest
import redis

from orders.models import Order
from orders.pipeline import TRANSIENT_ERRORS
from orders.states import OrderStatus
from ordersite.errors import TransientError
from payments import services as payment_services
from payments.gateways import get_payment_gateway
from payments.models import Payment, PaymentStatus
from payments.tasks import authorize_payment

from ..conftest import TEST_REDIS_URL
from ..factories import OrderFactory, ProductFactory
from .redis_proxy import CUT_AFTER_CALL, RedisProxy


@pytest.fixture
def proxied_redis(settings, faults):
    """settings.REDIS_URL through a proxy of the tests' Redis (the sandboxes keep the direct
    one)."""
    url = urlsplit(TEST_REDIS_URL)
    proxy = RedisProxy(url.hostname, url.port or 6379)
    settings.REDIS_URL = f"redis://127.0.0.1:{proxy.port}{url.path}"
    yield proxy
    CUT_AFTER_CALL.clear()
    proxy.stop()


def _ledger(faults) -> list[dict]:
    return httpx.get(f"{faults.urls['payments']}/v1/authorizations", timeout=5).json()["data"]


@pytest.mark.django_db
def test_a_successful_authorization_survives_a_blip_in_its_breaker_bookkeeping(
    proxied_redis, settings, faults
):
    settings.PAYMENT_GATEWAY_CLASS = "tests.ordersite.redis_proxy.BlipAfterAnswerGateway"
    CUT_AFTER_CALL.append(proxied_redis)
    order = OrderFactory(status=OrderStatus.PAYMENT_PROCESSING, lines=[(ProductFactory(), 1)])
    assert payment_services.authorize_payment(order_id=str(order.public_id)) == "authorized"
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID
    (entry,) = _ledger(faults)
    assert Payment.objects.get(order=order).gateway_reference == entry["id"]
    assert Payment.objects.get(order=order).status == PaymentStatus.AUTHORIZED


def test_a_breaker_that_cannot_ask_redis_is_a_transient_error_and_calls_nothing(
    proxied_redis, faults
):
    proxied_redis.cut()
    with pytest.raises(TransientError, match="payment"):
        get_payment_gateway().authorize(
            amount_cents=100, currency="USD", token="tok_visa", idempotency_key="k"
        )
    assert _ledger(faults) == [], "never called the processor without its breaker's say"


def test_redis_connection_errors_and_timeouts_are_retried_by_the_pipeline():
    for error in (redis.ConnectionError("reset"), redis.TimeoutError("slow")):
        assert isinstance(error, TRANSIENT_ERRORS)
        assert isinstance(error, authorize_payment.autoretry_for)
