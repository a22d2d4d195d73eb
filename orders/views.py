"""Thin DRF views of the order API: validate, call one service or selector, serialize."""

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from ordersite import logs
from ordersite.openapi import AUTHENTICATED, error_responses
from ordersite.pagination import NewestFirstCursorPagination
from ordersite.throttling import OrderCreateThrottle

from . import pipeline, schema, selectors, services, visibility
from .filters import OrderFilter
from .models import Order
from .serializers import (
    OrderCreateInput,
    OrderEventOutput,
    OrderOutput,
    OrderStatusOutput,
    idempotency_key,
)

ORDER_CREATE_ERRORS = (
    "invalid",
    "parse_error",
    "request_too_large",
    "unknown_product",
    "mixed_currency",
    "unknown_customer",
    *AUTHENTICATED,
    "stale_price",
    "idempotency_key_reused",
    "throttled",
)


class OrderListCreateView(GenericAPIView):
    """GET /api/v1/orders/: the caller's orders, newest first (staff: everyone's).
    POST: place one; the server prices every line and never trusts a client total."""

    serializer_class = OrderOutput
    pagination_class = NewestFirstCursorPagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = OrderFilter

    def get_queryset(self) -> QuerySet[Order]:
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular inspecting, no caller
            return Order.objects.none()
        return selectors.order_list(user=self.request.user).prefetch_related("items")

    def get_throttles(self) -> list[BaseThrottle]:
        return [OrderCreateThrottle()] if self.request.method == "POST" else super().get_throttles()

    @extend_schema(
        operation_id="orders_list",
        summary="List your orders",
        responses={
            200: OrderOutput(many=True),
            **error_responses("invalid", *AUTHENTICATED, "not_found"),
        },
        examples=[schema.ORDER_PAGE],
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        operation_id="orders_create",
        summary="Place an order",
        parameters=[schema.IDEMPOTENCY_KEY, *schema.ORDER_CREATED_HEADERS],
        request=OrderCreateInput,
        responses={
            201: OpenApiResponse(OrderOutput, description="Created; `Location` names the order."),
            **error_responses(*ORDER_CREATE_ERRORS),
        },
        examples=[schema.SEED_REQUEST, schema.FULL_REQUEST, schema.ORDER_RESPONSE],
    )
    def post(self, request: Request) -> Response:
        key = idempotency_key(request.headers)
        incoming = OrderCreateInput(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        customer = services.resolve_customer(
            requester=request.user, customer_id=data.get("customer_id")
        )
        order, created = services.place_order(
            customer=customer,
            items=data["items"],
            shipping_address=data.get("shipping_address"),
            payment_token=data["payment_token"],
            idempotency_key=key,
            actor=request.user.get_username(),
        )
        logs.bind_order(order_id=order.public_id, correlation_id=order.correlation_id)
        body = OrderOutput(order, context={"request": request}).data
        headers = {"Location": body["url"]}
        if not created:
            # A replay answers as the original did (201), and says so.
            headers["Idempotent-Replayed"] = "true"
        if pipeline.start_deferred(order_id=str(order.public_id)):
            # Stored, but the broker did not take its chain yet: it will run once it does.
            headers["Pipeline-Deferred"] = "true"
        return Response(body, status=status.HTTP_201_CREATED, headers=headers)

    def get_serializer_class(self) -> type:
        # The browsable API's form shows the input fields, not the output ones.
        return OrderCreateInput if self.request and self.request.method == "POST" else OrderOutput


class OrderDetailView(APIView):
    """GET /api/v1/orders/{order_id}/: one of the caller's orders (404 for anyone else's)."""

    @extend_schema(
        operation_id="orders_retrieve",
        summary="One order",
        parameters=[schema.ORDER_ID_PARAM],
        responses={200: OrderOutput, **error_responses(*AUTHENTICATED, "not_found")},
        examples=[schema.ORDER_RESPONSE],
    )
    def get(self, request: Request, order_id: str) -> Response:
        order = selectors.order_detail(user=request.user, order_id=order_id)
        return Response(OrderOutput(order, context={"request": request}).data)


class OrderStatusView(APIView):
    """GET /api/v1/orders/{order_id}/status/: just the status, for polling clients."""

    @extend_schema(
        operation_id="orders_status",
        summary="An order's status",
        parameters=[schema.ORDER_ID_PARAM],
        responses={200: OrderStatusOutput, **error_responses(*AUTHENTICATED, "not_found")},
        examples=[schema.STATUS_RESPONSE],
    )
    def get(self, request: Request, order_id: str) -> Response:
        order = selectors.order_detail(user=request.user, order_id=order_id)
        return Response(OrderStatusOutput(order, context={"request": request}).data)


class OrderEventListView(APIView):
    """GET /api/v1/orders/{order_id}/events/: the order's timeline, oldest first; customers read
    its public projection, staff the full record (orders/visibility.py)."""

    @extend_schema(
        operation_id="orders_events",
        summary="An order's timeline",
        parameters=[schema.ORDER_ID_PARAM],
        responses={
            200: OrderEventOutput(many=True),
            **error_responses(*AUTHENTICATED, "not_found"),
        },
        examples=[schema.EVENTS_RESPONSE, schema.STAFF_EVENTS_RESPONSE],
    )
    def get(self, request: Request, order_id: str) -> Response:
        order = selectors.order_detail(user=request.user, order_id=order_id)
        timeline = visibility.timeline_for(
            user=request.user, events=selectors.order_events(order=order)
        )
        return Response(OrderEventOutput(timeline, many=True).data)


class OrderCancelView(APIView):
    """POST /api/v1/orders/{order_id}/cancel/: cancel before shipping (409 once too late);
    stock is released and the payment voided by the pipeline's compensation."""

    @extend_schema(
        operation_id="orders_cancel",
        summary="Cancel an order",
        parameters=[schema.ORDER_ID_PARAM],
        request=None,
        responses={
            200: OrderOutput,
            **error_responses(*AUTHENTICATED, "not_found", "not_cancellable", "conflict"),
        },
        examples=[schema.CANCELLED_RESPONSE],
    )
    def post(self, request: Request, order_id: str) -> Response:
        order = selectors.order_detail(user=request.user, order_id=order_id)
        order = services.cancel_order(order=order, actor=request.user.get_username())
        return Response(OrderOutput(order, context={"request": request}).data)
