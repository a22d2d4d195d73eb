"""The live pages and their answers on the wrong server: the tracking page, and what gunicorn
says when asked for a stream or /ws (served by the live ASGI server, orders/live/)."""

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from . import selectors, visibility
from .exceptions import LiveServerOnlyError
from .live.hub import newest_stream_id


def _on_live_server(request: HttpRequest, path: str) -> str:
    return settings.LIVE_PUBLIC_URL.rstrip("/") + path


@extend_schema(exclude=True)
class LiveServerOnlyView(APIView):
    """GET /api/v1/orders/stream/, /api/v1/orders/{order_id}/stream/ and /ws on gunicorn: a 421
    naming the live server. The live server answers these paths before Django sees them."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    def get(self, request: Request, order_id: str | None = None) -> HttpResponse:
        url = _on_live_server(request, request.get_full_path())
        raise LiveServerOnlyError(
            f"Streams and the WebSocket are served by the live server: {url}", url=url
        )


@login_required(login_url="/api-auth/login/")
def track(request: HttpRequest, order_id: str | None = None) -> HttpResponse:
    """GET /track/ (every order of the caller) and /track/{order_id}/ (one order): the timeline,
    server-rendered, then moved live by an EventSource on the live server (gunicorn redirects
    there; the session cookie goes along, as cookies do not depend on the port). The stream
    starts right after what the page shows, so nothing is missed between the two."""
    if not isinstance(request, ASGIRequest):
        return HttpResponseRedirect(_on_live_server(request, request.get_full_path()))
    if order_id is not None:
        order = selectors.order_detail(user=request.user, order_id=order_id)
        orders = [order]
        stream = f"/api/v1/orders/{order.public_id}/stream/?last_event_id={order.last_event_seq}"
    else:
        # The stream position first: an event committed while the page renders comes again, and
        # the page drops a repeat by (order, seq); one before it is in the rendered timeline.
        position = newest_stream_id()
        orders = list(
            selectors.order_list(user=request.user).order_by("-created_at")[
                : settings.API_PAGE_SIZE
            ]
        )
        stream = "/api/v1/orders/stream/" + (f"?last_event_id={position}" if position else "")
    timelines = [
        (
            order,
            visibility.timeline_for(user=request.user, events=selectors.order_events(order=order)),
        )
        for order in orders
    ]
    context = {"timelines": timelines, "stream_url": stream, "one_order": order_id is not None}
    return render(request, "orders/track.html", context)
