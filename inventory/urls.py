from django.urls import path

from . import views

urlpatterns = [
    path("products/", views.ProductListView.as_view(), name="product-list"),
    path("products/<str:sku>/", views.ProductDetailView.as_view(), name="product-detail"),
    path(
        "returns/<str:return_id>/receive/", views.ReturnReceiveView.as_view(), name="return-receive"
    ),
]
