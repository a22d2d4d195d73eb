"""The live server's reads of PostgreSQL (synchronous: run through `run_sync`), turned into the
same LiveEvent a stream entry becomes, so both paths render alike."""

import functools
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections

from .. import selectors
from .hub import LiveEvent
from .publish import stream_entry

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

T = TypeVar("T")


async def run_sync(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ORM code in a worker thread, with Django's connection housekeeping around it (as a
    request would have): a thread pool thread keeps its connection between calls otherwise."""

    def call() -> T:
        close_old_connections()
        try:
            return fn(*args, **kwargs)
        finally:
            close_old_connections()

    return await sync_to_async(call, thread_sensitive=False)()


def order_timeline(
    *, order_id: str, after_seq: int, up_to_seq: int | None = None
) -> list[LiveEvent]:
    events = selectors.order_events_between(
        order_id=order_id, after_seq=after_seq, up_to_seq=up_to_seq
    )
    return [LiveEvent.from_entry("", stream_entry(event, event.order)) for event in events]


def timeline_since(*, user: "AbstractBaseUser", since: datetime) -> list[LiveEvent]:
    events = selectors.events_since(user=user, since=since)
    return [LiveEvent.from_entry("", stream_entry(event, event.order)) for event in events]


@functools.lru_cache(maxsize=10000)
def username(user_id: int) -> str:
    """Usernames never change here (the admin keeps them), so a process may remember them."""
    return selectors.username_of(user_id=user_id)
