"""The invariant audit: each rule, on a state built to break it (and only it), reports exactly that
breach; consistent states of every kind report nothing; a real pipeline run leaves nothing.

States are built directly in the test database, the DLQ (Redis) and the sandboxes' ledgers (their
real HTTP APIs), never through mocks."""

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from deadletters import store
from deadletters.envelope import Envelope
from inventory.models import Product, Reservation
from orders.invariants import check_invariants, customer_timeline
from orders.models import Order, OrderEvent
from orders.pipeline import AUTHORIZE, CAPTURE, SHIP, step_key
from orders.states import EventKind, OrderStatus
from orders.timeline import record_event
from payments.gateways import HttpPaymentGateway
from payments.models import Payment
from shipping.gateways import HttpCarrier
from shipping.models import Shipment

from ..factories import OrderFactory, ProductFactory, StaffFactory, backdate_events

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("faults", "redis_client")]
S = OrderStatus


# --- building states ----------------------------------------------------------------------------
def _order(status: str, product: Product, qty: int = 1, **fields) -> Order:
    order = OrderFactory(status=status, lines=[(product, qty)], **fields)
    _events(order, EventKind.ORDER_CREATED)
    return order


def _events(order: Order, *kinds: str, **data) -> None:
    order.refresh_from_db()
    with transaction.atomic():
        for kind in kinds:
            record_event(order, kind, **data)


def _authorize(order: Order, *, key: str | None = None) -> str:
    key = key or step_key(str(order.public_id), AUTHORIZE)
    result = HttpPaymentGateway().authorize(
        amount_cents=order.total_cents, currency="USD", token="tok_visa", idempotency_key=key
    )
    return result.reference


def _payment(order: Order, reference: str, status: str = "authorized", **cents) -> Payment:
    return Payment.objects.create(
        order=order,
        amount_cents=order.total_cents,
        currency="USD",
        status=status,
        gateway="sandbox",
        gateway_reference=reference,
        idempotency_key=step_key(str(order.public_id), AUTHORIZE),
        **cents,
    )


def _hold(order: Order, product: Product, qty: int = 1, status: str = "held") -> None:
    Reservation.objects.create(order=order, product=product, quantity=qty, status=status)
    if status == "held":
        Product.objects.filter(pk=product.pk).update(reserved=product.reserved + qty)
        product.refresh_from_db()


def _book(order: Order, role: str = "primary") -> str:
    booked = HttpCarrier(role).create_shipment(
        order_id=str(order.public_id),
        address={},
        parcels=[],
        idempotency_key=step_key(str(order.public_id), SHIP),
    )
    Shipment.objects.create(order=order, carrier=role, tracking_number=booked.tracking_number)
    return booked.tracking_number


def _completed(product: Product, qty: int = 1, role: str = "primary") -> Order:
    """A completed order as the pipeline leaves it: captured once, units committed, parcel live."""
    order = _order(S.COMPLETED, product, qty)
    reference = _authorize(order)
    HttpPaymentGateway().capture(
        reference=reference,
        amount_cents=order.total_cents,
        idempotency_key=step_key(str(order.public_id), CAPTURE),
    )
    _payment(order, reference, "captured", captured_cents=order.total_cents)
    _hold(order, product, qty, status="committed")
    _book(order, role)
    _events(order, EventKind.PAYMENT_CAPTURED, EventKind.ORDER_COMPLETED)
    return order


def _cancelled(product: Product) -> Order:
    """A cancelled order after compensation: authorization voided, stock released."""
    order = _order(S.CANCELLED, product)
    reference = _authorize(order)
    HttpPaymentGateway().void(
        reference=reference, idempotency_key=step_key(str(order.public_id), "void")
    )
    _payment(order, reference, "voided", voided_cents=order.total_cents)
    _hold(order, product, status="released")
    return order


def _parked(product: Product, task: str = AUTHORIZE) -> Order:
    order = _order(S.PAYMENT_PROCESSING, product, dead_lettered_at=timezone.now())
    _dead_letter(order, task)
    return order


