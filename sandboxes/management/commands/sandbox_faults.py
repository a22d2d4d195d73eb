"""`manage.py sandbox_faults`: show or change the faults a sandbox injects (as the admin does)."""

from dataclasses import asdict
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sandboxes.faults import SANDBOXES, all_faults, reset_faults, set_faults


class Command(BaseCommand):
    help = (
        "Show fault settings, or change them for one sandbox: "
        "sandbox_faults payments --error-rate 0.5"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("sandbox", nargs="?", choices=SANDBOXES)
        parser.add_argument("--latency-ms", type=int)
        parser.add_argument("--jitter-ms", type=int)
        parser.add_argument("--error-rate", type=float, help="share of requests answered 503, 0..1")
        parser.add_argument(
            "--timeout-rate", type=float, help="share of requests answered too late, 0..1"
        )
        parser.add_argument("--seed", type=int)
        state = parser.add_mutually_exclusive_group()
        state.add_argument("--down", action="store_const", const=True, dest="down")
        state.add_argument("--up", action="store_const", const=False, dest="down")
        parser.add_argument(
            "--reset", action="store_true", help="no faults at all (every sandbox if none named)"
        )

    def handle(
        self, *args: Any, sandbox: str | None = None, reset: bool = False, **options: Any
    ) -> None:
        names = ("latency_ms", "jitter_ms", "error_rate", "timeout_rate", "seed", "down")
        changes = {name: options[name] for name in names if options.get(name) is not None}
        if reset:
            reset_faults(sandbox)
        elif changes:
            if sandbox is None:
                raise CommandError("name the sandbox to change")
            try:
                set_faults(sandbox, **changes)
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
        for name, faults in all_faults().items():
            settings_text = " ".join(f"{k}={v}" for k, v in asdict(faults).items())
            self.stdout.write(f"{name:17} {settings_text}")
