"""How fast the Dead letters admin pages render with 10,000 entries in the list.

Run: `.venv/bin/python bench/dlq_admin.py [--entries 10000] [--runs 7]` with DATABASE_URL and
REDIS_URL pointing at a migrated database and a Redis you may write to. It fills a list of its
own (DLQ_KEY=bench:dlq, deleted afterwards) and prints the median and worst render times.
"""

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ordersite.settings")
os.environ["DLQ_KEY"] = "bench:dlq"

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402

from deadletters import store  # noqa: E402
from deadletters.envelope import Envelope, now_iso  # noqa: E402

TASKS = ("payments.authorize_payment", "inventory.reserve_stock", "shipping.create_shipment")
EXCEPTIONS = ("GatewayUnavailableError", "ConflictError", "KeyError", "OperationalError")


def fill(n: int) -> str:
    client = store.redis_client()
    client.delete("bench:dlq")
    order_id = ""
    pipe = client.pipeline(transaction=False)
    for i in range(n):
        order_id = str(uuid.uuid4())
        envelope = Envelope(
            task=TASKS[i % 3],
            task_id=str(uuid.uuid4()),
            queue=TASKS[i % 3].split(".")[0],
            args=[order_id],
            order_id=order_id,
            exc_type=EXCEPTIONS[i % 4],
            exc_message="the provider did not answer within 10 s",
            traceback="Traceback (most recent call last):\n" + "  File 'x.py', line 1, in f\n" * 40,
            attempts=6,
            first_failed_at=now_iso(),
            last_failed_at=now_iso(),
            hostname="bench@host",
        )
        pipe.lpush("bench:dlq", envelope.to_json())
    pipe.execute()
    return order_id


def timed(client: Client, url: str, runs: int, **params: str) -> tuple[float, float]:
    client.get(url, params)  # warm templates and connections
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(url, params)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, response.status_code
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=7)
    options = parser.parse_args()
    last_order = fill(options.entries)
    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    listing = reverse("admin:deadletters_deadletter_changelist")
    entry_id = store.page(offset=options.entries // 2, limit=1)[0].id
    cases = {
        "list, first page": (listing, {}),
        "list, page 100": (listing, {"p": "100"}),
        "list, filtered by task and exception": (
            listing,
            {"task": TASKS[1], "exc_type": EXCEPTIONS[2]},
        ),
        "list, searched by order id": (listing, {"q": last_order}),
        "detail of a middle entry": (
            reverse("admin:deadletters_deadletter_change", args=[entry_id]),
            {},
        ),
        "admin index (count)": (reverse("admin:index"), {}),
    }
    try:
        print(f"{store.dead_letter_count()} entries, {options.runs} runs each (median / worst, ms)")
        for name, (url, params) in cases.items():
            median, worst = timed(client, url, options.runs, **params)
            print(f"  {name:40s} {median * 1000:7.1f} / {worst * 1000:7.1f}")
    finally:
        store.redis_client().delete("bench:dlq")


if __name__ == "__main__":
    main()
