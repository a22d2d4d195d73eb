"""Per ASGI process: one reader of the live stream, handing each entry to the clients that may
see it, and the catch-up reads a reconnecting client starts with.

One XREAD loop serves every connection of the process, so an idle client costs a small queue and
no Redis connection. A client whose queue fills (it stopped reading) is disconnected; it resumes
from its last event id. Delivery is exact across a reconnect: a subscription is registered with
the hub before its catch-up read, and what the catch-up already sent is skipped by id.
"""

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.conf import settings
from redis.exceptions import RedisError

from ordersite.redis import async_client, client

logger = logging.getLogger(__name__)

_READ_BLOCK_MS = 5000
_READ_COUNT = 1000
_RECONNECT_WAIT_S = 1.0
_START_TIMEOUT_S = 5.0


class LiveUnavailableError(Exception):
    """The live stream cannot be read (Redis does not answer)."""


def parse_stream_id(text: str) -> tuple[int, int] | None:
    """A Redis stream id ("1733090000000-3", or "1733090000000") as a comparable pair."""
    ms, _, seq = text.partition("-")
    if not ms.isdigit() or not (seq.isdigit() or seq == ""):
        return None
    return int(ms), int(seq or 0)


@dataclass(eq=False)
class LiveEvent:
    """One stream entry. Its views are decoded once, whatever the number of clients."""

    stream_id: str
    order_id: str
    owner_id: int
    seq: int
    kind: str
    status: str
    public_json: str
    full_json: str

    @classmethod
    def from_entry(cls, stream_id: str, fields: dict[str, str]) -> "LiveEvent":
        return cls(
            stream_id=stream_id,
            order_id=fields["order"],
            owner_id=int(fields["owner"]),
            seq=int(fields["seq"]),
            kind=fields["kind"],
            status=fields["status"],
            public_json=fields["public"],
            full_json=fields["full"],
        )

    @cached_property
    def position(self) -> tuple[int, int]:
        return parse_stream_id(self.stream_id) or (0, 0)

    @cached_property
    def public(self) -> dict[str, Any] | None:
        return json.loads(self.public_json) if self.public_json else None

    @cached_property
    def full(self) -> dict[str, Any]:
        return json.loads(self.full_json)

    def view(self, *, staff: bool) -> dict[str, Any] | None:
        """The event as its reader may see it (orders/visibility.py), None if hidden."""
        return self.full if staff else self.public


@dataclass(eq=False)
class Subscription:
    """A client's inbox: events of `owner_id`'s orders (every order when None, for staff),
    optionally of one order only."""

    owner_id: int | None
    order_id: str | None = None
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(settings.LIVE_CLIENT_BUFFER))
    overflowed: bool = False

    def offer(self, event: LiveEvent) -> None:
        if self.order_id is not None and event.order_id != self.order_id:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True


class Hub:
    """The process's stream reader and its subscriptions."""

    def __init__(self) -> None:
        self._by_owner: dict[int, set[Subscription]] = defaultdict(set)
        self._everyone: set[Subscription] = set()
        self._task: asyncio.Task | None = None
        self._started: asyncio.Future | None = None

    @property
    def connections(self) -> int:
        return len(self._everyone) + sum(len(subs) for subs in self._by_owner.values())

    async def subscribe(self, subscription: Subscription) -> None:
        """Register `subscription`; every entry added to the stream after this returns reaches
        it (the reader's starting id is fixed before the first subscription completes)."""
        if self._task is None or self._task.done():
            loop = asyncio.get_running_loop()
            self._started = loop.create_future()
            self._task = loop.create_task(self._run(self._started))
        # Redis down at start: the client hears so (LiveUnavailableError) rather than waiting.
        try:
            await asyncio.wait_for(asyncio.shield(self._started), _START_TIMEOUT_S)
        except TimeoutError:
            raise LiveUnavailableError from None
        if subscription.owner_id is None:
            self._everyone.add(subscription)
        else:
            self._by_owner[subscription.owner_id].add(subscription)

    def unsubscribe(self, subscription: Subscription) -> None:
        if subscription.owner_id is None:
            self._everyone.discard(subscription)
            return
        subs = self._by_owner.get(subscription.owner_id)
        if subs is not None:
            subs.discard(subscription)
            if not subs:
                del self._by_owner[subscription.owner_id]

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _dispatch(self, event: LiveEvent) -> None:
        for subscription in self._by_owner.get(event.owner_id, ()):
            subscription.offer(event)
        for subscription in self._everyone:
            subscription.offer(event)

    async def _run(self, started: asyncio.Future) -> None:
        stream = async_client()
        key = settings.LIVE_STREAM_KEY
        last: str | None = None
        while True:
            try:
                if last is None:
                    newest = await stream.xrevrange(key, count=1)
                    last = newest[0][0] if newest else "0-0"
                    started.set_result(None)
                response = await stream.xread({key: last}, block=_READ_BLOCK_MS, count=_READ_COUNT)
            except RedisError:
                logger.warning("live stream read failed; retrying", exc_info=True)
                await asyncio.sleep(_RECONNECT_WAIT_S)
                continue
            for _, entries in response or ():
                for stream_id, fields in entries:
                    last = stream_id
                    try:
                        event = LiveEvent.from_entry(stream_id, fields)
                    except (KeyError, ValueError):
                        logger.warning("malformed live stream entry %s skipped", stream_id)
                        continue
                    self._dispatch(event)


hub = Hub()


async def stream_trimmed_after(stream_id: str) -> bool:
    """Whether entries after `stream_id` may have been trimmed away: the stream no longer holds
    the entry at `stream_id` (trimming removes the oldest first), so the caller reads the
    timeline table for the gap. (XTRIM does not move Redis 7.0's max-deleted-entry-id.)"""
    try:
        info = await async_client().xinfo_stream(settings.LIVE_STREAM_KEY)
    except RedisError:  # no stream at all (a new or flushed Redis): nothing to catch up from
        return False
    position = parse_stream_id(stream_id) or (0, 0)
    first = info.get("first-entry")
    if first:
        return (parse_stream_id(first[0]) or (0, 0)) > position
    return (parse_stream_id(str(info.get("last-generated-id") or "0-0")) or (0, 0)) > position


async def stream_after(stream_id: str) -> AsyncIterator[LiveEvent]:
    """The stream's entries after `stream_id`, oldest first, read a page at a time."""
    cursor = f"({stream_id}"
    while True:
        page = await async_client().xrange(settings.LIVE_STREAM_KEY, min=cursor, count=_READ_COUNT)
        for entry_id, fields in page:
            try:
                yield LiveEvent.from_entry(entry_id, fields)
            except (KeyError, ValueError):
                continue
        if len(page) < _READ_COUNT:
            return
        cursor = f"({page[-1][0]}"


def newest_stream_id() -> str | None:
    """The stream's newest id, read synchronously (the tracking page starts its stream there)."""
    newest = client().xrevrange(settings.LIVE_STREAM_KEY, count=1)
    return newest[0][0] if newest else None
