"""verify_events against orders the real pipeline ran: every path it takes rebuilds from the events
alone, and a stored field changed behind the timeline's back is reported, with exit status 1."""

import io
import uuid

import pytest
from django.core.management import CommandError, call_command

from inventory import services as inventory_services
from orders import services
from orders import services_returns as return_services
from orders.models import Order, ReturnRequest
from orders.states import OrderStatus
from payments import services_refunds
from payments.models import Payment
from shipping import services_delivery as shipping_delivery
from shipping.models import Shipment

from ..conftest import wait_for
from ..factories import ProductFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_worker")]


def _place(product, *, token: str = "tok_visa", quantity: int = 1) -> Order:
    order, _ = services.place_order(
        customer=UserFactory(),
        items=[{"sku": product.sku, "quantity": quantity}],
        payment_token=token,
    )
    return order


def _settled(order: Order, *statuses: str) -> Order | None:
    order = Order.objects.get(pk=order.pk)
    return order if order.status in statuses else None


def _verify(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("verify_events", *args, stdout=out)
    except SystemExit as exc:
        return int(exc.code), out.getvalue()
    return 0, out.getvalue()


def test_every_pipeline_path_rebuilds_from_its_events():
    product, scarce = ProductFactory(on_hand=50, price_cents=1500), ProductFactory(on_hand=0)
    completed = _place(product, quantity=2)
    refunded = _place(product)
    declined = _place(product, token="tok_declined")
    out_of_stock = _place(scarce)
    wait_for(lambda: _settled(completed, OrderStatus.COMPLETED), timeout=30)
    wait_for(lambda: _settled(refunded, OrderStatus.COMPLETED), timeout=30)
    wait_for(lambda: _settled(declined, OrderStatus.PAYMENT_FAILED), timeout=30)
    wait_for(lambda: _settled(out_of_stock, OrderStatus.CANCELLED), timeout=30)
    # After the sale: the parcels arrive, part of the money goes back, one unit is returned.
    for order in (refunded, completed):
        shipping_delivery.deliver_order_by_hand(order=order, actor="staff")
    services_refunds.request_refund(
        order_id=str(refunded.public_id), amount_cents=400, actor="staff", reason="Late."
    )
    completed.refresh_from_db()
    returned = return_services.request_return(
        order=completed,
        requester=completed.customer,
        lines=[{"sku": product.sku, "quantity": 1}],
        reason="One too many.",
    )
    return_services.decide_return(return_id=str(returned.public_id), approve=True, actor="staff")
    inventory_services.receive_return(
        return_id=str(returned.public_id),
        conditions={product.sku: "restockable"},
        actor="warehouse",
    )
    wait_for(lambda: _settled(refunded, OrderStatus.PARTIALLY_REFUNDED), timeout=30)
    wait_for(lambda: _settled(completed, OrderStatus.PARTIALLY_REFUNDED), timeout=30)

    code, out = _verify()
    assert (
        code,
        out.splitlines()[-1].split(" in ")[0],
        out.endswith("0 differ from their events\n"),
    ) == (
        0,
        "verified 4 orders",
        True,
    ), out


def test_verify_events_reports_a_stored_field_changed_behind_the_timeline():
    product = ProductFactory(on_hand=10, price_cents=1000)
    tampered, clean = _place(product, quantity=2), _place(product)
    for order in (tampered, clean):
        wait_for(lambda o=order: _settled(o, OrderStatus.COMPLETED), timeout=30)
    assert _verify()[0] == 0

    Payment.objects.filter(order=tampered).update(captured_cents=1)
    Order.objects.filter(pk=tampered.pk).update(status=OrderStatus.CANCELLED)
    Shipment.objects.filter(order=tampered).update(tracking_number="TRKFORGED")
    code, out = _verify()
    assert code == 1
    (line,) = [line for line in out.splitlines() if line.startswith(str(tampered.public_id))]
    assert "status: stored 'cancelled', events 'completed'" in line
    assert "payment.captured_cents: stored 1, events 2000" in line
    assert "shipment.tracking_number: stored 'TRKFORGED', events 'TRK" in line
    assert str(clean.public_id) not in out
    assert out.splitlines()[-1].endswith("1 differ from their events")

    # --order: only that one.
    assert _verify("--order", str(clean.public_id))[0] == 0
    code, out = _verify("--order", str(tampered.public_id))
    assert (code, out.splitlines()[-1].split(" in ")[0]) == (1, "verified 1 orders")

    # A return the tables hold and no event explains is reported too.
    forged = ReturnRequest.objects.create(
        order=clean, reason="Forged.", amount_cents=1000, status="refunded"
    )
    code, out = _verify("--order", str(clean.public_id))
    assert code == 1
    assert f"return {forged.public_id}: the tables hold one, the events none" in out


@pytest.mark.parametrize("bad", ["not-a-uuid", str(uuid.uuid4()), ""])
def test_verify_events_refuses_an_unknown_order_clearly(bad):
    with pytest.raises(CommandError, match="--order: no order with id") as raised:
        call_command("verify_events", "--order", bad, stdout=io.StringIO())
    assert raised.value.returncode == 2