def _dead_letter(order: Order, task: str = AUTHORIZE) -> Envelope:
    entry = Envelope(task=task, args=[str(order.public_id)], order_id=str(order.public_id))
    store.push(entry)
    return entry


def _found(report) -> list[tuple[str, str | None]]:
    return [(b.rule, b.order_id or b.product) for b in report.breaches]


# --- nothing to report --------------------------------------------------------------------------
def test_check_invariants_reports_nothing_for_consistent_orders_of_every_kind():
    product = ProductFactory(on_hand=100)
    _completed(product)
    _completed(product, qty=2, role="fallback")
    _cancelled(product)
    _order(S.PAYMENT_FAILED, product)
    waiting = _order(S.PENDING_SHIPMENT, product)
    _payment(waiting, _authorize(waiting))
    _hold(waiting, product)
    _parked(product)
    report = check_invariants(window_s=0)
    assert report.ok, report.text()
    assert report.checked["orders"] == 6


def test_check_invariants_forgives_an_order_still_moving_within_the_window():
    moving = _order(S.PAID, ProductFactory())
    assert check_invariants(window_s=60).ok
    assert _found(check_invariants(window_s=0)) == [("state.stuck", str(moving.public_id))]


# --- state --------------------------------------------------------------------------------------
def test_check_invariants_reports_an_order_stuck_past_the_window():
    order = _order(S.RESERVED, ProductFactory())
    long_ago = timezone.now() - timedelta(minutes=10)
    Order.objects.filter(pk=order.pk).update(updated_at=long_ago)
    backdate_events(OrderEvent.objects.filter(order=order), long_ago)
    report = check_invariants(window_s=300)
    assert _found(report) == [("state.stuck", str(order.public_id))]
    assert "reserved since" in report.breaches[0].detail


def test_check_invariants_reports_an_order_marked_dead_lettered_without_a_live_entry():
    order = _order(S.PAID, ProductFactory(), dead_lettered_at=timezone.now())
    report = check_invariants(window_s=0)
    assert _found(report) == [("state.stuck", str(order.public_id))]
    assert "no live DLQ entry" in report.breaches[0].detail


def test_check_invariants_counts_an_entry_being_replayed_as_live():
    order = _parked(ProductFactory())
    client = store.redis_client()
    raw = client.lpop(store.settings.DLQ_KEY)
    client.lpush(store.dlq_key("processing"), json.dumps({"claimed_at": 0, "raw": raw}))
    assert check_invariants(window_s=0).ok, f"{order} is parked while its replay is in flight"


