from django.urls import path

from . import views

urlpatterns = [
    path("orders/<str:order_id>/ship/", views.OrderShipView.as_view(), name="order-ship"),
]
