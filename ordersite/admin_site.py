"""The admin site: Django's, with a count beside a model that asks for one (Dead letters, red past
DLQ_MAX_LENGTH) and links to the pages without a model (the dashboard, the breakers, the
sandboxes' faults)."""

from typing import Any

from django.conf import settings
from django.contrib.admin import AdminSite
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest
from django.urls import reverse


class OrdersiteAdminSite(AdminSite):
    """Django's admin site; a model admin with an `index_name(label)` method names its own index
    and sidebar entry (the Dead letters page adds its count), so this module imports no app."""

    def get_app_list(
        self, request: HttpRequest, app_label: str | None = None
    ) -> list[dict[str, Any]]:
        app_list = super().get_app_list(request, app_label)
        for app in app_list:
            for model in app["models"]:
                index_name = getattr(self._registry.get(model["model"]), "index_name", None)
                if index_name is not None:
                    model["name"] = index_name(model["name"])
        if app_label is None and request.user.is_staff:
            operations = [
                ("Pipeline dashboard", "admin-dashboard"),
                ("Circuit breakers", "admin-breakers"),
            ]
            app_list.insert(0, _pages_entry("Operations", "operations", operations))
            if settings.SANDBOXES_ENABLED:
                app_list.append(
                    _pages_entry("Sandboxes", "sandboxes", [("Sandbox faults", "admin-faults")])
                )
        return app_list


def _pages_entry(app_name: str, app_label: str, pages: list[tuple[str, str]]) -> dict[str, Any]:
    """Pages without a model, given as (name, URL name), listed on the index like an app's models
    so staff find them; the app's own link goes to the first."""
    models = [
        {
            "name": name,
            "object_name": name.title().replace(" ", ""),
            "admin_url": reverse(url_name),
            "add_url": None,
            "view_only": True,
            "perms": {"view": True},
        }
        for name, url_name in pages
    ]
    return {
        "name": app_name,
        "app_label": app_label,
        "app_url": models[0]["admin_url"],
        "has_module_perms": True,
        "models": models,
    }


class OrdersiteAdminConfig(AdminConfig):
    default_site = "ordersite.admin_site.OrdersiteAdminSite"
