"""`manage.py breakers`: show every circuit breaker, or reset one (as the admin page does)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ordersite.breakers import Breaker, BreakerName, all_breakers


class Command(BaseCommand):
    help = "Show the circuit breakers' state and counts; --reset NAME closes one."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--reset", choices=[name.value for name in BreakerName])

    def handle(self, *args: Any, reset: str | None = None, **options: Any) -> None:
        if reset:
            Breaker(BreakerName(reset)).reset()
        for b in all_breakers():
            self.stdout.write(
                f"{b.name:17} {b.state:9} calls={b.calls} errors={b.errors} "
                f"in_a_row={b.consecutive_failures} "
                f"open_for={b.open_for_s}s opened={b.times_opened}"
            )
