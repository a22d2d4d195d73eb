"""The one factory for Redis clients: every client of ordersite's Redis is built here, so the
pool, the timeouts and Sentinel are decided in one place (tests/test_conventions.py forbids any
other `Redis(...)`, `from_url(...)` or pool in the code).

- One client, hence one connection pool, per URL and options per process: a client per call
  would open a TCP connection per call (`dlq.redis_client()` once did). redis-py's pools notice
  a fork (they remember their PID) and reconnect in the child, so a pool built before gunicorn
  or Celery forks is safe to share.
- With REDIS_SENTINELS set ("host:port,host:port"), a client asks the Sentinels for the current
  master of REDIS_SENTINEL_MASTER and follows a failover; the URL then only names the database,
  user and password. A SANDBOX_REDIS_URL plays the outside world and is never behind them.
- Keys that one Lua script touches together share a Redis Cluster hash slot: `slot_sibling()`
  names them with a hash tag (`{breaker:payment}:state`).
"""

import asyncio
import functools
import weakref
from urllib.parse import unquote, urlsplit

import redis
import redis.asyncio
import redis.asyncio.sentinel
from django.conf import settings
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.utils.functional import cached_property
from redis.sentinel import Sentinel


def client(
    url: str | None = None,
    *,
    timeout: float | None = None,
    decode_responses: bool = True,
    sentinel: bool = True,
) -> redis.Redis:
    """The process's client for `url` (REDIS_URL by default). `timeout` bounds connecting and
    every command, without retries (a probe or a heartbeat answers "down" rather than wait);
    `sentinel=False` for a Redis that is not ours (the sandboxes')."""
    sentinels = tuple(settings.REDIS_SENTINELS) if sentinel else ()
    master = settings.REDIS_SENTINEL_MASTER if sentinels else ""
    return _client(url or settings.REDIS_URL, timeout, decode_responses, sentinels, master)


@functools.cache
def _client(
    url: str, timeout: float | None, decode_responses: bool, sentinels: tuple[str, ...], master: str
) -> redis.Redis:
    options: dict = {"decode_responses": decode_responses}
    if timeout is not None:
        options |= {"socket_connect_timeout": timeout, "socket_timeout": timeout, "retry": None}
    if not sentinels:
        return redis.Redis.from_url(url, **options)
    options |= _database_and_login(url)
    sentinel_options = {
        k: options[k] for k in ("socket_connect_timeout", "socket_timeout") if k in options
    }
    return Sentinel(
        [_address(s) for s in sentinels],
        sentinel_kwargs=sentinel_options or None,
        **sentinel_options,
    ).master_for(master, **options)


_async_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict]" = (
    weakref.WeakKeyDictionary()
)


def async_client(url: str | None = None) -> redis.asyncio.Redis:
    """The running event loop's asyncio client for `url` (REDIS_URL by default), for the live
    server (orders/live/): asyncio connections belong to one loop, so one pool per loop and URL.
    Decodes responses; follows the Sentinels as `client()` does."""
    per_loop = _async_clients.setdefault(asyncio.get_running_loop(), {})
    url = url or settings.REDIS_URL
    if url not in per_loop:
        sentinels = tuple(settings.REDIS_SENTINELS)
        if not sentinels:
            per_loop[url] = redis.asyncio.Redis.from_url(url, decode_responses=True)
        else:
            per_loop[url] = redis.asyncio.sentinel.Sentinel(
                [_address(s) for s in sentinels]
            ).master_for(
                settings.REDIS_SENTINEL_MASTER, decode_responses=True, **_database_and_login(url)
            )
    return per_loop[url]


def _database_and_login(url: str) -> dict:
    """What a URL still says behind Sentinels (they name the host): its database, user, password."""
    parts = urlsplit(url)
    return {
        "db": int(parts.path.strip("/") or 0),
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
    }


def _address(hostport: str) -> tuple[str, int]:
    host, _, port = hostport.strip().rpartition(":")
    return host, int(port)


def slot_sibling(key: str, suffix: str) -> str:
    """A key beside `key` in the same Redis Cluster hash slot: `{key}:suffix` hashes `key`,
    as `key` itself does when it has no braces; a key with its own hash tag just grows."""
    return f"{key}:{suffix}" if "{" in key else f"{{{key}}}:{suffix}"


class _CacheClient(RedisCacheClient):
    def get_client(self, key: object = None, *, write: bool = False) -> redis.Redis:
        # Django pickles values itself and wants bytes back.
        # Django's private attributes, absent from its stubs.
        servers, index = self._servers, self._get_connection_pool_index(write)  # type: ignore[attr-defined]
        return client(servers[index], decode_responses=False)


class FactoryRedisCache(RedisCache):
    """Django's Redis cache, with its clients from the factory (one pool, Sentinel)."""

    @cached_property
    def _cache(self) -> RedisCacheClient:
        return _CacheClient(self._servers, **self._options)  # type: ignore[attr-defined]  # private, unstubbed


def sandbox_client() -> redis.Redis:
    """The sandboxes' client: SANDBOX_REDIS_URL if set (another Redis plays the outside world,
    whose ledgers survive a restart of ours, bench/chaos.py restarts ours; never behind our
    Sentinels), else ours."""
    if settings.SANDBOX_REDIS_URL:
        return client(settings.SANDBOX_REDIS_URL, sentinel=False)
    return client()
