"""One Redis client per URL and process, for the hot paths (breakers on every gateway call, the
sandboxes on every request): a client per call would open a TCP connection per call."""

import functools

import redis
from django.conf import settings


@functools.cache
def _client_for(url: str) -> redis.Redis:
    # redis-py's pool notices a fork and reconnects in the child, so sharing it is safe.
    return redis.Redis.from_url(url, decode_responses=True)


def shared_redis() -> redis.Redis:
    """The client for the current REDIS_URL (tests point it elsewhere before first use)."""
    return _client_for(settings.REDIS_URL)


def sandbox_redis() -> redis.Redis:
    """The sandboxes' client: SANDBOX_REDIS_URL if set, else REDIS_URL. A separate Redis plays the
    outside world, whose ledgers survive a restart of ours (bench/chaos.py restarts ours)."""
    return _client_for(settings.SANDBOX_REDIS_URL or settings.REDIS_URL)
