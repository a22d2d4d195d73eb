"""`make bench` and bench/make_run_cpu.py read CPU once every order they sent has ended
(bench/harness.py, `wait_orders_ended`): a wait that stopped early would leave work uncounted
and flatter the CPU per order."""

import time

import pytest

from bench.harness import wait_orders_ended
from orders.states import OrderStatus

from .factories import OrderFactory

pytestmark = pytest.mark.django_db


def _ids(*statuses: OrderStatus) -> list[str]:
    return [str(OrderFactory(status=status).public_id) for status in statuses]


def test_ended_and_parked_orders_end_the_wait_at_once():
    ids = _ids(OrderStatus.COMPLETED, OrderStatus.FAILED, OrderStatus.PENDING_SHIPMENT)
    start = time.time()
    assert wait_orders_ended(ids, timeout=30) - start < 30


@pytest.mark.parametrize(
    "unfinished", [OrderStatus.PENDING, OrderStatus.RESERVED, OrderStatus.SHIPPED]
)
def test_one_unfinished_order_keeps_the_wait_until_its_timeout(unfinished):
    ids = _ids(OrderStatus.COMPLETED, unfinished)
    start = time.time()
    assert wait_orders_ended(ids, timeout=0.5) - start >= 0.5
