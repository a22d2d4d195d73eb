"""Thin catalog views."""

from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import selectors
from .serializers import ProductOutput


class ProductListView(ListAPIView):
    """GET /api/v1/products/: the catalog with available stock."""

    permission_classes = [AllowAny]
    serializer_class = ProductOutput

    def get_queryset(self):  # noqa: ANN201
        return selectors.product_list()


class ProductDetailView(APIView):
    """GET /api/v1/products/{sku}/: one product and its available stock."""

    permission_classes = [AllowAny]

    def get(self, request: Request, sku: str) -> Response:
        return Response(ProductOutput(selectors.stock_level(sku=sku)).data)
