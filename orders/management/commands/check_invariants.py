"""`manage.py check_invariants`: audit orders, the DLQ and the gateways' ledgers (thin: the rules
live in orders/invariants/)."""

import json
from argparse import ArgumentParser
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from orders.invariants import check_invariants


class Command(BaseCommand):
    help = "Check that nothing is held, lost or leaked; exits 1 on any breach."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--json", action="store_true", help="the report as JSON, for machines")
        parser.add_argument("--since", help="only orders created at or after this ISO 8601 time")
        parser.add_argument(
            "--window",
            type=float,
            help=(
                "seconds an order may still be moving "
                "(default PIPELINE_STUCK_AFTER_SECONDS; 0: none)"
            ),
        )
        parser.add_argument(
            "--no-ledgers", action="store_true", help="do not read the gateways' ledgers"
        )
        parser.add_argument(
            "--limit", type=int, default=50, help="cases shown per rule (text report)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        since = None
        if options["since"]:
            try:
                since = datetime.fromisoformat(options["since"])
            except ValueError as exc:
                raise CommandError(f"--since: not an ISO 8601 time: {options['since']}") from exc
            if since.tzinfo is None:
                raise CommandError("--since needs a time zone (e.g. 2025-01-31T12:00:00+00:00)")
        report = check_invariants(
            since=since, window_s=options["window"], ledgers=not options["no_ledgers"]
        )
        if options["json"]:
            self.stdout.write(json.dumps(report.to_dict(), indent=2, sort_keys=True))
        else:
            self.stdout.write(report.text(limit=options["limit"]))
        if not report.ok:
            raise SystemExit(1)
