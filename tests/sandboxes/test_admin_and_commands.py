"""The faults admin page and the sandbox_faults command, on the real Redis."""

import pytest
import redis
from django.core.management import call_command

from sandboxes.faults import Faults, get_faults

from ..broker import ISOLATED_REDIS_URL
from ..conftest import TEST_REDIS_URL

pytestmark = pytest.mark.usefixtures("faults")


def test_admin_page_shows_each_sandbox_faults_and_links_the_breakers(client, staff, db):
    client.force_login(staff)
    page = client.get("/admin/faults/")
    assert page.status_code == 200
    assert [name for name, _ in page.context["sandboxes"]] == [
        "payments",
        "carrier_primary",
        "carrier_fallback",
    ]
    assert 'href="/admin/breakers/"' in page.content.decode()


def test_admin_page_sets_and_clears_a_sandbox_faults(client, staff, db):
    client.force_login(staff)
    form = {
        "latency_ms": 30,
        "jitter_ms": 10,
        "error_rate": 0.2,
        "timeout_rate": 0,
        "seed": 4,
        "down": "on",
    }
    client.post("/admin/faults/", {"action": "set_faults", "name": "carrier_fallback", **form})
    assert get_faults("carrier_fallback") == Faults(
        latency_ms=30, jitter_ms=10, error_rate=0.2, down=True, seed=4
    )
    client.post(
        "/admin/faults/", {"action": "set_faults", "name": "payments", **form, "error_rate": 3}
    )
    assert get_faults("payments") == Faults(), "an invalid form changes nothing"
    client.post("/admin/faults/", {"action": "reset_faults", "name": "carrier_fallback"})
    assert get_faults("carrier_fallback") == Faults()


def test_admin_page_is_for_staff_only(client, customer):
    client.force_login(customer)
    assert client.get("/admin/faults/").status_code == 302


def test_sandbox_faults_command_sets_and_resets(capsys):
    call_command("sandbox_faults", "payments", "--error-rate", "0.5", "--seed", "9", "--down")
    assert get_faults("payments") == Faults(error_rate=0.5, seed=9, down=True)
    assert "payments          latency_ms=0" in capsys.readouterr().out
    call_command("sandbox_faults", "--reset")
    assert get_faults("payments") == Faults()


def test_sandbox_state_lives_in_sandbox_redis_url_when_set(settings):
    """bench/chaos.py restarts our Redis; the outside world's ledgers and faults must not go with
    it."""
    settings.SANDBOX_REDIS_URL = ISOLATED_REDIS_URL
    elsewhere = redis.Redis.from_url(ISOLATED_REDIS_URL)
    ours = redis.Redis.from_url(TEST_REDIS_URL)
    try:
        call_command("sandbox_faults", "payments", "--latency-ms", "7")
        assert elsewhere.hexists("sandbox:faults", "payments")
        assert not ours.hexists("sandbox:faults", "payments")
        assert get_faults("payments").latency_ms == 7
    finally:
        call_command("sandbox_faults", "--reset")
        elsewhere.close()
        ours.close()
