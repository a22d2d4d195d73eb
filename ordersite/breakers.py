"""Circuit breakers, one per external dependency, their state shared in Redis by every process.

Closed: calls pass and land in a sliding window (a sorted set: the last BREAKER_WINDOW_CALLS
calls within BREAKER_WINDOW_SECONDS). The breaker opens when the window holds at least
BREAKER_MIN_CALLS calls and BREAKER_ERROR_RATE percent of them failed, or after
BREAKER_CONSECUTIVE_FAILURES failures in a row. Open: calls fail fast with CircuitOpenError
carrying the time left (the task's retry countdown). After BREAKER_OPEN_SECONDS it is half-open:
BREAKER_HALF_OPEN_CALLS trial calls pass; BREAKER_CLOSE_AFTER successes close it, one failure
opens it again. Only a TransientError that is about the dependency counts as a failure (timeouts,
connection errors, gateway-wide 5xx, 429; see ordersite/gateways.py): a declined card, a 4xx, or
a transient answer about this one request (GatewayRequestError: a card's processing error, the
same key in flight) is a healthy answer.
Each transition is one Lua script, so concurrent workers never see half a state change.
"""

import functools
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar, cast

import redis
from django.conf import settings
from redis.commands.core import Script

from .errors import DomainError, TransientError
from .redis import client as shared_redis

logger = logging.getLogger(__name__)
T = TypeVar("T")


class BreakerName(StrEnum):
    """Every breaker, one per external dependency: the only place a breaker is named. A value is
    part of its Redis keys (`{breaker:payment}:state`) and of the metrics' `breaker` label, so it
    never changes; dependencies are singular here, unlike the `payments` queue and sandbox."""

    PAYMENT = "payment"
    CARRIER_PRIMARY = "carrier_primary"
    CARRIER_FALLBACK = "carrier_fallback"
    EMAIL = "email"

    @classmethod
    def carrier(cls, role: str) -> "BreakerName":
        """The breaker of the carrier configured for `role` (CARRIER_CLASSES: primary, fallback)."""
        return cls(f"carrier_{role}")


# KEYS: state hash. ARGV: open_ms, half_open_calls. Returns {allowed, wait_ms, state}.
_ALLOW = """
local t = redis.call('TIME'); local now = t[1] * 1000 + math.floor(t[2] / 1000)
local open_ms = tonumber(ARGV[1])
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
if state == 'closed' then return {1, 0, state} end
if state == 'open' then
  local reopen = tonumber(redis.call('HGET', KEYS[1], 'open_until'))
  if now < reopen then return {0, reopen - now, state} end
  redis.call('HSET', KEYS[1], 'state', 'half_open', 'trials', 0, 'successes', 0,
             'half_open_since', now)
end
local since = tonumber(redis.call('HGET', KEYS[1], 'half_open_since'))
if now - since > open_ms then
  -- trial calls that never reported (a killed worker) must not wedge the breaker
  redis.call('HSET', KEYS[1], 'trials', 0, 'half_open_since', now); since = now
end
if tonumber(redis.call('HGET', KEYS[1], 'trials')) >= tonumber(ARGV[2]) then
  return {0, open_ms - (now - since), 'half_open'}
end
redis.call('HINCRBY', KEYS[1], 'trials', 1)
return {1, 0, 'half_open'}
"""

