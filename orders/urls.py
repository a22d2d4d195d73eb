from django.urls import path

from . import analytics_views, metrics, views, views_live, views_returns

urlpatterns = [
    path("metrics", metrics.MetricsView.as_view(), name="metrics"),
    path("orders/", views.OrderListCreateView.as_view(), name="order-list"),
    # Served by the live server (orders/live/); gunicorn answers 421 with its address.
    path("orders/stream/", views_live.LiveServerOnlyView.as_view(), name="order-stream-all"),
    path(
        "orders/<str:order_id>/stream/",
        views_live.LiveServerOnlyView.as_view(),
        name="order-stream",
    ),
    path("orders/<str:order_id>/", views.OrderDetailView.as_view(), name="order-detail"),
    path("orders/<str:order_id>/status/", views.OrderStatusView.as_view(), name="order-status"),
    path("orders/<str:order_id>/events/", views.OrderEventListView.as_view(), name="order-events"),
    path("orders/<str:order_id>/cancel/", views.OrderCancelView.as_view(), name="order-cancel"),
    path(
        "orders/<str:order_id>/returns/",
        views_returns.OrderReturnListCreateView.as_view(),
        name="order-returns",
    ),
    path(
        "returns/<str:return_id>/", views_returns.ReturnDetailView.as_view(), name="return-detail"
    ),
    path(
        "returns/<str:return_id>/approve/",
        views_returns.ReturnApproveView.as_view(),
        name="return-approve",
    ),
    path(
        "returns/<str:return_id>/refuse/",
        views_returns.ReturnRefuseView.as_view(),
        name="return-refuse",
    ),
    path(
        "analytics/dashboard/",
        analytics_views.AnalyticsDashboardView.as_view(),
        name="analytics-dashboard",
    ),
    path(
        "analytics/pipeline/",
        analytics_views.PipelineDashboardView.as_view(),
        name="analytics-pipeline",
    ),
]
