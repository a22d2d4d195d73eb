"""The dead-letter queue: a Redis list of JSON envelopes of tasks that exhausted their retries."""

import redis
from django.conf import settings


def redis_client() -> redis.Redis:
    """A client for REDIS_URL (the DLQ's home); connections are pooled per URL by redis-py."""
    return redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)


def dead_letter_count() -> int:
    """How many entries wait in the dead-letter list."""
    return int(redis_client().llen(settings.DLQ_KEY))
