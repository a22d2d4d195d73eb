"""GET /api/v1/: the links a browsing client starts from."""

from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView


class ApiRootView(APIView):
    """The API's entry point: where the catalog, the orders and the documentation are."""

    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        return Response(
            {
                "products": reverse("product-list", request=request),
                "orders": reverse("order-list", request=request),
                "schema": reverse("schema", request=request),
                "docs": reverse("api-docs", request=request),
            }
        )
