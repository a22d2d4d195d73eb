"""Query-string filters of GET /api/v1/orders/."""

import django_filters

from .models import Order
from .states import OrderStatus


class OrderFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(
        choices=OrderStatus.choices, help_text="One or more statuses (repeat the parameter)."
    )
    created_after = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="ISO 8601; orders created at or after."
    )
    created_before = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", help_text="ISO 8601; orders created before."
    )

    class Meta:
        model = Order
        fields = ("status", "created_after", "created_before")