# KEYS: state hash, window zset. ARGV: ok, call id, window_calls, window_ms, min_calls,
# error_rate_pct, consecutive, open_ms, close_after. Returns the state after the call.
_RECORD = """
local t = redis.call('TIME'); local now = t[1] * 1000 + math.floor(t[2] / 1000)
local ok = ARGV[1] == '1'
local open_ms = tonumber(ARGV[8])
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
local function trip()
  redis.call('HSET', KEYS[1], 'state', 'open', 'open_until', now + open_ms, 'opened_at', now,
             'trials', 0, 'successes', 0, 'consecutive', 0)
  redis.call('HINCRBY', KEYS[1], 'opened_count', 1)
  redis.call('DEL', KEYS[2])
  return 'open'
end
if state == 'open' then return state end
if state == 'half_open' then
  if not ok then return trip() end
  if redis.call('HINCRBY', KEYS[1], 'successes', 1) >= tonumber(ARGV[9]) then
    redis.call('HSET', KEYS[1], 'state', 'closed', 'consecutive', 0, 'trials', 0, 'successes', 0)
    return 'closed'
  end
  return state
end
redis.call('ZADD', KEYS[2], now, ARGV[2] .. (ok and ':ok' or ':err'))
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[4]))
local size = redis.call('ZCARD', KEYS[2])
local keep = tonumber(ARGV[3])
if size > keep then redis.call('ZREMRANGEBYRANK', KEYS[2], 0, size - keep - 1); size = keep end
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[4]))
if ok then redis.call('HSET', KEYS[1], 'state', 'closed', 'consecutive', 0); return 'closed' end
local consecutive = redis.call('HINCRBY', KEYS[1], 'consecutive', 1)
redis.call('HSET', KEYS[1], 'state', 'closed')
if consecutive >= tonumber(ARGV[7]) then return trip() end
if size >= tonumber(ARGV[5]) then
  local errors = 0
  for _, member in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
    if string.sub(member, -4) == ':err' then errors = errors + 1 end
  end
  if errors * 100 >= tonumber(ARGV[6]) * size then return trip() end
end
return 'closed'
"""


@functools.cache
def _script(client: redis.Redis, source: str) -> Script:
    """The script registered once per client: later calls send EVALSHA, not the whole text."""
    return client.register_script(source)


class BreakerUnavailableError(TransientError):
    """The breaker's state could not be read (Redis unreachable): the call is not made, since
    nobody can tell whether the dependency is being spared; retry once Redis answers again."""

    def __init__(self, name: str) -> None:
        super().__init__(f"circuit {name}: its state in Redis is unreachable; retry later")
        self.name = name

    def __reduce__(self) -> tuple:
        return (type(self), (self.name,))


class CircuitOpenError(TransientError):
    """The dependency's breaker is open: fail fast, retry after `retry_after` seconds."""

    def __init__(self, name: str, retry_after: float) -> None:
        super().__init__(f"circuit {name} is open; retry in {retry_after:.1f}s")
        self.name = name
        self.retry_after = retry_after

    def __reduce__(self) -> tuple:
        # Celery serializes the error of a retry; keep the class (and its countdown) intact.
        return (type(self), (self.name, self.retry_after))


@dataclass(frozen=True)
class BreakerState:
    """What the admin and `manage.py breakers` show."""

    name: BreakerName
    state: str
    calls: int
    errors: int
    consecutive_failures: int
    open_for_s: float
    times_opened: int


