"""The dead-letter queue: a Redis list of JSON envelopes of tasks that exhausted their retries.

Newest entries sit at the head (LPUSH), so a page is one LRANGE. Nothing is ever trimmed: past
DLQ_MAX_LENGTH a push still lands, and the overflow is logged at error level and counted.
Replay and discard take an entry out with one Lua script (LREM that must remove exactly one
copy), so of two staff clicking at once only one wins; a replay parks the entry in a processing
list until its task is sent, so a crash in between loses nothing.

One order's step has at most one live entry: a hash (`<DLQ_KEY>:live`, "order|task" -> the
entry) names it, and a push for a step whose entry is still in the list adds nothing.
"""

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

import redis
from django.conf import settings

from ordersite.celery import app as celery_app
from ordersite.redis import client as shared_redis
from ordersite.redis import slot_sibling

from .envelope import Envelope, Reason
from .exceptions import DeadLetterNotFoundError, DeadLetterNotReplayableError

logger = logging.getLogger(__name__)

SCAN_CHUNK = 1000

# Move one exact entry from KEYS[1] to KEYS[2] (as ARGV[2]; no KEYS[2]: drop it); 0 if someone
# else took it first.
_CLAIM = """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 1 then
  if #KEYS == 2 then redis.call('LPUSH', KEYS[2], ARGV[2]) end
  return 1
end
return 0
"""

# Push ARGV[1] onto KEYS[1] unless the step named by ARGV[2] ("order|task", '' = no such check)
# has an entry still in the list (the hash KEYS[2] names it; LPOS proves it is still there).
# Returns {length, the live entry or ''}.
_PUSH = """
if ARGV[2] ~= '' then
  local live = redis.call('HGET', KEYS[2], ARGV[2])
  if live and redis.call('LPOS', KEYS[1], live) then return {redis.call('LLEN', KEYS[1]), live} end
end
local length = redis.call('LPUSH', KEYS[1], ARGV[1])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[2], ARGV[2], ARGV[1]) end
return {length, ''}
"""

# Index maintenance. ARGV: field, entry. Forget the step's entry if it is this one; name this
# entry as the step's if the step names none that is still in the list (KEYS: hash, list).
_UNINDEX = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
"""
_REINDEX = """
local live = redis.call('HGET', KEYS[1], ARGV[1])
if not live or not redis.call('LPOS', KEYS[2], live) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
"""


def redis_client() -> redis.Redis:
    """The process's shared client for REDIS_URL (the DLQ's home): one pool, not one per call."""
    return shared_redis()


def dlq_key(suffix: str) -> str:
    """A key beside the list in its Redis Cluster hash slot: the scripts take both at once."""
    return slot_sibling(settings.DLQ_KEY, suffix)


def dead_letter_count() -> int:
    """How many entries wait in the dead-letter list."""
    return int(redis_client().llen(settings.DLQ_KEY))


def _step_field(entry: Envelope) -> str:
    """The live-entry index's field of an entry: its order and task ('' names no order)."""
    return f"{entry.order_id}|{entry.task}" if entry.order_id and not entry.malformed else ""


def push(envelope: Envelope) -> int:
    """Append one entry and return the new length. Never drops nor trims: past the maximum the
    entry still lands, and the overflow is logged at error level and counted.

    If the same order's same step already has an entry waiting, nothing is added: `envelope.id`
    becomes that entry's id (the step failed again; staff still have one thing to judge)."""
    client = redis_client()
    length, live = client.eval(
        _PUSH, 2, settings.DLQ_KEY, dlq_key("live"), envelope.to_json(), _step_field(envelope)
    )
    length = int(length)
    extra = {"task": envelope.task, "order_id": envelope.order_id, "dlq_entry": envelope.id}
    if live:
        envelope.id = Envelope.from_raw(live).id
        logger.warning(
            "%s of order %s failed again; its dead letter %s is still waiting",
            envelope.task,
            envelope.order_id,
            envelope.id,
            extra={**extra, "dlq_entry": envelope.id},
        )
        return length
    logger.error(
        "dead-lettered %s (%s: %s)",
        envelope.task,
        envelope.exc_type,
        envelope.exc_message,
        extra=extra,
    )
    if length > settings.DLQ_MAX_LENGTH:
        client.incr(dlq_key("overflow"))
        logger.error(
            "dead-letter queue holds %d entries, over DLQ_MAX_LENGTH=%d",
            length,
            settings.DLQ_MAX_LENGTH,
        )
    return length


