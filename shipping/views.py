"""Staff mark an order shipped or delivered by hand; carriers push parcel events."""

import hmac

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework.permissions import BasePermission, IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from orders import schema, selectors
from orders.serializers import OrderOutput
from ordersite.openapi import AUTHENTICATED, error_responses

from . import services, services_delivery
from .serializers import CarrierEventInput, CarrierEventOutput, OrderDeliverInput, OrderShipInput


class OrderShipView(APIView):
    """Staff only: the carrier could not be booked automatically, so someone shipped the parcel
    by hand; record it and let the pipeline capture the payment."""

    permission_classes = [IsAdminUser]

    @extend_schema(
        operation_id="orders_ship",
        summary="Mark a pending_shipment order shipped (staff)",
        parameters=[schema.ORDER_ID_PARAM],
        request=OrderShipInput,
        responses={
            200: OrderOutput,
            **error_responses(
                "invalid",
                "parse_error",
                *AUTHENTICATED,
                "permission_denied",
                "not_found",
                "not_shippable",
                "conflict",
            ),
        },
        examples=[schema.SHIP_REQUEST, schema.SHIPPED_RESPONSE],
    )
    def post(self, request: Request, order_id: str) -> Response:
        incoming = OrderShipInput(data=request.data)
        incoming.is_valid(raise_exception=True)
        order = selectors.order_detail(user=request.user, order_id=order_id)
        order = services.ship_order_by_hand(
            order=order,
            tracking_number=incoming.validated_data["tracking_number"],
            actor=request.user.get_username(),
        )
        return Response(OrderOutput(order, context={"request": request}).data)

    def get_serializer(self, *args: object, **kwargs: object) -> OrderShipInput:
        """The browsable API's form."""
        return OrderShipInput(*args, **kwargs)


class OrderDeliverView(APIView):
    """Staff only: the parcel arrived and no carrier will say so (a manual shipment, an
    untracked carrier); record it, as the carrier's webhook or the poll would."""

    permission_classes = [IsAdminUser]

    @extend_schema(
        operation_id="orders_deliver",
        summary="Mark a completed order delivered (staff)",
        parameters=[schema.ORDER_ID_PARAM],
        request=OrderDeliverInput,
        responses={
            200: OrderOutput,
            **error_responses(
                "invalid",
                "parse_error",
                *AUTHENTICATED,
                "permission_denied",
                "not_found",
                "not_deliverable",
                "conflict",
            ),
        },
    )
    def post(self, request: Request, order_id: str) -> Response:
        incoming = OrderDeliverInput(data=request.data)
        incoming.is_valid(raise_exception=True)
        order = selectors.order_detail(user=request.user, order_id=order_id)
        order = services_delivery.deliver_order_by_hand(
            order=order, actor=request.user.get_username(), **incoming.validated_data
        )
        return Response(OrderOutput(order, context={"request": request}).data)

    def get_serializer(self, *args: object, **kwargs: object) -> OrderDeliverInput:
        return OrderDeliverInput(*args, **kwargs)


class CarrierSecretPermission(BasePermission):
    """The carrier proves itself with the shared CARRIER_WEBHOOK_SECRET in X-Carrier-Secret
    (compared in constant time); with no secret configured, nobody gets in."""

    def has_permission(self, request: Request, view: object) -> bool:
        secret = settings.CARRIER_WEBHOOK_SECRET
        given = request.headers.get("X-Carrier-Secret", "")
        return bool(secret) and hmac.compare_digest(given.encode(), secret.encode())


class CarrierEventView(APIView):
    """POST /api/v1/carriers/{carrier}/events/: a carrier pushes what happened to a parcel.
    Idempotent by event id; a delivery before we recorded the capture is acknowledged and left
    to the poll (CARRIER_DELIVERY_POLL_SECONDS), so the carrier never loops on it."""

    authentication_classes: list = []
    permission_classes = [CarrierSecretPermission]

    @extend_schema(
        operation_id="carriers_events_create",
        summary="A carrier reports a parcel event (shared secret in X-Carrier-Secret)",
        request=CarrierEventInput,
        parameters=[
            OpenApiParameter(
                "carrier",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                description="primary or fallback.",
            ),
            OpenApiParameter(
                "X-Carrier-Secret", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True
            ),
        ],
        responses={
            200: CarrierEventOutput,
            **error_responses("invalid", "parse_error", "permission_denied", "not_found"),
        },
        auth=[],
    )
    def post(self, request: Request, carrier: str) -> Response:
        incoming = CarrierEventInput(data=request.data)
        incoming.is_valid(raise_exception=True)
        created = services_delivery.handle_carrier_event(carrier=carrier, **incoming.validated_data)
        return Response({"event_id": incoming.validated_data["event_id"], "duplicate": not created})
