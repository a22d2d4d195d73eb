"""The admin site: Django's, with a count beside a model that asks for one (Dead letters, red past
DLQ_MAX_LENGTH) and links to the pages without a model (the dashboard, faults and breakers)."""

from typing import Any

from django.contrib.admin import AdminSite
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest
from django.urls import reverse


class OrdersiteAdminSite(AdminSite):
    """Django's admin site; a model admin with an `index_name(label)` method names its own index
    and sidebar entry (the Dead letters page adds its count), so this module imports no app."""

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict[str, Any]]:
        app_list = super().get_app_list(request, app_label)
        for app in app_list:
            for model in app["models"]:
                index_name = getattr(self._registry.get(model["model"]), "index_name", None)
                if index_name is not None:
                    model["name"] = index_name(model["name"])
        if app_label is None and request.user.is_staff:
            app_list.insert(0, _page_entry("Operations", "operations", "Pipeline dashboard", "admin-dashboard"))
            app_list.append(_page_entry("Sandboxes", "sandboxes", "Faults and circuit breakers", "admin-faults"))
        return app_list


def _page_entry(app_name: str, app_label: str, page_name: str, url_name: str) -> dict[str, Any]:
    """A page without a model (the dashboard, the sandboxes' faults and the breakers), listed on
    the index like an app so staff find it."""
    url = reverse(url_name)
    page = {
        "name": page_name,
        "object_name": page_name.title().replace(" ", ""),
        "admin_url": url,
        "add_url": None,
        "view_only": True,
        "perms": {"view": True},
    }
    return {"name": app_name, "app_label": app_label, "app_url": url, "has_module_perms": True, "models": [page]}


class OrdersiteAdminConfig(AdminConfig):
    default_site = "ordersite.admin_site.OrdersiteAdminSite"
