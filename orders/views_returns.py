"""Returns over the API: a customer asks, staff approve or refuse (the warehouse receives them
in inventory/views.py, payments refunds them)."""

from collections.abc import Callable

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ordersite.openapi import AUTHENTICATED, error_responses

from . import schema, selectors, services_returns
from .serializers_returns import ReturnCreateInput, ReturnDecisionInput, ReturnOutput

RETURN_CREATE_ERRORS = (
    "invalid",
    "parse_error",
    "not_in_order",
    *AUTHENTICATED,
    "not_your_order",
    "not_found",
    "not_returnable",
    "return_window_closed",
    "return_quantity_exceeded",
    "conflict",
)


class OrderReturnListCreateView(APIView):
    """GET /api/v1/orders/{order_id}/returns/: the order's returns. POST: the order's customer
    asks to send some units back, within RETURN_WINDOW_DAYS of delivery."""

    @extend_schema(
        operation_id="orders_returns_list",
        summary="List an order's returns",
        parameters=[schema.ORDER_ID_PARAM],
        responses={200: ReturnOutput(many=True), **error_responses(*AUTHENTICATED, "not_found")},
    )
    def get(self, request: Request, order_id: str) -> Response:
        order = selectors.order_detail(user=request.user, order_id=order_id)
        return Response(ReturnOutput(selectors.order_returns(order=order), many=True).data)

    @extend_schema(
        operation_id="orders_returns_create",
        summary="Ask to return some or all of a delivered order",
        parameters=[schema.ORDER_ID_PARAM],
        request=ReturnCreateInput,
        responses={
            201: OpenApiResponse(
                ReturnOutput, description="Requested; staff approve or refuse it."
            ),
            **error_responses(*RETURN_CREATE_ERRORS),
        },
        examples=[schema.RETURN_REQUEST, schema.RETURN_RESPONSE],
    )
    def post(self, request: Request, order_id: str) -> Response:
        incoming = ReturnCreateInput(data=request.data)
        incoming.is_valid(raise_exception=True)
        order = selectors.order_detail(user=request.user, order_id=order_id)
        ret = services_returns.request_return(
            order=order, requester=request.user, **incoming.validated_data
        )
        ret = selectors.return_detail(user=request.user, return_id=str(ret.public_id))
        return Response(ReturnOutput(ret).data, status=status.HTTP_201_CREATED)

    def get_serializer(self, *args: object, **kwargs: object) -> ReturnCreateInput:
        """The browsable API's form."""
        return ReturnCreateInput(*args, **kwargs)


class ReturnDetailView(APIView):
    """GET /api/v1/returns/{return_id}/: one return (its customer, or staff)."""

    @extend_schema(
        operation_id="returns_retrieve",
        summary="Show a return",
        parameters=[schema.RETURN_ID_PARAM],
        responses={200: ReturnOutput, **error_responses(*AUTHENTICATED, "not_found")},
    )
    def get(self, request: Request, return_id: str) -> Response:
        return Response(
            ReturnOutput(selectors.return_detail(user=request.user, return_id=return_id)).data
        )


class _ReturnDecisionView(APIView):
    permission_classes = [IsAdminUser]
    approve: bool

    def post(self, request: Request, return_id: str) -> Response:
        incoming = ReturnDecisionInput(data=request.data)
        incoming.is_valid(raise_exception=True)
        selectors.return_detail(user=request.user, return_id=return_id)
        services_returns.decide_return(
            return_id=return_id,
            approve=self.approve,
            actor=request.user.get_username(),
            **incoming.validated_data,
        )
        return Response(
            ReturnOutput(selectors.return_detail(user=request.user, return_id=return_id)).data
        )

    def get_serializer(self, *args: object, **kwargs: object) -> ReturnDecisionInput:
        return ReturnDecisionInput(*args, **kwargs)


DECISION_ERRORS = (
    "invalid",
    "parse_error",
    *AUTHENTICATED,
    "permission_denied",
    "not_found",
    "invalid_return_transition",
    "conflict",
)


def _decision_schema(verb: str, summary: str) -> Callable[[type], type]:
    return extend_schema_view(
        post=extend_schema(
            operation_id=f"returns_{verb}",
            summary=summary,
            parameters=[schema.RETURN_ID_PARAM],
            request=ReturnDecisionInput,
            responses={200: ReturnOutput, **error_responses(*DECISION_ERRORS)},
        )
    )


@_decision_schema("approve", "Approve a requested return (staff)")
class ReturnApproveView(_ReturnDecisionView):
    """POST /api/v1/returns/{return_id}/approve/ (staff): the customer may send the parcel."""

    approve = True


@_decision_schema("refuse", "Refuse a requested return (staff)")
class ReturnRefuseView(_ReturnDecisionView):
    """POST /api/v1/returns/{return_id}/refuse/ (staff), with a note the customer reads."""

    approve = False
