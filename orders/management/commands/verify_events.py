"""`manage.py verify_events [--order ID]`: rebuild every order from its events and report each one
whose tables say otherwise (thin: the fold is orders/replay.py, the streaming orders/verify.py)."""

import time
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from orders.selectors import order_by_public_id
from orders.verify import Mismatch, verify_events


class Command(BaseCommand):
    help = (
        "Replay every order's events and compare the rebuilt status, totals, payment and shipment "
        "with the tables; exits 1 if any order differs, 2 for a bad --order."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--order", help="only this order (its order_id, a UUID)")

    def handle(self, *args: Any, **options: Any) -> None:
        order_pk = None
        if options["order"] is not None:
            order = order_by_public_id(order_id=options["order"])
            if order is None:
                raise CommandError(
                    f"--order: no order with id {options['order']!r} (an order_id is a UUID)",
                    returncode=2,
                )
            order_pk = order.pk
        started, differing, verified = time.monotonic(), 0, 0
        for result in verify_events(order_pk=order_pk):
            if isinstance(result, Mismatch):
                differing += 1
                self.stdout.write(f"{result.order_id}: " + "; ".join(result.problems))
            else:
                verified = result
        elapsed = time.monotonic() - started
        self.stdout.write(
            f"verified {verified} orders in {elapsed:.1f} s: {differing} differ from their events"
        )
        if differing:
            raise SystemExit(1)
