"""The live server's ASGI application: /ws and the SSE stream paths are served here, every other
path by Django's own ASGI handler (the tracking page, the API, the admin), so one uvicorn
process serves a whole browser session. ordersite/asgi.py wraps Django's application with it."""

import re
from typing import Any

from . import sse, websocket
from .hub import hub

STREAM_PATH = re.compile(r"^/api/v1/orders/(?:(?P<order_id>[^/]+)/)?stream/?$")
WS_PATHS = frozenset({"/ws", "/ws/"})


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await hub.stop()
            await send({"type": "lifespan.shutdown.complete"})
            return


def wrap(django_application: Any) -> Any:
    async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
        elif scope["type"] == "websocket":
            if scope["path"] in WS_PATHS:
                await websocket.serve(scope, receive, send)
            else:
                await receive()
                await send({"type": "websocket.close", "code": 4404})
        elif scope["type"] == "http" and (match := STREAM_PATH.match(scope["path"])):
            await sse.serve(scope, receive, send, order_id=match["order_id"])
        else:
            await django_application(scope, receive, send)

    return application
