"""The pages of live updates: the tracking page, and gunicorn's answer for /ws."""

from django.urls import path

from . import views_live

urlpatterns = [
    path("track/", views_live.track, name="track"),
    path("track/<str:order_id>/", views_live.track, name="track-order"),
    path("ws", views_live.LiveServerOnlyView.as_view(), name="ws"),
]
