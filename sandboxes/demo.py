"""The demo shop: a catalog of about 50 products, a demo customer with an API token, an admin.

Idempotent: products that exist keep their stock; users that exist keep their password unless
one is given.
"""

import random
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework.authtoken.models import Token

from inventory import selectors as inventory_selectors
from inventory import services as inventory_services

ADJECTIVES = (
    "Classic",
    "Compact",
    "Deluxe",
    "Eco",
    "Heavy-duty",
    "Mini",
    "Pro",
    "Smart",
    "Travel",
    "Ultra",
)
NOUNS = (
    "Widget",
    "Gadget",
    "Lamp",
    "Mug",
    "Backpack",
    "Notebook",
    "Headphones",
    "Bottle",
    "Charger",
    "Kettle",
)


@dataclass(frozen=True)
class DemoLogins:
    admin_username: str
    admin_password: str
    customer_username: str
    customer_token: str
    products_created: int


def demo_catalog(count: int = 50) -> list[dict]:
    """prod-1 … prod-N, with names, prices and stock that are the same on every machine."""
    rng = random.Random(42)  # noqa: S311  (demo data, not security)
    return [
        {
            "sku": f"prod-{n}",
            "name": f"{ADJECTIVES[(n - 1) % 10]} {NOUNS[(n - 1) // 5 % 10]}",
            "price_cents": 1000 if n == 1 else rng.randrange(299, 19999, 100),
            "on_hand": 1_000_000 if n == 1 else rng.randrange(20, 500),
        }
        for n in range(1, count + 1)
    ]


def seed_demo(
    *, admin_password: str, customer_username: str = "cust-123", products: int = 50
) -> DemoLogins:
    existing = inventory_selectors.products_by_sku(skus=[p["sku"] for p in demo_catalog(products)])
    created = 0
    for item in demo_catalog(products):
        if item["sku"] not in existing:
            inventory_services.create_product(**item)
            created += 1
    users = get_user_model()
    with transaction.atomic(durable=True):
        admin, _ = users.objects.get_or_create(
            username="admin",
            defaults={"email": "admin@example.com", "is_staff": True, "is_superuser": True},
        )
        admin.set_password(admin_password)
        admin.is_staff = admin.is_superuser = True
        admin.save()
        customer, made = users.objects.get_or_create(
            username=customer_username, defaults={"email": f"{customer_username}@example.com"}
        )
        if made:
            customer.set_unusable_password()
            customer.save()
        token, _ = Token.objects.get_or_create(user=customer)
    return DemoLogins("admin", admin_password, customer.username, token.key, created)
