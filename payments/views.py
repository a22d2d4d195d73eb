"""Refunds over the API: staff give money back without a return (goodwill); anyone who may see
the order lists its refunds."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import SAFE_METHODS, IsAdminUser, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from orders import schema
from orders import selectors as order_selectors
from orders.serializers import idempotency_key
from ordersite.openapi import AUTHENTICATED, error_responses

from . import selectors, services_refunds
from .serializers import RefundCreateInput, RefundOutput


class StaffWrites(IsAdminUser):
    def has_permission(self, request: Request, view: object) -> bool:
        return request.method in SAFE_METHODS or super().has_permission(request, view)


class OrderRefundListCreateView(APIView):
    """GET /api/v1/orders/{order_id}/refunds/: the order's refunds. POST (staff): refund part
    or all of what is captured; the processor is called by a task on the payments queue."""

    permission_classes = [IsAuthenticated, StaffWrites]

    @extend_schema(
        operation_id="orders_refunds_list",
        summary="List an order's refunds",
        parameters=[schema.ORDER_ID_PARAM],
        responses={200: RefundOutput(many=True), **error_responses(*AUTHENTICATED, "not_found")},
    )
    def get(self, request: Request, order_id: str) -> Response:
        order = order_selectors.order_detail(user=request.user, order_id=order_id)
        return Response(RefundOutput(selectors.order_refunds(order_pk=order.pk), many=True).data)

    @extend_schema(
        operation_id="orders_refunds_create",
        summary="Refund without a return: goodwill (staff)",
        parameters=[schema.ORDER_ID_PARAM, schema.IDEMPOTENCY_KEY],
        request=RefundCreateInput,
        responses={
            202: OpenApiResponse(
                RefundOutput, description="Accepted: pending until the processor answers."
            ),
            200: OpenApiResponse(
                RefundOutput, description="The refund this Idempotency-Key asked for before."
            ),
            **error_responses(
                "invalid",
                "parse_error",
                *AUTHENTICATED,
                "permission_denied",
                "not_found",
                "not_refundable",
                "refund_exceeds_captured",
            ),
        },
    )
    def post(self, request: Request, order_id: str) -> Response:
        key = idempotency_key(request.headers)
        incoming = RefundCreateInput(data=request.data)
        incoming.is_valid(raise_exception=True)
        order = order_selectors.order_detail(user=request.user, order_id=order_id)
        refund, created = services_refunds.request_refund(
            order_id=str(order.public_id),
            actor=request.user.get_username(),
            request_key=key,
            **incoming.validated_data,
        )
        body = RefundOutput(selectors.refund_detail(refund_id=str(refund.public_id))).data
        return Response(body, status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)

    def get_serializer(self, *args: object, **kwargs: object) -> RefundCreateInput:
        return RefundCreateInput(*args, **kwargs)
