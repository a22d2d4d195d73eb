"""`manage.py seed_demo`: the demo shop, made through the apps' services, idempotent."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from inventory import selectors as inventory_selectors
from sandboxes.demo import demo_catalog


@pytest.mark.django_db
def test_seed_demo_loads_the_catalog_and_logins_once(capsys):
    call_command("seed_demo", "--products", "3", "--admin-password", "demo-pass")
    first = capsys.readouterr().out
    call_command("seed_demo", "--products", "3", "--admin-password", "demo-pass")
    again = capsys.readouterr().out

    assert "Demo catalog: 3 product(s) added." in first
    assert "Demo catalog: 0 product(s) added." in again, "a second run keeps what exists"
    assert "Admin login:  admin / demo-pass" in again
    products = inventory_selectors.products_by_sku(skus=["prod-1", "prod-2", "prod-3"])
    assert sorted(products) == [item["sku"] for item in demo_catalog(3)]
    admin = get_user_model().objects.get(username="admin")
    assert (admin.is_staff, admin.is_superuser) == (True, True)
    assert admin.check_password("demo-pass")
