"""URL wiring: app URL modules are included by string, so ordersite imports no app."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from .admin_breakers import breakers_view
from .api_root import ApiRootView
from .health import HealthView, ReadinessView

urlpatterns = [
    path("admin/dashboard/", include("orders.admin_urls")),
    path("admin/breakers/", admin.site.admin_view(breakers_view), name="admin-breakers"),
    path("admin/orders/deadletter/", include("deadletters.admin_urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api-auth/", include("rest_framework.urls")),
    path("api/v1/", ApiRootView.as_view(), name="api-root"),
    path("api/v1/", include("orders.urls")),
    path("api/v1/", include("inventory.urls")),
    path("api/v1/", include("shipping.urls")),
    path("api/v1/", include("payments.urls")),
    path("api/v1/", include("deadletters.urls")),
    path("api/v1/health", HealthView.as_view(), name="health"),
    path("api/v1/health/ready", ReadinessView.as_view(), name="health-ready"),
    path("", include("orders.urls_live")),
]
if settings.SANDBOXES_ENABLED:  # the test doubles, only where installed (settings/pipeline.py)
    urlpatterns.insert(0, path("admin/faults/", include("sandboxes.urls")))