def _raw_entries(client: redis.Redis, key: str) -> Iterator[str]:
    start = 0
    while True:
        chunk = cast(
            list[str], client.lrange(key, start, start + SCAN_CHUNK - 1)
        )  # a decoding client
        yield from chunk
        if len(chunk) < SCAN_CHUNK:
            return
        start += SCAN_CHUNK


def entries() -> list[Envelope]:
    """Every entry, newest first, malformed ones included."""
    return [Envelope.from_raw(raw) for raw in _raw_entries(redis_client(), settings.DLQ_KEY)]


@dataclass(frozen=True)
class Filters:
    task: str = ""
    queue: str = ""
    exc_type: str = ""
    order_id: str = ""

    def match(self, entry: Envelope) -> bool:
        return all(
            not want or getattr(entry, name) == want
            for name, want in (
                ("task", self.task),
                ("queue", self.queue),
                ("exc_type", self.exc_type),
                ("order_id", self.order_id),
            )
        )


def filters_from(
    params: Mapping[str, Any], *, exc_type: str = "exc_type", order_id: str = "order_id"
) -> Filters:
    """The one Filters builder, from a query string, a validated form or command options; the
    admin, the API and the CLI spell the exception and order keys their own way."""
    return Filters(
        task=str(params.get("task") or "").strip(),
        queue=str(params.get("queue") or "").strip(),
        exc_type=str(params.get(exc_type) or "").strip(),
        order_id=str(params.get(order_id) or "").strip(),
    )


def in_replay() -> list[Envelope]:
    """Entries a replay has claimed but not yet dropped (the processing list): still live, since
    a crashed replay puts them back (`recover_stalled`)."""
    parked = [json.loads(raw) for raw in _raw_entries(redis_client(), dlq_key("processing"))]
    return [
        Envelope.from_raw(item["raw"])
        for item in parked
        if isinstance(item, dict) and "raw" in item
    ]


def matching(filters: Filters) -> list[Envelope]:
    """Entries passing `filters`, newest first."""
    return [entry for entry in entries() if filters.match(entry)]


def page(*, offset: int, limit: int) -> list[Envelope]:
    """One unfiltered page straight from the list (one LRANGE)."""
    raws = cast(
        list[str], redis_client().lrange(settings.DLQ_KEY, offset, offset + limit - 1)
    )  # decoded
    return [Envelope.from_raw(raw) for raw in raws]


def get(entry_id: str) -> Envelope:
    """One entry by id (a scan: entries are found by id rarely, and listed often)."""
    for raw in _raw_entries(redis_client(), settings.DLQ_KEY):
        if entry_id in raw or entry_id.startswith("malformed-"):
            entry = Envelope.from_raw(raw)
            if entry.id == entry_id:
                return entry
    raise DeadLetterNotFoundError(
        f"No dead letter {entry_id} (already replayed or discarded?).", entry_id=entry_id
    )


def _claim(client: redis.Redis, raw: str, source: str, target: str, parked: str) -> bool:
    """Move one exact item from `source` to `target` ('' = drop it); keeps the live-entry index
    true when the item leaves or re-enters the dead-letter list itself."""
    keys = [source, target] if target else [source]
    if not client.eval(_CLAIM, len(keys), *keys, raw, parked):
        return False
    if source == settings.DLQ_KEY and (field := _step_field(Envelope.from_raw(raw))):
        client.eval(_UNINDEX, 1, dlq_key("live"), field, raw)
    if target == settings.DLQ_KEY and (field := _step_field(Envelope.from_raw(parked))):
        client.eval(_REINDEX, 2, dlq_key("live"), settings.DLQ_KEY, field, parked)
    return True


