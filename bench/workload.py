"""What the bench sends: its catalog and customers (seeded into the bench's database) and the
body of each kind of request, ours and the floors'."""

import random

from bench.loadgen import Client

CUSTOMERS = 200  # the order throttle is per customer: spread the load as a shop's traffic is
PRODUCTS = 50


class Workload:
    """Needs Django set up on the bench's database (bench/load.py does it)."""

    def __init__(self, client: Client, *, hot: bool) -> None:
        self.client, self.hot = client, hot
        self._seed()

    def _seed(self) -> None:
        from django.contrib.auth import get_user_model
        from rest_framework.authtoken.models import Token

        from bench.floor import create_table
        from inventory.models import Product
        from inventory.services import create_product, update_product
        from sandboxes.demo import demo_catalog

        create_table()
        for item in demo_catalog(PRODUCTS):
            if not Product.objects.filter(sku=item["sku"]).exists():
                create_product(**item)
        for product in Product.objects.filter(sku__startswith="prod-", on_hand__lt=5_000_000):
            update_product(
                sku=product.sku,
                version=product.version,
                name=product.name,
                price_cents=product.price_cents,
                on_hand=product.reserved + 10_000_000,
            )
        self.prices = dict(Product.objects.values_list("sku", "price_cents"))
        users = get_user_model()
        self.tokens = []
        for n in range(CUSTOMERS):
            # With an address, as a shop's customers have: each order's two mails are rendered
            # and sent (make run's default backend), not skipped.
            user, _ = users.objects.update_or_create(
                username=f"bench-{n}", defaults={"email": f"bench-{n}@example.com"}
            )
            self.tokens.append(Token.objects.get_or_create(user=user)[0].key)
        self.skus = [f"prod-{n}" for n in range(1, PRODUCTS + 1)]

    # --- what one request is ----------------------------------------------------------------
    def order(self, i: int) -> tuple[int, dict]:
        sku = random.choice(self.skus[:3] if self.hot and random.random() < 0.9 else self.skus)
        body = {
            "customer_id": None,
            "items": [{"product_id": sku, "quantity": 1, "unit_price_cents": self.prices[sku]}],
        }
        body.pop("customer_id")
        return self.client.post("/api/v1/orders/", body, self.tokens[i % CUSTOMERS])

    def minimal_order(self, i: int) -> tuple[int, dict]:
        sku = random.choice(self.skus)
        body = {"items": [{"product_id": sku, "quantity": 1, "unit_price_cents": self.prices[sku]}]}
        return self.client.post("/bench/floor/order/", body, self.tokens[i % CUSTOMERS])

    def trivial_post(self, i: int) -> tuple[int, dict]:
        return self.client.post(
            "/bench/floor/post/", {"items": [{"product_id": "prod-1", "quantity": 1}]}
        )
