"""The circuit breakers' admin page and `manage.py breakers`: operations, in the product whether
or not the sandboxes are installed (tests/sandboxes/test_enabled.py runs it without them)."""

import pytest
from django.core.management import call_command

from ordersite.breakers import Breaker, BreakerName

pytestmark = pytest.mark.usefixtures("faults")


def _trip(name: BreakerName) -> None:
    for _ in range(5):
        Breaker(name).record(ok=False)


def test_breakers_page_shows_every_breaker_and_resets_one(client, staff, db):
    client.force_login(staff)
    _trip(BreakerName.CARRIER_PRIMARY)
    page = client.get("/admin/breakers/")
    assert page.status_code == 200
    assert [b.state for b in page.context["breakers"]] == ["closed", "open", "closed", "closed"]
    answer = client.post("/admin/breakers/", {"name": "carrier_primary"}, follow=True)
    assert Breaker(BreakerName.CARRIER_PRIMARY).snapshot().state == "closed"
    assert "Breaker carrier_primary reset (closed)." in answer.content.decode()


def test_breakers_page_ignores_a_name_that_is_no_breaker(client, staff, db):
    client.force_login(staff)
    _trip(BreakerName.PAYMENT)
    client.post("/admin/breakers/", {"name": "payments"})
    assert Breaker(BreakerName.PAYMENT).snapshot().state == "open"


def test_breakers_page_is_for_staff_only(client, customer):
    client.force_login(customer)
    assert client.get("/admin/breakers/").status_code == 302
    _trip(BreakerName.EMAIL)
    client.post("/admin/breakers/", {"name": "email"})
    assert Breaker(BreakerName.EMAIL).snapshot().state == "open"


def test_breakers_command_lists_and_resets(capsys):
    _trip(BreakerName.PAYMENT)
    call_command("breakers")
    assert "payment           open" in capsys.readouterr().out
    call_command("breakers", "--reset", "payment")
    assert Breaker(BreakerName.PAYMENT).snapshot().state == "closed"
