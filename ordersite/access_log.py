"""gunicorn's logs in the project's format: its own lines and one access line per request, the
latter with what the request bound (its request id, the order it placed or read), so the access
log answers `grep <order id>` too. Named by gunicorn.conf.py (`logger_class`)."""

import os
from datetime import timedelta
from typing import Any

from gunicorn import glogging
from structlog.contextvars import clear_contextvars

from .logs import formatter

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ordersite.settings")


class GunicornLogger(glogging.Logger):
    """gunicorn's Logger with the structured formatter on its handlers (`--access-logfile -`
    and `--error-logfile` keep choosing where they go) and a structured access line."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        from django.conf import settings  # gunicorn builds its logger before it loads the app

        structured = formatter(settings.LOG_FORMAT)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(structured)

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> None:
        """The request's line, then its context is dropped: gunicorn's own next lines (a worker
        exiting) belong to no request."""
        try:
            if self.access_log_enabled:
                self._access_line(resp, environ, request_time)
        finally:
            clear_contextvars()

    def _access_line(self, resp: Any, environ: dict[str, Any], request_time: timedelta) -> None:
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        method, path = (
            environ.get("REQUEST_METHOD", "-"),
            environ.get("RAW_URI") or environ.get("PATH_INFO", ""),
        )
        self.access_log.info(
            "%s %s %s",
            method,
            path,
            status,
            extra={
                "http_method": method,
                "path": path,
                "http_status": int(status) if str(status).isdigit() else status,
                "duration_ms": round(request_time.total_seconds() * 1000, 1),
                "bytes": getattr(resp, "sent", None),
                "remote_addr": environ.get("REMOTE_ADDR", "-"),
            },
        )
