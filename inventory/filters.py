"""Query-string filters of GET /api/v1/products/."""

import django_filters
from django.db.models import QuerySet

from .models import Product


class ProductFilter(django_filters.FilterSet):
    sku = django_filters.CharFilter(lookup_expr="iexact", help_text="Exact sku (case-insensitive).")
    name = django_filters.CharFilter(lookup_expr="icontains", help_text="Part of the name.")
    in_stock = django_filters.BooleanFilter(
        method="filter_in_stock", help_text="Only products with units available."
    )

    class Meta:
        model = Product
        fields = ("sku", "name", "in_stock")

    def filter_in_stock(
        self, queryset: QuerySet[Product], name: str, value: bool | None
    ) -> QuerySet[Product]:
        # available_units is annotated by inventory.selectors.product_list.
        if value is None:
            return queryset
        return (
            queryset.filter(available_units__gt=0)
            if value
            else queryset.filter(available_units__lte=0)
        )