def _send(entry: Envelope) -> str:
    """Send the original task by name, with its arguments, to its queue, and the rest of its
    chain."""
    result = celery_app.send_task(
        entry.task,
        args=entry.args,
        kwargs=entry.kwargs,
        queue=entry.queue or None,
        chain=entry.chain,
    )
    return result.id


def replay(entry_id: str, *, after_send: Callable[[Envelope, str], None] | None = None) -> Envelope:
    """Send the entry's task again. The entry is parked in the processing list first (atomic, one
    winner), sent, then dropped; if sending fails it goes back. `after_send` records the replay."""
    entry = get(entry_id)
    if entry.malformed or entry.truncated or entry.reason == Reason.UNDECODABLE:
        raise DeadLetterNotReplayableError(
            "A malformed, undecodable or truncated entry cannot be replayed; discard it instead.",
            entry_id=entry_id,
        )
    client = redis_client()
    parked = json.dumps({"claimed_at": time.time(), "raw": entry.raw})
    if not _claim(client, entry.raw, settings.DLQ_KEY, dlq_key("processing"), parked):
        raise DeadLetterNotFoundError(
            f"Dead letter {entry_id} was taken by someone else.", entry_id=entry_id
        )
    try:
        task_id = _send(entry)
    except Exception:
        _claim(client, parked, dlq_key("processing"), settings.DLQ_KEY, entry.raw)
        raise
    try:
        if after_send is not None:
            after_send(entry, task_id)
    finally:
        client.lrem(dlq_key("processing"), 1, parked)
    logger.info("replayed dead letter %s as %s", entry.id, task_id, extra={"task": entry.task})
    return entry


def discard(entry_id: str) -> Envelope:
    """Remove one entry for good (the caller records who and why)."""
    entry = get(entry_id)
    if not _claim(redis_client(), entry.raw, settings.DLQ_KEY, "", ""):
        raise DeadLetterNotFoundError(
            f"Dead letter {entry_id} was taken by someone else.", entry_id=entry_id
        )
    return entry


def remove(entry_id: str) -> bool:
    """Remove an entry if it is still in the list (False if it is gone: someone took it first)."""
    try:
        entry = get(entry_id)
    except DeadLetterNotFoundError:
        return False
    return _claim(redis_client(), entry.raw, settings.DLQ_KEY, "", "")


def for_order(order_id: str) -> list[Envelope]:
    """The live entries of one order, newest first (a scan: only for orders flagged for review)."""
    return matching(Filters(order_id=order_id)) if order_id else []


def recover_stalled(*, older_than_s: float | None = None) -> int:
    """Put back entries a crashed replay left in the processing list. Their task may or may not
    have been sent; replaying twice is safe because every step is idempotent."""
    client = redis_client()
    limit = time.time() - (settings.DLQ_REPLAY_TIMEOUT if older_than_s is None else older_than_s)
    moved = 0
    for parked in cast(list[str], client.lrange(dlq_key("processing"), 0, -1)):  # a decoding client
        data = json.loads(parked)
        if data["claimed_at"] <= limit and _claim(
            client, parked, dlq_key("processing"), settings.DLQ_KEY, data["raw"]
        ):
            moved += 1
    return moved


def stats() -> dict[str, Any]:
    """Figures for dashboards and `manage.py dlq stats`."""
    client = redis_client()
    by_task: dict[str, int] = {}
    by_exc: dict[str, int] = {}
    malformed = 0
    for entry in entries():
        malformed += entry.malformed
        by_task[entry.task] = by_task.get(entry.task, 0) + 1
        by_exc[entry.exc_type] = by_exc.get(entry.exc_type, 0) + 1
    length = int(client.llen(settings.DLQ_KEY))
    return {
        "length": length,
        "max_length": settings.DLQ_MAX_LENGTH,
        "over_limit": length > settings.DLQ_MAX_LENGTH,
        "overflow_pushes": overflow_count(),
        "in_replay": int(client.llen(dlq_key("processing"))),
        "malformed": malformed,
        "by_task": by_task,
        "by_exception": by_exc,
    }


def overflow_count() -> int:
    """Pushes made while the list was past DLQ_MAX_LENGTH (never reset: a counter for metrics)."""
    return int(redis_client().get(dlq_key("overflow")) or 0)
