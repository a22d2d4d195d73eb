"""Admin pages of orders without a model, mounted under /admin/dashboard/ (staff only, through
the admin's login)."""

from django.contrib import admin
from django.urls import path

from .admin_dashboard import dashboard_view

urlpatterns = [path("", admin.site.admin_view(dashboard_view), name="admin-dashboard")]
