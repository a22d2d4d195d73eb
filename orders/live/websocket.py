"""The WebSocket at /ws, speaking seed 004's protocol: JSON messages with a `type`.

client -> server: {"type": "command",
                   "action": {"PlaceOrder" | "CancelOrder" | "ShipOrder": {...}}},
                  {"type": "ping"} (answered {"type": "pong"}), {"type": "pong"} (ignored)
server -> client: {"type": "event", "id": ..., "action": {"OrderPlaced": {...}}}, one per order
                  event the user may see; {"type": "error", "message": ..., "code": ...} for a
                  command or message that was refused. The connection stays open either way.
Without credentials the server accepts, sends one `error` and closes with code 4401.
`?last_event_id=<id>` (an event's `id`) resumes after that event, as SSE does.
"""

import asyncio
import contextlib
import logging
from typing import Any

from . import commands, protocol, reads
from .auth import authenticate, query
from .feeds import Reader, SlowClientError, all_feed, subscribed
from .hub import LiveUnavailableError, Subscription, parse_stream_id
from .sse import UNAVAILABLE

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_BAD_POSITION = 4400
CLOSE_TRY_AGAIN = 1013  # RFC 6455: the server cannot serve it now (live stream unreadable)
CLOSE_TOO_SLOW = 4408  # the client did not read its events; reconnect with last_event_id


class Connection:
    def __init__(self, send: Any, reader: Reader, subscription: Subscription) -> None:
        self._send = send
        self._lock = asyncio.Lock()
        self.reader = reader
        self.subscription = subscription

    async def send_text(self, text: str) -> None:
        async with self._lock:  # the event pump and the command loop share one socket
            await self._send({"type": "websocket.send", "text": text})

    async def error(self, exc: Exception) -> None:
        await self.send_text(protocol.ws_error(**commands.error_message(exc)))

    async def customer_id(self, owner_id: int) -> str:
        if owner_id == self.reader.user.pk:
            return self.reader.user.get_username()
        return await reads.run_sync(reads.username, owner_id)

    async def pump(self, after: str | None) -> None:
        feed = all_feed(self.reader, self.subscription, after=after)
        async with contextlib.aclosing(feed):
            async for delivery in feed:
                if delivery is not None:
                    event, view, event_id = delivery
                    customer_id = await self.customer_id(event.owner_id)
                    await self.send_text(
                        protocol.ws_event(event, view, customer_id=customer_id, event_id=event_id)
                    )

    async def handle(self, text: str | bytes) -> None:
        try:
            message = commands.parse(text)
            kind = message["type"]
            if kind == "ping":
                await self.send_text('{"type": "pong"}')
            elif kind == "command":
                await reads.run_sync(commands.run, self.reader.user, message.get("action"))
            elif kind != "pong":
                await self.send_text(
                    protocol.ws_error(f"Unknown message type {kind!r}: send command, ping or pong.")
                )
        except Exception as exc:  # noqa: BLE001  (every refusal becomes an error message; the socket stays)
            await self.error(exc)


async def serve(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if (await receive())["type"] != "websocket.connect":
        return
    user = await authenticate(scope)
    if user is None:
        await send({"type": "websocket.accept"})
        text = protocol.ws_error(
            "Authentication required: send Authorization: Token <key>, ?token=<key>, "
            "or the session cookie.",
            code="not_authenticated",
        )
        await send({"type": "websocket.send", "text": text})
        await send({"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED})
        return
    after = query(scope).get("last_event_id") or None
    if after is not None and parse_stream_id(after) is None:
        await send({"type": "websocket.accept"})
        await send(
            {
                "type": "websocket.send",
                "text": protocol.ws_error("last_event_id is not an event id.", code="invalid"),
            }
        )
        await send({"type": "websocket.close", "code": CLOSE_BAD_POSITION})
        return

    reader = Reader(user)
    try:
        # Subscribed before the client can send a command: its OrderPlaced must reach it.
        async with subscribed(reader) as subscription:
            await send({"type": "websocket.accept"})
            await _converse(Connection(send, reader, subscription), receive, send, after)
    except LiveUnavailableError:
        await send({"type": "websocket.accept"})
        await send(
            {
                "type": "websocket.send",
                "text": protocol.ws_error(UNAVAILABLE, code="live_unavailable"),
            }
        )
        await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN})


async def _converse(connection: Connection, receive: Any, send: Any, after: str | None) -> None:
    """Pump events out and handle messages in, until either side ends."""
    pumping = asyncio.ensure_future(connection.pump(after))
    try:
        while True:
            receiving = asyncio.ensure_future(receive())
            done, _ = await asyncio.wait({receiving, pumping}, return_when=asyncio.FIRST_COMPLETED)
            if pumping in done:
                receiving.cancel()
                break
            message = receiving.result()
            if message["type"] == "websocket.disconnect":
                return
            await connection.handle(message.get("text") or message.get("bytes") or "")
    finally:
        pumping.cancel()
        await asyncio.gather(pumping, return_exceptions=True)
    # The pump ended: a client too slow to read (it resumes with last_event_id), or a failure.
    error = pumping.exception() if not pumping.cancelled() else None
    if error is not None and not isinstance(error, SlowClientError):
        logger.error("live WebSocket feed failed", exc_info=error)
    with contextlib.suppress(Exception):
        await send(
            {
                "type": "websocket.close",
                "code": CLOSE_TOO_SLOW if isinstance(error, SlowClientError) else 1011,
            }
        )
