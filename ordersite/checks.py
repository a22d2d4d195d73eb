"""Startup checks of settings that only fail at run time otherwise.

Each broker bounds how long a worker may hold a message unacknowledged, and a step must stay
within it or it runs twice (or its worker's channel is closed under it):
- Redis hands a message to another worker once CELERY_VISIBILITY_TIMEOUT passes, and a retry
  waiting for its countdown is such a message: every countdown (backoff cap, breaker open time)
  must stay below it.
- RabbitMQ closes the channel of a consumer that held a message past its consumer timeout. A
  countdown waits in the broker there (native delayed delivery), so what a worker holds is a task
  running up to CELERY_TASK_TIME_LIMIT, and the tasks prefetched behind it.
"""

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from . import queues


def _on_rabbitmq() -> bool:
    return queues.is_amqp(settings.CELERY_BROKER_URL)


@register()
def countdowns_below_visibility_timeout(
    app_configs: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    if _on_rabbitmq():
        return []
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    countdowns = {
        "PIPELINE_RETRY_BACKOFF_MAX": settings.PIPELINE_RETRY_BACKOFF_MAX,
        "BREAKER_OPEN_SECONDS": settings.BREAKER_OPEN_SECONDS,
    }
    return [
        Error(
            f"{name} ({value}s) must be below CELERY_VISIBILITY_TIMEOUT ({visibility}s).",
            hint="A retry waiting longer than the visibility timeout is delivered twice.",
            id="ordersite.E001",
        )
        for name, value in countdowns.items()
        if value >= visibility
    ]


@register()
def tasks_within_rabbitmq_consumer_timeout(
    app_configs: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    """The RabbitMQ twin of the visibility check, and the delivery limit against our own count."""
    if not _on_rabbitmq():
        return []
    messages: list[CheckMessage] = []
    # A prefetched message may wait for its slot behind up to `multiplier` tasks, then run one.
    held = settings.CELERY_TASK_TIME_LIMIT * (1 + settings.CELERY_WORKER_PREFETCH_MULTIPLIER)
    if held >= settings.RABBITMQ_CONSUMER_TIMEOUT:
        messages.append(
            Error(
                f"RABBITMQ_CONSUMER_TIMEOUT ({settings.RABBITMQ_CONSUMER_TIMEOUT}s) must be above "
                f"CELERY_TASK_TIME_LIMIT x (1 + CELERY_WORKER_PREFETCH_MULTIPLIER) ({held}s).",
                hint="RabbitMQ closes the channel of a worker holding a message longer, and every "
                "message that worker holds is delivered again.",
                id="ordersite.E002",
            )
        )
    # RabbitMQ delivers a message 1 + limit times; our count parks it at its 1 + DLQ_MAX_DELIVERIES.
    if settings.RABBITMQ_DELIVERY_LIMIT < settings.DLQ_MAX_DELIVERIES:
        messages.append(
            Error(
                f"RABBITMQ_DELIVERY_LIMIT ({settings.RABBITMQ_DELIVERY_LIMIT}) must be at least "
                f"DLQ_MAX_DELIVERIES ({settings.DLQ_MAX_DELIVERIES}).",
                hint=(
                    "RabbitMQ would drop a message that kills its worker before it reaches the DLQ."
                ),
                id="ordersite.E003",
            )
        )
    return messages


@register()
def reconciler_waits_out_the_breaker(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if settings.PIPELINE_STUCK_AFTER_SECONDS <= settings.BREAKER_OPEN_SECONDS:
        return [
            Warning(
                "PIPELINE_STUCK_AFTER_SECONDS is not above BREAKER_OPEN_SECONDS: the reconciler "
                "will re-send steps that are only waiting for a breaker.",
                id="ordersite.W001",
            )
        ]
    return []
