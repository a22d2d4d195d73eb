"""Thin DRF views of the order API: validate, call one service or selector, serialize."""

from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import selectors, services
from .serializers import OrderCreateInput, OrderEventOutput, OrderOutput


class OrderListCreateView(APIView):
    """GET /api/v1/orders/: the caller's orders. POST: place one; the server prices every line."""

    def get(self, request: Request) -> Response:
        orders = selectors.order_list(user=request.user).prefetch_related("items")[:50]
        return Response(OrderOutput(orders, many=True, context={"request": request}).data)

    def post(self, request: Request) -> Response:
        incoming = OrderCreateInput(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        customer = services.resolve_customer(requester=request.user, customer_id=data.get("customer_id"))
        order, created = services.place_order(
            customer=customer,
            items=data["items"],
            shipping_address=data.get("shipping_address"),
            payment_token=data["payment_token"],
            idempotency_key=request.headers.get("Idempotency-Key"),
            actor=request.user.get_username(),
        )
        body = OrderOutput(order, context={"request": request}).data
        return Response(
            body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK, headers={"Location": body["url"]}
        )


class OrderDetailView(APIView):
    """GET /api/v1/orders/{order_id}/: one of the caller's orders (404 for anyone else's)."""

    def get(self, request: Request, order_id: str) -> Response:
        order = selectors.order_detail(user=request.user, order_id=order_id)
        return Response(OrderOutput(order, context={"request": request}).data)


class OrderStatusView(APIView):
    """GET /api/v1/orders/{order_id}/status/: just the status, for polling clients."""

    def get(self, request: Request, order_id: str) -> Response:
        order = selectors.order_detail(user=request.user, order_id=order_id)
        return Response(
            {"order_id": str(order.public_id), "status": order.status, "status_reason": order.status_reason}
        )


class OrderEventListView(ListAPIView):
    """GET /api/v1/orders/{order_id}/events/: the order's timeline, oldest first."""

    serializer_class = OrderEventOutput
    pagination_class = None

    def get_queryset(self):  # noqa: ANN201
        order = selectors.order_detail(user=self.request.user, order_id=self.kwargs["order_id"])
        return selectors.order_events(order=order)


class OrderCancelView(APIView):
    """POST /api/v1/orders/{order_id}/cancel/: cancel before shipping (409 once too late)."""

    def post(self, request: Request, order_id: str) -> Response:
        order = selectors.order_detail(user=request.user, order_id=order_id)
        order = services.cancel_order(order=order, actor=request.user.get_username())
        return Response(OrderOutput(order, context={"request": request}).data)
