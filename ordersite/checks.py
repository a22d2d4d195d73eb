"""Startup checks of settings that only fail at run time otherwise.

A retry waiting for its countdown is an unacknowledged message; Redis hands it to another worker
once CELERY_VISIBILITY_TIMEOUT passes, so every countdown (backoff cap, breaker open time) must
stay below it or a step runs twice while the first copy still waits.
"""

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register


@register()
def countdowns_below_visibility_timeout(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    countdowns = {
        "PIPELINE_RETRY_BACKOFF_MAX": settings.PIPELINE_RETRY_BACKOFF_MAX,
        "BREAKER_OPEN_SECONDS": settings.BREAKER_OPEN_SECONDS,
        **{
            f"PIPELINE_RETRY_POLICY[{step!r}]['retry_backoff_max']": options["retry_backoff_max"]
            for step, options in settings.PIPELINE_RETRY_POLICY.items()
            if "retry_backoff_max" in options
        },
    }
    messages: list[CheckMessage] = [
        Error(
            f"{name} ({value}s) must be below CELERY_VISIBILITY_TIMEOUT ({visibility}s).",
            hint="A retry waiting longer than the visibility timeout is delivered twice.",
            id="ordersite.E001",
        )
        for name, value in countdowns.items()
        if value >= visibility
    ]
    if settings.PIPELINE_STUCK_AFTER_SECONDS <= settings.BREAKER_OPEN_SECONDS:
        messages.append(
            Warning(
                "PIPELINE_STUCK_AFTER_SECONDS is not above BREAKER_OPEN_SECONDS: the reconciler will "
                "re-send steps that are only waiting for a breaker.",
                id="ordersite.W001",
            )
        )
    return messages
