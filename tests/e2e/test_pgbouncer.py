"""The pipeline through PgBouncer in transaction mode: the session's live worker (every end-to-end
test's) reaches PostgreSQL only through it (tests/pgbouncer.py); this checks that it really does,
and that the settings the pooler needs follow from DATABASE_POOLER."""

import json
import os
import subprocess
import sys

import pytest
from django.db import connection

from orders.models import Order
from orders.services import place_order
from orders.states import OrderStatus

from ..conftest import ROOT, wait_for
from ..factories import ProductFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True)]


def _backends_of_others() -> set[int]:
    """The PIDs of the test database's backends, other than this process's own."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return {row[0] for row in cursor.fetchall()}


def _transactions(pgbouncer) -> int:
    return sum(
        row["total_xact_count"]
        for row in pgbouncer.admin("SHOW STATS")
        if row["database"] == pgbouncer.dbname
    )


def test_the_live_worker_reaches_postgresql_only_through_pgbouncer(live_worker, pgbouncer):
    assert live_worker._args[0]["DATABASE_URL"] == pgbouncer.url
    before = _transactions(pgbouncer)

    customer = UserFactory()
    ProductFactory(sku="pgb-1", price_cents=700, on_hand=5)
    orders = [
        place_order(customer=customer, items=[{"sku": "pgb-1", "quantity": 1}])[0] for _ in range(3)
    ]
    for order in orders:
        wait_for(
            lambda o=order: Order.objects.get(pk=o.pk).status == OrderStatus.COMPLETED, timeout=60
        )

    after = _transactions(pgbouncer)
    assert after - before >= 3 * 6  # every step of every order: transactions through PgBouncer
    through_pgbouncer = {row["remote_pid"] for row in pgbouncer.admin("SHOW SERVERS")}
    # Whatever else holds a backend on the test database right now came through PgBouncer.
    assert _backends_of_others() <= through_pgbouncer


def _settings_under(**env: str) -> dict:
    code = (
        "import json; from django.conf import settings as s; d = s.DATABASES['default']; "
        "print(json.dumps([d.get('DISABLE_SERVER_SIDE_CURSORS', False), "
        "d['OPTIONS'].get('prepare_threshold', 5)]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=dict(os.environ, DJANGO_SETTINGS_MODULE="ordersite.settings", **env),
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_database_pooler_turns_off_server_side_cursors_and_prepared_statements():
    assert _settings_under(DATABASE_POOLER="pgbouncer") == [True, None]
    assert _settings_under(DATABASE_POOLER="")[0] is False


def test_an_unknown_pooler_is_refused_at_start_up():
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=dict(os.environ, DJANGO_SETTINGS_MODULE="ordersite.settings", DATABASE_POOLER="pgpool"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode != 0
    assert "DATABASE_POOLER must be empty or 'pgbouncer'" in out.stderr


def _prepared_after_six_runs(**env: str) -> int:
    """How many statements PostgreSQL holds prepared for a connection that ran one six times."""
    code = (
        "from django.db import connection\n"
        "with connection.cursor() as c:\n"
        "    for n in range(6): c.execute('SELECT %s + 1', [n])\n"
        "    c.execute('SELECT count(*) FROM pg_prepared_statements'); print(c.fetchone()[0])\n"
    )
    db = connection.settings_dict  # the test database, which exists
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    out = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup()\n{code}"],
        cwd=ROOT,
        env=dict(os.environ, DJANGO_SETTINGS_MODULE="ordersite.settings", DATABASE_URL=url, **env),
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return int(out.stdout.strip().splitlines()[-1])


@pytest.mark.django_db
def test_server_side_binding_prepares_statements_unless_a_pooler_is_in_between():
    """Django leaves psycopg's preparing off unless OPTIONS names a threshold: binding alone
    would prepare nothing."""
    assert _prepared_after_six_runs(DATABASE_SERVER_SIDE_BINDING="false") == 0
    assert _prepared_after_six_runs(DATABASE_SERVER_SIDE_BINDING="true") >= 1
    assert _settings_under(DATABASE_SERVER_SIDE_BINDING="true", DATABASE_POOLER="pgbouncer") == [
        True,
        None,
    ]
