"""Thin catalog views, and the warehouse receiving a return."""

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from orders import schema as order_schema
from orders import selectors as order_selectors
from orders.serializers_returns import ReturnOutput, ReturnReceiveInput
from ordersite.openapi import AUTHENTICATED, error_responses
from ordersite.pagination import CatalogPagination

from . import selectors, services
from .filters import ProductFilter
from .models import Product
from .serializers import ProductOutput

PRODUCT = {
    "product_id": "prod-1",
    "sku": "prod-1",
    "name": "Widget",
    "price_cents": 1000,
    "currency": "USD",
    "on_hand": 100,
    "reserved": 2,
    "available": 98,
}


class ProductListView(ListAPIView):
    """GET /api/v1/products/: the catalog with available stock, by sku."""

    permission_classes = [AllowAny]
    serializer_class = ProductOutput
    pagination_class = CatalogPagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = ProductFilter

    def get_queryset(self) -> QuerySet[Product]:
        return selectors.product_list()

    @extend_schema(
        operation_id="products_list",
        summary="The catalog",
        responses={200: ProductOutput(many=True), **error_responses("invalid", "not_found")},
        examples=[
            OpenApiExample(
                "A page",
                value={"count": 1, "next": None, "previous": None, "results": [PRODUCT]},
                response_only=True,
            )
        ],
    )
    def get(self, request: Request, *args: object, **kwargs: object) -> Response:
        return super().get(request, *args, **kwargs)


class ProductDetailView(APIView):
    """GET /api/v1/products/{sku}/: one product and its available stock."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="products_retrieve",
        summary="One product",
        parameters=[
            OpenApiParameter("sku", OpenApiTypes.STR, OpenApiParameter.PATH, description="The sku.")
        ],
        responses={200: ProductOutput, **error_responses("not_found")},
        examples=[OpenApiExample("A product", value=PRODUCT, response_only=True)],
    )
    def get(self, request: Request, sku: str) -> Response:
        return Response(ProductOutput(selectors.stock_level(sku=sku)).data)


class ReturnReceiveView(APIView):
    """POST /api/v1/returns/{return_id}/receive/ (staff): the warehouse opened an approved
    return's parcel; restockable units go back on the shelf and the refund is sent."""

    permission_classes = [IsAdminUser]

    @extend_schema(
        operation_id="returns_receive",
        summary="Mark an approved return received, line by line (staff)",
        parameters=[order_schema.RETURN_ID_PARAM],
        request=ReturnReceiveInput,
        responses={
            200: ReturnOutput,
            **error_responses(
                "invalid",
                "parse_error",
                "not_in_order",
                *AUTHENTICATED,
                "permission_denied",
                "not_found",
                "invalid_return_transition",
                "conflict",
            ),
        },
    )
    def post(self, request: Request, return_id: str) -> Response:
        incoming = ReturnReceiveInput(data=request.data)
        incoming.is_valid(raise_exception=True)
        order_selectors.return_detail(user=request.user, return_id=return_id)
        services.receive_return(
            return_id=return_id,
            conditions=incoming.validated_data["lines"],
            actor=request.user.get_username(),
        )
        return Response(
            ReturnOutput(order_selectors.return_detail(user=request.user, return_id=return_id)).data
        )

    def get_serializer(self, *args: object, **kwargs: object) -> ReturnReceiveInput:
        return ReturnReceiveInput(*args, **kwargs)
