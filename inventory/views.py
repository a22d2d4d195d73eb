"""Thin catalog views."""

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ordersite.openapi import error_responses
from ordersite.pagination import CatalogPagination

from . import selectors
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
                "A page", value={"count": 1, "next": None, "previous": None, "results": [PRODUCT]}, response_only=True
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
        parameters=[OpenApiParameter("sku", OpenApiTypes.STR, OpenApiParameter.PATH, description="The sku.")],
        responses={200: ProductOutput, **error_responses("not_found")},
        examples=[OpenApiExample("A product", value=PRODUCT, response_only=True)],
    )
    def get(self, request: Request, sku: str) -> Response:
        return Response(ProductOutput(selectors.stock_level(sku=sku)).data)
