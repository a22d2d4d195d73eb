"""ordersite.db's guarded updates: one UPDATE whose row count says who won, versions always
moved."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import F, Q

from inventory.models import Product, Reservation, ReservationStatus
from ordersite.db import CompiledUpdate, cas_update, guarded_update, insert_or_get
from ordersite.errors import ConflictError
from payments.models import Payment, PaymentStatus
from shipping.models import Shipment

from ..factories import OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_guarded_update_applies_the_change_and_moves_the_version_in_one_statement(
    django_assert_num_queries,
):
    product = ProductFactory(on_hand=5)
    with django_assert_num_queries(1):
        assert (
            guarded_update(Product, product.pk, when=Q(on_hand__gte=3), on_hand=F("on_hand") - 3)
            is True
        )
    product.refresh_from_db()
    assert (product.on_hand, product.version) == (2, 2)


def test_guarded_update_that_loses_its_guard_changes_nothing_and_says_so():
    product = ProductFactory(on_hand=2)
    assert (
        guarded_update(Product, product.pk, when=Q(on_hand__gte=3), on_hand=F("on_hand") - 3)
        is False
    )
    product.refresh_from_db()
    assert (product.on_hand, product.version) == (2, 1)


def test_a_model_without_a_version_is_guarded_by_its_condition_alone():
    order, product = OrderFactory(), ProductFactory(on_hand=5)
    reservation = Reservation.objects.create(order=order, product=product, quantity=1)
    held = Q(status=ReservationStatus.HELD)
    assert (
        guarded_update(Reservation, reservation.pk, when=held, status=ReservationStatus.RELEASED)
        is True
    )
    assert (
        guarded_update(Reservation, reservation.pk, when=held, status=ReservationStatus.COMMITTED)
        is False
    )
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.RELEASED
    with pytest.raises(ConflictError) as lost:
        cas_update(Reservation, reservation.pk, when=held, status=ReservationStatus.COMMITTED)
    assert lost.value.data == {
        "model": "inventory.Reservation",
        "pk": reservation.pk,
        "expected_version": None,
    }


def test_insert_or_get_creates_in_one_statement_and_reads_only_a_row_already_there(
    django_assert_num_queries,
):
    order = OrderFactory()
    row = {"carrier": "primary", "tracking_number": "TRK-1", "label_reference": "L-1"}
    with django_assert_num_queries(1):
        shipment, created = insert_or_get(Shipment, order=order, defaults=row)
    assert created
    assert shipment.pk == Shipment.objects.get(order=order).pk
    assert not shipment._state.adding
    assert shipment.created_at is not None
    with django_assert_num_queries(2):  # the INSERT that does nothing, then the read
        again, created = insert_or_get(
            Shipment, order=order, defaults={**row, "tracking_number": "TRK-2"}
        )
    assert not created
    assert (again.pk, again.tracking_number) == (shipment.pk, "TRK-1")


def test_insert_or_get_still_refuses_a_clash_on_another_unique_column():
    first, second = OrderFactory(), OrderFactory()
    key = {"amount_cents": 100, "currency": "USD", "gateway": "sandbox", "idempotency_key": "k"}
    insert_or_get(Payment, order=first, defaults=key)
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_or_get(Payment, order=second, defaults=key)


# --- CompiledUpdate: the same guarded UPDATE, compiled once --------------------------------
def _hold():
    return CompiledUpdate(
        Product,
        where=lambda quantity: Q(on_hand__gte=F("reserved") + quantity),
        changes=lambda quantity: {"reserved": F("reserved") + quantity},
    )


def test_a_compiled_update_binds_each_call_its_own_values_in_one_statement(
    django_assert_num_queries,
):
    hold, product = _hold(), ProductFactory(on_hand=10)
    # The first call's quantity equals the version's own +1: the two must not be confused.
    for quantity, reserved, version in ((1, 1, 2), (3, 4, 3), (2, 6, 4)):
        with django_assert_num_queries(1):
            assert hold(product.pk, quantity) is True
        product.refresh_from_db()
        assert (product.reserved, product.version) == (reserved, version)
    other = ProductFactory(on_hand=10)
    assert hold(other.pk, 5) is True
    other.refresh_from_db()
    product.refresh_from_db()
    assert (other.reserved, product.reserved) == (5, 6), "the pk is a parameter too"


def test_a_compiled_update_whose_guard_fails_changes_nothing_and_says_so():
    hold, product = _hold(), ProductFactory(on_hand=3)
    assert hold(product.pk, 2) is True
    assert hold(product.pk, 2) is False
    product.refresh_from_db()
    assert (product.reserved, product.version) == (2, 2)


def test_a_compiled_update_with_constants_keeps_them():
    payment = Payment.objects.create(
        order=OrderFactory(),
        amount_cents=700,
        currency="USD",
        status=PaymentStatus.AUTHORIZED,
        gateway="sandbox",
        idempotency_key="compiled-update-constants",
    )
    capture = CompiledUpdate(
        Payment,
        where=lambda: Q(status=PaymentStatus.AUTHORIZED),
        changes=lambda: {"status": PaymentStatus.CAPTURED, "captured_cents": F("amount_cents")},
    )
    assert capture(payment.pk) is True
    assert capture(payment.pk) is False
    payment.refresh_from_db()
    assert (payment.status, payment.captured_cents) == (PaymentStatus.CAPTURED, 700)


@pytest.mark.parametrize(
    ("where", "changes", "args"),
    [
        # An argument that is no parameter of the statement.
        (lambda quantity: Q(), lambda quantity: {"reserved": 1}, (2,)),
        # A parameter made of two arguments: which one it is cannot be told.
        (lambda a, b: Q(), lambda a, b: {"reserved": F("reserved") + (a + b)}, (1, 2)),
        # Not an int or a string.
        (lambda when: Q(), lambda when: {"name": when}, (1.5,)),
    ],
)
def test_a_compiled_update_refuses_what_it_cannot_bind_at_its_first_call(where, changes, args):
    product = ProductFactory()
    with pytest.raises(ImproperlyConfigured):
        CompiledUpdate(Product, where=where, changes=changes)(product.pk, *args)
