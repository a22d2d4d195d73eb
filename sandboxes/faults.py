"""Fault injection settings of each sandbox, kept in Redis so the admin, `manage.py
sandbox_faults` and the sandbox process all see the same ones, and the per-request decisions
they lead to: deterministic for a given seed and request number."""

import json
import random
from dataclasses import asdict, dataclass, fields

from ordersite.redis import sandbox_client as sandbox_redis

SANDBOXES: tuple[str, ...] = ("payments", "carrier_primary", "carrier_fallback")
KEY = "sandbox:faults"


@dataclass(frozen=True)
class Faults:
    latency_ms: int = 0  # added to every request
    jitter_ms: int = 0  # plus a random 0..jitter_ms
    error_rate: float = 0.0  # share of requests answered 503
    timeout_rate: float = 0.0  # share processed but answered only after SANDBOX_HANG_SECONDS
    down: bool = False  # the port refuses connections
    seed: int = 0


@dataclass(frozen=True)
class Decision:
    delay_s: float
    error: bool
    hang: bool


def get_faults(sandbox: str) -> Faults:
    raw = sandbox_redis().hget(KEY, sandbox)
    return Faults(**json.loads(raw)) if raw else Faults()


def all_faults() -> dict[str, Faults]:
    stored = sandbox_redis().hgetall(KEY)
    return {
        name: Faults(**json.loads(stored[name])) if name in stored else Faults()
        for name in SANDBOXES
    }


def set_faults(sandbox: str, **changes: object) -> Faults:
    """Change some fault settings of one sandbox; the request count restarts, so a seed replays
    the same sequence of faults from here."""
    if sandbox not in SANDBOXES:
        raise ValueError(f"unknown sandbox {sandbox!r}; one of {', '.join(SANDBOXES)}")
    unknown = set(changes) - {f.name for f in fields(Faults)}
    if unknown:
        raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
    faults = Faults(**{**asdict(get_faults(sandbox)), **changes})
    if (
        not (0 <= faults.error_rate <= 1 and 0 <= faults.timeout_rate <= 1)
        or min(faults.latency_ms, faults.jitter_ms) < 0
    ):
        raise ValueError("rates go from 0 to 1; latency and jitter are not negative")
    client = sandbox_redis()
    client.hset(KEY, sandbox, json.dumps(asdict(faults)))
    client.delete(f"{KEY}:{sandbox}:n")
    return faults


def reset_faults(sandbox: str | None = None) -> None:
    """No faults at all, for one sandbox or every one."""
    client = sandbox_redis()
    for name in [sandbox] if sandbox else SANDBOXES:
        client.hdel(KEY, name)
        client.delete(f"{KEY}:{name}:n")


NO_FAULT = Decision(delay_s=0.0, error=False, hang=False)


def decide(sandbox: str, faults: Faults) -> Decision:
    """What happens to the next request: the n-th request after a change always draws the same.
    With nothing injected there is nothing to draw, and no request number to keep."""
    if not (faults.latency_ms or faults.jitter_ms or faults.error_rate or faults.timeout_rate):
        return NO_FAULT
    n = sandbox_redis().incr(f"{KEY}:{sandbox}:n")
    rng = random.Random(f"{faults.seed}:{n}")  # noqa: S311  (fault injection, not cryptography)
    delay = faults.latency_ms + (rng.uniform(0, faults.jitter_ms) if faults.jitter_ms else 0)
    hang = rng.random() < faults.timeout_rate
    error = not hang and rng.random() < faults.error_rate
    return Decision(delay_s=delay / 1000, error=error, hang=hang)


def request_count(sandbox: str) -> int:
    """Requests the sandbox has drawn a decision for since its faults last changed."""
    return int(sandbox_redis().get(f"{KEY}:{sandbox}:n") or 0)
