"""The staff dead-letter API under /api/v1/dlq/ (included by ordersite/urls.py)."""

from django.urls import path

from . import views

urlpatterns = [
    path("dlq/", views.DeadLetterListView.as_view(), name="dlq-list"),
    path("dlq/stats/", views.DeadLetterStatsView.as_view(), name="dlq-stats"),
    path("dlq/<str:entry_id>/", views.DeadLetterDetailView.as_view(), name="dlq-detail"),
    path("dlq/<str:entry_id>/replay/", views.DeadLetterReplayView.as_view(), name="dlq-replay"),
    path("dlq/<str:entry_id>/discard/", views.DeadLetterDiscardView.as_view(), name="dlq-discard"),
]
