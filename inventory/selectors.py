"""Read queries on the catalog and stock levels."""

from django.db.models import F, QuerySet
from django.http import Http404

from .models import Product, Reservation, ReservationStatus


def product_list() -> QuerySet[Product]:
    return Product.objects.annotate(available_units=F("on_hand") - F("reserved")).order_by("sku")


def products_by_sku(*, skus: list[str]) -> dict[str, Product]:
    return {product.sku: product for product in Product.objects.filter(sku__in=skus)}


def product_exists(*, sku: str) -> bool:
    return Product.objects.filter(sku=sku).exists()


def stock_level(*, sku: str) -> Product:
    try:
        return product_list().get(sku=sku)
    except Product.DoesNotExist as exc:
        raise Http404(f"No product {sku}.") from exc


def held_reservations(*, order_id: int) -> list[Reservation]:
    """An order's held reservations in product-id order (the order row locks are taken in)."""
    return list(Reservation.objects.filter(order_id=order_id, status=ReservationStatus.HELD).order_by("product_id"))


def reservations_for_order(*, order_id: int) -> QuerySet[Reservation]:
    return Reservation.objects.filter(order_id=order_id).select_related("product").order_by("product_id")


def held_stock() -> QuerySet[Reservation]:
    """Every reservation still holding units (the reconciler asks which ended orders have some)."""
    return Reservation.objects.filter(status=ReservationStatus.HELD)
