"""The admin's dashboard page (/admin/dashboard/): charts of the pipeline, redrawn every
DASHBOARD_REFRESH_SECONDS from GET /api/v1/analytics/pipeline/ (orders/analytics.py computes
them). The page itself holds no figures, so it costs one template render."""

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse


def dashboard_view(request: HttpRequest) -> HttpResponse:
    """Staff only: wrapped in admin_view, so anyone else is sent to the admin's login."""
    context = {
        **admin.site.each_context(request),
        "title": "Pipeline dashboard",
        "data_url": reverse("analytics-pipeline"),
        "refresh_ms": int(settings.DASHBOARD_REFRESH_SECONDS * 1000),
    }
    return TemplateResponse(request, "admin/orders/dashboard.html", context)
