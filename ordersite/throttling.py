"""Throttling of order creation per user, at ORDER_CREATE_THROTTLE_RATE: one atomic Redis script
per request, so every web process and thread shares one exact budget."""

import functools
import logging
import uuid
from typing import cast

import redis
from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from .redis import client as redis_client

logger = logging.getLogger(__name__)

# A sliding window log (the algorithm of DRF's SimpleRateThrottle), as one script: Redis runs it
# atomically, so two requests can never both see the last free slot. Times come from the Redis
# server's clock, so web hosts with skewed clocks still share one window. A refused request is
# not recorded. Returns {1, 0} when allowed, else {0, "<seconds until the oldest entry leaves>"}.
# Memory: at most `limit` members per user, for one period.
_WINDOW = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local limit, duration = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - duration)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('EXPIRE', KEYS[1], math.ceil(duration))
  return {1, '0'}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tostring(tonumber(oldest[2]) + duration - now)}
"""
# Bounded, so a Redis that hangs cannot hold a web worker: the request goes through instead.
_SOCKET_TIMEOUT_S = 1.0


@functools.cache
def _script(url: str) -> "redis.commands.core.Script":
    return redis_client(url, timeout=_SOCKET_TIMEOUT_S).register_script(_WINDOW)


def _write_server(location: str | list[str]) -> str:
    """Django's Redis cache writes to the first of several servers; so does the throttle."""
    servers = location.split(",") if isinstance(location, str) else location
    return servers[0].strip()


class OrderCreateThrottle(UserRateThrottle):
    """Counts POST /orders/ per user (per IP when anonymous) in Redis (the cache's, CACHE_URL).
    DRF's own throttle reads the history, then writes it back: parallel requests all read the
    same history and all pass (700 parallel POSTs let 644 through a 600/min budget). Here the
    check and the count are one Redis script. The rate is read from settings on every request,
    so a test (or a settings change) takes effect at once. If Redis cannot be reached the
    request is let through and a warning logged: an outage of the counter must not stop orders."""

    scope = "order_create"

    def get_rate(self) -> str | None:
        return settings.ORDER_CREATE_THROTTLE_RATE

    def allow_request(self, request: Request, view: APIView) -> bool:
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        # Two ints: parse_rate answers (None, None) only for a rate of None.
        self.num_requests, self.duration = cast(tuple[int, int], self.parse_rate(self.rate))
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        try:
            allowed, wait = _script(_write_server(settings.CACHES["default"]["LOCATION"]))(
                keys=[f"ordersite:throttle:{key}"],
                args=[self.num_requests, self.duration, uuid.uuid4().hex],
            )
        except redis.RedisError:
            logger.warning("order throttle not applied: Redis unreachable", exc_info=True)
            return True
        self._wait = float(wait)
        return bool(allowed)

    def wait(self) -> float | None:
        return self._wait
