"""ASGI entry point: the live server (`uvicorn ordersite.asgi:application`, the Procfile's `live`).

Django's ASGI handler serves every page; orders/live wraps it with the WebSocket at /ws and the
SSE streams. Named by string, as urls.py names app URL modules, so ordersite imports no app."""

import logging
import os
import re

from django.core.asgi import get_asgi_application
from django.utils.module_loading import import_string

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ordersite.settings")
django_application = get_asgi_application()  # sets Django up before any app module loads
application = import_string("orders.live.asgi.wrap")(django_application)

_TOKEN = re.compile(r"([?&]token=)[^&\s]*")


def _redact_tokens(record: logging.LogRecord) -> bool:
    """Browsers authenticate streams with ?token=<key>: uvicorn's access line must not keep it."""
    if isinstance(record.args, tuple):
        record.args = tuple(
            _TOKEN.sub(r"\1[redacted]", arg) if isinstance(arg, str) else arg for arg in record.args
        )
    return True


logging.getLogger("uvicorn.access").addFilter(_redact_tokens)
