"""The faults admin page, mounted under /admin/faults/ (staff only, through the admin's login)."""

from django.contrib import admin
from django.urls import path

from .admin_faults import faults_view

urlpatterns = [path("", admin.site.admin_view(faults_view), name="admin-faults")]
