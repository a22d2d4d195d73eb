"""ordersite's URLs and the bench's floor endpoints."""

from django.urls import include, path

from bench.floor import urlpatterns as floor_patterns

urlpatterns = [*floor_patterns, path("", include("ordersite.urls"))]
