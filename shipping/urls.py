from django.urls import path

from . import views

urlpatterns = [
    path("orders/<str:order_id>/ship/", views.OrderShipView.as_view(), name="order-ship"),
    path("orders/<str:order_id>/deliver/", views.OrderDeliverView.as_view(), name="order-deliver"),
    path("carriers/<str:carrier>/events/", views.CarrierEventView.as_view(), name="carrier-events"),
]