class Breaker:
    """One dependency's breaker. Cheap to build: all state lives in Redis."""

    def __init__(self, name: BreakerName) -> None:
        self.name = BreakerName(name)  # a misspelled name fails here, not as a silent new breaker
        # One hash tag, so _RECORD (both keys) runs on Redis Cluster too.
        self.state_key, self.window_key = (
            f"{{breaker:{self.name}}}:state",
            f"{{breaker:{self.name}}}:window",
        )
        self.redis = shared_redis()

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn` if the breaker lets it, and count its outcome. Asking the breaker needs Redis
        (BreakerUnavailableError, transient, if it is unreachable); counting the outcome does not
        get to lose it: a result obtained is returned even if its bookkeeping fails."""
        self.before_call()
        try:
            result = fn(*args, **kwargs)
        except TransientError as exc:
            # A transient answer about this request only (GatewayRequestError) is a healthy answer.
            self.try_record(ok=not getattr(exc, "counts_for_breaker", True))
            raise
        except DomainError:
            self.try_record(ok=True)  # the dependency answered; the request was at fault
            raise
        self.try_record(ok=True)
        return result

    def before_call(self) -> None:
        try:
            allowed, wait_ms, _ = _script(self.redis, _ALLOW)(
                keys=[self.state_key],
                args=[int(settings.BREAKER_OPEN_SECONDS * 1000), settings.BREAKER_HALF_OPEN_CALLS],
            )
        except redis.RedisError as exc:
            raise BreakerUnavailableError(self.name) from exc
        if not allowed:
            raise CircuitOpenError(self.name, retry_after=max(int(wait_ms), 100) / 1000)

    def try_record(self, *, ok: bool) -> None:
        """record(), with a Redis failure logged and swallowed: one uncounted call skews the window
        a little; raising would throw away an answer the dependency already gave (money moved)."""
        try:
            self.record(ok=ok)
        except redis.RedisError:
            logger.warning(
                "breaker %s: outcome (ok=%s) not recorded, Redis unreachable",
                self.name,
                ok,
                exc_info=True,
            )

    def record(self, *, ok: bool) -> str:
        return _script(self.redis, _RECORD)(
            keys=[self.state_key, self.window_key],
            args=self._record_args(ok),
        )

    @staticmethod
    def _record_args(ok: bool) -> list:
        return [
            int(ok),
            uuid.uuid4().hex,
            settings.BREAKER_WINDOW_CALLS,
            int(settings.BREAKER_WINDOW_SECONDS * 1000),
            settings.BREAKER_MIN_CALLS,
            settings.BREAKER_ERROR_RATE,
            settings.BREAKER_CONSECUTIVE_FAILURES,
            int(settings.BREAKER_OPEN_SECONDS * 1000),
            settings.BREAKER_CLOSE_AFTER,
        ]

    def snapshot(self) -> BreakerState:
        # The factory's clients decode replies to str (redis-py types them bytes | str).
        state = cast(dict[str, str], self.redis.hgetall(self.state_key))
        members = cast(list[str], self.redis.zrange(self.window_key, 0, -1))
        open_for = 0.0
        if state.get("state") == "open":
            now_s, now_us = self.redis.time()
            open_for = max(0.0, int(state["open_until"]) / 1000 - (now_s + now_us / 1e6))
        return BreakerState(
            name=self.name,
            state=state.get("state", "closed"),
            calls=len(members),
            errors=sum(m.endswith(":err") for m in members),
            consecutive_failures=int(state.get("consecutive", 0)),
            open_for_s=round(open_for, 1),
            times_opened=int(state.get("opened_count", 0)),
        )

    def reset(self) -> None:
        """Close the breaker and forget its window (staff know the dependency is back)."""
        self.redis.delete(self.state_key, self.window_key)


def all_breakers() -> list[BreakerState]:
    return [Breaker(name).snapshot() for name in BreakerName]


class _Guarded:
    """Proxy that sends every method call of an adapter through its breaker."""

    def __init__(self, target: object, breaker: Breaker) -> None:
        self._target, self._breaker = target, breaker

    def __getattr__(self, attr: str) -> Any:
        value = getattr(self._target, attr)
        if not callable(value):
            return value
        return lambda *args, **kwargs: self._breaker.call(value, *args, **kwargs)


def guarded(target: object, *, breaker: BreakerName) -> Any:
    """`target` with each of its method calls behind the breaker named `breaker`."""
    return _Guarded(target, Breaker(breaker))


def seconds_waiting(waiter: str) -> float:
    """How long `waiter` (a task id, the same across its retries) has been waiting on open
    breakers, counted from the first time it asked (kept a day). Raises redis.RedisError."""
    client = shared_redis()
    key = f"breaker-wait:{waiter}"
    client.set(key, time.time(), nx=True, ex=86400)
    return max(0.0, time.time() - float(client.get(key) or time.time()))