# --- money --------------------------------------------------------------------------------------
def test_check_invariants_reports_a_payment_whose_outcomes_do_not_add_up():
    order = _order(S.CANCELLED, ProductFactory())
    _payment(order, "", "voided", voided_cents=order.total_cents // 2)
    report = check_invariants(window_s=0, ledgers=False)
    assert _found(report) == [("money.unbalanced", str(order.public_id))]


def test_check_invariants_reports_a_completed_order_captured_twice_in_our_timeline():
    order = _completed(ProductFactory())
    _events(order, EventKind.PAYMENT_CAPTURED)
    report = check_invariants(window_s=0)
    assert _found(report) == [("money.completed_not_captured_once", str(order.public_id))]
    assert "2 payment_captured events" in report.breaches[0].detail


def test_check_invariants_reports_a_completed_order_never_captured():
    product = ProductFactory()
    order = _order(S.COMPLETED, product)
    _payment(order, _authorize(order))
    _hold(order, product, status="committed")
    _book(order)
    report = check_invariants(window_s=0)
    assert _found(report) == [("money.completed_not_captured_once", str(order.public_id))]


def test_check_invariants_reports_a_cancelled_order_still_holding_its_authorization():
    order = _order(S.CANCELLED, ProductFactory())
    _payment(order, _authorize(order))
    report = check_invariants(window_s=0)
    assert _found(report) == [("money.held_after_terminal", str(order.public_id))]
    assert "still authorized at the gateway" in report.breaches[0].detail


def test_check_invariants_reports_a_second_charge_at_the_gateway():
    order = _completed(ProductFactory())
    second = _authorize(order, key=f"{order.public_id}:payments.authorize_payment:again")
    HttpPaymentGateway().capture(
        reference=second, amount_cents=order.total_cents, idempotency_key="again:capture"
    )
    public_id = str(order.public_id)
    assert sorted(_found(check_invariants(window_s=0))) == [
        ("ledger.duplicate", public_id),
        ("ledger.unknown", public_id),
        ("money.double_charge", public_id),
    ]


# --- the payment gateway's ledger ---------------------------------------------------------------
def test_check_invariants_reports_an_authorization_our_books_do_not_know():
    order = _order(S.PAYMENT_FAILED, ProductFactory())
    reference = _authorize(order)  # e.g. the answer was lost, and nothing recorded it
    HttpPaymentGateway().void(reference=reference, idempotency_key="void")
    assert _found(check_invariants(window_s=0)) == [("ledger.unknown", str(order.public_id))]


def test_check_invariants_reports_a_gateway_authorization_of_no_order():
    HttpPaymentGateway().authorize(
        amount_cents=100, currency="USD", token="tok_visa", idempotency_key="stray"
    )
    report = check_invariants(window_s=0)
    assert _found(report) == [("ledger.unknown", None)]
    assert "belongs to no order" in report.breaches[0].detail


def test_check_invariants_reports_our_payment_missing_at_the_gateway():
    order = _order(S.PENDING_SHIPMENT, ProductFactory())
    _payment(order, "auth_nobodyknowsthis")
    assert _found(check_invariants(window_s=0)) == [("ledger.missing", str(order.public_id))]


def test_check_invariants_reports_a_gateway_status_that_is_not_ours():
    order = _order(S.PENDING_SHIPMENT, ProductFactory())
    reference = _authorize(order)
    _payment(order, reference)
    HttpPaymentGateway().void(reference=reference, idempotency_key="voided-behind-our-back")
    report = check_invariants(window_s=0)
    assert _found(report) == [("ledger.mismatch", str(order.public_id))]
    assert "status ours authorized, gateway voided" in report.breaches[0].detail


def test_check_invariants_reports_an_unreachable_ledger(settings):
    settings.PAYMENT_GATEWAY_URL = "http://127.0.0.1:9"  # discard port: nothing listens
    assert _found(check_invariants(window_s=0)) == [("ledger.unreachable", None)]


# --- stock --------------------------------------------------------------------------------------
def test_check_invariants_reports_a_reserved_count_its_reservations_do_not_explain():
    product = ProductFactory(reserved=3)
    _order(S.PAYMENT_FAILED, product)
    assert _found(check_invariants(window_s=0)) == [("stock.reserved_mismatch", product.sku)]


def test_check_invariants_reports_an_oversold_product():
    with connection.cursor() as cursor:  # the database refuses it; the audit must not rely on that
        cursor.execute("ALTER TABLE inventory_product DROP CONSTRAINT reserved_within_on_hand")
    product = ProductFactory(on_hand=2)
    _hold(_order(S.PENDING_SHIPMENT, product, qty=5), product, qty=5)
    assert _found(check_invariants(window_s=0)) == [("stock.oversold", product.sku)]


def test_check_invariants_reports_a_finished_order_still_holding_stock():
    product = ProductFactory()
    order = _order(S.CANCELLED, product)
    _hold(order, product)
    assert _found(check_invariants(window_s=0)) == [
        ("stock.held_after_terminal", str(order.public_id))
    ]


def test_check_invariants_reports_committed_units_that_are_not_what_shipped():
    product = ProductFactory()
    order = _completed(product, qty=2)
    Reservation.objects.filter(order=order).update(quantity=1)
    assert _found(check_invariants(window_s=0)) == [
        ("stock.committed_mismatch", str(order.public_id))
    ]


# --- parcels ------------------------------------------------------------------------------------
def test_check_invariants_reports_a_live_parcel_of_an_order_shipped_through_the_other_carrier():
    order = _completed(ProductFactory(), role="fallback")
    HttpCarrier("primary").create_shipment(
        order_id=str(order.public_id), address={}, parcels=[], idempotency_key="timed-out"
    )
    report = check_invariants(window_s=0)
    assert _found(report) == [("shipping.live_booking", str(order.public_id))]
    assert (
        "at the primary carrier for a completed order (ours: fallback" in report.breaches[0].detail
    )


def test_check_invariants_reports_a_live_parcel_of_a_cancelled_order():
    order = _cancelled(ProductFactory())
    _book(order)
    found = _found(check_invariants(window_s=0))
    assert found == [("shipping.live_booking", str(order.public_id))] * 2, (
        "at the carrier, and in our books"
    )


def test_check_invariants_reports_a_shipped_parcel_the_carrier_does_not_have():
    order = _completed(ProductFactory())
    Shipment.objects.filter(order=order).update(tracking_number="TRKNOWHERE")
    assert sorted(_found(check_invariants(window_s=0))) == [
        ("shipping.booking_missing", str(order.public_id)),
        ("shipping.live_booking", str(order.public_id)),  # the carrier's parcel is no longer ours
    ]


# --- dead letters -------------------------------------------------------------------------------
def test_check_invariants_reports_two_live_entries_for_one_step():
    order = _parked(ProductFactory())
    second = Envelope(task=AUTHORIZE, args=[str(order.public_id)], order_id=str(order.public_id))
    store.redis_client().lpush(
        store.settings.DLQ_KEY, second.to_json()
    )  # as a push that raced past the check
    assert _found(check_invariants(window_s=0)) == [("dlq.duplicate_entry", str(order.public_id))]


def test_check_invariants_reports_a_live_entry_for_a_completed_order():
    order = _completed(ProductFactory())
    _dead_letter(order, "shipping.create_shipment")
    assert _found(check_invariants(window_s=0)) == [
        ("dlq.entry_for_completed", str(order.public_id))
    ]


# --- timeline -----------------------------------------------------------------------------------
def test_check_invariants_reports_a_gap_in_the_event_numbers():
    order = _order(S.PAYMENT_FAILED, ProductFactory())  # order_created is #1
    # Events are never deleted (a trigger refuses it): a number skipped at write time makes the gap.
    with transaction.atomic():
        record_event(order, EventKind.STEP_RETRY, seq=3)
        Order.objects.filter(pk=order.pk).update(last_event_seq=3)
    report = check_invariants(window_s=0)
    assert _found(report) == [("timeline.seq_gap", str(order.public_id))]
    assert "2 events numbered 1..3" in report.breaches[0].detail


@pytest.mark.parametrize(
    ("value", "leak"),
    [
        ("GatewayUnavailableError: 503 from http://127.0.0.1:8071/v1/shipments", "a URL"),
        ("ReadTimeout while booking", "an exception class name"),
        ("Error: boom", "'Error:'"),
        ("0123456789abcdef0123456789abcdef", "a DLQ entry id"),
    ],
)
def test_check_invariants_reports_internals_in_the_customer_timeline(value, leak):
    """A field the projection shows customers (an order_shipped's tracking number) carrying an
    internal: the rule reads what the customer receives."""
    order = _order(S.PAYMENT_FAILED, ProductFactory())
    _events(order, EventKind.ORDER_SHIPPED, tracking_number=value)
    report = check_invariants(window_s=0)
    assert _found(report) == [("timeline.customer_internals", str(order.public_id))]
    assert report.breaches[0].detail.startswith(f"#2 order_shipped: {leak}")


def test_check_invariants_reports_a_staff_username_and_a_gateway_reference_shown_to_customers():
    StaffFactory(username="ops-alice")
    order = _order(S.PENDING_SHIPMENT, ProductFactory())
    reference = _authorize(order)
    _payment(order, reference)
    _events(order, EventKind.ORDER_SHIPPED, tracking_number=reference)
    _events(order, EventKind.STOCK_UNAVAILABLE, sku="ops-alice")
    report = check_invariants(window_s=0)
    assert _found(report) == [("timeline.customer_internals", str(order.public_id))]
    assert report.breaches[0].detail == (
        f"#2 order_shipped: the gateway reference '{reference}'; "
        "#3 stock_unavailable: the staff username 'ops-alice'"
    )


def test_check_invariants_judges_what_customers_see_not_the_raw_events():
    """Staff keep the whole story: a gateway reference, a retry's error and a staff actor in the
    raw events are no breach while the customer's projection leaves them out."""
    staff = StaffFactory(username="ops-bob")
    order = _order(S.PENDING_SHIPMENT, ProductFactory())
    reference = _authorize(order)
    _payment(order, reference)
    _events(
        order, EventKind.PAYMENT_AUTHORIZED, reference=reference, amount_cents=order.total_cents
    )
    _events(
        order,
        EventKind.STEP_RETRY,
        error="GatewayUnavailableError: 503 from http://127.0.0.1:8071/",
    )
    order.refresh_from_db()
    with transaction.atomic():
        record_event(
            order, EventKind.DEAD_LETTER_DISCARDED, actor=staff.username, reason="customer asked"
        )
    report = check_invariants(window_s=0)
    assert report.ok, report.text()
    assert report.checked["suspect events projected"] == 3


def test_check_invariants_lets_plain_reasons_through_to_customers():
    order = _order(S.PAYMENT_FAILED, ProductFactory())
    _events(
        order,
        EventKind.PAYMENT_FAILED,
        reason="The card was declined.",
        decline_code="card_declined",
    )
    assert check_invariants(window_s=0).ok


def test_customer_timeline_is_what_the_events_api_shows_the_customer(api, customer):
    """The audit judges what customers receive: if the API changes its projection, this fails
    and orders/invariants/timeline.py:customer_timeline must follow."""
    order = _order(S.PAYMENT_FAILED, ProductFactory(), customer=customer)
    _events(order, EventKind.STEP_RETRY, error="x")
    _events(
        order,
        EventKind.PAYMENT_FAILED,
        decline_code="card_declined",
        reason="The card was declined.",
    )
    shown = api.get(f"/api/v1/orders/{order.public_id}/events/").json()
    projected = customer_timeline(list(OrderEvent.objects.filter(order=order).order_by("seq")))
    assert json.loads(json.dumps(projected, default=str)) == shown


# --- scope, efficiency, the command -------------------------------------------------------------
def test_check_invariants_since_leaves_older_orders_out():
    old = _order(S.PAID, ProductFactory())
    since = timezone.now()
    new = _order(S.PAID, ProductFactory())
    assert _found(check_invariants(window_s=0, since=since)) == [
        ("state.stuck", str(new.public_id))
    ]
    assert len(check_invariants(window_s=0).breaches) == 2, f"{old} is reported without a scope"


def test_check_invariants_runs_a_fixed_number_of_queries_whatever_the_number_of_orders():
    product = ProductFactory(on_hand=1000)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            check_invariants(window_s=0, ledgers=False)
        return len(captured)

    _completed(product)
    _cancelled(product)
    few = queries()
    for _ in range(10):
        _completed(product)
        _cancelled(product)
    assert queries() == few


def test_check_invariants_command_exits_1_with_a_readable_report(capsys):
    order = _order(S.CANCELLED, ProductFactory())
    _payment(order, _authorize(order))
    with pytest.raises(SystemExit) as exited:
        call_command("check_invariants", "--window", "0")
    assert exited.value.code == 1
    out = capsys.readouterr().out
    assert "1 breach(es):" in out
    assert (
        "money.held_after_terminal (1): a cancelled or failed order holds no authorization" in out
    )
    assert f"order {order.public_id}: cancelled order: our payment auth_" in out


def test_check_invariants_command_json_is_for_machines(capsys):
    order = _order(S.PAID, ProductFactory())
    with pytest.raises(SystemExit):
        call_command("check_invariants", "--json", "--window", "0")
    report = json.loads(capsys.readouterr().out)
    assert (report["ok"], report["counts"]) == (False, {"state.stuck": 1})
    assert report["breaches"][0]["order_id"] == str(order.public_id)


def test_check_invariants_command_is_quiet_and_exits_0_when_all_holds(capsys):
    _completed(ProductFactory())
    call_command("check_invariants", "--window", "0")
    assert capsys.readouterr().out.strip().endswith("no breach")
