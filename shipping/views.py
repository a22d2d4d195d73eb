"""POST /api/v1/orders/{order_id}/ship/: staff mark a pending_shipment order shipped by hand."""

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from orders import schema, selectors
from orders.serializers import OrderOutput
from ordersite.openapi import AUTHENTICATED, error_responses

from . import services
from .serializers import OrderShipInput


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
                "invalid", "parse_error", *AUTHENTICATED, "permission_denied", "not_found", "not_shippable", "conflict"
            ),
        },
        examples=[schema.SHIP_REQUEST, schema.SHIPPED_RESPONSE],
    )
    def post(self, request: Request, order_id: str) -> Response:
        incoming = OrderShipInput(data=request.data)
        incoming.is_valid(raise_exception=True)
        order = selectors.order_detail(user=request.user, order_id=order_id)
        order = services.ship_order_by_hand(
            order=order, tracking_number=incoming.validated_data["tracking_number"], actor=request.user.get_username()
        )
        return Response(OrderOutput(order, context={"request": request}).data)

    def get_serializer(self, *args: object, **kwargs: object) -> OrderShipInput:
        """The browsable API's form."""
        return OrderShipInput(*args, **kwargs)
