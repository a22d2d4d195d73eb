"""`manage.py run_sandboxes`: serve the payment and carrier sandboxes on the ports of their URLs."""

import signal
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand

from sandboxes.server import build_supervisor


class Command(BaseCommand):
    help = "Serve the payment sandbox and both carrier sandboxes until stopped."

    def handle(self, *args: Any, **options: Any) -> None:
        urls = {
            "payments": settings.PAYMENT_GATEWAY_URL,
            "carrier_primary": settings.CARRIER_URLS["primary"],
            "carrier_fallback": settings.CARRIER_URLS["fallback"],
        }
        ports = {name: urlsplit(url).port or 80 for name, url in urls.items()}
        supervisor = build_supervisor(settings.SANDBOX_HOST, ports)
        signal.signal(signal.SIGTERM, lambda *_: supervisor.stopping.set())
        signal.signal(signal.SIGINT, lambda *_: supervisor.stopping.set())
        supervisor.run()
