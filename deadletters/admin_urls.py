"""The admin page's former addresses, /admin/orders/deadletter/...: redirects to its own room."""

from django.urls import path
from django.views.generic import RedirectView

from .admin import DETAIL, DISCARD, LIST

urlpatterns = [
    path("", RedirectView.as_view(pattern_name=LIST, query_string=True)),
    path("discard/", RedirectView.as_view(pattern_name=DISCARD, query_string=True)),
    path("<str:entry_id>/", RedirectView.as_view(pattern_name=DETAIL, query_string=True)),
]
