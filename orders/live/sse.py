"""Server-Sent Events: GET /api/v1/orders/stream/ (every order the caller may see) and
GET /api/v1/orders/{order_id}/stream/ (one order), resumable with `Last-Event-ID`."""

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from django.http import Http404

from ordersite.errors import error_body

from .. import selectors
from . import protocol
from .auth import authenticate, header, query
from .feeds import Delivery, Reader, SlowClientError, all_feed, order_feed, subscribed
from .hub import LiveUnavailableError, parse_stream_id
from .reads import run_sync

logger = logging.getLogger(__name__)

UNAVAILABLE = (
    "Live updates are unavailable for a moment (their Redis stream does not answer); try again."
)

# The browser's EventSource waits this long before reconnecting (it sends Last-Event-ID then).
RETRY_MS = 2000


async def _answer(send: Any, status: int, body: dict, headers: tuple = ()) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), *headers],
        }
    )
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})


def _position(scope: dict[str, Any], *, per_order: bool) -> tuple[str | None, bool]:
    """The client's last event id (header, else `?last_event_id=`), and whether it is valid:
    a seq for one order's stream, a stream id for the stream of all orders."""
    text = header(scope, b"last-event-id") or query(scope).get("last_event_id") or None
    if text is None:
        return None, True
    if per_order:
        return text, text.isdigit()
    return text, parse_stream_id(text) is not None


async def serve(scope: dict[str, Any], receive: Any, send: Any, *, order_id: str | None) -> None:
    if scope["method"] != "GET":
        await _answer(
            send, 405, error_body("method_not_allowed", f'Method "{scope["method"]}" not allowed.')
        )
        return
    user = await authenticate(scope)
    if user is None:
        body = error_body(
            "not_authenticated", "Authentication credentials were not provided or are invalid."
        )
        await _answer(send, 401, body, ((b"www-authenticate", b"Token"),))
        return
    if order_id is not None:
        try:
            order = await run_sync(selectors.order_detail, user=user, order_id=order_id)
        except Http404:
            await _answer(send, 404, error_body("not_found", f"Order {order_id} not found."))
            return
        order_id = str(order.public_id)
    last, valid = _position(scope, per_order=order_id is not None)
    if not valid:
        message = "Last-Event-ID must be an event id this stream sent."
        await _answer(
            send, 400, error_body("invalid", message, fields={"Last-Event-ID": [message]})
        )
        return

    reader = Reader(user)
    try:
        async with subscribed(reader, order_id) as subscription:
            feed = (
                order_feed(reader, subscription, order_id=order_id, after_seq=int(last or 0))
                if order_id is not None
                else all_feed(reader, subscription, after=last)
            )
            await _stream(feed, receive, send)
    except LiveUnavailableError:
        await _answer(
            send, 503, error_body("live_unavailable", UNAVAILABLE), ((b"retry-after", b"5"),)
        )


async def _stream(feed: AsyncIterator[Delivery], receive: Any, send: Any) -> None:
    """Send `feed` as SSE until the client leaves (or is too slow, or the feed fails)."""
    headers = [
        (b"content-type", b"text/event-stream; charset=utf-8"),
        (b"cache-control", b"no-cache"),
        (b"x-accel-buffering", b"no"),  # a proxy (nginx) must not buffer the stream
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send(
        {"type": "http.response.body", "body": f"retry: {RETRY_MS}\n\n".encode(), "more_body": True}
    )

    async def pump() -> None:
        async with contextlib.aclosing(feed):
            async for delivery in feed:
                if delivery is None:
                    chunk = b": heartbeat\n\n"
                else:
                    event, view, event_id = delivery
                    chunk = protocol.sse_event(event, view, event_id=event_id)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    pumping, watching = asyncio.ensure_future(pump()), asyncio.ensure_future(disconnected())
    try:
        await asyncio.wait({pumping, watching}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (pumping, watching):
            task.cancel()
        await asyncio.gather(pumping, watching, return_exceptions=True)
    if pumping.done() and not pumping.cancelled() and pumping.exception() is not None:
        error = pumping.exception()
        if not isinstance(error, SlowClientError):
            logger.error("live stream failed", exc_info=error)
    if not watching.done() or watching.cancelled():
        # The client is still there: end the response; it reconnects with its Last-Event-ID.
        with contextlib.suppress(Exception):
            await send({"type": "http.response.body", "body": b"", "more_body": False})
