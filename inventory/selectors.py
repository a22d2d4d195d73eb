"""Read queries on the catalog and stock levels."""

from typing import Any

from django.db.models import F, Q, QuerySet, Sum
from django.http import Http404

from ordersite.compiled import CompiledRead

from .models import Product, Reservation, ReservationStatus


def product_list() -> QuerySet[Product]:
    return Product.objects.annotate(available_units=F("on_hand") - F("reserved")).order_by("sku")


# One compiled read per number of skus (an order's lines are few and bounded).
_PRODUCTS_BY_SKU: dict[int, CompiledRead[Product]] = {}


def products_by_sku(*, skus: list[str]) -> dict[str, Product]:
    """The products named by `skus` that exist, by sku (every order placed reads its lines')."""
    distinct = tuple(dict.fromkeys(skus))
    if not distinct:
        return {}
    read = _PRODUCTS_BY_SKU.get(len(distinct))
    if read is None:
        read = CompiledRead(lambda *skus: Product.objects.filter(sku__in=skus))
        read = _PRODUCTS_BY_SKU.setdefault(len(distinct), read)
    return {product.sku: product for product in read(*distinct)}


def product_exists(*, sku: str) -> bool:
    return Product.objects.filter(sku=sku).exists()


def stock_level(*, sku: str) -> Product:
    try:
        return product_list().get(sku=sku)
    except Product.DoesNotExist as exc:
        raise Http404(f"No product {sku}.") from exc


def held_reservations(*, order_pk: int) -> list[Reservation]:
    """An order's held reservations in product-id order (the order row locks are taken in)."""
    return list(
        Reservation.objects.filter(order_id=order_pk, status=ReservationStatus.HELD).order_by(
            "product_id"
        )
    )


def held_stock() -> QuerySet[Reservation]:
    """Every reservation still holding units (the reconciler asks which ended orders have some)."""
    return Reservation.objects.filter(status=ReservationStatus.HELD)


def stock_audit_rows(*, product_ids: QuerySet | None = None) -> list[dict[str, Any]]:
    """Each product's counters next to the sum of its held reservations (one grouped query), for
    the invariant audit. `product_ids`: a subquery of product pks; None: every product."""
    products = (
        Product.objects.all() if product_ids is None else Product.objects.filter(pk__in=product_ids)
    )
    held = Sum(
        "reservations__quantity", filter=Q(reservations__status=ReservationStatus.HELD), default=0
    )
    return list(products.order_by().values("id", "sku", "on_hand", "reserved").annotate(held=held))


def reservation_audit_rows(*, order_pks: QuerySet | None = None) -> list[dict[str, Any]]:
    """Reserved units per order, product and reservation status (one grouped query)."""
    rows = (
        Reservation.objects.all()
        if order_pks is None
        else Reservation.objects.filter(order_id__in=order_pks)
    )
    return list(
        rows.order_by()
        .values("order_id", "product_id", "status")
        .annotate(quantity=Sum("quantity"))
    )
