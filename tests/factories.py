"""factory_boy factories for every model; orders are made in any status without the pipeline."""

import factory
from django.contrib.auth import get_user_model
from django.db import connection, transaction

from inventory.models import Product
from orders.models import Order, OrderItem


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"customer-{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")


class StaffFactory(UserFactory):
    username = factory.Sequence(lambda n: f"staff-{n}")
    is_staff = True


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"sku-{n}")
    name = factory.Sequence(lambda n: f"Product {n}")
    price_cents = 1000
    on_hand = 100


class OrderFactory(factory.django.DjangoModelFactory):
    """An order already in `status`, with one line per product given as `lines=[(product, qty)]`."""

    class Meta:
        model = Order
        skip_postgeneration_save = True

    customer = factory.SubFactory(UserFactory)
    total_cents = 0

    @factory.post_generation
    def lines(self, create: bool, extracted: list | None, **kwargs: object) -> None:
        total = 0
        for product, quantity in extracted or []:
            OrderItem.objects.create(
                order=self,
                product=product,
                sku=product.sku,
                name=product.name,
                quantity=quantity,
                unit_price_cents=product.price_cents,
            )
            total += product.price_cents * quantity
        if total:
            Order.objects.filter(pk=self.pk).update(total_cents=total)
            self.total_cents = total


def backdate_events(events, created_at) -> None:
    """Make time pass for a timeline in a test. Events are append-only (a trigger refuses UPDATE),
    so the trigger is lifted for this one statement, inside one transaction: no other session ever
    sees it lifted (ALTER TABLE is transactional in PostgreSQL)."""
    trigger = "orders_orderevent_append_only"
    with transaction.atomic(), connection.cursor() as cursor:
        # ALTER TABLE refuses a table with deferred checks still pending (the test's own inserts).
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE orders_orderevent DISABLE TRIGGER {trigger}")
        events.update(created_at=created_at)
        cursor.execute(f"ALTER TABLE orders_orderevent ENABLE TRIGGER {trigger}")
