"""`manage.py dlq list|show|replay|discard|stats`: the admin page's operations for scripts."""

import json
from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from deadletters import services, store
from deadletters.exceptions import DeadLetterNotFoundError


class Command(BaseCommand):
    help = "List, show, replay and discard dead letters (the Redis dead-letter queue)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        for name in ("list", "replay", "discard"):
            p = sub.add_parser(name)
            p.add_argument(
                "entry_ids",
                nargs="*",
                help="entry ids (replay/discard); none = all matching filters",
            )
            p.add_argument("--task", default="")
            p.add_argument("--queue", default="")
            p.add_argument("--exception", default="", dest="exc_type")
            p.add_argument("--order", default="", dest="order_id")
            if name == "list":
                p.add_argument("--limit", type=int, default=50)
                p.add_argument("--json", action="store_true")
            else:
                p.add_argument(
                    "--all", action="store_true", help="act on every entry matching the filters"
                )
                p.add_argument(
                    "--actor",
                    required=True,
                    help="who acts (a username is also logged in the admin)",
                )
            if name == "discard":
                p.add_argument("--reason", required=True)
        show = sub.add_parser("show")
        show.add_argument("entry_id")
        sub.add_parser("stats")
        sub.add_parser(
            "recover", help="put back entries a crashed replay left in the processing list"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "stats":
            self.stdout.write(json.dumps(store.stats(), indent=2, sort_keys=True))
        elif action == "recover":
            self.stdout.write(f"{store.recover_stalled()} entr(ies) put back")
        elif action == "show":
            try:
                self.stdout.write(store.get(options["entry_id"]).pretty)
            except DeadLetterNotFoundError as exc:
                raise CommandError(exc.message) from exc
        elif action == "list":
            self._list(options)
        else:
            self._act(action, options)

    def _list(self, options: dict[str, Any]) -> None:
        entries = store.matching(store.filters_from(options))[: options["limit"]]
        for entry in entries:
            if options["json"]:
                self.stdout.write(entry.raw)
            else:
                fields = (
                    entry.id,
                    entry.last_failed_at,
                    entry.task,
                    entry.queue,
                    entry.exc_type,
                    entry.order_id,
                )
                self.stdout.write("  ".join(fields))

    def _act(self, action: str, options: dict[str, Any]) -> None:
        entry_ids = options["entry_ids"]
        if not entry_ids:
            if not options["all"]:
                raise CommandError(
                    "Name entry ids, or pass --all to act on every entry matching the filters."
                )
            entry_ids = [entry.id for entry in store.matching(store.filters_from(options))]
        actor = options["actor"]
        if action == "discard" and not options["reason"].strip():
            raise CommandError("--reason must say why.")
        user = get_user_model().objects.filter(username=actor).first()
        if action == "replay":
            done, problems = services.replay_many(entry_ids=entry_ids, actor=actor, user=user)
        else:
            done, problems = services.discard_many(
                entry_ids=entry_ids, actor=actor, reason=options["reason"], user=user
            )
        for problem in problems:
            self.stderr.write(problem)
        self.stdout.write(f"{action}: {done} of {len(entry_ids)}")
        if problems:
            raise CommandError(f"{len(problems)} entr(ies) not {action}ed")
