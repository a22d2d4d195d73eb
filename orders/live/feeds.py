"""What one client receives: catch-up from its last event id, then the live events, each once.

Two positions exist. A stream of one order is positioned by the event's `seq`: catch-up reads
the timeline table (exact however old the position), and a live event that arrives ahead of one
still in flight (two transactions on one order publish in either order) first fills the gap
from the table. A stream of all the reader's orders is positioned by the Redis stream id: it
catches up from the stream, and from the table (LIVE_CATCHUP_MARGIN_SECONDS before the id) only
if entries after the id were trimmed away.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings

from . import reads
from .hub import LiveEvent, Subscription, hub, parse_stream_id, stream_after, stream_trimmed_after

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

# (event, the reader's view of it, its id) or None: nothing happened for a heartbeat's time.
Delivery = tuple[LiveEvent, dict[str, Any], str | int | None] | None


class SlowClientError(Exception):
    """The client's queue overflowed: it is disconnected and resumes from its last id."""


@dataclass
class Reader:
    user: "AbstractBaseUser"

    @property
    def staff(self) -> bool:
        return bool(self.user.is_staff)

    def subscription(self, order_id: str | None = None) -> Subscription:
        return Subscription(owner_id=None if self.staff else self.user.pk, order_id=order_id)

    def may_see(self, event: LiveEvent) -> bool:
        return self.staff or event.owner_id == self.user.pk


async def _live(subscription: Subscription) -> AsyncIterator[LiveEvent | None]:
    """The subscription's events as they come, None after each heartbeat's time without one."""
    while True:
        if subscription.overflowed:
            raise SlowClientError
        try:
            yield await asyncio.wait_for(subscription.queue.get(), settings.LIVE_HEARTBEAT_SECONDS)
        except TimeoutError:
            yield None


@contextlib.asynccontextmanager
async def subscribed(reader: Reader, order_id: str | None = None) -> AsyncIterator[Subscription]:
    """The reader's subscription, registered for as long as the block runs. Enter it before the
    client can act on the connection (see its response, send a command): what happens after
    that must reach it."""
    subscription = reader.subscription(order_id)
    await hub.subscribe(subscription)
    try:
        yield subscription
    finally:
        hub.unsubscribe(subscription)


async def order_feed(
    reader: Reader, subscription: Subscription, *, order_id: str, after_seq: int
) -> AsyncIterator[Delivery]:
    """One order's events after `after_seq` (the order is already known to be the reader's)."""
    position = after_seq
    for event in await reads.run_sync(reads.order_timeline, order_id=order_id, after_seq=position):
        position = event.seq
        if (view := event.view(staff=reader.staff)) is not None:
            yield event, view, event.seq
    async for event in _live(subscription):
        if event is None:
            yield None
        if event is None or event.seq <= position:
            continue
        missed: list[LiveEvent] = []
        if event.seq > position + 1:
            missed = await reads.run_sync(
                reads.order_timeline, order_id=order_id, after_seq=position, up_to_seq=event.seq - 1
            )
        for delivered in (*missed, event):
            position = delivered.seq
            if (view := delivered.view(staff=reader.staff)) is not None:
                yield delivered, view, delivered.seq


async def all_feed(
    reader: Reader, subscription: Subscription, *, after: str | None
) -> AsyncIterator[Delivery]:
    """Every event of the reader's orders (staff: every order), after stream id `after` if given,
    else from the subscription on."""
    position = parse_stream_id(after) if after else None
    if after is not None:
        if await stream_trimmed_after(after):
            ms = (position or (0, 0))[0]
            since = datetime.fromtimestamp(ms / 1000 - settings.LIVE_CATCHUP_MARGIN_SECONDS, tz=UTC)
            for event in await reads.run_sync(reads.timeline_since, user=reader.user, since=since):
                if (view := event.view(staff=reader.staff)) is not None:
                    yield event, view, None
        async for event in stream_after(after):
            position = event.position
            if reader.may_see(event) and (view := event.view(staff=reader.staff)) is not None:
                yield event, view, event.stream_id
    async for event in _live(subscription):
        if event is None:
            yield None
            continue
        if position is not None and event.position <= position:
            continue
        position = event.position
        if (view := event.view(staff=reader.staff)) is not None:
            yield event, view, event.stream_id
