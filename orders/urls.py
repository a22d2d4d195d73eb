from django.urls import path

from . import analytics_views, views

urlpatterns = [
    path("orders/", views.OrderListCreateView.as_view(), name="order-list"),
    path("orders/<str:order_id>/", views.OrderDetailView.as_view(), name="order-detail"),
    path("orders/<str:order_id>/status/", views.OrderStatusView.as_view(), name="order-status"),
    path("orders/<str:order_id>/events/", views.OrderEventListView.as_view(), name="order-events"),
    path("orders/<str:order_id>/cancel/", views.OrderCancelView.as_view(), name="order-cancel"),
    path("analytics/dashboard/", analytics_views.AnalyticsDashboardView.as_view(), name="analytics-dashboard"),
]
