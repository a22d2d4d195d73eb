from django.urls import path

from . import views

urlpatterns = [
    path(
        "orders/<str:order_id>/refunds/",
        views.OrderRefundListCreateView.as_view(),
        name="order-refunds",
    ),
]
