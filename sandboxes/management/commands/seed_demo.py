"""manage.py seed_demo: load the demo catalog and logins, and print them."""

import secrets
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from sandboxes.demo import seed_demo


class Command(BaseCommand):
    help = (
        "Load the demo catalog (about 50 products), a demo customer with a token "
        "and an admin login."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--products", type=int, default=50)
        parser.add_argument(
            "--admin-password",
            default=None,
            help=(
                "Admin password; by default the one kept in var/admin-password (made on first run)."
            ),
        )

    def handle(self, *args: object, **options: object) -> None:
        password = options["admin_password"] or self._kept_password()
        logins = seed_demo(admin_password=str(password), products=int(options["products"]))
        self.stdout.write(
            f"Demo catalog: {logins.products_created} product(s) added.\n"
            f"Admin login:  {logins.admin_username} / {logins.admin_password}\n"
            f"Customer:     {logins.customer_username}, API token {logins.customer_token}\n"
        )

    @staticmethod
    def _kept_password() -> str:
        path = Path(settings.BASE_DIR) / "var" / "admin-password"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(12))
            path.chmod(0o600)
        return path.read_text().strip()
