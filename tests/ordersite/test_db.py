"""ordersite.db's guarded updates: one UPDATE whose row count says who won, versions always
moved."""

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F, Q

from inventory.models import Product, Reservation, ReservationStatus
from ordersite.db import cas_update, guarded_update, insert_or_get
from ordersite.errors import ConflictError
from payments.models import Payment
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
