"""GET /api/v1/: the links a browsing client starts from."""

from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

LINKS = ("products", "orders", "analytics", "health", "ready", "schema", "docs")


class ApiRootView(APIView):
    """The API's entry point: where the catalog, the orders and the documentation are."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="api_root",
        summary="Links to every resource",
        responses={
            200: inline_serializer(
                "ApiRootOutput", fields={name: serializers.URLField() for name in LINKS}
            )
        },
        examples=[
            OpenApiExample(
                "Links",
                value={
                    "products": "http://127.0.0.1:8000/api/v1/products/",
                    "orders": "http://127.0.0.1:8000/api/v1/orders/",
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        return Response(
            {
                "products": reverse("product-list", request=request),
                "orders": reverse("order-list", request=request),
                "analytics": reverse("analytics-dashboard", request=request),
                "health": reverse("health", request=request),
                "ready": reverse("health-ready", request=request),
                "schema": reverse("schema", request=request),
                "docs": reverse("api-docs", request=request),
            }
        )
